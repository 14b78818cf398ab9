package sidebar_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/sidebar"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// link records a review as the sync does: claimed, linked with its reviewer, indexed.
func linkReview(t *testing.T, st *memstore.Store, acct, email string, rv review.Review, ticket int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.ClaimReview(ctx, "c1", rv.ID, rv.Kind, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	who := reviewer.Key(email)
	if err := st.ConfirmLink(ctx, link.Confirm{ConnectionID: "c1", ReviewID: rv.ID, Owner: "w", Account: acct, TicketID: ticket, Reviewer: who}); err != nil {
		t.Fatal(err)
	}
	if who != "" {
		if err := st.PutReviewerEntry(ctx, acct, who, rv.ID, reviewer.EntryOf("c1", rv, ticket).Marshal()); err != nil {
			t.Fatal(err)
		}
	}
}

// A new review's entry is written before its ticket exists: on ticket-created the answer holds
// it already, marked as this ticket's by the external id, with the ticket id of the call.
func TestAnswerOnTicketCreatedShowsTheNewReview(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	ctx := context.Background()
	rv := review.Review{ID: fmt.Sprintf("%024x", 7), Kind: review.Service, Stars: 3, Title: "new", CreatedAt: time.Now()}
	if err := st.PutReviewerEntry(ctx, "acme", reviewer.Key("eve@example.com"), rv.ID, reviewer.EntryOf("c1", rv, 0).Marshal()); err != nil {
		t.Fatal(err)
	}
	ans, err := (&sidebar.Service{Store: st}).Answer(ctx, sidebar.Call{Account: "acme", Email: "eve@example.com", TicketID: 42, ExternalID: "trustpilot:" + rv.ID})
	if err != nil || len(ans.Reviews) != 1 || !ans.Reviews[0].ThisTicket || ans.Reviews[0].TicketID != 42 || ans.Reviews[0].Reply != "not replied" {
		t.Fatalf("answer %+v %v", ans, err)
	}
}

func TestAnswerShowsTheReviewersReviewsNewestFirst(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		rv := review.Review{ID: fmt.Sprintf("%024x", i+1), Kind: review.Service, Stars: 1 + i%5, Title: fmt.Sprintf("t%d", i),
			Text: "a long text " + fmt.Sprint(i), CreatedAt: base.Add(time.Duration(i) * time.Hour), Link: "https://trustpilot.example/r"}
		linkReview(t, st, "acme", "Ann+shop@Example.com", rv, int64(100+i))
	}
	other := review.Review{ID: fmt.Sprintf("%024x", 99), Kind: review.Service, Stars: 5, CreatedAt: base}
	linkReview(t, st, "acme", "bob@example.com", other, 500)
	if _, err := st.ClaimReply(ctx, "c1", fmt.Sprintf("%024x", 12), 1, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishReply(ctx, "c1", fmt.Sprintf("%024x", 12), 1, link.ReplyPosted, "ok"); err != nil {
		t.Fatal(err)
	}
	// Review 10's reply was held by the guard.
	if _, err := st.ClaimReply(ctx, "c1", fmt.Sprintf("%024x", 10), 7, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.HoldReply(ctx, "c1", fmt.Sprintf("%024x", 10), 7, link.HeldPrefix+"a phone number"); err != nil {
		t.Fatal(err)
	}
	s := &sidebar.Service{Store: st}
	// The address as a template renders it into a URL without escaping: "+" read as a space.
	ans, err := s.Answer(ctx, sidebar.Call{Account: "acme", Email: " ann shop@example.com", TicketID: 110})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Total != 12 || len(ans.Reviews) != sidebar.MaxShown || ans.Anonymous {
		t.Fatalf("total %d, shown %d, anonymous %v", ans.Total, len(ans.Reviews), ans.Anonymous)
	}
	if ans.Reviews[2].TicketID != 109 || ans.Reviews[2].Reply != "reply held by the guard" {
		t.Fatalf("third review %+v", ans.Reviews[2])
	}
	if ans.Reviews[0].TicketID != 111 || ans.Reviews[0].Reply != "replied" || ans.Reviews[1].Reply != "not replied" ||
		!ans.Reviews[1].ThisTicket || ans.Reviews[0].ThisTicket || ans.Reviews[0].Date != "2026-01-01" || ans.Reviews[0].Rating != "★★☆☆☆" {
		t.Fatalf("first reviews %+v %+v", ans.Reviews[0], ans.Reviews[1])
	}
	for _, r := range ans.Reviews {
		if r.TicketID == 500 {
			t.Fatal("another reviewer's review shown")
		}
	}
	// The same reviewer in another helpdesk account is another customer.
	if ans, err := s.Answer(ctx, sidebar.Call{Account: "other-account", Email: "ann+shop@example.com"}); err != nil || len(ans.Reviews) != 0 || ans.Note != sidebar.NoteNone {
		t.Fatalf("another account: %+v %v", ans, err)
	}
}

// The shared anonymous customer: no review is indexed under its address, and its ticket's
// review has no reviewer, so the answer says it is the anonymous customer and shows nothing.
func TestAnonymousCustomerShowsNoReviewerData(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	ctx := context.Background()
	linkReview(t, st, "acme", "", review.Review{ID: fmt.Sprintf("%024x", 1), Kind: review.Service, Stars: 2}, 7)
	linkReview(t, st, "acme", "carl@example.com", review.Review{ID: fmt.Sprintf("%024x", 2), Kind: review.Service, Stars: 4}, 8)
	s := &sidebar.Service{Store: st}
	ans, err := s.Answer(ctx, sidebar.Call{Account: "acme", Email: "reviews@acme.example", TicketID: 7})
	if err != nil || !ans.Anonymous || len(ans.Reviews) != 0 || ans.Note != sidebar.NoteAnonymous {
		t.Fatalf("anonymous: %+v %v", ans, err)
	}
	// On ticket-created, before the sync recorded the ticket: the external id says it is a
	// review ticket, and no entry means its review had no email.
	ans, err = s.Answer(ctx, sidebar.Call{Account: "acme", Email: "reviews@acme.example", TicketID: 9, ExternalID: "trustpilot:" + fmt.Sprintf("%024x", 3)})
	if err != nil || !ans.Anonymous || len(ans.Reviews) != 0 {
		t.Fatalf("anonymous before the link: %+v %v", ans, err)
	}
	// A customer that is not a reviewer, on a ticket of its own: nothing, and not anonymous.
	if ans, err := s.Answer(ctx, sidebar.Call{Account: "acme", Email: "dave@example.com", TicketID: 55}); err != nil || ans.Anonymous || ans.Note != sidebar.NoteNone {
		t.Fatalf("a non-reviewer: %+v %v", ans, err)
	}
	// Another helpdesk account's ticket 7 is not this account's: a customer there is not the
	// anonymous one.
	if ans, err := s.Answer(ctx, sidebar.Call{Account: "other.gorgias.com", Email: "dave@example.com", TicketID: 7}); err != nil || ans.Anonymous || ans.Note != sidebar.NoteNone {
		t.Fatalf("another account's ticket of the same id: %+v %v", ans, err)
	}
}

// A customer without an email (chat, social, phone) gets an answer saying so, not an error:
// Gorgias calls on every ticket, and deactivates an integration whose calls keep failing.
// What is not an address (a template that did not render), or no account, or an account no
// helpdesk host can be, is the caller's mistake.
func TestAnswerToBadOrMissingParameters(t *testing.T) {
	t.Parallel()
	s := &sidebar.Service{Store: memstore.New()}
	ctx := context.Background()
	for _, none := range []string{"", "   "} {
		ans, err := s.Answer(ctx, sidebar.Call{Account: "acme", Email: none, TicketID: 7})
		if err != nil || ans.Note != sidebar.NoteNoEmail || ans.Reviews == nil || len(ans.Reviews) != 0 || ans.Anonymous {
			t.Fatalf("email %q: %+v %v, want an empty answer with the no-email note", none, ans, err)
		}
	}
	for _, c := range []sidebar.Call{
		{Account: "acme", Email: "not-an-email", TicketID: 7},
		{Account: "acme", Email: "{{ticket.customer.email}}", TicketID: 7},
		{Email: "carl@example.com", TicketID: 8},
		{Account: strings.Repeat("a", 256), Email: "carl@example.com"},
		{Account: "acme\x00.gorgias.com", Email: "carl@example.com"},
	} {
		if _, err := s.Answer(ctx, c); !errs.Is(err, errs.Invalid) {
			t.Fatalf("%+v: %v, want errs.Invalid", c, err)
		}
	}
}

// A review's title and product name are cut like its text, so one answer stays small whatever
// the reviewer wrote.
func TestAnswerBoundsTitleAndProduct(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	long := strings.Repeat("very long words ", 100)
	linkReview(t, st, "acme", "fay@example.com", review.Review{ID: fmt.Sprintf("%024x", 5), Kind: review.Product, Stars: 5,
		Title: long, ProductName: long, Text: long, CreatedAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}, 12)
	ans, err := (&sidebar.Service{Store: st}).Answer(context.Background(), sidebar.Call{Account: "acme", Email: "fay@example.com"})
	if err != nil || len(ans.Reviews) != 1 {
		t.Fatalf("%+v %v", ans, err)
	}
	r := ans.Reviews[0]
	for name, v := range map[string]struct {
		got string
		max int
	}{"title": {r.Title, sidebar.MaxTitle}, "product": {r.Product, sidebar.MaxProduct}, "excerpt": {r.Excerpt, reviewer.ExcerptLen}} {
		if n := utf8.RuneCountInString(v.got); n > v.max+1 || n < v.max/2 || !strings.HasSuffix(v.got, "…") {
			t.Fatalf("%s: %d characters %q, want at most %d and an ellipsis", name, n, v.got, v.max+1)
		}
	}
}

// Purging a connection takes its reviews out of the sidebar: a reviewer of two connections of
// the account keeps the other's, one of the purged connection alone has none left.
func TestAnswerAfterPurgeShowsOnlyOtherConnections(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	ctx := context.Background()
	for _, id := range []string{"c1", "c2"} {
		if err := st.PutConnection(ctx, connection.Connection{ID: id, Helpdesk: connection.Helpdesk{URL: "https://acme"}}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range []struct{ conn, email string }{{"c1", "both@example.com"}, {"c2", "both@example.com"}, {"c1", "once@example.com"}} {
		rv := review.Review{ID: fmt.Sprintf("%024x", i+1), Kind: review.Service, Stars: 5, Title: r.conn, CreatedAt: at}
		if err := st.PutReviewerEntry(ctx, "acme", reviewer.Key(r.email), rv.ID, reviewer.EntryOf(r.conn, rv, 0).Marshal()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteConnection(ctx, "c1", true); err != nil {
		t.Fatal(err)
	}
	svc := &sidebar.Service{Store: st}
	ans, err := svc.Answer(ctx, sidebar.Call{Account: "acme", Email: "both@example.com"})
	if err != nil || ans.Total != 1 || len(ans.Reviews) != 1 || ans.Reviews[0].Title != "c2" {
		t.Fatalf("reviewer of both connections after the purge: %+v %v", ans, err)
	}
	ans, err = svc.Answer(ctx, sidebar.Call{Account: "acme", Email: "once@example.com"})
	if err != nil || ans.Total != 0 || len(ans.Reviews) != 0 || ans.Note != sidebar.NoteNone {
		t.Fatalf("reviewer of the purged connection alone: %+v %v", ans, err)
	}
}
