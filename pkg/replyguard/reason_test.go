package replyguard

import (
	"strings"
	"testing"
)

func TestReasonAndSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Finding
		want string
	}{
		{"phone", Finding{Kind: Phone, Match: "+44 20 7946 0958"}, `a phone number ("+44 20 7946 0958")`},
		{"request", Finding{Kind: ChangeRequest, Match: "could you update your review", Lang: "en"}, `a request to change or remove the review ("could you update your review")`},
		{"email", Finding{Kind: Email, Match: "a@b.co"}, `an email address ("a@b.co")`},
		{"address over lines", Finding{Kind: Address, Match: "Kalverstraat 12\n1012 NX"}, `a postal address ("Kalverstraat 12 1012 NX")`},
		{"reference", Finding{Kind: Reference, Match: "ORD-1"}, `the review's reference or order number ("ORD-1")`},
		{"incentive", Finding{Kind: Incentive, Match: "Gutschein"}, `an offer in exchange for changing or removing the review ("Gutschein")`},
		{"long match is cut", Finding{Kind: ChangeRequest, Match: strings.Repeat("é", 60)}, `a request to change or remove the review ("` + strings.Repeat("é", 40) + `…")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.Reason(); got != tt.want {
				t.Errorf("Reason() = %s, want %s", got, tt.want)
			}
		})
	}

	fs := Check("Call 020 7946 0958 or 020 7946 0958.\nCould you update your review?", Options{})
	want := `a phone number ("020 7946 0958"); a request to change or remove the review ("update your review")`
	if got := Summary(fs); got != want {
		t.Errorf("Summary = %s, want %s", got, want)
	}
	if got := Summary(nil); got != "" {
		t.Errorf("Summary(nil) = %q, want empty", got)
	}
}

// TestMatchFromOriginal: rules match the folded text, findings quote the reply's own runes.
func TestMatchFromOriginal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"decomposed accent", "Pourriez-vous mettre a\u0300 jour votre avis ?", "mettre a\u0300 jour votre avis"},
		{"fullwidth digits", "電話 ＋４４ ２０ ７９４６ ０９５８", "＋４４ ２０ ７９４６ ０９５８"},
		{"non-breaking spaces", "Tel. 06\u00a012\u00a034\u00a056\u00a078", "06\u00a012\u00a034\u00a056\u00a078"},
		{"sharp s", "Hauptstraße 5, 10115 Berlin", "Hauptstraße 5, 10115"},
		{"curly apostrophe", "N’hésitez pas à supprimer votre commentaire", "supprimer votre commentaire"},
		{"zero-width space", "update\u200b your review", "update\u200b your review"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := Check(tt.text, Options{})
			if len(fs) != 1 || fs[0].Match != tt.want {
				t.Errorf("Check(%q) = %+v, want one finding %q", tt.text, fs, tt.want)
			}
		})
	}
}

// TestLanguageHint: the hint decides which language a phrase shared by several languages is
// attributed to; without it the default order (en, fr, de, es, nl) does.
func TestLanguageHint(t *testing.T) {
	t.Parallel()
	const text = "Als u uw review verwijdert, krijgt u iets gratis."
	tests := []struct{ hint, want string }{
		{"nl-NL", "nl"}, {"nl", "nl"}, {"es", "es"}, {"", "de"}, {"xx", "de"},
	}
	for _, tt := range tests {
		t.Run(tt.hint, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, f := range Check(text, Options{Language: tt.hint}) {
				got = append(got, string(f.Kind)+":"+f.Lang)
			}
			want := "change-request:nl incentive:" + tt.want
			if strings.Join(got, " ") != want {
				t.Errorf("hint %q: got %v, want %s", tt.hint, got, want)
			}
		})
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		refs []string
		text string
		want int
	}{
		{"short references are ignored", []string{"", "12", "A1B"}, "Item 12, size A1B.", 0},
		{"every occurrence", []string{"12345"}, "Order 12345: we refunded order #12345.", 2},
		{"token boundary", []string{"12345"}, "Order 123456 and 012345.", 0},
		{"surrounding spaces trimmed", []string{"  ORD-9  "}, "Your ord-9 is here.", 1},
		{"accents folded", []string{"RÉF-2024"}, "ref-2024 is closed", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			for _, f := range Check(tt.text, Options{References: tt.refs}) {
				if f.Kind == Reference {
					n++
				}
			}
			if n != tt.want {
				t.Errorf("%d references found, want %d", n, tt.want)
			}
		})
	}
}

// TestLongInput: text past MaxLen is not read, and a long reply is still checked quickly.
func TestLongInput(t *testing.T) {
	t.Parallel()
	filler := strings.Repeat("We are sorry about the delay and the 3-5 day wait. ", MaxLen/50)
	if fs := Check(filler[:MaxLen-100]+" call 020 7946 0958", Options{}); len(fs) != 1 {
		t.Errorf("phone just under MaxLen: got %v", fs)
	}
	if fs := Check(filler+filler+" call 020 7946 0958", Options{}); fs != nil {
		t.Errorf("phone past MaxLen: got %v", fs)
	}
}
