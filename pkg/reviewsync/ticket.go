package reviewsync

import (
	"cmp"
	"fmt"
	"html"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Tags returns a review's ticket tags: always trustpilot-review, then kind, rating, the
// product's SKU (sku-<sku>, unless the connection turns it off) and the connection's own tags.
func Tags(c connection.Connection, rv review.Review) []string {
	tags := []string{TagReview, "trustpilot-" + string(rv.Kind), fmt.Sprintf("trustpilot-%d-star", rv.Stars)}
	if t := SKUTag(rv.ProductSKU); t != "" && rv.Kind == review.Product && c.Triage.SKUTagsOn() {
		tags = append(tags, t)
	}
	for _, t := range c.Tags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// maxSKUTag bounds a SKU tag (Gorgias allows 256 characters; views show far fewer).
const maxSKUTag = 64

// SKUTag is the tag of a product SKU: "sku-" and the SKU lowercased, every run of characters
// other than letters, digits, '.' and '_' one '-', trimmed, at most 64 characters; "" when the
// SKU has nothing left.
func SKUTag(sku string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(sku) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
		if b.Len() >= maxSKUTag {
			break
		}
	}
	s := b.String()
	for len(s) > maxSKUTag-len("sku-") {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		return ""
	}
	return "sku-" + s
}

// TicketLanguage is the ticket language of a review's: the primary subtag of its language
// ("en-GB" → "en"), or "" when that is not two or three letters.
func TicketLanguage(lang string) string {
	primary, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(lang), "_", "-"), "-")
	if len(primary) < 2 || len(primary) > 3 {
		return ""
	}
	for _, r := range primary {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return ""
		}
	}
	return strings.ToLower(primary)
}

// customFields are the ticket field values the connection asks for, in the create call.
func customFields(c connection.Connection, rv review.Review) []gorgias.CustomField {
	f := c.Triage.Fields
	var out []gorgias.CustomField
	add := func(id int64, v any) {
		if id > 0 && v != "" {
			out = append(out, gorgias.CustomField{ID: id, Value: v})
		}
	}
	if f.Stars > 0 {
		add(f.Stars, rv.Stars)
	}
	add(f.Kind, string(rv.Kind))
	add(f.BusinessUnit, cmp.Or(rv.BusinessUnitID, c.Trustpilot.BusinessUnitID))
	if rv.Kind == review.Product {
		add(f.SKU, rv.ProductSKU)
	}
	return out
}

func stars(n int) string {
	n = min(max(n, 0), 5)
	return strings.Repeat("★", n) + strings.Repeat("☆", 5-n)
}

// Subject is the ticket subject: stars and title (or product).
func Subject(rv review.Review) string {
	title := strings.TrimSpace(rv.Title)
	if rv.Kind == review.Product {
		if title == "" {
			title = strings.TrimSpace(rv.ProductName)
		}
		if title == "" {
			title = "product review"
		}
		return fmt.Sprintf("Trustpilot product review (%d★): %s", rv.Stars, title)
	}
	if title == "" {
		title = firstWords(rv.Text, 60)
	}
	if title == "" {
		title = "(no title)"
	}
	return fmt.Sprintf("Trustpilot review (%d★): %s", rv.Stars, title)
}

func firstWords(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func reviewerName(rv review.Review) string {
	if strings.TrimSpace(rv.ReviewerName) != "" {
		return strings.TrimSpace(rv.ReviewerName)
	}
	return "Trustpilot reviewer"
}

// NewTicket builds the helpdesk ticket for a review. Review text is untrusted: the HTML body
// is built from escaped parts only.
func NewTicket(c connection.Connection, rv review.Review) gorgias.NewTicket {
	email := rv.Email
	anonymous := email == ""
	if anonymous {
		email = c.AnonymousEmail
	}
	var text, h strings.Builder
	line := func(label, value string) {
		if value == "" {
			return
		}
		fmt.Fprintf(&text, "%s: %s\n", label, value)
		fmt.Fprintf(&h, "<p><strong>%s:</strong> %s</p>", html.EscapeString(label), html.EscapeString(value))
	}
	line("Rating", fmt.Sprintf("%s (%d/5)", stars(rv.Stars), rv.Stars))
	if rv.Kind == review.Product {
		product := rv.ProductName
		if rv.ProductSKU != "" {
			product = strings.TrimSpace(product + " (SKU " + rv.ProductSKU + ")")
		}
		line("Product", product)
	}
	line("Title", rv.Title)
	line("Reviewer", reviewerName(rv))
	if anonymous {
		line("Reviewer email", "not shared by Trustpilot (organic review)")
	}
	line("Reference", rv.ReferenceID)
	line("Review id", rv.ID)
	text.WriteString("\n")
	text.WriteString(rv.Text)
	text.WriteString("\n")
	h.WriteString("<blockquote>")
	h.WriteString(gorgias.TextToHTML(rv.Text))
	h.WriteString("</blockquote>")
	if rv.Link != "" {
		fmt.Fprintf(&text, "\nSee the review on Trustpilot: %s\n", rv.Link)
		fmt.Fprintf(&h, `<p><a href="%s">See the review on Trustpilot</a></p>`, html.EscapeString(rv.Link))
	}
	language := ""
	if c.Triage.LanguageOn() {
		language = TicketLanguage(rv.Language)
	}
	return gorgias.NewTicket{
		Priority:      c.Triage.PriorityFor(rv.Stars),
		Closed:        c.Triage.Closes(rv.Stars),
		CustomFields:  customFields(c, rv),
		ExternalID:    link.ExternalID(rv.ID),
		Subject:       Subject(rv),
		Channel:       "email",
		CustomerEmail: email,
		CustomerName:  reviewerName(rv),
		Tags:          Tags(c, rv),
		Meta:          map[string]any{metaKey: gorgias.EntryFromReview(rv, 0)},
		CreatedAt:     rv.CreatedAt,
		BodyText:      text.String(),
		BodyHTML:      h.String(),
		Language:      language,
	}
}

// EditNote is the internal note added when a review is edited on Trustpilot.
func EditNote(rv review.Review, lk link.Link) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The review was edited on Trustpilot (%s).\n", rv.Version().UTC().Format("2006-01-02 15:04 MST"))
	if lk.Stars != 0 && lk.Stars != rv.Stars {
		fmt.Fprintf(&b, "Rating: %d★ → %d★\n", lk.Stars, rv.Stars)
	} else {
		fmt.Fprintf(&b, "Rating: %d★\n", rv.Stars)
	}
	if rv.Title != "" {
		fmt.Fprintf(&b, "Title: %s\n", rv.Title)
	}
	b.WriteString("\n")
	b.WriteString(rv.Text)
	return b.String()
}
