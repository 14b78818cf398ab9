// Package sidebar is the use case behind the helpdesk's sidebar integration: Gorgias calls it
// when a ticket is created or updated, with the ticket's customer email and ticket id, and
// stores the answer on the customer for a widget to render. It answers from the table alone
// (the reviewer index the sync keeps, the links' reply state): no helpdesk call.
package sidebar

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
)

// Store reads what the sync recorded.
type Store interface {
	ReviewerEntries(ctx context.Context, account, reviewer string) (map[string]string, error)
	GetLinks(ctx context.Context, connID string, reviewIDs []string) (map[string]link.Link, error)
	LinksByTicket(ctx context.Context, ticketID int64) ([]link.Link, error)
}

// MaxShown bounds the reviews of one answer (newest first), so the answer stays small
// whatever the reviewer wrote; MaxTitle and MaxProduct bound a review's title and product
// name (its text is already an excerpt, reviewer.ExcerptLen).
const (
	MaxShown   = 10
	MaxTitle   = 200
	MaxProduct = 200
)

// maxAccount bounds the account parameter: a helpdesk host (acme.gorgias.com) is at most 253
// characters, and DynamoDB refuses a key over 2 048 bytes (as an error that is not the
// caller's to see).
const maxAccount = 255

// Service answers sidebar calls.
type Service struct {
	Store Store
}

// Review is one review as the widget shows it.
type Review struct {
	Stars        int    `json:"stars"`
	Rating       string `json:"rating"` // ★★★★☆
	Title        string `json:"title,omitempty"`
	Excerpt      string `json:"excerpt,omitempty"`
	Kind         string `json:"kind"`
	Product      string `json:"product,omitempty"`
	SKU          string `json:"sku,omitempty"`
	Date         string `json:"date"` // YYYY-MM-DD
	Link         string `json:"link,omitempty"`
	Reply        string `json:"reply"` // replied, reply in progress, not replied, reply refused, reply held by the guard
	TicketID     int64  `json:"ticket_id"`
	ThisTicket   bool   `json:"this_ticket"`
	BusinessUnit string `json:"business_unit,omitempty"`
}

// Answer is what Gorgias stores on the customer.
type Answer struct {
	Reviews   []Review `json:"reviews"`
	Total     int      `json:"total"` // the reviewer's reviews Pilotdesk knows, shown or not
	Anonymous bool     `json:"anonymous"`
	Note      string   `json:"note,omitempty"`
}

// Notes of an answer without reviews.
const (
	NoteAnonymous = "Reviews whose author did not share an email arrive on this shared customer; each ticket's first message holds its review."
	NoteNone      = "No Trustpilot review from this email address is known to Pilotdesk."
	NoteNoEmail   = "This customer has no email address; Pilotdesk finds a customer's Trustpilot reviews by email."
)

// ErrNoEmail: the email the call carries is not an address (a template that did not render).
var ErrNoEmail = errors.New("the email parameter must be the ticket customer's address ({{ticket.customer.email}})")

// Call is one sidebar call: the account (from the installed URL), and the ticket's customer
// email, id and external id as Gorgias rendered them.
type Call struct {
	Account, Email string
	TicketID       int64
	ExternalID     string // trustpilot:<review id> on review tickets; names the ticket's review
}

// Answer returns the reviews of the call's customer in the helpdesk account, marking the
// ticket's own (by its id, or by its external id while its link is still being written: the
// helpdesk calls on ticket-created, maybe before the sync recorded the ticket).
func (s *Service) Answer(ctx context.Context, c Call) (Answer, error) {
	account, email, ticketID := c.Account, c.Email, c.TicketID
	current, _ := link.ReviewIDOf(strings.TrimSpace(c.ExternalID))
	const op = "sidebar.Answer"
	email = fixEmail(email)
	account = strings.TrimSpace(account)
	if account == "" {
		return Answer{}, errs.E(errs.Invalid, op, errors.New("the account parameter is required (install the integration with `pilotdesk helpdesk install-webhook`)"))
	}
	if len(account) > maxAccount || strings.ContainsFunc(account, unicode.IsControl) {
		return Answer{}, errs.E(errs.Invalid, op, fmt.Errorf("the account parameter must be the helpdesk's host (at most %d characters)", maxAccount))
	}
	if email == "" {
		// A customer from chat, social or phone has none: Gorgias calls on their tickets too,
		// and an integration whose calls fail is deactivated, so this is an answer, not an error.
		return Answer{Reviews: []Review{}, Note: NoteNoEmail}, nil
	}
	who := reviewer.Key(email)
	if who == "" || !strings.Contains(email, "@") {
		return Answer{}, errs.E(errs.Invalid, op, ErrNoEmail)
	}
	raw, err := s.Store.ReviewerEntries(ctx, account, who)
	if err != nil {
		return Answer{}, err
	}
	var entries []reviewer.Entry
	for _, v := range raw {
		if e, err := reviewer.Unmarshal(v); err == nil {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		return s.empty(ctx, account, ticketID, current != "")
	}
	slices.SortFunc(entries, func(a, b reviewer.Entry) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.ReviewID, b.ReviewID))
	})
	ans := Answer{Total: len(entries), Reviews: []Review{}}
	shown := entries[:min(len(entries), MaxShown)]
	links, err := s.links(ctx, shown)
	if err != nil {
		return Answer{}, err
	}
	for _, e := range shown {
		lk := links[e.ReviewID]
		tid := cmp.Or(lk.TicketID, e.TicketID)
		this := (ticketID != 0 && tid == ticketID) || (current != "" && e.ReviewID == current)
		if this && tid == 0 {
			tid = ticketID
		}
		ans.Reviews = append(ans.Reviews, Review{
			Stars: e.Stars, Rating: strings.Repeat("★", min(max(e.Stars, 0), 5)) + strings.Repeat("☆", 5-min(max(e.Stars, 0), 5)),
			Title: reviewer.Excerpt(e.Title, MaxTitle), Excerpt: e.Excerpt, Kind: e.Kind, Product: reviewer.Excerpt(e.ProductName, MaxProduct), SKU: e.ProductSKU,
			Date: e.CreatedAt.UTC().Format("2006-01-02"), Link: e.Link, Reply: replyText(lk), TicketID: tid,
			ThisTicket: this, BusinessUnit: e.BusinessUnitID,
		})
	}
	return ans, nil
}

// empty answers for a customer without indexed reviews: the shared anonymous customer (its
// ticket is a review ticket whose review has no reviewer) says so; anyone else has none yet.
func (s *Service) empty(ctx context.Context, account string, ticketID int64, reviewTicket bool) (Answer, error) {
	ans := Answer{Reviews: []Review{}, Note: NoteNone}
	var links []link.Link
	if ticketID != 0 {
		all, err := s.Store.LinksByTicket(ctx, ticketID)
		if err != nil {
			return Answer{}, err
		}
		// Ticket ids are per helpdesk account: another account's ticket of the same id is not
		// this one (links written before they carried their account count as this account's).
		for _, l := range all {
			if l.Account == "" || l.Account == account {
				links = append(links, l)
			}
		}
	}
	// A review ticket whose customer has no entry: its review came without an email (the
	// entry of one with an email is written before its ticket), whether or not its link is
	// recorded yet.
	anonymous := reviewTicket && len(links) == 0
	for _, l := range links {
		anonymous = anonymous || l.Reviewer == ""
	}
	if anonymous {
		ans.Anonymous, ans.Note = true, NoteAnonymous
	}
	return ans, nil
}

// links reads the entries' links (ticket id, reply state), one batched read per connection.
func (s *Service) links(ctx context.Context, entries []reviewer.Entry) (map[string]link.Link, error) {
	byConn := map[string][]string{}
	for _, e := range entries {
		byConn[e.ConnectionID] = append(byConn[e.ConnectionID], e.ReviewID)
	}
	out := map[string]link.Link{}
	for conn, ids := range byConn {
		links, err := s.Store.GetLinks(ctx, conn, ids)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, links)
	}
	return out, nil
}

func replyText(lk link.Link) string {
	if lk.ReplyHeld() {
		return "reply held by the guard"
	}
	switch lk.ReplyState {
	case link.ReplyPosted:
		return "replied"
	case link.ReplyClaimed:
		return "reply in progress"
	case link.ReplyFailed:
		return "reply refused"
	}
	return "not replied"
}

// WidgetTemplate renders an Answer in the ticket sidebar (a widget bound to the sidebar's HTTP
// integration: Gorgias keeps the answer on the customer under integrations[<id>]).
const WidgetTemplate = `{"type":"wrapper","widgets":[{"type":"card","title":"Trustpilot reviews","path":"","widgets":[
 {"type":"text","title":"Reviews","path":"total"},
 {"type":"text","title":"Note","path":"note"},
 {"type":"list","path":"reviews","widgets":[{"type":"card","title":"{{rating}} {{title}}","widgets":[
  {"type":"text","title":"Date","path":"date"},
  {"type":"text","title":"Kind","path":"kind"},
  {"type":"text","title":"Product","path":"product"},
  {"type":"text","title":"Review","path":"excerpt"},
  {"type":"text","title":"Reply","path":"reply"},
  {"type":"text","title":"Ticket","path":"ticket_id"},
  {"type":"url","title":"On Trustpilot","path":"link"}]}]}]}]}`

// fixEmail undoes what a template rendered into a URL without escaping can do to an address:
// a "+" read back as a space (addresses hold no spaces).
func fixEmail(s string) string {
	s = strings.TrimSpace(s)
	return strings.ReplaceAll(s, " ", "+")
}
