package replyguard

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheck: whatever the text, Check does not panic, every Match is a non-empty piece of the
// text, findings come in text order, and Reason and Summary stay on one line.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		"Kind regards, Anna | Customer Care | +44 20 7946 0958",
		"Could you update your review? We'll send you a £10 voucher.",
		"12 Rue de la Paix, 75002 Paris — anna [at] shop [dot] com",
		"Wir würden uns freuen, wenn Sie Ihre Bewertung anpassen würden. Gerne erstatten wir den Betrag.",
		"Zou u uw review willen aanpassen? Kalverstraat 12, 1012 NX Amsterdam",
		"¿Podría modificar su reseña? +34 912 345 678",
		"12/05/2024 14:30 €1.234,56 (0)20 ((( +++ 00 00 00 00",
		"e\u0301\u200b\uFF0B\uFF14\xff\xfe ORD-55821",
	} {
		f.Add(seed, "ORD-55821", "fr-FR")
	}
	f.Fuzz(func(t *testing.T, text, ref, lang string) {
		opt := Options{Language: lang, References: []string{ref}}
		hs := check(text, opt)
		fs := Check(text, opt)
		if len(fs) != len(hs) {
			t.Fatalf("Check found %d, check %d", len(fs), len(hs))
		}
		for i, h := range hs {
			if h.Match == "" || h.start < 0 || h.end > len(text) || text[h.start:h.end] != h.Match {
				t.Fatalf("Match %q is not the text at [%d, %d)", h.Match, h.start, h.end)
			}
			if i > 0 && hs[i-1].start > h.start {
				t.Fatalf("findings out of order: %+v before %+v", hs[i-1], h)
			}
			if fs[i] != h.Finding {
				t.Fatalf("Check returned %+v, want %+v", fs[i], h.Finding)
			}
			if utf8.ValidString(text) && !utf8.ValidString(h.Match) {
				t.Fatalf("Match %q cuts a rune", h.Match)
			}
		}
		if strings.ContainsAny(Summary(fs), "\n\r") {
			t.Fatalf("Summary %q is not one line", Summary(fs))
		}
	})
}
