package reply

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
)

var (
	blockEnd   = regexp.MustCompile(`(?i)</(p|div|li|h[1-6]|blockquote|tr)\s*>|<br\s*/?>`)
	listItem   = regexp.MustCompile(`(?i)<li[^>]*>`)
	dropBlocks = regexp.MustCompile(`(?is)<(script|style|head)[^>]*>.*?</(script|style|head)\s*>`)
	anyTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	blankLines = regexp.MustCompile(`\n{3,}`)
)

// HTMLToText turns a message's HTML into readable plain text: paragraphs and line breaks kept,
// list items bulleted, tags dropped, entities decoded.
func HTMLToText(s string) string {
	s = dropBlocks.ReplaceAllString(s, "")
	s = listItem.ReplaceAllString(s, "• ")
	s = blockEnd.ReplaceAllString(s, "\n")
	s = anyTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	s = strings.Join(lines, "\n")
	return strings.TrimSpace(blankLines.ReplaceAllString(s, "\n\n"))
}

// ellipsis ends a cut reply.
const ellipsis = "…"

// ReplyText is the text to post: what the agent wrote, without the quoted thread and the
// signature (see agentText), cut with an ellipsis to at most limit bytes of UTF-8 (the unit the
// Trustpilot client checks, so multi-byte text fits too), never inside a character. cut reports
// whether it was cut.
func ReplyText(m gorgias.Message, limit int) (text string, cut bool) {
	text = agentText(m.BodyText, m.BodyHTML, m.StrippedText, m.StrippedHTML, m.StrippedSignature)
	if limit > 0 && len(text) > limit {
		n := max(limit-len(ellipsis), 0)
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = strings.TrimSpace(text[:n]) + ellipsis
		if len(text) > limit { // a limit smaller than the ellipsis itself
			text = ""
		}
		cut = true
	}
	return text, cut
}

// agentText picks the agent's new text from a message's fields (any may be empty: Gorgias sends
// null stripped_* for messages it did not parse, such as API-created ones). The helpdesk's own
// separation wins because it knows the mail client; only without it do we strip the quote
// ourselves, from the text body first (no HTML guesswork), else from the HTML.
func agentText(bodyText, bodyHTML, strippedText, strippedHTML, strippedSig string) string {
	bodyText, bodyHTML = strings.ToValidUTF8(bodyText, ""), strings.ToValidUTF8(bodyHTML, "")
	strippedText, strippedHTML = strings.ToValidUTF8(strippedText, ""), strings.ToValidUTF8(strippedHTML, "")
	var text string
	fromBody := false
	if t := plain(strippedText); t != "" {
		text = t
	} else if t := HTMLToText(strippedHTML); t != "" {
		text = t
	} else if t := plain(bodyText); t != "" {
		text, fromBody = stripQuote(t), true
	} else if t := HTMLToText(bodyHTML); t != "" {
		// When removing the quote blocks leaves nothing, they were not a quote after all (or the
		// agent wrote below them): judge the whole HTML as text instead.
		if text = stripQuote(HTMLToText(stripHTMLQuote(bodyHTML))); text == "" {
			text = stripQuote(t)
		}
		fromBody = true
	}
	if sig := signatureText(strippedSig); sig != "" {
		if t, ok := trimSignature(text, sig); ok {
			return t
		}
	}
	if fromBody {
		// Not separated by the helpdesk, a signature is only recognisable by its RFC 3676 "-- "
		// line; text the helpdesk stripped already went without its signature.
		text = trimDelimitedSignature(text)
	}
	return text
}

// plain is a text field with uniform line ends, trimmed.
func plain(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimSpace(strings.ReplaceAll(s, "\r", "\n"))
}

// Plain-text quote markers. Attribution lines are matched on a line with non-breaking spaces
// made plain (French puts one before the colon); each language's "<date> <name> wrote:" form as
// the common mail clients write it. Case-insensitive so "ON" or "le" still match.
var (
	attribution = regexp.MustCompile(`(?i)^(?:` +
		`on\s.+\swrote` + // English: On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com> wrote:
		`|le\s.+\sa\s+écrit` + // French: Le lun. 3 juin 2024 à 10:12, Jane <jane@x.com> a écrit :
		`|am\s.+\sschrieb(?:\s.*)?` + // German: Am 03.06.2024 um 10:12 schrieb Jane <jane@x.com>:
		`|el\s.+\sescribió` + // Spanish: El lun, 3 jun 2024 a las 10:12, Jane (<jane@x.com>) escribió:
		`|op\s.+\sschreef(?:\s.*)?` + // Dutch: Op ma 3 jun 2024 om 10:12 schreef Jane <jane@x.com>:
		`|il\s.+\sha\s+scritto` + // Italian: Il giorno lun 3 giu 2024 alle ore 10:12 Jane ha scritto:
		`|em\s.+\sescreveu` + // Portuguese: Em seg., 3 de jun. de 2024 às 10:12, Jane escreveu:
		`)\s?:$`)
	attributionStart = regexp.MustCompile(`(?i)^(?:on|le|am|el|op|il|em)\s`)
	// A real attribution dates the quoted mail (a time, a year) or names its sender's address;
	// requiring one keeps an agent's own "On Monday our courier wrote:" from cutting the reply.
	attributionDated = regexp.MustCompile(`\d{1,2}[:h.]\d{2}|\b(?:19|20)\d{2}\b|@`)
	// Outlook and others open the quoted mail with a separator line.
	originalMessage = regexp.MustCompile(`(?i)^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|oorspronkelijk bericht|messaggio originale|mensagem original|forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|doorgestuurd bericht)\s*-{2,}$`)
	underscores     = regexp.MustCompile(`^_{10,}$`)
	// A quoted mail's header block: a From line, then a Sent/Date/To/Subject line (bold markers
	// "*From:*" are how some clients carry Outlook's bold labels into text).
	fromHeader  = regexp.MustCompile(`(?i)^\*?(?:from|de|von|van|da|fra|från|od)\s?:\*?\s*\S`)
	otherHeader = regexp.MustCompile(`(?i)^\*?(?:sent|date|to|subject|cc|envoyé|à|objet|gesendet|an|betreff|datum|enviado|fecha|para|asunto|verzonden|aan|onderwerp|inviato|data|a|oggetto)\s?:`)
)

// maxAttribution bounds the attribution lines looked at: a real one is a date, a name and an
// address; longer lines are prose.
const maxAttribution = 300

// normLine is a line as the markers are matched against it.
func normLine(l string) string {
	l = strings.ReplaceAll(l, "\u00a0", " ")
	return strings.TrimSpace(strings.ReplaceAll(l, "\u202f", " "))
}

func isQuoted(l string) bool { return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">") }

func isBlank(l string) bool { return normLine(l) == "" }

// attributionAt reports whether an attribution line starts at lines[i], and how many lines it
// takes: clients wrap a long one ("... Jane <jane@x.com>" / "wrote:").
func attributionAt(lines []string, i int) (span int) {
	l := normLine(lines[i])
	if len(l) > maxAttribution || !attributionStart.MatchString(l) {
		return 0
	}
	if attribution.MatchString(l) && attributionDated.MatchString(l) {
		return 1
	}
	if i+1 >= len(lines) || strings.HasSuffix(l, ".") || strings.HasSuffix(l, "!") || strings.HasSuffix(l, "?") {
		return 0 // a finished sentence is not the first half of a wrapped attribution
	}
	next := normLine(lines[i+1])
	if next == "" || isQuoted(lines[i+1]) {
		return 0
	}
	if j := l + " " + next; len(j) <= maxAttribution && attribution.MatchString(j) && attributionDated.MatchString(j) {
		return 2
	}
	return 0
}

// nextContent is the index of the first non-blank line at or after i (len(lines) if none).
func nextContent(lines []string, i int) int {
	for i < len(lines) && isBlank(lines[i]) {
		i++
	}
	return i
}

// headerAt reports whether a quoted mail's separator or header block starts at lines[i].
func headerAt(lines []string, i int) bool {
	l := normLine(lines[i])
	if originalMessage.MatchString(l) {
		return true
	}
	if underscores.MatchString(l) {
		j := nextContent(lines, i+1)
		return j < len(lines) && (fromHeader.MatchString(normLine(lines[j])) || otherHeader.MatchString(normLine(lines[j])))
	}
	if fromHeader.MatchString(l) {
		j := nextContent(lines, i+1)
		return j < len(lines) && j <= i+2 && otherHeader.MatchString(normLine(lines[j]))
	}
	return false
}

// trailingQuote is the index of the first ">" line of the block of ">" (and blank) lines that
// ends the text, or -1 when the text does not end quoted.
func trailingQuote(lines []string) int {
	i := len(lines) - 1
	for i >= 0 && isBlank(lines[i]) {
		i--
	}
	if i < 0 || !isQuoted(lines[i]) {
		return -1
	}
	start := i
	for ; i >= 0 && (isQuoted(lines[i]) || isBlank(lines[i])); i-- {
		if isQuoted(lines[i]) {
			start = i
		}
	}
	return start
}

// quoteMarker is the first line at or after from that starts the quoted thread, with the span
// of an attribution there (0 for other markers), or -1.
func quoteMarker(lines []string, from, trail int) (at, attrSpan int) {
	for i := from; i < len(lines); i++ {
		if i == trail {
			return i, 0
		}
		if isQuoted(lines[i]) || isBlank(lines[i]) {
			continue // inside a quote the thread's older attributions do not matter
		}
		if span := attributionAt(lines, i); span > 0 {
			return i, span
		}
		if headerAt(lines, i) {
			return i, 0
		}
	}
	return -1, 0
}

// ownText reports whether lines hold anything but blank and ">" lines.
func ownText(lines []string) bool {
	for _, l := range lines {
		if !isBlank(l) && !isQuoted(l) {
			return true
		}
	}
	return false
}

// stripQuote removes the quoted thread from a plain-text reply: everything from the first quote
// marker on. A marker with nothing of the agent's above it cannot be cut at (that would post
// nothing, or hide a bottom-posted reply), so then: an attribution heading ">" lines is a quote
// for certain and is dropped with them, and the search goes on below; any other marker may be
// the agent's own words, so the text is kept with only its ">" lines dropped.
func stripQuote(s string) string {
	lines := strings.Split(s, "\n")
	trail := trailingQuote(lines)
	start := 0
	for {
		at, span := quoteMarker(lines, start, trail)
		if at < 0 {
			return joinTrimmed(lines[start:])
		}
		if ownText(lines[start:at]) {
			kept := lines[start:at]
			for len(kept) > 0 && (isBlank(kept[len(kept)-1]) || isQuoted(kept[len(kept)-1])) {
				kept = kept[:len(kept)-1]
			}
			return joinTrimmed(kept)
		}
		if j := nextContent(lines, at+span); span > 0 && j < len(lines) && isQuoted(lines[j]) {
			for j < len(lines) && (isQuoted(lines[j]) || isBlank(lines[j])) {
				j++
			}
			start = j
			continue
		}
		var kept []string
		for _, l := range lines[start:] {
			if !isQuoted(l) {
				kept = append(kept, l)
			}
		}
		return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(kept, "\n"), "\n\n"))
	}
}

func joinTrimmed(lines []string) string { return strings.TrimSpace(strings.Join(lines, "\n")) }

// HTML quote blocks. Clients that wrap the whole quoted mail in one element (Gmail, Thunderbird,
// Apple Mail, Yahoo, Proton) get that element removed; Outlook puts a header block before the
// quoted mail as a sibling, so from its marker on everything is cut.
var (
	quoteTag = regexp.MustCompile(`(?i)<(/?)(div|blockquote)\b[^>]*>`)
	// citeElement is an element that is a quote whatever follows it.
	citeElement = regexp.MustCompile(`(?i)\bclass\s*=\s*["']?[^"'>]*\b(?:gmail_quote|moz-cite-prefix|yahoo_quoted|protonmail_quote)|\btype\s*=\s*["']?cite\b|\bcite\s*=`)
	// outlookCut starts Outlook's quoted mail (x_ when the HTML went through Outlook once more).
	outlookCut = regexp.MustCompile(`(?i)<[a-z]+\b[^>]*\bid\s*=\s*["']?(?:x_)?(?:appendonsend|divRplyFwdMsg|OLK_SRC_BODY_SECTION)\b`)
	hrTag      = regexp.MustCompile(`(?i)<hr\b[^>]*>`)
)

// hrLookahead is how much HTML after an <hr> is read to see whether a header block follows
// (Outlook's styled header labels take a few hundred bytes); maxRules bounds how many <hr> are
// looked at, so that HTML made of rules costs no more than a long reply.
const (
	hrLookahead = 1000
	maxRules    = 20
)

// stripHTMLQuote removes the quote blocks from a reply's HTML. A plain <blockquote> may be the
// agent quoting the customer inline, so it is removed only when nothing but markup follows it.
func stripHTMLQuote(h string) string {
	if loc := outlookCut.FindStringIndex(h); loc != nil {
		h = h[:loc[0]]
	}
	for _, loc := range hrTag.FindAllStringIndex(h, maxRules) {
		if lines := strings.Split(HTMLToText(h[loc[1]:min(len(h), loc[1]+hrLookahead)]), "\n"); headerAt(lines, 0) {
			h = h[:loc[0]]
			break
		}
	}
	h = removeElements(h, true)
	return removeElements(h, false)
}

// removeElements removes the outermost div/blockquote elements that are quotes: with cite, those
// citeElement names; otherwise the plain blockquotes that end the HTML (followed by markup only).
// Tags are matched by nesting depth; an element left open runs to the end.
func removeElements(h string, cite bool) string {
	type open struct {
		name       string
		start      int
		quote      bool
		underQuote bool
	}
	type span struct{ start, end int }
	var stack []open
	var spans []span
	opened := map[string]int{} // open elements per name, so a stray closing tag costs nothing
	inQuote := func() bool { return len(stack) > 0 && (stack[len(stack)-1].quote || stack[len(stack)-1].underQuote) }
	for _, m := range quoteTag.FindAllStringSubmatchIndex(h, -1) {
		name := strings.ToLower(h[m[4]:m[5]])
		if m[3] > m[2] { // a closing tag: close up to the matching open element
			if opened[name] == 0 {
				continue
			}
			for k := len(stack) - 1; k >= 0; k-- {
				if stack[k].name != name {
					continue
				}
				// Elements above k were left open (bad HTML): they end here too.
				for _, e := range stack[k:] {
					if e.quote && !e.underQuote {
						spans = append(spans, span{e.start, m[1]})
					}
					opened[e.name]--
				}
				stack = stack[:k]
				break
			}
			continue
		}
		tag := h[m[0]:m[1]]
		isQuote := citeElement.MatchString(tag)
		if !cite {
			isQuote = name == "blockquote"
		}
		stack = append(stack, open{name: name, start: m[0], quote: isQuote, underQuote: inQuote()})
		opened[name]++
	}
	for _, e := range stack {
		if e.quote && !e.underQuote {
			spans = append(spans, span{e.start, len(h)})
			break // it runs to the end, covering any later one
		}
	}
	if len(spans) == 0 {
		return h
	}
	// Only outermost quotes are recorded, so the spans are disjoint and, being recorded as they
	// close, in document order.
	if !cite {
		// Keep only the run of blockquotes at the end: each must be followed by markup only, up to
		// the next removed one (or the end).
		end, first := len(h), len(spans)
		for i := len(spans) - 1; i >= 0; i-- {
			if visibleText(h[spans[i].end:end]) {
				break
			}
			first, end = i, spans[i].start
		}
		spans = spans[first:]
	}
	var b strings.Builder
	at := 0
	for _, s := range spans {
		if s.start < at {
			continue
		}
		b.WriteString(h[at:s.start])
		at = s.end
	}
	b.WriteString(h[at:])
	return b.String()
}

// visibleText reports whether an HTML fragment shows any text.
func visibleText(h string) bool { return HTMLToText(h) != "" }

// signatureText is stripped_signature as text (it may come as HTML).
func signatureText(s string) string {
	s = strings.ToValidUTF8(s, "")
	if strings.Contains(s, "<") && strings.Contains(s, ">") {
		return HTMLToText(s)
	}
	return strings.TrimSpace(s)
}

// trimSignature removes sig from the end of text, comparing word by word so that line breaks
// and spacing (which differ between the body and the separated signature) do not matter. It
// declines when text does not end with sig, or when nothing would be left.
func trimSignature(text, sig string) (string, bool) {
	want := strings.Fields(sig)
	type word struct {
		s     string
		start int
	}
	var words []word
	in := -1
	for i, r := range text {
		space := unicode.IsSpace(r) // as strings.Fields splits sig
		if !space && in < 0 {
			in = i
		} else if space && in >= 0 {
			words = append(words, word{text[in:i], in})
			in = -1
		}
	}
	if in >= 0 {
		words = append(words, word{text[in:], in})
	}
	if len(want) == 0 || len(want) >= len(words) {
		return text, false
	}
	tail := words[len(words)-len(want):]
	for i, w := range tail {
		if w.s != want[i] {
			return text, false
		}
	}
	kept := strings.TrimSpace(text[:tail[0].start])
	// The "-- " line that introduced the signature goes with it.
	for kept != "" {
		i := strings.LastIndexByte(kept, '\n') // -1: kept is one line
		if strings.TrimSpace(kept[i+1:]) != "--" {
			break
		}
		kept = strings.TrimSpace(kept[:max(i, 0)])
	}
	if kept == "" {
		return text, false
	}
	return kept, true
}

// maxSignatureLines bounds what a "-- " line may cut off: a signature is a few lines (RFC 3676
// suggests four); a "--" with much text below is more likely a divider in the agent's text.
const maxSignatureLines = 10

// trimDelimitedSignature cuts the signature that an RFC 3676 "-- " line introduces (also "--",
// as HTML-to-text conversion and some clients drop the trailing space).
func trimDelimitedSignature(text string) string {
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i > 0; i-- {
		if strings.TrimRight(lines[i], " \t") != "--" {
			continue
		}
		n := 0
		for _, l := range lines[i+1:] {
			if !isBlank(l) {
				n++
			}
		}
		if kept := joinTrimmed(lines[:i]); n <= maxSignatureLines && kept != "" {
			return kept
		}
		break
	}
	return text
}
