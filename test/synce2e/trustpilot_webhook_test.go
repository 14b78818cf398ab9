package synce2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// The scenarios of issue 12's Trustpilot webhooks, through the local API Gateway, the webhook
// function and the worker.

// trustpilotHook is the scenario's first connection's Trustpilot webhook URL, as
// `pilotdesk trustpilot webhook-url` prints it, subscribed to its business unit's events.
func (s *system) trustpilotHook(t testing.TB) string {
	t.Helper()
	base := strings.TrimSuffix(s.WebhookURL, "/helpdesk/events")
	line := strings.Fields(s.cliWith(t, func(c *cliOpts) { c.apiURL = base }, "trustpilot", "webhook-url", s.conns[0].ID))
	if len(line) == 0 || !strings.HasPrefix(line[0], base+trustpilot.WebhookPath+"?") {
		t.Fatalf("webhook-url printed %q", line)
	}
	if err := s.TP.SetWebhookURL(s.units[0], line[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.TP.SetWebhookURL(s.units[0], "") })
	return line[0]
}

// newServiceReview adds a new service review to the scenario's first business unit.
func (s *system) newServiceReview(t testing.TB, n int, stars int) trustpilotsim.ServiceReview {
	t.Helper()
	email := fmt.Sprintf("hook%d@example.com", n)
	rv := trustpilotsim.ServiceReview{ID: fmt.Sprintf("5f9e%020x", hash(t.Name())%1e12*100+uint64(n)), Stars: stars, Title: ptr(fmt.Sprintf("hook %d", n)),
		Text: ptr(fmt.Sprintf("arrived by webhook, review number %d of %s", n, t.Name())), Language: "en", CreatedAt: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), ReferralEmail: &email,
		Consumer: trustpilotsim.Consumer{ID: "5f3a2b3c4d5e6f7a8b9c0d02", DisplayName: ptr("Hook")}, BusinessUnit: trustpilotsim.BusinessUnitRef{ID: s.units[0]}}
	if err := s.TP.PutServiceReview(rv); err != nil {
		t.Fatal(err)
	}
	return rv
}

// 1. Five reviews created and their webhook batch delivered → five tickets within 10 s with no
// scheduler tick; the same batch again → no new ticket.
func TestTrustpilotWebhookMakesTicketsInSeconds(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 10, 0)
	s.serviceOnly(t)
	s.trustpilotHook(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, s.newServiceReview(t, i, 4).ID)
	}
	start := time.Now()
	ds := s.TP.FlushWebhooks(context.Background(), false)
	if len(ds) != 1 || ds[0].Status != http.StatusOK || ds[0].Events != 5 {
		t.Fatalf("deliveries %+v, want one batch of 5 answered 200", ds)
	}
	if _, err := s.Drain(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	got := s.ticketsByReview(t)
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("review %s has %d tickets after the webhook, want 1 (tickets %v)", id, got[id], got)
		}
	}
	if len(got) != 5 || took > 10*time.Second {
		t.Fatalf("%d tickets in %s, want exactly the 5 within 10 s (no tick ran)", len(got), took)
	}
	t.Logf("webhook to five tickets: %s", took.Round(time.Millisecond))

	// Trustpilot sends the batch again (twice): nothing new.
	for _, id := range ids[:2] {
		if err := s.TP.PutServiceReview(s.reviewOf(t, id)); err != nil { // re-queued as "updated", same content
			t.Fatal(err)
		}
	}
	if ds := s.TP.FlushWebhooks(context.Background(), true); len(ds) != 2 || ds[1].Status != http.StatusOK {
		t.Fatalf("redeliveries %+v", ds)
	}
	if _, err := s.Drain(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if again := s.ticketsByReview(t); len(again) != 5 {
		t.Fatalf("%d tickets after the redelivery, want 5", len(again))
	}
}

// 2. A forged event (an id that is not the connection's review) → no ticket; a wrong key → 401
// and nothing queued; a 2 MiB body → 413.
func TestTrustpilotWebhookRefusesWhatItCannotTrust(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 4, 0)
	s.serviceOnly(t)
	hook := s.trustpilotHook(t)
	ctx := context.Background()
	other := s.fixtures[1].ServiceReviews[0].ID // the second connection's review: not this one's
	forged := []trustpilotsim.WebhookEvent{
		{EventName: trustpilot.EventCreated, Version: "1", EventData: map[string]any{"id": "5f0000000000000000000fee", "stars": 1}},
		{EventName: trustpilot.EventCreated, Version: "1", EventData: map[string]any{"id": other}},
	}
	if d := s.TP.SendWebhook(ctx, hook, forged); d.Status != http.StatusOK {
		t.Fatalf("forged batch: %+v, want 200 (the body is only a hint)", d)
	}
	u, _ := url.Parse(hook)
	q := u.Query()
	q.Set("key", strings.Repeat("0", 64))
	u.RawQuery = q.Encode()
	if d := s.TP.SendWebhook(ctx, u.String(), forged); d.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %+v, want 401", d)
	}
	q.Del("key")
	u.RawQuery = q.Encode()
	if d := s.TP.SendWebhook(ctx, u.String(), forged); d.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %+v, want 401", d)
	}
	big := []byte(`{"events":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`)
	if d := s.TP.SendWebhookBody(ctx, hook, big, 0); d.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: status %d, want 413", d.Status)
	}
	if d := s.TP.SendWebhookBody(ctx, hook, []byte(`{"events":`), 0); d.Status != http.StatusBadRequest || !strings.Contains(d.Body, "events") {
		t.Fatalf("malformed body: %+v, want 400 with a message", d)
	}
	if _, err := s.Drain(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := s.ticketsByReview(t); len(got) != 0 {
		t.Fatalf("tickets %v from forged events", got)
	}
	if !strings.Contains(s.output(), "names no review of this business unit") {
		t.Fatalf("the forged events were not read and refused\n%s", tail(s.output(), 2000))
	}
}

// 3 (updated). An updated event with new stars → one edit note, no new ticket.
func TestTrustpilotWebhookUpdateAddsANote(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 2, 0)
	s.serviceOnly(t)
	s.trustpilotHook(t)
	rv := s.newServiceReview(t, 1, 5)
	s.TP.FlushWebhooks(context.Background(), false)
	if _, err := s.Drain(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	edited := s.reviewOf(t, rv.ID)
	edited.Stars = 2
	later := time.Now().UTC().Format(time.RFC3339)
	edited.UpdatedAt = &later
	if err := s.TP.PutServiceReview(edited); err != nil {
		t.Fatal(err)
	}
	s.TP.FlushWebhooks(context.Background(), false)
	if _, err := s.Drain(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	got := s.ticketsByReview(t)
	if len(got) != 1 || got[rv.ID] != 1 {
		t.Fatalf("tickets %v, want the one", got)
	}
	for _, tk := range s.HD.Tickets(s.account) {
		notes := 0
		for _, m := range tk.Messages {
			if strings.Contains(m.BodyText, "edited on Trustpilot") && strings.Contains(m.BodyText, "5★ → 2★") {
				notes++
			}
		}
		if notes != 1 {
			t.Fatalf("ticket %d has %d edit notes, want 1", tk.ID, notes)
		}
	}
}

// ticketsByReview counts the scenario account's tickets by review id.
func (s *system) ticketsByReview(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tk := range s.HD.Tickets(s.account) {
		id, ok := link.ReviewIDOf(tk.ExternalID)
		if !ok {
			t.Fatalf("ticket %d has external id %q", tk.ID, tk.ExternalID)
		}
		out[id]++
	}
	return out
}

func (s *system) reviewOf(t testing.TB, id string) trustpilotsim.ServiceReview {
	t.Helper()
	r, ok := s.TP.ServiceReview(id)
	if !ok {
		t.Fatalf("no review %s in the simulator", id)
	}
	return r
}

// 3 (deleted). A deleted event, and the Deletions API for a deletion no webhook reported: note
// and trustpilot-deleted tag on the ticket, the review's text gone from the table and from the
// sidebar data, the link kept; the review reinstated comes back to the same ticket.
func TestDeletedReviewsLeavePilotdesk(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 2, 0)
	s.serviceOnly(t)
	s.trustpilotHook(t)
	ctx := context.Background()
	a, b := s.newServiceReview(t, 1, 4), s.newServiceReview(t, 2, 3)
	s.TP.FlushWebhooks(ctx, false)
	if _, err := s.Drain(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	tickets := map[string]int64{}
	for _, tk := range s.HD.Tickets(s.account) {
		id, _ := link.ReviewIDOf(tk.ExternalID)
		tickets[id] = tk.ID
	}
	if tickets[a.ID] == 0 || tickets[b.ID] == 0 || !s.sidebarHas(t, *a.ReferralEmail, a.ID) || !s.tableHas(t, *a.Text) {
		t.Fatalf("before the deletions: tickets %v, sidebar %v, table %v", tickets, s.sidebarHas(t, *a.ReferralEmail, a.ID), s.tableHas(t, *a.Text))
	}

	// a: deleted with its webhook event.
	if err := s.TP.DeleteServiceReview(a.ID); err != nil {
		t.Fatal(err)
	}
	s.TP.FlushWebhooks(ctx, false)
	// b: deleted while the subscription was off; only the Deletions API tells.
	if err := s.TP.SetWebhookURL(s.units[0], ""); err != nil {
		t.Fatal(err)
	}
	if err := s.TP.DeleteServiceReview(b.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the pass's window ends at the last whole second
	j := queue.SyncJob(s.conns[0].ID, review.Service)
	j.Pass = queue.PassDeletions
	if err := s.Queue.Send(ctx, []queue.Job{j}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Drain(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, rv := range []trustpilotsim.ServiceReview{a, b} {
		tk, _ := s.HD.Ticket(tickets[rv.ID])
		notes := 0
		for _, m := range tk.Messages {
			if strings.Contains(m.BodyText, "removed from Trustpilot") {
				notes++
			}
		}
		if notes != 1 || !contains(tk.Tags, "trustpilot-deleted") {
			t.Fatalf("ticket of %s: %d deletion notes, tags %v", rv.ID, notes, tk.Tags)
		}
		if s.sidebarHas(t, *rv.ReferralEmail, rv.ID) || s.tableHas(t, *rv.Text) {
			t.Fatalf("review %s still in the sidebar (%v) or the table (%v)", rv.ID, s.sidebarHas(t, *rv.ReferralEmail, rv.ID), s.tableHas(t, *rv.Text))
		}
		l, err := s.Store.GetLink(ctx, s.conns[0].ID, rv.ID)
		if err != nil || l.DeletedAt.IsZero() || l.TicketID != tickets[rv.ID] {
			t.Fatalf("link of %s: %+v %v", rv.ID, l, err)
		}
	}

	// a is reinstated: the next sync brings it back to its ticket, no second one.
	if err := s.TP.PutServiceReview(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Queue.Send(ctx, []queue.Job{queue.SyncJob(s.conns[0].ID, review.Service)}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Drain(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	got := s.ticketsByReview(t)
	for id, n := range got {
		if n != 1 {
			t.Fatalf("review %s has %d tickets after the reinstatement", id, n)
		}
	}
	if got[a.ID] != 1 {
		t.Fatalf("tickets after the reinstatement: %v", got)
	}
	if l, _ := s.Store.GetLink(ctx, s.conns[0].ID, a.ID); !l.DeletedAt.IsZero() || !s.sidebarHas(t, *a.ReferralEmail, a.ID) {
		t.Fatalf("reinstated review: %+v, sidebar %v", l, s.sidebarHas(t, *a.ReferralEmail, a.ID))
	}
}

// sidebarHas reports whether the reviewer with email has reviewID where a sidebar shows it:
// the index the sidebar integration answers from, or the helpdesk customer's data.
func (s *system) sidebarHas(t testing.TB, email, reviewID string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := s.Store.ReviewerEntries(ctx, s.conns[0].HelpdeskAccountKey(), reviewer.Key(email))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := entries[reviewID]; ok {
		return true
	}
	if err := s.HD.WaitPending(ctx); err != nil {
		t.Fatal(err)
	}
	for _, cu := range s.HD.Customers(s.account) {
		if strings.EqualFold(cu.Email, email) && strings.Contains(string(cu.Data), reviewID) {
			return true
		}
	}
	return false
}

// tableHas reports whether any item of the stack's table holds text.
func (s *system) tableHas(t testing.TB, text string) bool {
	t.Helper()
	p := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(s.AWS.AWS), &dynamodb.ScanInput{TableName: aws.String(s.AWS.TableName())})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if strings.Contains(render(&types.AttributeValueMemberM{Value: it}), text) {
				return true
			}
		}
	}
	return false
}

// render writes every string and number an attribute value holds, nested ones included.
func render(v types.AttributeValue) string {
	var b strings.Builder
	var walk func(types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString(x.Value + "\n")
		case *types.AttributeValueMemberN:
			b.WriteString(x.Value + "\n")
		case *types.AttributeValueMemberM:
			for k, e := range x.Value {
				b.WriteString(k + "\n")
				walk(e)
			}
		case *types.AttributeValueMemberL:
			for _, e := range x.Value {
				walk(e)
			}
		case *types.AttributeValueMemberSS:
			b.WriteString(strings.Join(x.Value, "\n"))
		}
	}
	walk(v)
	return b.String()
}
