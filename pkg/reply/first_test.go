package reply_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
)

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func at(m gorgias.Message, d time.Duration) gorgias.Message {
	m.CreatedDatetime = t0.Add(d)
	return m
}

// TestEarliestReplyWins: B is delivered before the earlier A: A is posted, B gets the
// one-reply note, and A's own delivery later changes nothing.
func TestEarliestReplyWins(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Ids do not order them: B has the lower id but was written later.
	w.hd.messages[5] = at(agentMessage(5, serviceTicket, "B: the second reply"), time.Minute)
	w.hd.messages[9] = at(agentMessage(9, serviceTicket, "A: the first reply"), 0)
	ctx := context.Background()
	got, err := w.svc.Process(ctx, event(t, serviceTicket, 5, ""))
	if err != nil || got != reply.OutcomeUsed {
		t.Fatalf("B: %q %v, want %q", got, err, reply.OutcomeUsed)
	}
	if len(w.tp.replies) != 1 || w.tp.replies[0] != "A: the first reply" {
		t.Fatalf("replies %q, want A's text", w.tp.replies)
	}
	if l := w.store.link(t, serviceReview); l.ReplyState != link.ReplyPosted || l.ReplyMessage != 9 {
		t.Fatalf("slot %+v, want posted by 9", l)
	}
	if got, err := w.svc.Process(ctx, event(t, serviceTicket, 9, "")); err != nil || got != reply.OutcomeDone {
		t.Fatalf("A's delivery: %q %v", got, err)
	}
	var used int
	for _, n := range w.hd.notes {
		if strings.Contains(n, "NOT posted") && strings.Contains(n, "(9)") {
			used++
		}
	}
	if len(w.tp.replies) != 1 || used != 1 {
		t.Fatalf("%d replies, %d one-reply notes; notes %q", len(w.tp.replies), used, w.hd.notes)
	}
}

// TestMissingMessageID: a template rendered without message.* still forwards the ticket's first
// reply.
func TestMissingMessageID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{`""`, `"None"`, ``} {
		w := newWorld(t)
		w.hd.messages[3] = agentMessage(3, serviceTicket, "Thank you")
		body := `{"event":"ticket-message-created","ticket_id":"10"` + map[bool]string{true: `,"message_id":` + id, false: ``}[id != ``] + `}`
		ev, err := gorgias.ParseWebhook([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got, err := w.svc.Process(context.Background(), ev)
		if err != nil || got != reply.OutcomePosted || len(w.tp.replies) != 1 {
			t.Fatalf("%s: %q %v, %d replies", body, got, err, len(w.tp.replies))
		}
	}
}

// TestHelpdeskReadFailsOnce: a transient failure reading the messages is queued as a reply
// check (2xx to the helpdesk); the check posts once.
func TestHelpdeskReadFailsOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
	w.hd.getErr, w.hd.getErrOnce = errs.E(errs.Transient, "gorgias", errors.New("502")), true
	got, err := w.svc.Process(context.Background(), event(t, serviceTicket, 1, ""))
	if err != nil || got != reply.OutcomeQueued || len(w.q.jobs) != 1 {
		t.Fatalf("%q %v jobs %+v", got, err, w.q.jobs)
	}
	if j := w.q.jobs[0]; j.Type != queue.TypeReplyRetry || j.MessageID != 1 || j.Validate() != nil {
		t.Fatalf("job %+v", j)
	}
	if err := w.svc.RetryReply(context.Background(), w.q.jobs[0]); err != nil || len(w.tp.replies) != 1 {
		t.Fatalf("retry: %v, %d replies", err, len(w.tp.replies))
	}
}

// blockingHelpdesk never gets the allowance: every read waits for its context.
type blockingHelpdesk struct{ *fakeHelpdesk }

func (b blockingHelpdesk) ListMessages(ctx context.Context, _ int64, _ string) ([]gorgias.Message, string, error) {
	<-ctx.Done()
	return nil, "", errs.E(errs.Transient, "gorgias", ctx.Err())
}

// TestWebhookNeverWaitsLongForTheAllowance: with HelpdeskWait the delivery is answered in time
// and the check is queued.
func TestWebhookNeverWaitsLongForTheAllowance(t *testing.T) {
	t.Parallel()
	w := newWorld(t, reply.Config{HelpdeskWait: 100 * time.Millisecond})
	hd := blockingHelpdesk{w.hd}
	svc := reply.New(w.store, reply.OpenerFunc(func(context.Context, connection.Connection) (reply.Helpdesk, reply.Trustpilot, error) {
		return hd, w.tp, nil
	}), w.q, slog.New(slog.DiscardHandler), "test", reply.Config{HelpdeskWait: 100 * time.Millisecond})
	start := time.Now()
	got, err := svc.Process(context.Background(), event(t, serviceTicket, 1, ""))
	if err != nil || got != reply.OutcomeQueued || time.Since(start) > 2*time.Second {
		t.Fatalf("%q %v after %v", got, err, time.Since(start))
	}
}

// sweepWorld is a world whose helpdesk lists the review tickets as last updated at the given
// offsets from the moment their links were made (negative: before).
func sweepWorld(t *testing.T, upd map[int64]time.Duration) *world {
	w := newWorld(t)
	linked := time.Now()
	for id, d := range upd {
		u := linked.Add(d)
		ext := link.ExternalID(serviceReview)
		if id == productTicket {
			ext = link.ExternalID(productReview)
		}
		w.hd.tickets = append(w.hd.tickets, gorgias.Ticket{ID: id, ExternalID: ext, UpdatedDatetime: u, LastMessageDatetime: u})
	}
	return w
}

func TestSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	job := queue.SweepJob(connID)
	t.Run("no integration: the sweep posts the reply, once", func(t *testing.T) {
		t.Parallel()
		w := sweepWorld(t, map[int64]time.Duration{serviceTicket: time.Second, productTicket: -time.Hour})
		w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
		res, err := w.svc.Sweep(ctx, job)
		if err != nil || res.Forwarded != 1 || len(w.tp.replies) != 1 {
			t.Fatalf("%+v %v, replies %q", res, err, w.tp.replies)
		}
		// The product ticket's last activity is older than its link: not read.
		if res.Candidates != 1 || w.hd.gets != 1 || res.Calls != 1 {
			t.Fatalf("%+v, %d message reads", res, w.hd.gets)
		}
		res, err = w.svc.Sweep(ctx, job)
		if err != nil || res.Forwarded != 0 || len(w.tp.replies) != 1 || w.hd.gets != 1 {
			t.Fatalf("second sweep %+v %v, %d replies, %d reads", res, err, len(w.tp.replies), w.hd.gets)
		}
		c, err := w.store.GetCursor(ctx, cursor.SweepID("acme.gorgias.com"), cursor.SweepKind)
		if err != nil || c.Since.IsZero() {
			t.Fatalf("sweep cursor %+v %v", c, err)
		}
	})
	t.Run("nothing new: one list call", func(t *testing.T) {
		t.Parallel()
		w := sweepWorld(t, nil)
		res, err := w.svc.Sweep(ctx, job)
		if err != nil || res.Calls != 1 || res.Candidates != 0 || w.hd.gets != 0 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("a claim left by a crashed instance is recovered", func(t *testing.T) {
		t.Parallel()
		w := sweepWorld(t, map[int64]time.Duration{serviceTicket: -time.Minute})
		w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
		// The crashed instance's claim has already expired.
		if c, err := w.store.ClaimReply(ctx, connID, serviceReview, 1, "crashed", -time.Second); err != nil || c.Status != link.SlotGranted {
			t.Fatal(c, err)
		}
		res, err := w.svc.Sweep(ctx, job)
		if err != nil || res.Forwarded != 1 || len(w.tp.replies) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("a live claim holds the cursor back", func(t *testing.T) {
		t.Parallel()
		w := sweepWorld(t, map[int64]time.Duration{serviceTicket: -30 * time.Second})
		upd := w.hd.tickets[0].UpdatedDatetime
		w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
		if _, err := w.store.ClaimReply(ctx, connID, serviceReview, 1, "webhook", time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Sweep(ctx, job); err != nil || len(w.tp.replies) != 0 {
			t.Fatalf("%v, %d replies", err, len(w.tp.replies))
		}
		c, _ := w.store.GetCursor(ctx, cursor.SweepID("acme.gorgias.com"), cursor.SweepKind)
		if !c.Since.Before(upd) {
			t.Fatalf("cursor %v passed the busy ticket (%v)", c.Since, upd)
		}
	})
}

// A product comment whose answer was lost is looked for, not posted again, while it may still
// appear; found, the agent's note says posted. A comment that never appears is posted again
// only after the window.
func TestLostCommentAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("found on the retry", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.hd.messages[2] = agentMessage(2, productTicket, "Thanks for the photos!")
		w.tp.lostAnswers, w.tp.hidden = 1, true
		if got, err := w.svc.Process(ctx, event(t, productTicket, 2, "")); err != nil || got != reply.OutcomeQueued {
			t.Fatalf("%q %v", got, err)
		}
		// Not visible yet: the retry only looks, and waits again.
		if err := w.svc.RetryReply(ctx, w.q.jobs[0]); err != nil || len(w.q.jobs) != 2 {
			t.Fatalf("retry while hidden: %v, jobs %+v", err, w.q.jobs)
		}
		w.tp.mu.Lock()
		w.tp.hidden = false
		w.tp.mu.Unlock()
		if err := w.svc.RetryReply(ctx, w.q.jobs[1]); err != nil {
			t.Fatal(err)
		}
		if len(w.tp.comments) != 1 || w.store.link(t, productReview).ReplyState != link.ReplyPosted {
			t.Fatalf("comments %q, slot %+v", w.tp.comments, w.store.link(t, productReview))
		}
		if n := len(w.hd.notes); n != 1 || !strings.Contains(w.hd.notes[0], "posted to Trustpilot as a comment") {
			t.Fatalf("notes %q", w.hd.notes)
		}
	})
	t.Run("never appears: posted again after the window", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, reply.Config{CommentRecheck: 50 * time.Millisecond})
		w.hd.messages[2] = agentMessage(2, productTicket, "Thanks for the photos!")
		w.tp.errs = []error{errs.E(errs.Transient, "tp", errors.New("503 before anything was stored"))}
		if got, err := w.svc.Process(ctx, event(t, productTicket, 2, "")); err != nil || got != reply.OutcomeQueued {
			t.Fatalf("%q %v", got, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(w.tp.comments) == 0 && time.Now().Before(deadline) {
			// A retryable error is SQS redelivering the same job.
			if err := w.svc.RetryReply(ctx, w.q.jobs[len(w.q.jobs)-1]); err != nil && !errs.Retryable(err) {
				t.Fatal(err)
			}
		}
		if len(w.tp.comments) != 1 {
			t.Fatalf("comments %q after the window", w.tp.comments)
		}
	})
}

// slowNotes takes no note while its block is on (the allowance is gone).
type slowNotes struct {
	*fakeHelpdesk
	block bool
}

func (h *slowNotes) PostInternalNote(ctx context.Context, ticketID int64, text string) (gorgias.Message, error) {
	if h.block {
		<-ctx.Done()
		return gorgias.Message{}, errs.E(errs.Transient, "gorgias", ctx.Err())
	}
	return h.fakeHelpdesk.PostInternalNote(ctx, ticketID, text)
}

// A note the webhook cannot leave within its wait is queued, and the worker leaves it: the agent
// always learns that the reply was posted.
func TestNoteQueuedWhenTheAllowanceIsGone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
	hd := &slowNotes{fakeHelpdesk: w.hd, block: true}
	cfg := reply.Config{HelpdeskWait: 50 * time.Millisecond}
	svc := reply.New(w.store, reply.OpenerFunc(func(context.Context, connection.Connection) (reply.Helpdesk, reply.Trustpilot, error) {
		return hd, w.tp, nil
	}), w.q, slog.New(slog.DiscardHandler), "test", cfg)
	got, err := svc.Process(context.Background(), event(t, serviceTicket, 1, ""))
	if err != nil || got != reply.OutcomePosted || len(w.q.jobs) != 1 || w.q.jobs[0].Note == "" {
		t.Fatalf("%q %v jobs %+v", got, err, w.q.jobs)
	}
	if err := w.q.jobs[0].Validate(); err != nil {
		t.Fatal(err)
	}
	hd.block = false
	if err := svc.RetryReply(context.Background(), w.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if len(w.hd.notes) != 1 || !strings.Contains(w.hd.notes[0], "posted to Trustpilot") || len(w.tp.replies) != 1 {
		t.Fatalf("notes %q, replies %q", w.hd.notes, w.tp.replies)
	}
}

// refusingList is a helpdesk that refuses the API key on the sweep's list.
type refusingList struct{ *fakeHelpdesk }

func (refusingList) ListTicketsUpdated(context.Context, string) ([]gorgias.TicketUpdate, string, error) {
	return nil, "", errs.E(errs.Permission, "gorgias", errors.New("401 Unauthorized"))
}

// A sweep the helpdesk refuses flags the connection and ends; it is no dead letter.
func TestSweepRefusedFlagsTheConnection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	svc := reply.New(w.store, reply.OpenerFunc(func(context.Context, connection.Connection) (reply.Helpdesk, reply.Trustpilot, error) {
		return refusingList{w.hd}, w.tp, nil
	}), w.q, slog.New(slog.DiscardHandler), "test", reply.Config{})
	if err := svc.SweepReplies(context.Background(), queue.SweepJob(connID)); err != nil {
		t.Fatalf("sweep: %v, want the job dropped", err)
	}
	if !w.store.needsReauth(t) {
		t.Fatal("connection not flagged")
	}
}

// An agent reply without text does not block the slot: the next reply with text is posted.
func TestEmptyReplyDoesNotBlockTheSlot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.hd.messages[3] = at(agentMessage(3, serviceTicket, " \n "), 0)
	w.hd.messages[4] = at(agentMessage(4, serviceTicket, "Sorry for the trouble"), time.Minute)
	if got, err := w.svc.Process(context.Background(), event(t, serviceTicket, 3, "")); err != nil || got != reply.OutcomePosted {
		t.Fatalf("%q %v", got, err)
	}
	if len(w.tp.replies) != 1 || w.tp.replies[0] != "Sorry for the trouble" {
		t.Fatalf("replies %q", w.tp.replies)
	}
}

// The sweep still sees an agent reply after the link changed for other reasons (an edit note's
// version, a reopened slot): what counts is activity after the link was made.
func TestSweepSeesRepliesAfterLaterLinkChanges(t *testing.T) {
	t.Parallel()
	w := sweepWorld(t, map[int64]time.Duration{serviceTicket: time.Second})
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
	if ok, err := w.store.SetReviewVersion(context.Background(), connID, serviceReview, time.Now().Add(time.Hour), 2); err != nil || !ok {
		t.Fatal(ok, err)
	}
	res, err := w.svc.Sweep(context.Background(), queue.SweepJob(connID))
	if err != nil || res.Forwarded != 1 || len(w.tp.replies) != 1 {
		t.Fatalf("%+v %v, replies %q", res, err, w.tp.replies)
	}
}

// A ticket with no message since it was made (a new review's ticket) is not looked up in the
// store: only the one with a later message is, and its reply is forwarded.
func TestSweepReadsNoLinkOfAnUntouchedTicket(t *testing.T) {
	t.Parallel()
	w := sweepWorld(t, map[int64]time.Duration{serviceTicket: time.Second, productTicket: time.Second})
	for i, tk := range w.hd.tickets {
		switch tk.ID {
		case productTicket: // created just now, with the review's message dated the review's day
			w.hd.tickets[i].CreatedDatetime = tk.UpdatedDatetime
			w.hd.tickets[i].LastMessageDatetime = tk.UpdatedDatetime.Add(-48 * time.Hour)
		case serviceTicket: // an agent answered after it was made
			w.hd.tickets[i].CreatedDatetime = tk.UpdatedDatetime.Add(-time.Hour)
		}
	}
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
	res, err := w.svc.Sweep(context.Background(), queue.SweepJob(connID))
	if err != nil || res.Forwarded != 1 || res.Candidates != 1 || len(w.tp.replies) != 1 {
		t.Fatalf("%+v %v, replies %q", res, err, w.tp.replies)
	}
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	if w.store.lookups != 1 {
		t.Fatalf("%d link look-ups, want 1 (the answered ticket's)", w.store.lookups)
	}
}

// A ticket whose check fails transiently does not stop the sweep: the others are checked and
// the cursor stays before the failed one.
func TestSweepGoesOnPastAFailingTicket(t *testing.T) {
	t.Parallel()
	w := sweepWorld(t, map[int64]time.Duration{serviceTicket: time.Second, productTicket: 2 * time.Second})
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
	w.hd.messages[2] = agentMessage(2, productTicket, "Thanks too!")
	w.hd.getErr, w.hd.getErrOnce = errs.E(errs.Transient, "gorgias", errors.New("502")), true // the first read (oldest ticket)
	res, err := w.svc.Sweep(context.Background(), queue.SweepJob(connID))
	if err != nil || res.Forwarded != 1 || len(w.tp.comments) != 1 {
		t.Fatalf("%+v %v, comments %q", res, err, w.tp.comments)
	}
	c, _ := w.store.GetCursor(context.Background(), cursor.SweepID("acme.gorgias.com"), cursor.SweepKind)
	if !c.Since.Before(w.hd.tickets[0].UpdatedDatetime) && !c.Since.Before(w.hd.tickets[1].UpdatedDatetime) {
		t.Fatalf("cursor %v passed the failed ticket", c.Since)
	}
	if res, err = w.svc.Sweep(context.Background(), queue.SweepJob(connID)); err != nil || len(w.tp.replies) != 1 {
		t.Fatalf("second sweep %+v %v, replies %q", res, err, w.tp.replies)
	}
}
