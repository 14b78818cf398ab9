package replyguard

import (
	"sort"
	"strings"
)

// span is a range [a, b) of the folded text.
type span struct{ a, b int }

// Most of a reply is ordinary prose, so the phrase rules run only in windows around the words
// they cannot match without (an object like "review", a postal code): that keeps Check at a
// few regular-expression passes over short pieces instead of dozens over the whole text.

// windows returns the ranges [a-before, b+after) around the spans, widened to word boundaries
// so that \b means the same in a window as in the whole text, merged where they overlap.
func windows(s string, spans []span, before, after int) []span {
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a < spans[j].a })
	var out []span
	for _, sp := range spans {
		a, b := wordBefore(s, max(0, sp.a-before)), wordAfter(s, min(len(s), sp.b+after))
		if n := len(out); n > 0 && a <= out[n-1].b {
			out[n-1].b = max(out[n-1].b, b)
			continue
		}
		out = append(out, span{a, b})
	}
	return out
}

// maxWord bounds how far a window edge moves to reach a word boundary.
const maxWord = 64

func wordBefore(s string, i int) int {
	for j := i; j > 0 && i-j < maxWord; j-- {
		if !isAlnum(s[j-1]) {
			return j
		}
	}
	if i == 0 || i-maxWord <= 0 {
		return 0
	}
	return wordAfter(s, i)
}

func wordAfter(s string, i int) int {
	for j := i; j < len(s) && j-i < maxWord; j++ {
		if !isAlnum(s[j]) {
			return j
		}
	}
	return min(len(s), i+maxWord)
}

// findIn runs re in each window and returns the submatch indices in the whole text.
func findIn(re *pattern, s string, ws []span, n int) [][]int {
	var out [][]int
	for _, w := range ws {
		for _, m := range re.FindAllStringSubmatchIndex(s[w.a:w.b], n) {
			for i := range m {
				if m[i] >= 0 {
					m[i] += w.a
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// occurrences returns where any of the words occurs in s (as a substring: stems are enough to
// place a window).
func occurrences(s string, words []string) []span {
	var out []span
	for _, w := range words {
		for from := 0; from < len(s) && len(out) < 4*maxFindings; {
			i := strings.Index(s[from:], w)
			if i < 0 {
				break
			}
			out = append(out, span{from + i, from + i + len(w)})
			from += i + len(w)
		}
	}
	return out
}
