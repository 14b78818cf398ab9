package replyguard

import (
	"regexp"
	"strings"
	"testing"
)

// TestVerbStems: a rule runs only in windows holding one of its stems, so every verb form the
// rules know must contain one, in every spelling ("ae?ndern": "andern" and "aendern").
func TestVerbStems(t *testing.T) {
	t.Parallel()
	syntax := regexp.MustCompile(`\\s\+|\(\?:|\)`)
	tests := []struct {
		lang  string
		forms string
		stems []string
	}{
		{"en", en["V"] + "|" + en["VING"] + "|" + en["VED"], enVerbs},
		{"fr", fr["V"], frVerbs},
		{"de", de["INF"] + "|" + de["IMP"], deVerbs},
		{"es", es["V"], esVerbs},
		{"nl", nl["V"], nlVerbs},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			t.Parallel()
			for _, form := range strings.Split(syntax.ReplaceAllString(tt.forms, " "), "|") {
				for _, spelling := range []string{strings.ReplaceAll(form, "e?", ""), strings.ReplaceAll(form, "e?", "e")} {
					found := false
					for _, st := range tt.stems {
						found = found || strings.Contains(spelling, st)
					}
					if !found {
						t.Errorf("%q has none of the stems", strings.TrimSpace(spelling))
					}
				}
			}
		})
	}
}

// Every pattern compiles (they are compiled on first use, so a rule no test reaches would
// otherwise hide a bad one until a reply met it).
func TestEveryPatternCompiles(t *testing.T) {
	if len(patterns) < 50 {
		t.Fatalf("%d patterns registered; the guard has about 60", len(patterns))
	}
	for _, p := range patterns {
		if _, err := regexp.Compile(p.src); err != nil {
			t.Errorf("pattern %.60q: %v", p.src, err)
		}
	}
}
