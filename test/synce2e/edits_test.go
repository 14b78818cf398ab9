package synce2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

// 6. A review edited after sync → one note on its ticket, no second ticket; an anonymous review
// → the connection's default customer, with the review visible from the ticket.
func TestEditedAndAnonymousReviews(t *testing.T) {
	t.Parallel() // with the other scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 10, 4)
	ctx := context.Background()
	now := time.Now().UTC()
	anon := trustpilotsim.ServiceReview{
		ID: "aaaa" + s.units[0][4:], Consumer: trustpilotsim.Consumer{ID: "bbbb" + s.units[0][4:]},
		BusinessUnit: trustpilotsim.BusinessUnitRef{ID: s.units[0]}, Stars: 2,
		Title: trustpilotsim.Str("Slow delivery"), Text: trustpilotsim.Str("Took <b>three</b> weeks 😞"),
		Language: "en", CreatedAt: now.Add(-30 * time.Minute).Format("2006-01-02T15:04:05Z"), Source: "Organic",
	}
	if err := s.TP.PutServiceReview(anon); err != nil {
		t.Fatal(err)
	}
	want := s.expected(t, 10, 4)
	want[anon.ID] = expected{kind: "service", conn: 0, stars: 2, title: "Slow delivery"}
	s.tick(t, 3*time.Minute)
	tickets := s.exactlyOnce(t, want)

	tk := tickets[anon.ID]
	cust, ok := s.HD.Customer(tk.CustomerID)
	if !ok || cust.Email != "reviews@shop0.example" {
		t.Fatalf("anonymous review's customer %+v, want the connection's default", cust)
	}
	if !strings.Contains(string(tk.Meta), "Took <b>three</b> weeks") && !strings.Contains(string(tk.Meta), `Took \u003cb\u003ethree`) {
		t.Fatalf("review text not served from the ticket's meta: %s", tk.Meta)
	}

	// Edit it on Trustpilot: new stars, newer updatedAt.
	edited := anon
	edited.Stars = 4
	edited.Text = trustpilotsim.Str("Arrived in the end, support was great.")
	edited.UpdatedAt = trustpilotsim.Str(now.Add(-time.Minute).Format("2006-01-02T15:04:05Z"))
	if err := s.TP.PutServiceReview(edited); err != nil {
		t.Fatal(err)
	}
	s.tick(t, 3*time.Minute)
	s.tick(t, 3*time.Minute) // a second run must not add a second note
	tickets = s.exactlyOnce(t, want)
	full, _ := s.HD.Ticket(tickets[anon.ID].ID)
	notes := 0
	for _, m := range full.Messages {
		if m.Channel == "internal-note" {
			notes++
			if !strings.Contains(m.BodyText, "2★ → 4★") || !strings.Contains(m.BodyText, "support was great") {
				t.Fatalf("edit note: %q", m.BodyText)
			}
		}
	}
	if notes != 1 {
		t.Fatalf("%d edit notes, want 1", notes)
	}
	_ = ctx
}

// 7. A malformed job and a job for a deleted connection, in one batch with a valid job → the
// malformed one reaches the DLQ, the other is dropped with a clear log, the valid one runs.
func TestPoisonAndDeletedConnectionJobs(t *testing.T) {
	t.Parallel() // with the other scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 6, 0)
	ctx := context.Background()
	if err := s.Store.DeleteConnection(ctx, s.conns[1].ID, false); err != nil {
		t.Fatal(err)
	}
	dead0, err := s.DeadLetters(ctx) // the stack's DLQ: what earlier scenarios left there
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"v":1,"type":"sync","kind":"service"}`,
		fmt.Sprintf(`{"v":1,"type":"sync","connection_id":%q,"kind":"service"}`, s.conns[1].ID),
		fmt.Sprintf(`{"v":1,"type":"sync","connection_id":%q,"kind":"service"}`, s.conns[0].ID),
	} {
		if _, err := s.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.QueueURL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Drain(ctx, 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, tail(s.output(), 3000))
	}
	if n := len(s.HD.Tickets(s.account)); n != 3 {
		t.Fatalf("%d tickets, want the 3 service reviews of %s", n, s.conns[0].ID)
	}
	dead, err := s.DeadLetters(ctx)
	if err != nil || dead-dead0 != 1 {
		t.Fatalf("DLQ gained %d (%v), want the malformed job", dead-dead0, err)
	}
	logs := s.output()
	for _, want := range []string{"malformed job; it will reach the dead-letter queue", "connection_id: required", "job dropped: its connection no longer exists"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %q", want)
		}
	}
}
