package replyguard

import (
	"unicode"
	"unicode/utf8"
)

// folded is a reply's text prepared for matching: lowercased, accents and compatibility forms
// folded to ASCII where Latin scripts have an obvious ASCII spelling, typographic spaces, dashes
// and quotes made plain. Rules match the folded text; start and end map every folded byte back
// to the original rune it came from, so a Finding reports the reply's own text.
type folded struct {
	orig  string
	s     string
	start []int32 // start[i]: offset in orig of the rune folded byte i came from
	end   []int32 // end[i]: offset in orig just after that rune (and any marks dropped after it)
}

// fold builds the folded text. golang.org/x/text is not a dependency of the module, so this is
// a hand-made subset of NFKC plus accent stripping: enough for the five supported languages;
// other scripts pass through lowercased.
func fold(orig string) *folded {
	f := &folded{
		orig:  orig,
		start: make([]int32, 0, len(orig)+8),
		end:   make([]int32, 0, len(orig)+8),
	}
	buf := make([]byte, 0, len(orig)+8)
	lastRune := -1 // index in buf where the last emitted rune's bytes begin
	var tmp [utf8.UTFMax]byte
	for i, r := range orig {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, size = utf8.DecodeRuneInString(orig[i:])
		}
		out, drop := foldRune(r, tmp[:0])
		if drop {
			// A combining mark or invisible format character belongs to the rune before it.
			if lastRune >= 0 {
				for j := lastRune; j < len(buf); j++ {
					f.end[j] = int32(i + size)
				}
			}
			continue
		}
		lastRune = len(buf)
		for _, b := range out {
			buf = append(buf, b)
			f.start = append(f.start, int32(i))
			f.end = append(f.end, int32(i+size))
		}
	}
	f.s = string(buf)
	return f
}

// span maps the folded range [a, b) back to the original text.
func (f *folded) span(a, b int) (int, int) {
	if b <= a || a < 0 || b > len(f.s) {
		return 0, 0
	}
	return int(f.start[a]), int(f.end[b-1])
}

// accents maps lowercase Latin letters with diacritics (Latin-1 Supplement, Latin Extended-A)
// and a few ligatures to their ASCII spelling.
var accents = func() map[rune]string {
	m := map[rune]string{'æ': "ae", 'œ': "oe", 'ß': "ss", 'þ': "th", 'ð': "d", 'ĳ': "ij", 'ø': "o", 'ł': "l", 'đ': "d", 'ħ': "h", 'ı': "i", 'ŀ': "l", 'ŉ': "n", 'ſ': "s"}
	for base, letters := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ď", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥ",
		"i": "ìíîïĩīĭį", "j": "ĵ", "k": "ķ", "l": "ĺļľ", "n": "ñńņň", "o": "òóôõöōŏő",
		"r": "ŕŗř", "s": "śŝşš", "t": "ţťŧ", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	} {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// ligatures are the Latin presentation forms U+FB00..U+FB06.
var ligatures = [...]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}

// foldRune appends the folded form of r to buf. drop reports a rune that folds to nothing
// (combining marks, zero-width and other format characters).
func foldRune(r rune, buf []byte) (out []byte, drop bool) {
	switch {
	case r == '\n', r == '\v', r == '\f', r == 0x85, r == 0x2028, r == 0x2029:
		return append(buf, '\n'), false
	case r < 0x80:
		if r < 0x20 || r == 0x7f {
			return append(buf, ' '), false
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(buf, byte(r)), false
	case r == utf8.RuneError:
		return append(buf, ' '), false
	case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Cf, r):
		return buf, true
	case unicode.IsSpace(r):
		return append(buf, ' '), false
	case 0xFF01 <= r && r <= 0xFF5E: // fullwidth ASCII
		return foldRune(r-0xFEE0, buf)
	case 0xFB00 <= r && r <= 0xFB06:
		return append(buf, ligatures[r-0xFB00]...), false
	case 0x2010 <= r && r <= 0x2015, r == 0x2212, r == 0xFE58, r == 0xFE63:
		return append(buf, '-'), false
	case r == 0x2018, r == 0x2019, r == 0x201B, r == 0x2032, r == 0x02BC, r == 0x00B4:
		return append(buf, '\''), false
	case r == 0x201C, r == 0x201D, r == 0x201E, r == 0x00AB, r == 0x00BB:
		return append(buf, '"'), false
	case r == 0xFE6B:
		return append(buf, '@'), false
	case r == 0x2024, r == 0x3002:
		return append(buf, '.'), false
	case r == 0x2026:
		return append(buf, "..."...), false
	case r == 0x00BA: // º as in "nº"
		return append(buf, 'o'), false
	}
	lr := unicode.ToLower(r)
	if a, ok := accents[lr]; ok {
		return append(buf, a...), false
	}
	return utf8.AppendRune(buf, lr), false
}
