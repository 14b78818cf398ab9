package replyguard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// newHit makes a finding from the folded range [a, b).
func newHit(f *folded, k Kind, lang string, a, b int) hit {
	x, y := f.span(a, b)
	return hit{Finding: Finding{Kind: k, Match: f.orig[x:y], Lang: lang}, start: x, end: y}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isAlnum reports an ASCII letter or digit, or any byte of a non-ASCII rune (a letter of
// another script, in the folded text).
func isAlnum(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'z') || c >= 0x80 }

// maxRefs bounds the references looked for.
const maxRefs = 16

// findReferences finds the review's own ids, case-insensitively, as whole tokens.
func findReferences(f *folded, refs []string) []hit {
	var out []hit
	seen := map[string]bool{}
	for _, r := range refs {
		if len(seen) >= maxRefs {
			break
		}
		r = fold(strings.TrimSpace(r)).s
		if len(r) < MinReferenceLen || seen[r] {
			continue
		}
		seen[r] = true
		for from := 0; from < len(f.s) && len(out) < maxFindings; {
			i := strings.Index(f.s[from:], r)
			if i < 0 {
				break
			}
			a, b := from+i, from+i+len(r)
			from = a + 1
			if a > 0 && isAlnum(f.s[a-1]) && isAlnum(r[0]) {
				continue
			}
			if b < len(f.s) && isAlnum(f.s[b]) && isAlnum(r[len(r)-1]) {
				continue
			}
			out = append(out, newHit(f, Reference, "", a, b))
			from = b
		}
	}
	return out
}

// Email shapes: a plain address, and the obfuscated "name [at] domain [dot] com",
// "name(at)domain.de" and spoken "name at domain dot com" forms.
var (
	emailRe = lazy(`[a-z0-9][a-z0-9._%+\-]*` +
		`(?:@|\s*[\[({<]\s*(?:at|@|at\s*sign)\s*[\])}>]\s*)` +
		`[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?` +
		`(?:(?:\.|\s*[\[({<]\s*(?:dot|punkt|point|punto|punt)\s*[\])}>]\s*)[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*` +
		`(?:\.|\s*[\[({<]\s*(?:dot|punkt|point|punto|punt)\s*[\])}>]\s*)[a-z]{2,24}\b`)
	spokenEmailRe = lazy(`\b[a-z0-9][a-z0-9._\-]*\s+(?:at|arobase|arroba|apenstaartje|klammeraffe)\s+` +
		`[a-z0-9][a-z0-9\-]*(?:\s+(?:dot|point|punkt|punto|punt)\s+[a-z0-9][a-z0-9\-]*)*\s+(?:dot|point|punkt|punto|punt)\s+[a-z]{2,24}\b`)
)

// Emails are looked for only around the words they cannot do without.
var (
	atWords  = []string{"@", "at)", "at]", "at}", "at>", "at )", "at ]", "at }", "at >"}
	dotWords = []string{" dot ", " point ", " punkt ", " punto ", " punt "}
)

func findEmails(f *folded) []hit {
	var out []hit
	for _, m := range findIn(emailRe, f.s, windows(f.s, occurrences(f.s, atWords), 80, 120), maxFindings) {
		out = append(out, newHit(f, Email, "", m[0], m[1]))
	}
	for _, m := range findIn(spokenEmailRe, f.s, windows(f.s, occurrences(f.s, dotWords), 120, 60), maxFindings) {
		out = append(out, newHit(f, Email, "", m[0], m[1]))
	}
	return out
}

// Numbers that look like phone digits but are not: masked before phone numbers are looked for.
var (
	priceRe   = lazy(`(?:[€$£¥]|\b(?:eur|euro|euros|usd|gbp|chf|sek|dkk|nok|pln)\b)\s?\d[\d.,' ]*\d|\d(?:[\d.,']|\s\d)*\s?(?:[€$£¥]|(?:eur|euros?|usd|gbp|chf|kr|pounds?|dollars?|pence|cents?|centimes?)\b)`)
	percentRe = lazy(`\d+(?:[.,]\d+)?\s?%`)
	timeRe    = lazy(`\b(?:[01]?\d|2[0-4])[.:h][0-5]\d(?:\s?(?:am|pm|uhr|h))?\s?(?:-|to|till|until|bis|a|à|al|tot|et|and|und|y|en)\s?(?:[01]?\d|2[0-4])[.:h][0-5]\d\b`)
	dateRe    = lazy(`\b(?:\d{1,2}([./-])\d{1,2}([./-])(?:\d{4}|\d{2})|\d{4}([./-])\d{1,2}([./-])\d{1,2})\b`)
)

// maskNonPhones blanks dates, times, prices and percentages so that their digits cannot make a
// phone number. A date-like run that carries on with the same separator ("06.12.34.56.78") is a
// phone number, not a date, and is left alone.
func maskNonPhones(s string) string {
	b := []byte(s)
	blank := func(m []int) {
		for i := m[0]; i < m[1]; i++ {
			b[i] = '_'
		}
	}
	for _, m := range dateRe.FindAllStringSubmatchIndex(s, -1) {
		sep := byte(0)
		for g := 1; g <= 4; g++ {
			if m[2*g] >= 0 {
				sep = s[m[2*g]]
				break
			}
		}
		if m[1]+1 < len(s) && s[m[1]] == sep && isDigit(s[m[1]+1]) {
			continue
		}
		if m[0] >= 2 && s[m[0]-1] == sep && isDigit(s[m[0]-2]) {
			continue
		}
		blank(m)
	}
	for _, re := range []*pattern{priceRe, percentRe, timeRe} {
		for _, m := range re.FindAllStringIndex(string(b), -1) {
			blank(m)
		}
	}
	return string(b)
}

var (
	// phoneCueRe, at the end of the text before a number, says the number is a phone number.
	phoneCueRe = lazy(`\b(?:tel|tél|phone|telephone|call|calling|ring|mobile|mob|cell|whatsapp|fax|hotline|helpline|appel(?:ez)?|portable|telefon\w*|anruf\w*|handy|llam\w*|movil|telefono|bel|gsm|mobiel|telefoon\w*|nummer)\b[^0-9]{0,30}$`)
	// idCueRe, at the end of the text before a number, says the number is an id, not a phone.
	idCueRe = lazy(`\b(?:order|orders|invoice|tracking|parcel|shipment|package|reference|ref|ticket|case|account|customer|member|voucher|coupon|code|commande|facture|colis|suivi|dossier|client|bestellung|bestell\w*|rechnung\w*|sendung\w*|auftrag\w*|kunden\w*|paket\w*|pedido|factura|envio|seguimiento|cliente|bestelling|bestel\w*|factuur\w*|zending\w*|pakket\w*|klant\w*|order\w*|artikel\w*|article|item|sku|model|serial|batch|iban|bic|ean|isbn|imei|lot)s?(?:\s*(?:no|nr|number|num|numero|nummer|n°|nº|n))?\.?\s*[:#.]?\s*(?:is|est|ist|es|is\s+nu)?\s*$`)
)

// findPhones finds phone numbers: a run of digit groups with phone-like separators, enough
// digits, and a shape that is not a date, a year range, a thousands-grouped amount or an id.
func findPhones(f *folded) []hit {
	s := f.s
	var out []hit
	budget := maxPhoneRuns
	for i := 0; i < len(s) && len(out) < maxFindings; i++ {
		if !phoneStart(s, i) {
			continue
		}
		end, p, ok := scanPhone(s, i)
		if !ok {
			continue
		}
		if len(p.groups) == maxGroups {
			// A table of numbers, not a phone number: skip all of it.
			for end < len(s) && (isDigit(s[end]) || strings.IndexByte(" .-/()", s[end]) >= 0) {
				end++
			}
		} else if p.digits() >= 8 && budget > 0 {
			// Only now mask dates, prices and times, in a window around the digits: masking
			// only takes digits away, so shorter runs can never become a phone number.
			budget--
			wa, wb := wordBefore(s, max(0, i-40)), wordAfter(s, min(len(s), end+40))
			out = phonesIn(f, maskNonPhones(s[wa:wb]), wa, i-wa, end-wa, out)
		}
		i = end
	}
	return out
}

// maxGroups is the most digit groups a phone number has; maxPhoneRuns bounds the digit runs
// long enough to be one that a reply can make Check look at.
const (
	maxGroups    = 12
	maxPhoneRuns = 128
)

// phoneStart reports whether a phone number can start at s[i]: a +, ( or digit that does not
// continue a word, an id or a number.
func phoneStart(s string, i int) bool {
	c := s[i]
	if c != '+' && c != '(' && !isDigit(c) {
		return false
	}
	if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '#' || s[i-1] == '@' || s[i-1] == '_' || s[i-1] == '+') {
		return false
	}
	if i > 1 && strings.IndexByte("-/.,:", s[i-1]) >= 0 && isAlnum(s[i-2]) {
		return false // the tail of an id, a decimal or a time
	}
	return true
}

// phonesIn finds the phone numbers starting in m[from:to], m being the masked window of the
// folded text that starts at off.
func phonesIn(f *folded, m string, off, from, to int, out []hit) []hit {
	for i := from; i < to && len(out) < maxFindings; i++ {
		if !phoneStart(m, i) {
			continue
		}
		end, p, ok := scanPhone(m, i)
		if !ok {
			continue
		}
		if end < len(m) && isAlnum(m[end]) {
			i = end
			continue
		}
		if end+1 < len(m) && strings.IndexByte("-/", m[end]) >= 0 && isAlnum(m[end+1]) {
			i = end
			continue
		}
		before := m[max(0, i-40):i]
		if p.isPhone(phoneCueRe.MatchString(before), idCueRe.MatchString(before)) {
			out = append(out, newHit(f, Phone, "", off+i, off+end))
		}
		i = end
	}
	return out
}

// phoneShape is what scanPhone saw.
type phoneShape struct {
	plus     bool   // starts with +
	zeroZero bool   // starts with 00, the international prefix
	paren    bool   // has a parenthesised group
	groups   []int  // digits per group
	first    byte   // the first digit
	seps     []byte // separator before each group after the first (0 for none)
}

// scanPhone reads digit groups from s[i]: an optional +, groups of digits or (digits), one
// separator (space . - /) between groups, none around parentheses. It returns where the run ends.
func scanPhone(s string, i int) (end int, p phoneShape, ok bool) {
	j := i
	if s[j] == '+' {
		p.plus = true
		j++
		if j < len(s) && s[j] == ' ' {
			j++
		}
	}
	sep := byte(0)
	for len(p.groups) < maxGroups {
		k := j
		paren := false
		if k < len(s) && s[k] == '(' {
			paren = true
			k++
			if k < len(s) && s[k] == '+' && len(p.groups) == 0 {
				p.plus = true
				k++
			}
		}
		d := k
		for d < len(s) && isDigit(s[d]) {
			d++
		}
		if d == k || d-k > 12 {
			break
		}
		digits := d - k
		if paren {
			if d >= len(s) || s[d] != ')' || digits > 5 {
				break
			}
			d++
			p.paren = true
		}
		if len(p.groups) == 0 {
			p.first = s[k]
			p.zeroZero = digits >= 2 && s[k+1] == '0' && s[k] == '0'
		} else {
			p.seps = append(p.seps, sep)
		}
		p.groups = append(p.groups, digits)
		end = d
		j = d
		// What joins this group to the next.
		sep = 0
		switch {
		case j < len(s) && s[j] == '(':
		case paren && j < len(s) && isDigit(s[j]):
		case j+1 < len(s) && strings.IndexByte(" .-/", s[j]) >= 0 && (isDigit(s[j+1]) || s[j+1] == '('):
			sep = s[j]
			j++
		case paren && j+1 < len(s) && s[j] == ' ' && isDigit(s[j+1]):
			sep = ' '
			j++
		default:
			return end, p, len(p.groups) > 0
		}
	}
	return end, p, len(p.groups) > 0
}

// isPhone decides whether the digit groups are a phone number. cue: a phone word comes just
// before; id: an id word ("order", "invoice no.") comes just before.
func (p phoneShape) isPhone(cue, id bool) bool {
	n := p.digits()
	if n < 8 || n > 15 {
		return false
	}
	if p.plus {
		return true
	}
	if p.zeroZero && n >= 10 {
		return true // 0044 20 7946 0958, 0033612345678
	}
	if id {
		return false
	}
	if len(p.groups) == 1 {
		// Ungrouped: a national number with its trunk 0 (0612345678, 02079460958); other digit
		// runs are order numbers, amounts or ids unless a phone word comes before.
		return (p.first == '0' && n <= 11) || (cue && !p.years())
	}
	if len(p.groups) >= 2 && p.first == '0' && p.groups[0] <= 5 && p.groups[0] >= 2 && p.notDateOrYears() {
		return true // 0044 20 7946 0958, 020 7946 0958, 06 12 34 56 78, 030/1234567, 0800 123 456
	}
	if p.paren && p.notDateOrYears() {
		return true // (555) 123-4567, (0)20 7946 0958
	}
	if !p.notDateOrYears() || p.thousands() || p.zipPlus4() {
		return false
	}
	if cue {
		return true
	}
	// Without a trunk 0 or a +: three or more groups of 2-4 digits (555-123-4567, 912 345 678).
	if len(p.groups) < 3 {
		return false
	}
	for _, g := range p.groups {
		if g < 2 || g > 4 {
			return false
		}
	}
	return true
}

// digits counts the digits.
func (p phoneShape) digits() int {
	n := 0
	for _, g := range p.groups {
		n += g
	}
	return n
}

// notDateOrYears rejects 12.05.2024-shaped runs and year lists ("2019-2024", "2023/2024").
func (p phoneShape) notDateOrYears() bool {
	g := p.groups
	if len(g) == 3 && p.seps[0] == p.seps[1] && p.seps[0] != ' ' && p.seps[0] != 0 {
		if (g[0] <= 2 && g[1] <= 2 && (g[2] == 4 || g[2] == 2)) || (g[0] == 4 && g[1] <= 2 && g[2] <= 2) {
			return false
		}
	}
	return !p.years()
}

// years reports runs made only of years, 19xx and 20xx ("2019-2024", "2023/2024").
func (p phoneShape) years() bool {
	return len(p.groups) <= 2 && p.groups[0] == 4 && (len(p.groups) == 1 || p.groups[1] == 4) && (p.first == '1' || p.first == '2')
}

// thousands reports 12.345.678-shaped amounts: a first group of 1-3 digits not starting with 0,
// then groups of three, all with the same . , or ' separator.
func (p phoneShape) thousands() bool {
	g := p.groups
	if len(g) < 2 || g[0] > 3 || p.first == '0' {
		return false
	}
	for i, n := range g[1:] {
		if n != 3 || p.seps[i] != p.seps[0] || p.seps[i] == ' ' || p.seps[i] == 0 {
			return false
		}
	}
	return true
}

// zipPlus4 reports a US ZIP+4 code, 94043-1351.
func (p phoneShape) zipPlus4() bool {
	return len(p.groups) == 2 && p.groups[0] == 5 && p.groups[1] == 4 && p.seps[0] == '-'
}

// Street shapes. EN puts the number first and the street type last ("221B Baker Street"), FR
// puts the type right after the number ("12 rue de la Paix"), DE and NL glue the type to the
// name and put the number last ("Hauptstraße 5", "Kalverstraat 12"), ES puts the type first and
// the number last ("Calle Mayor 3").
var (
	streetEN  = lazy(`\b\d{1,5}[a-z]?,?\s+((?:[a-z][a-z'\-]*\.?\s+){1,4}?)(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|boulevard|blvd|parkway|pkwy|court|ct|place|pl|square|sq|terrace|crescent|close|row|mews|grove|gardens|highway|hwy)\b\.?`)
	streetFR  = lazy(`\b\d{1,4}(?:\s?(?:bis|ter|[a-z]))?,?\s+(?:rue|avenue|av|boulevard|bd|bld|chemin|place|pl|allee|impasse|imp|quai|cours|route|rte|square|voie|passage|faubourg|fbg|rond-point)\b\.?\s+[a-z][a-z'\-]*`)
	streetDE  = lazy(`\b[a-z][a-z\-]*(?:strasse|str|weg|platz|allee|gasse|damm|ufer|chaussee|straat|laan|plein|gracht|kade|singel|dijk|steeg|dreef|plantsoen)\.?\s?\d{1,4}(?:\s?[a-z]\b)?`)
	streetDE2 = lazy(`\b[a-z][a-z\-]*\s+(?:strasse|str\.|weg|platz|allee|gasse)\s*\d{1,4}(?:\s?[a-z]\b)?`)
	streetES  = lazy(`(?:\b(?:calle|avenida|avda|av|plaza|pza|paseo|carrer|camino|carretera|ctra|ronda|rambla|travesia|via|passeig|placa)\.?|\bc/)\s*(?:[a-z'\-]+,?\s+){1,5}?(?:n\.?o?\s*)?\d{1,4}\b`)

	postUK  = lazy(`\b[a-z]{1,2}\d[a-z\d]?\s?\d[a-z]{2}\b`)
	post5   = lazy(`\b\d{5}(?:-\d{4})?\b`)
	postNL  = lazy(`\b[1-9]\d{3}\s?[a-z]{2}\b`)
	post4CH = lazy(`\b[1-9]\d{3}\s+[a-z]`)
)

// Postal codes count when they are this close to a street shape (bytes between them); a street
// shape is at most about maxStreet bytes long.
const (
	postAfter  = 40
	postBefore = 25
	maxStreet  = 90
)

// findAddresses finds a street shape with a postal-code shape next to it; either alone is
// not an address.
func findAddresses(f *folded) []hit {
	type post struct {
		span
		afterOnly bool
	}
	// Postal codes have digits: look only around them.
	var digits []span
	for i := 0; i < len(f.s) && len(digits) < 4*maxFindings; i++ {
		if isDigit(f.s[i]) {
			j := i
			for j < len(f.s) && isDigit(f.s[j]) {
				j++
			}
			digits = append(digits, span{i, j})
			i = j
		}
	}
	near := windows(f.s, digits, 4, 4)
	var posts []post
	for _, m := range findIn(postUK, f.s, near, maxFindings) {
		if upperAt(f, m[0]) {
			posts = append(posts, post{span{m[0], m[1]}, false})
		}
	}
	for _, re := range []*pattern{post5, postNL} {
		for _, m := range findIn(re, f.s, near, maxFindings) {
			posts = append(posts, post{span{m[0], m[1]}, false})
		}
	}
	for _, m := range findIn(post4CH, f.s, near, maxFindings) {
		posts = append(posts, post{span{m[0], m[0] + 4}, true})
	}
	if len(posts) == 0 {
		return nil
	}
	codes := make([]span, len(posts))
	for i, p := range posts {
		codes[i] = p.span
	}
	ws := windows(f.s, codes, postAfter+maxStreet, postBefore+maxStreet)
	var streets []span
	for _, re := range []*pattern{streetEN, streetFR, streetDE, streetDE2, streetES} {
		for _, m := range findIn(re, f.s, ws, maxFindings) {
			if re == streetEN && !upperAt(f, m[2]) {
				continue // "order 1234 is on its way": English street names are capitalised
			}
			streets = append(streets, span{m[0], m[1]})
		}
	}
	var out []hit
	for _, st := range streets {
		best := -1
		for i, p := range posts {
			if p.a < st.b && st.a < p.b {
				continue // the street's own number
			}
			after := p.a >= st.b && p.a-st.b <= postAfter
			before := !p.afterOnly && p.b <= st.a && st.a-p.b <= postBefore
			if (after || before) && (best < 0 || abs(p.a-st.a) < abs(posts[best].a-st.a)) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		a, b := min(st.a, posts[best].a), max(st.b, posts[best].b)
		out = append(out, newHit(f, Address, "", a, b))
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// upperAt reports whether the original rune behind folded byte i is an uppercase letter.
func upperAt(f *folded, i int) bool {
	if i < 0 || i >= len(f.s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(f.orig[f.start[i]:])
	return unicode.IsUpper(r)
}
