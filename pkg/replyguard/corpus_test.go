package replyguard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusOptions are the options every corpus reply is checked with: the held corpus quotes
// these references, the ordinary one must not trip on them.
var corpusOptions = Options{References: []string{"ORD-2024-7781", "5f9a1c3b2e4d6f8a0b1c2d3e"}}

// readCorpus reads the replies of the corpus files matching pattern: replies separated by lines
// of "---", lines starting with "#" left out.
func readCorpus(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files %s: %v", pattern, err)
	}
	var replies []string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cur []string
		flush := func() {
			if r := strings.TrimSpace(strings.Join(cur, "\n")); r != "" {
				replies = append(replies, r)
			}
			cur = cur[:0]
		}
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "#"):
			case strings.TrimSpace(line) == "---":
				flush()
			default:
				cur = append(cur, line)
			}
		}
		flush()
	}
	return replies
}

// TestOrdinaryFalsePositives measures how many ordinary, acceptable replies the guard would
// hold: at most 2 %.
func TestOrdinaryFalsePositives(t *testing.T) {
	t.Parallel()
	replies := readCorpus(t, "testdata/ordinary/*.txt")
	if len(replies) < 150 {
		t.Fatalf("ordinary corpus has %d replies, want at least 150", len(replies))
	}
	held := 0
	for _, r := range replies {
		if fs := Check(r, corpusOptions); fs != nil {
			held++
			t.Logf("held an ordinary reply: %s\n\t%q", Summary(fs), r)
		}
	}
	rate := float64(held) / float64(len(replies))
	t.Logf("false positives: %d of %d ordinary replies (%.1f %%)", held, len(replies), 100*rate)
	if rate > 0.02 {
		t.Errorf("false-positive rate %.1f %% is above 2 %%", 100*rate)
	}
}

// TestHeldRecall measures how many replies that must be held the guard holds: at least 95 %.
func TestHeldRecall(t *testing.T) {
	t.Parallel()
	replies := readCorpus(t, "testdata/held/*.txt")
	if len(replies) < 40 {
		t.Fatalf("held corpus has %d replies, want at least 40", len(replies))
	}
	caught := 0
	for _, r := range replies {
		if Check(r, corpusOptions) != nil {
			caught++
		} else {
			t.Logf("missed: %q", r)
		}
	}
	recall := float64(caught) / float64(len(replies))
	t.Logf("recall: %d of %d replies to hold (%.1f %%)", caught, len(replies), 100*recall)
	if recall < 0.95 {
		t.Errorf("recall %.1f %% is under 95 %%", 100*recall)
	}
}
