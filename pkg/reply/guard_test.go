package reply_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// internalNote is an agent's internal note on a ticket.
func internalNote(id, ticketID int64, text string) gorgias.Message {
	return gorgias.Message{ID: id, TicketID: ticketID, FromAgent: true, Public: false, Channel: gorgias.ChannelInternalNote, Via: "helpdesk", BodyText: text}
}

const phoneReply = "Sorry about the delay! Call me on +44 20 7946 0958 and I will sort it out. Anna"

// A reply with personal data is held: nothing is posted, the review's reply stays free, the
// agent is told what was found and how to send it anyway; the corrected reply is posted.
func TestGuardHoldsAndTheNextReplyGoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, phoneReply)
	for range 2 { // a redelivery changes nothing
		if got, err := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); err != nil || (got != reply.OutcomeHeld && got != reply.OutcomeDone) {
			t.Fatalf("held reply: %q %v", got, err)
		}
	}
	if len(w.tp.replies) != 0 || w.tp.calls != 0 {
		t.Fatalf("Trustpilot called for a held reply: %q", w.tp.replies)
	}
	if len(w.hd.notes) != 1 || !strings.Contains(w.hd.notes[0], "NOT posted") || !strings.Contains(w.hd.notes[0], "+44 20 7946 0958") ||
		!strings.Contains(w.hd.notes[0], reply.OverrideMarker) || !strings.Contains(w.hd.notes[0], "still free") {
		t.Fatalf("notes %q", w.hd.notes)
	}
	if l := w.store.link(t, serviceReview); l.Held != 1 || l.ReplyState != link.ReplyNone || l.ReplyRefused != 1 {
		t.Fatalf("link after the hold: %+v", l)
	}
	w.hd.messages[2] = agentMessage(2, serviceTicket, "Sorry about the delay! Please reply to this email and I will sort it out. Anna")
	if got, err := w.svc.Process(ctx, event(t, serviceTicket, 2, "")); err != nil || got != reply.OutcomePosted {
		t.Fatalf("corrected reply: %q %v", got, err)
	}
	if len(w.tp.replies) != 1 || !strings.Contains(w.tp.replies[0], "Please reply to this email") {
		t.Fatalf("replies %q", w.tp.replies)
	}
}

// The two ways to send a held reply anyway: an internal note with the marker posts the held
// text as it is; a public reply with the marker is posted without the guard, the marker removed.
func TestGuardOverride(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("internal note", func(t *testing.T) {
		w := newWorld(t)
		w.hd.messages[1] = agentMessage(1, serviceTicket, phoneReply)
		if got, _ := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); got != reply.OutcomeHeld {
			t.Fatalf("held: %q", got)
		}
		w.hd.messages[2] = internalNote(2, serviceTicket, "Customer asked for the number. #post-anyway")
		if got, err := w.svc.Process(ctx, event(t, serviceTicket, 2, `"from_agent":"True","public":"False","channel":"internal-note","via":"helpdesk","rule_id":"None"`)); err != nil || got != reply.OutcomePosted {
			t.Fatalf("override note: %q %v", got, err)
		}
		if len(w.tp.replies) != 1 || w.tp.replies[0] != phoneReply {
			t.Fatalf("replies %q, want the held reply as it was", w.tp.replies)
		}
		// A second note with the marker posts nothing more.
		w.hd.messages[3] = internalNote(3, serviceTicket, "#post-anyway")
		if _, err := w.svc.Process(ctx, event(t, serviceTicket, 3, "")); err != nil || len(w.tp.replies) != 1 {
			t.Fatalf("second override: %v, replies %q", err, w.tp.replies)
		}
	})
	t.Run("public reply with the marker", func(t *testing.T) {
		w := newWorld(t)
		w.hd.messages[1] = agentMessage(1, serviceTicket, "#post-anyway\n"+phoneReply)
		if got, err := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); err != nil || got != reply.OutcomePosted {
			t.Fatalf("marked reply: %q %v", got, err)
		}
		if len(w.tp.replies) != 1 || w.tp.replies[0] != phoneReply {
			t.Fatalf("replies %q, want the text without the marker", w.tp.replies)
		}
	})
	t.Run("a note with the marker and nothing held", func(t *testing.T) {
		w := newWorld(t)
		w.hd.messages[1] = internalNote(1, serviceTicket, "#post-anyway")
		if got, err := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); err != nil || got != reply.OutcomeNotReply || len(w.tp.replies) != 0 {
			t.Fatalf("marker without a held reply: %q %v %q", got, err, w.tp.replies)
		}
	})
}

// The guard knows the review's reference (order) id from its link, and can be switched off.
func TestGuardReferenceAndSwitch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	const rid, ticket = "5f0c000000000000000000c3", int64(30)
	if c, err := w.store.ClaimReview(ctx, connID, rid, review.Service, "sync", time.Minute); err != nil || c.Status != link.ClaimGranted {
		t.Fatal(c.Status, err)
	}
	if err := w.store.ConfirmLink(ctx, link.Confirm{ConnectionID: connID, ReviewID: rid, Owner: "sync", Account: "acme.gorgias.com", TicketID: ticket, ReferenceID: "AC-88412", Language: "de"}); err != nil {
		t.Fatal(err)
	}
	w.hd.messages[1] = agentMessage(1, ticket, "Ihre Bestellung AC-88412 ist unterwegs.")
	if got, _ := w.svc.Process(ctx, event(t, ticket, 1, "")); got != reply.OutcomeHeld || !strings.Contains(w.hd.notes[0], "AC-88412") {
		t.Fatalf("reference id: %q %q", got, w.hd.notes)
	}
	rec, err := w.store.GetConnectionForReplies(ctx, connID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Connection.Reply.Guard = "off"
	if err := w.store.PutConnection(ctx, rec.Connection); err != nil {
		t.Fatal(err)
	}
	w.hd.messages[2] = agentMessage(2, serviceTicket, phoneReply)
	if got, err := w.svc.Process(ctx, event(t, serviceTicket, 2, "")); err != nil || got != reply.OutcomePosted {
		t.Fatalf("guard off: %q %v", got, err)
	}
}

// The reply sweep (no message named) finds the override note too: a missed webhook does not
// leave the held reply behind.
func TestGuardOverrideFoundByTheSweepsCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, phoneReply)
	if got, _ := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); got != reply.OutcomeHeld {
		t.Fatalf("held: %q", got)
	}
	w.hd.messages[2] = internalNote(2, serviceTicket, "ok to post #POST-ANYWAY")
	// What the sweep and a queued check run: the ticket's check with no message named.
	if err := w.svc.RetryReply(ctx, queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: connID, ReviewID: serviceReview, TicketID: serviceTicket}); err != nil {
		t.Fatal(err)
	}
	if len(w.tp.replies) != 1 || w.tp.replies[0] != phoneReply {
		t.Fatalf("replies %q, want the held reply", w.tp.replies)
	}
}
