package reply

import (
	"html"
	"regexp"
	"strings"
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

// ReplyText is the text to post: the message without quoted history when the helpdesk
// stripped it, else its text, else its HTML made readable; cut with an ellipsis to at most limit
// bytes of UTF-8 (the unit the Trustpilot client checks, so multi-byte text fits too), never
// inside a character. cut reports whether it was cut.
func ReplyText(m gorgias.Message, limit int) (text string, cut bool) {
	switch {
	case strings.TrimSpace(m.StrippedText) != "":
		text = m.StrippedText
	case strings.TrimSpace(m.BodyText) != "":
		text = m.BodyText
	default:
		text = HTMLToText(m.BodyHTML)
	}
	text = strings.TrimSpace(strings.ToValidUTF8(text, ""))
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
