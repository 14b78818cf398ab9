package reply_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

func ptr[T any](v T) *T { return &v }

// changed returns m after f.
func changed(m gorgias.Message, f func(*gorgias.Message)) gorgias.Message {
	f(&m)
	return m
}

// TestDecision covers which messages are forwarded: the payload's hints may skip early, the
// re-read message decides.
func TestDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ticket   int64
		msg      gorgias.Message
		hints    string // payload fields; "" = a public agent e-mail
		policy   string // service policy; "" = first
		outcome  string
		replies  int
		comments int
		reads    int // helpdesk GetMessage calls
	}{
		{name: "public agent reply", ticket: serviceTicket, msg: agentMessage(1, serviceTicket, "Thanks!"), outcome: reply.OutcomePosted, replies: 1, reads: 1},
		{name: "product review comment", ticket: productTicket, msg: agentMessage(1, productTicket, "Thanks!"), outcome: reply.OutcomePosted, comments: 1, reads: 1},
		{name: "customer message", ticket: serviceTicket, msg: changed(agentMessage(1, serviceTicket, "hi"), func(m *gorgias.Message) { m.FromAgent = false }),
			outcome: reply.OutcomeNotReply, reads: 1},
		{name: "not public", ticket: serviceTicket, msg: changed(agentMessage(1, serviceTicket, "hi"), func(m *gorgias.Message) { m.Public = false }),
			outcome: reply.OutcomeNotReply, reads: 1},
		{name: "internal note by the payload", ticket: serviceTicket, msg: agentMessage(1, serviceTicket, "x"),
			hints: `"from_agent":"True","public":"False","channel":"internal-note","via":"helpdesk"`, outcome: reply.OutcomeNotReply},
		{name: "internal note by the re-read (no hints)", ticket: serviceTicket,
			msg:   changed(agentMessage(1, serviceTicket, "x"), func(m *gorgias.Message) { m.Channel = gorgias.ChannelInternalNote }),
			hints: `"x":1`, outcome: reply.OutcomeNotReply, reads: 1},
		{name: "rule by the payload", ticket: serviceTicket, msg: agentMessage(1, serviceTicket, "x"),
			hints: `"from_agent":"True","public":"True","channel":"email","via":"rule","rule_id":"77"`, outcome: reply.OutcomeNotReply},
		{name: "rule by the re-read", ticket: serviceTicket, msg: changed(agentMessage(1, serviceTicket, "x"), func(m *gorgias.Message) { m.RuleID = ptr(int64(77)) }),
			hints: `"x":1`, outcome: reply.OutcomeNotReply, reads: 1},
		{name: "written through the API (our own notes)", ticket: serviceTicket, msg: agentMessage(1, serviceTicket, "x"),
			hints: `"from_agent":"True","public":"True","channel":"email","via":"api"`, outcome: reply.OutcomeNotReply},
		{name: "via api by the re-read", ticket: serviceTicket, msg: changed(agentMessage(1, serviceTicket, "x"), func(m *gorgias.Message) { m.Via = "api" }),
			hints: `"x":1`, outcome: reply.OutcomeNotReply, reads: 1},
		{name: "the payload's hints cannot force a reply", ticket: serviceTicket,
			msg: changed(agentMessage(1, serviceTicket, "x"), func(m *gorgias.Message) { m.FromAgent = false }), outcome: reply.OutcomeNotReply, reads: 1},
		{name: "policy off", ticket: serviceTicket, msg: agentMessage(1, serviceTicket, "x"), policy: connection.ReplyOff, outcome: reply.OutcomeOff},
		{name: "ticket without a link", ticket: 99, msg: agentMessage(1, 99, "x"), outcome: reply.OutcomeNoLink},
		{name: "delivered message gone: the ticket's first reply is the one", ticket: serviceTicket, msg: agentMessage(2, serviceTicket, "another message"), outcome: reply.OutcomePosted, replies: 1, reads: 1},
		{name: "no agent reply on the ticket", ticket: serviceTicket, msg: changed(agentMessage(2, serviceTicket, "hi"), func(m *gorgias.Message) { m.FromAgent = false }), outcome: reply.OutcomeNotReply, reads: 1},
		{name: "empty text", ticket: serviceTicket, msg: agentMessage(1, serviceTicket, " \n "), outcome: reply.OutcomeRefused + ": empty reply", reads: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if tc.policy != "" {
				w.store.setPolicy(t, tc.policy)
			}
			w.hd.messages[tc.msg.ID] = tc.msg // the event is for message 1
			got, err := w.svc.Process(context.Background(), event(t, tc.ticket, 1, tc.hints))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.outcome {
				t.Errorf("outcome %q, want %q", got, tc.outcome)
			}
			if len(w.tp.replies) != tc.replies || len(w.tp.comments) != tc.comments {
				t.Errorf("%d replies, %d comments; want %d, %d", len(w.tp.replies), len(w.tp.comments), tc.replies, tc.comments)
			}
			if w.hd.gets != tc.reads {
				t.Errorf("%d helpdesk reads, want %d", w.hd.gets, tc.reads)
			}
			if tc.outcome != reply.OutcomePosted && !strings.HasPrefix(tc.outcome, reply.OutcomeRefused) && w.store.claimCount() != 0 {
				t.Errorf("a message that is not forwarded took the reply slot")
			}
		})
	}
}

// TestOneReply covers the slot: duplicates, a second reply, and the notes the agent sees.
func TestOneReply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, "First.")
	w.hd.messages[2] = agentMessage(2, serviceTicket, "Second.")
	if got, err := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); err != nil || got != reply.OutcomePosted {
		t.Fatalf("first: %q %v", got, err)
	}
	reads := w.hd.gets
	for range 3 {
		if got, err := w.svc.Process(ctx, event(t, serviceTicket, 1, "")); err != nil || got != reply.OutcomeDone {
			t.Fatalf("repeat: %q %v, want %q", got, err, reply.OutcomeDone)
		}
	}
	if w.hd.gets != reads {
		t.Errorf("repeats read the helpdesk %d times, want 0", w.hd.gets-reads)
	}
	for range 2 {
		if got, err := w.svc.Process(ctx, event(t, serviceTicket, 2, "")); err != nil || got != reply.OutcomeUsed {
			t.Fatalf("second: %q %v, want %q", got, err, reply.OutcomeUsed)
		}
	}
	if len(w.tp.replies) != 1 || w.tp.replies[0] != "First." {
		t.Errorf("replies %q, want the first only", w.tp.replies)
	}
	if len(w.hd.notes) != 2 || !strings.Contains(w.hd.notes[0], "was posted to Trustpilot") ||
		!strings.Contains(w.hd.notes[1], "one public reply") || !strings.Contains(w.hd.notes[1], "(1)") {
		t.Errorf("notes %q, want posted, then one note on the one-reply rule naming message 1", w.hd.notes)
	}
	if l := w.store.link(t, serviceReview); l.ReplyState != link.ReplyPosted || l.ReplyMessage != 1 {
		t.Errorf("link reply %q by %d, want posted by 1", l.ReplyState, l.ReplyMessage)
	}
}

// TestTrustpilotFailures: transient failures queue a reply-retry job and release the slot for
// that message; permanent ones end it with a note saying why.
func TestTrustpilotFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		outcome string
		note    string // "" = no note
		queued  bool
		state   link.ReplyState
		reauth  bool
	}{
		{name: "5xx", err: errs.E(errs.Transient, "tp", errors.New("500")), outcome: reply.OutcomeQueued, queued: true, state: link.ReplyClaimed},
		{name: "unclassified", err: errors.New("connection reset"), outcome: reply.OutcomeQueued, queued: true, state: link.ReplyClaimed},
		{name: "403", err: errs.E(errs.Permission, "tp", errors.New("403")), outcome: reply.OutcomeRefused, note: "paid API module", state: link.ReplyNone},
		{name: "404", err: errs.E(errs.NotExist, "tp", errors.New("404")), outcome: reply.OutcomeRefused, note: "no longer exists", state: link.ReplyFailed},
		{name: "reauth", err: errs.E(errs.Reauth, "tp", errors.New("invalid_grant")), outcome: reply.OutcomeRefused, note: "re-authorised", state: link.ReplyNone, reauth: true},
		{name: "already replied", err: errs.E(errs.Conflict, "tp", trustpilot.ErrAlreadyReplied), outcome: reply.OutcomeRefused, note: "already has a reply on Trustpilot", state: link.ReplyFailed},
		{name: "invalid", err: errs.E(errs.Invalid, "tp", errors.New("bad message")), outcome: reply.OutcomeRefused, note: "bad message", state: link.ReplyNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, reply.Config{PostTimeout: time.Minute}) // bounded like the webhook's: the kinds must survive it
			w.tp.errs = []error{tc.err}
			w.hd.messages[7] = agentMessage(7, serviceTicket, "Sorry!")
			got, err := w.svc.Process(context.Background(), event(t, serviceTicket, 7, ""))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, tc.outcome) {
				t.Errorf("outcome %q, want %q…", got, tc.outcome)
			}
			l := w.store.link(t, serviceReview)
			if l.ReplyState != tc.state {
				t.Errorf("slot %q, want %q", l.ReplyState, tc.state)
			}
			if tc.queued {
				want := queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: connID, ReviewID: serviceReview, TicketID: serviceTicket, MessageID: 7, Attempt: 1}
				if len(w.q.jobs) != 1 || !reflect.DeepEqual(w.q.jobs[0], want) {
					t.Fatalf("jobs %+v, want %+v", w.q.jobs, want)
				}
				if !l.ReplyExpires.IsZero() {
					t.Errorf("slot not released: expires %v", l.ReplyExpires)
				}
				// The retry takes the slot again and posts.
				if err := w.svc.RetryReply(context.Background(), w.q.jobs[0]); err != nil {
					t.Fatal(err)
				}
				if len(w.tp.replies) != 1 || w.store.link(t, serviceReview).ReplyState != link.ReplyPosted {
					t.Errorf("retry did not post: %q", w.tp.replies)
				}
			} else if len(w.q.jobs) != 0 {
				t.Errorf("permanent failure queued %+v", w.q.jobs)
			}
			if tc.note != "" && (len(w.hd.notes) != 1 || !strings.Contains(w.hd.notes[0], "NOT posted") || !strings.Contains(w.hd.notes[0], tc.note)) {
				t.Errorf("notes %q, want one saying %q", w.hd.notes, tc.note)
			}
			if got := w.store.needsReauth(t); got != tc.reauth {
				t.Errorf("connection marked for re-authorising: %v, want %v", got, tc.reauth)
			}
		})
	}
}

// TestRetryGivesUp: the last attempt leaves the job to SQS (and the DLQ) with one note.
func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, reply.Config{MaxAttempts: 3})
	w.hd.messages[7] = agentMessage(7, serviceTicket, "Sorry!")
	w.tp.errs = []error{errs.E(errs.Transient, "tp", errors.New("503")), errs.E(errs.Transient, "tp", errors.New("503")), errs.E(errs.Transient, "tp", errors.New("503"))}
	if _, err := w.store.ClaimReply(ctx, connID, serviceReview, 7, "webhook", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ReleaseReply(ctx, connID, serviceReview, 7); err != nil {
		t.Fatal(err)
	}
	job := queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: connID, ReviewID: serviceReview, TicketID: serviceTicket, MessageID: 7, Attempt: 2}
	for range 2 { // SQS redelivers the same job
		if err := w.svc.RetryReply(ctx, job); err == nil || !errs.Retryable(err) {
			t.Fatalf("RetryReply: %v, want a retryable error for SQS", err)
		}
	}
	if len(w.q.jobs) != 0 {
		t.Errorf("queued %+v after the last attempt", w.q.jobs)
	}
	if len(w.hd.notes) != 1 || !strings.Contains(w.hd.notes[0], "dead-letter queue") {
		t.Errorf("notes %q, want one about the dead-letter queue", w.hd.notes)
	}
	if w.tp.errs = nil; w.svc.RetryReply(ctx, job) != nil || len(w.tp.replies) != 1 {
		t.Errorf("a redrive after the outage did not post")
	}
}

// TestRetryDelay: at least half the backoff ceiling, growing with the attempt.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.tp.errs = []error{errs.E(errs.Transient, "tp", errors.New("500"))}
	w.hd.messages[7] = agentMessage(7, serviceTicket, "Sorry!")
	if _, err := w.svc.Process(context.Background(), event(t, serviceTicket, 7, "")); err != nil {
		t.Fatal(err)
	}
	if len(w.q.delays) != 1 || w.q.delays[0] < 15*time.Second || w.q.delays[0] > 30*time.Second {
		t.Errorf("delays %v, want the default 30 s base with jitter (15–30 s)", w.q.delays)
	}
}

// TestStoreFailureIsLeftToTheSweep: a store failure before the link is known is no 5xx (the
// helpdesk may never retry): the delivery is acknowledged and the reply sweep, which reads
// every recently updated ticket, forwards the reply.
func TestStoreFailureIsLeftToTheSweep(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
	w.store.linkErr = errs.E(errs.Transient, "dynamodb", errors.New("throttled"))
	got, err := w.svc.Process(context.Background(), event(t, serviceTicket, 1, ""))
	if err != nil || got != reply.OutcomeSweep || len(w.tp.replies) != 0 {
		t.Fatalf("%q %v, %d replies; want %q, none yet", got, err, len(w.tp.replies), reply.OutcomeSweep)
	}
}

func TestInvalidBody(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `[]`, `{"message_id": 1}`, `{"ticket_id": "x", "message_id": 1}`, `{"ticket_id":1,"message_id":2} {}`} {
		w := newWorld(t)
		h := &webhook.Handler{SecretID: "arn", Secrets: staticSecret("s"), Processor: w.svc, Log: slog.New(slog.DiscardHandler)}
		req := events.APIGatewayV2HTTPRequest{Body: body, Headers: map[string]string{"x-pilotdesk-secret": "s"}}
		req.RequestContext.HTTP.Method = "POST"
		resp, err := h.Handle(context.Background(), req)
		if err != nil || resp.StatusCode != 400 {
			t.Errorf("%q: status %d %v, want 400", body, resp.StatusCode, err)
		}
		if w.store.claimCount() != 0 || w.hd.gets != 0 {
			t.Errorf("%q: %d claims, %d message reads for a body that cannot be parsed", body, w.store.claimCount(), w.hd.gets)
		}
	}
}

// TestCutNote: a reply cut to Trustpilot's limit says so in the note.
func TestCutNote(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, strings.Repeat("é", trustpilot.MaxReplyLen))
	if got, err := w.svc.Process(context.Background(), event(t, serviceTicket, 1, "")); err != nil || got != reply.OutcomePosted {
		t.Fatalf("%q %v", got, err)
	}
	if len(w.tp.replies) != 1 || len(w.tp.replies[0]) > trustpilot.MaxReplyLen {
		t.Fatalf("posted %d bytes, want at most %d", len(w.tp.replies[0]), trustpilot.MaxReplyLen)
	}
	if len(w.hd.notes) != 1 || !strings.Contains(w.hd.notes[0], "was cut") {
		t.Errorf("notes %q, want one saying the reply was cut", w.hd.notes)
	}
}

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "Thanks!", "Thanks!"},
		{"paragraphs", "<p>Hi Ana,</p><p>Thanks for the review.</p>", "Hi Ana,\nThanks for the review."},
		{"line breaks", "one<br>two<br/>three<BR />four", "one\ntwo\nthree\nfour"},
		{"list", "<ul><li>refund</li><li>new parcel</li></ul>", "• refund\n• new parcel"},
		{"entities", "Fish &amp; chips &lt;3 &quot;great&quot;&nbsp;day", `Fish & chips <3 "great" day`},
		{"script and style dropped", "<style>p{color:red}</style><script>alert(1)</script><p>ok</p>", "ok"},
		{"attributes", `<div class="x"><a href="https://shop.example">our shop</a></div>`, "our shop"},
		{"blank lines squeezed", "<p>a</p><p></p><p></p><p></p><p>b</p>", "a\n\nb"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := reply.HTMLToText(tc.in); got != tc.want {
				t.Errorf("HTMLToText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestReplyText(t *testing.T) {
	t.Parallel()
	const limit = 20
	tests := []struct {
		name string
		msg  gorgias.Message
		want string
		cut  bool
	}{
		{"stripped text first", gorgias.Message{StrippedText: "new part", BodyText: "new part\n> old thread", BodyHTML: "<p>x</p>"}, "new part", false},
		{"body text", gorgias.Message{BodyText: "  the text  ", BodyHTML: "<p>x</p>"}, "the text", false},
		{"html when no text", gorgias.Message{BodyHTML: "<p>Hi</p><p>there</p>"}, "Hi\nthere", false},
		{"exactly the limit", gorgias.Message{BodyText: strings.Repeat("a", limit)}, strings.Repeat("a", limit), false},
		{"cut with an ellipsis", gorgias.Message{BodyText: strings.Repeat("a", limit+1)}, strings.Repeat("a", limit-3) + "…", true},
		{"cut by bytes, not inside a character", gorgias.Message{BodyText: strings.Repeat("é", 15)}, strings.Repeat("é", 8) + "…", true},
		{"space before the cut trimmed", gorgias.Message{BodyText: "aaaaaaaaaaaaaaaa bbbbbbbb"}, "aaaaaaaaaaaaaaaa…", true},
		{"invalid UTF-8 dropped", gorgias.Message{BodyText: "ok\xff!"}, "ok!", false},
		{"empty", gorgias.Message{BodyText: " ", BodyHTML: "<p> </p>"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, cut := reply.ReplyText(tc.msg, limit)
			if got != tc.want || cut != tc.cut {
				t.Errorf("ReplyText = %q, %v; want %q, %v", got, cut, tc.want, tc.cut)
			}
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("%q: %d bytes or invalid UTF-8", got, len(got))
			}
		})
	}
}

// TestConcurrentDeliveries: the same event processed at once posts one reply and one note.
func TestConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.hd.messages[1] = agentMessage(1, serviceTicket, "Once.")
	errc := make(chan error, 16)
	for range cap(errc) {
		go func() {
			_, err := w.svc.Process(context.Background(), event(t, serviceTicket, 1, ""))
			errc <- err
		}()
	}
	for range cap(errc) {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if len(w.tp.replies) != 1 || len(w.hd.notes) != 1 {
		t.Errorf("%d replies, %d notes; want 1, 1", len(w.tp.replies), len(w.hd.notes))
	}
}

// TestSlowTrustpilot: a post that outlasts PostTimeout, or comes too close to the caller's own
// deadline, is queued for a retry with the slot released, in time to answer.
func TestSlowTrustpilot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		postTimeout time.Duration
		deadline    time.Duration // the caller's (the Lambda's); 0 = none
	}{
		{"post timeout", 50 * time.Millisecond, 0},
		{"caller's deadline", 0, 3*time.Second + 100*time.Millisecond},
		{"both, the deadline first", time.Minute, 3*time.Second + 100*time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, reply.Config{PostTimeout: tc.postTimeout})
			w.tp.hang = true
			w.hd.messages[7] = agentMessage(7, serviceTicket, "Sorry!")
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			got, err := w.svc.Process(ctx, event(t, serviceTicket, 7, ""))
			if err != nil || got != reply.OutcomeQueued {
				t.Fatalf("%q %v, want %q", got, err, reply.OutcomeQueued)
			}
			if ctx.Err() != nil {
				t.Errorf("answered after the caller's deadline")
			}
			if l := w.store.link(t, serviceReview); len(w.q.jobs) != 1 || l.ReplyState != link.ReplyClaimed || l.ReplyExpires.After(time.Now()) {
				t.Errorf("jobs %+v, slot %q expiring %v; want one retry job and the slot released", w.q.jobs, l.ReplyState, l.ReplyExpires)
			}
		})
	}
}

// replyWhileClaimed has a sync claim review rid (for ttl) and an agent reply on its ticket
// arrive before the link is written: the webhook answers that the ticket is being linked.
func replyWhileClaimed(t *testing.T, w *world, rid string, ticket int64, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	if c, err := w.store.Store.ClaimReview(ctx, connID, rid, review.Service, "sync", ttl); err != nil || c.Status != link.ClaimGranted {
		t.Fatalf("claim: %v %v", c.Status, err)
	}
	w.hd.messages[1] = agentMessage(1, ticket, "Thank you!")
	ours := fmt.Sprintf(`"ticket_external_id":%q,"from_agent":"True","public":"True","channel":"email","via":"helpdesk"`, link.ExternalID(rid))
	if got, err := w.svc.Process(ctx, event(t, ticket, 1, ours)); err != nil || got != reply.OutcomeLinking {
		t.Fatalf("outcome %q %v, want %q", got, err, reply.OutcomeLinking)
	}
}

// While the review stays claimed and unlinked, the reply is checked again at growing intervals
// until the sync's claim (its review budget, 2 min, plus 15 s of grace by default) has surely
// ended, then dropped to the reply sweep: a bounded number of messages, none lost early.
func TestReplyWaitsForTheLinkLongerThanTheClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	replyWhileClaimed(t, w, "0000000000000000000000ab", 78, time.Hour)
	for n := 0; n < len(w.q.jobs); n++ {
		if n > 20 {
			t.Fatalf("%d re-checks queued, want a bounded number", n)
		}
		if err := w.svc.RetryReply(ctx, w.q.jobs[n]); err != nil {
			t.Fatal(err)
		}
	}
	var waited time.Duration
	for i, d := range w.q.delays {
		if i > 0 && d <= w.q.delays[i-1] {
			t.Errorf("re-check %d after %v, not later than the one before (%v)", i, d, w.q.delays[i-1])
		}
		waited += d
	}
	if claim := 2*time.Minute + 15*time.Second; waited <= claim {
		t.Errorf("re-checks span %v (%v), not longer than the sync's claim %v", waited, w.q.delays, claim)
	}
	if len(w.tp.replies) != 0 {
		t.Errorf("posted %q on a review that never got its link", w.tp.replies)
	}
}

// A reply on a review's ticket whose link is not written yet (the sync records a group of
// tickets a few seconds after their creates) is not dropped: while a connection holds the
// review's claim a reply check is queued, queued again while the claim is still unconfirmed,
// and it posts the reply once the link is there. A ticket naming a review nobody claims is
// ignored as before.
func TestReplyBeforeTheLinkIsWritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	const rid, ticket = "0000000000000000000000aa", int64(77)
	replyWhileClaimed(t, w, rid, ticket, time.Minute)
	if len(w.q.jobs) != 1 || w.q.jobs[0].Type != queue.TypeReplyRetry || w.q.jobs[0].ConnectionID != connID ||
		w.q.jobs[0].ReviewID != rid || w.q.jobs[0].TicketID != ticket || w.q.delays[0] <= 0 {
		t.Fatalf("queued %+v after %v, want one delayed reply check of the review's ticket", w.q.jobs, w.q.delays)
	}
	// Still claimed when the check runs: queued again, later; nothing posted.
	if err := w.svc.RetryReply(ctx, w.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if len(w.q.jobs) != 2 || w.q.jobs[1].Continuation != 1 || w.q.jobs[1].Attempt != 0 || w.q.delays[1] <= w.q.delays[0] || len(w.tp.replies) != 0 {
		t.Fatalf("queued %+v after %v, replies %q: want the check queued again, later", w.q.jobs, w.q.delays, w.tp.replies)
	}
	if w.q.delays[0] > 5*time.Second {
		t.Errorf("first re-check after %v: the link is usually written within seconds", w.q.delays[0])
	}
	// Linked: the next check posts the reply.
	if err := w.store.Store.ConfirmLink(ctx, link.Confirm{ConnectionID: connID, ReviewID: rid, Owner: "sync", Account: "acme.gorgias.com", TicketID: ticket}); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RetryReply(ctx, w.q.jobs[1]); err != nil {
		t.Fatal(err)
	}
	if len(w.tp.replies) != 1 || w.tp.replies[0] != "Thank you!" {
		t.Fatalf("replies %q, want the agent's", w.tp.replies)
	}
	// A ticket naming a review no connection claims: ignored, nothing queued.
	other := fmt.Sprintf(`"ticket_external_id":%q,"from_agent":"True","public":"True","channel":"email","via":"helpdesk"`, link.ExternalID("0000000000000000000000bb"))
	w.hd.messages[2] = agentMessage(2, 78, "x")
	if got, err := w.svc.Process(ctx, event(t, 78, 2, other)); err != nil || got != reply.OutcomeNoLink {
		t.Fatalf("outcome %q %v, want %q", got, err, reply.OutcomeNoLink)
	}
	if len(w.q.jobs) != 2 {
		t.Fatalf("queued %+v for a ticket nobody claims", w.q.jobs[2:])
	}
	// An external id that is not a Trustpilot review id reads nothing.
	bad := `"ticket_external_id":"trustpilot:not-an-id","from_agent":"True","public":"True","channel":"email","via":"helpdesk"`
	if got, err := w.svc.Process(ctx, event(t, 79, 2, bad)); err != nil || got != reply.OutcomeNoLink {
		t.Fatalf("outcome %q %v, want %q", got, err, reply.OutcomeNoLink)
	}
}
