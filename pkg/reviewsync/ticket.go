package reviewsync

import (
	"fmt"
	"html"
	"slices"
	"strings"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Tags returns a review's ticket tags: always trustpilot-review, then kind, rating and the
// connection's own tags.
func Tags(c connection.Connection, rv review.Review) []string {
	tags := []string{TagReview, "trustpilot-" + string(rv.Kind), fmt.Sprintf("trustpilot-%d-star", rv.Stars)}
	for _, t := range c.Tags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
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
	return gorgias.NewTicket{
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
		Language:      rv.Language,
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
