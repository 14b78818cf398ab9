package replye2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

// The "quiet" shop: its own helpdesk account with NO HTTP integration installed (replies reach
// Trustpilot only through the reply sweep), its own business unit, connected through
// Trustpilot's login flow (a rotating refresh token). Its helpdesk URL names the simulator by
// "localhost", so it is another helpdesk account to Pilotdesk than the main shop's 127.0.0.1.
const (
	quietAccount = "quiet"
	quietEmail   = "api@quiet.test"
	quietKey     = "sim-api-key-quiet"
	quietUnit    = "5f0c00000000000000000002"
	quietUser    = "5f0d00000000000000000002"
	quietTPKey   = "tp-key-quiet"
	quietTPSec   = "tp-secret-quiet"
)

type shop struct {
	conn    connection.Connection
	tickets []ticket
	mu      sync.Mutex
	used    map[int64]bool
}

var (
	quietOnce sync.Once
	quietShop *shop
	quietErr  error
)

func (s *system) quietShopOf(tb testing.TB) *shop {
	tb.Helper()
	quietOnce.Do(func() { quietShop, quietErr = s.startQuiet(context.Background()) })
	if quietErr != nil {
		tb.Fatalf("quiet shop: %v", quietErr)
	}
	return quietShop
}

func (s *system) startQuiet(ctx context.Context) (*shop, error) {
	if err := s.HD.AddAccount(gorgiassim.AccountConfig{ID: quietAccount, Email: quietEmail, APIKey: quietKey}); err != nil {
		return nil, err
	}
	fx := trustpilotsim.Generate(quietUnit, 16, 4, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(-time.Hour), 9)
	fx.BusinessUnits = []trustpilotsim.BusinessUnit{{ID: quietUnit, Name: "quiet.example", DisplayName: "Quiet", APIKey: quietTPKey, APISecret: quietTPSec,
		BusinessUsers: []trustpilotsim.BusinessUser{{ID: quietUser, Name: "Agent"}}}}
	if err := s.TP.Load(fx); err != nil {
		return nil, err
	}
	rt, err := s.TP.IssueRefreshToken(quietUnit)
	if err != nil {
		return nil, err
	}
	sh := &shop{used: map[int64]bool{}}
	sh.conn = connection.Connection{
		ID:             "quiet",
		Helpdesk:       connection.Helpdesk{URL: strings.Replace(s.HD.URL(), "127.0.0.1", "localhost", 1), Email: quietEmail, APIKey: quietKey},
		Trustpilot:     connection.Trustpilot{BusinessUnitID: quietUnit, BusinessUserID: quietUser, APIKey: quietTPKey, APISecret: quietTPSec, RefreshToken: rt, CallsPerYear: new(int64)},
		ReviewKinds:    []review.Kind{review.Service, review.Product},
		AnonymousEmail: "reviews@quiet.example",
	}
	if err := s.PutConnection(ctx, sh.conn); err != nil {
		return nil, err
	}
	if err := s.tickAndDrain(ctx); err != nil {
		return nil, err
	}
	for _, t := range s.HD.Tickets(quietAccount) {
		links, err := s.Store.LinksByTicket(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if l.ConnectionID == sh.conn.ID {
				sh.tickets = append(sh.tickets, ticket{id: t.ID, reviewID: l.ReviewID, kind: l.Kind})
			}
		}
	}
	if len(sh.tickets) != 20 {
		return nil, fmt.Errorf("%d quiet tickets after the sync, want 20", len(sh.tickets))
	}
	if n := len(s.HD.Integrations(quietAccount)); n != 0 {
		return nil, fmt.Errorf("the quiet account has %d integrations, want none", n)
	}
	return sh, nil
}

// tickAndDrain is one schedule tick: the scheduler queues the syncs and the reply sweeps, the
// worker runs them.
func (s *system) tickAndDrain(ctx context.Context) error {
	if out, err := s.Runtime.Tick(ctx); err != nil {
		return fmt.Errorf("scheduler: %w %s", err, out)
	}
	if _, err := s.Drain(ctx, syncLimit); err != nil {
		return fmt.Errorf("drain: %w\n%s", err, tail(s.log.String(), 4000))
	}
	return nil
}

func (sh *shop) take(tb testing.TB, kind review.Kind) ticket {
	tb.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, t := range sh.tickets {
		r := t
		if r.kind == kind && !sh.used[r.id] {
			sh.used[r.id] = true
			return r
		}
	}
	tb.Fatalf("no quiet %s ticket left", kind)
	return ticket{}
}

func (s *system) quietReplies(tb testing.TB, reviewID string) []string {
	tb.Helper()
	var out []string
	for _, r := range s.TP.Replies(reviewID) {
		out = append(out, r.Message)
	}
	return out
}

// event is a webhook body as the installed template renders it, for hand-made deliveries.
func event(ticketID, messageID int64) string {
	return fmt.Sprintf(`{"event":"ticket-message-created","ticket_id":"%d","message_id":"%d","from_agent":"True","public":"True","channel":"email","via":"helpdesk","rule_id":"None"}`, ticketID, messageID)
}

func (s *system) secretHeader() map[string]string {
	return map[string]string{webhook.SecretHeader: s.WebhookSecret}
}

// 1. No helpdesk integration: the sweep posts the agent's reply, once; a sweep with nothing new
// costs one helpdesk call.
func TestSweepPostsWithoutIntegration(t *testing.T) {
	s := stack(t)
	sh := s.quietShopOf(t)
	ctx := context.Background()
	tk := sh.take(t, review.Service)
	text := "Thanks for telling us, the replacement is on its way."
	if _, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.id, BodyText: text}); err != nil {
		t.Fatal(err)
	}
	before := s.HD.Stats(quietAccount).Requests
	start := time.Now()
	if err := s.tickAndDrain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.quietReplies(t, tk.reviewID); len(got) != 1 || got[0] != text {
		t.Fatalf("replies %q, want the agent's text once\n%s", got, tail(s.log.String(), 3000))
	}
	withOne := s.HD.Stats(quietAccount).Requests - before
	t.Logf("sweep with 1 new reply: %d helpdesk calls on the account (sync included), reply posted %v after the tick", withOne, time.Since(start).Round(time.Millisecond))
	before = s.HD.Stats(quietAccount).Requests
	if err := s.tickAndDrain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.quietReplies(t, tk.reviewID); len(got) != 1 {
		t.Fatalf("replies after a second sweep: %q", got)
	}
	idle := s.HD.Stats(quietAccount).Requests - before
	t.Logf("tick with nothing new: %d helpdesk calls on the account (sync included)", idle)
	if idle > 1 {
		t.Errorf("a tick with nothing new cost %d helpdesk calls, want at most 1 (the sweep's list)", idle)
	}
	notes := s.notes(t, tk.id)
	if count(notes, notePosted) != 1 {
		t.Errorf("notes %q, want one saying posted", notes)
	}
}

// 5. B is delivered before the earlier A: A is posted, B is refused with the one-reply note.
func TestEarlierReplyWinsOverEarlierDelivery(t *testing.T) {
	s := stack(t)
	sh := s.quietShopOf(t)
	tk := sh.take(t, review.Service)
	a, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.id, BodyText: "A: the first answer."})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.id, BodyText: "B: a second thought."})
	if err != nil {
		t.Fatal(err)
	}
	code, body := s.post(t, event(tk.id, b.ID), s.secretHeader())
	if code != http.StatusOK || !strings.Contains(body, reply.OutcomeUsed) {
		t.Fatalf("B's delivery: %d %s", code, body)
	}
	if got := s.quietReplies(t, tk.reviewID); len(got) != 1 || got[0] != "A: the first answer." {
		t.Fatalf("replies %q, want A's", got)
	}
	code, body = s.post(t, event(tk.id, a.ID), s.secretHeader())
	if code != http.StatusOK || !strings.Contains(body, reply.OutcomeDone) {
		t.Fatalf("A's delivery: %d %s", code, body)
	}
	s.wantNotes(t, tk.id, 2, map[string]int{notePosted: 1, "NOT posted": 1, fmt.Sprintf("(%d)", a.ID): 1})
}

// 7. Ten concurrent deliveries of one reply while a sweep runs: one post.
func TestConcurrentDeliveriesAndSweepPostOnce(t *testing.T) {
	s := stack(t)
	sh := s.quietShopOf(t)
	ctx := context.Background()
	tk := sh.take(t, review.Service)
	m, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.id, BodyText: "One answer, however often it is delivered."})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	codes := make([]int, 10)
	start := make(chan struct{})
	for i := range codes {
		wg.Go(func() {
			<-start
			codes[i], _ = s.post(t, event(tk.id, m.ID), s.secretHeader())
		})
	}
	var sweepErr error
	wg.Go(func() {
		<-start
		sweepErr = s.tickAndDrain(ctx)
	})
	close(start)
	wg.Wait()
	if sweepErr != nil {
		t.Fatal(sweepErr)
	}
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d: %d", i, c)
		}
	}
	if got := s.quietReplies(t, tk.reviewID); len(got) != 1 {
		t.Fatalf("replies %q, want one", got)
	}
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// 8. The quiet shop's tokens come from a rotating refresh token. With every token revoked, the
// webhook and the worker refresh at the same moment: one refresh wins, the other uses its token,
// and the connection is never flagged for re-authorising.
func TestConcurrentTokenRefreshNoReauth(t *testing.T) {
	s := stack(t)
	sh := s.quietShopOf(t)
	ctx := context.Background()
	first, second := sh.take(t, review.Service), sh.take(t, review.Service)
	for _, tk := range []ticket{first, second} {
		if _, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.id, BodyText: fmt.Sprintf("Answer for ticket %d.", tk.id)}); err != nil {
			t.Fatal(err)
		}
	}
	s.TP.RevokeTokens(quietUnit)
	refreshes := s.TP.Calls("refresh")
	var wg sync.WaitGroup
	start := make(chan struct{})
	var code int
	wg.Go(func() {
		<-start
		code, _ = s.post(t, event(first.id, 0), s.secretHeader())
	})
	var sweepErr error
	wg.Go(func() {
		<-start
		sweepErr = s.tickAndDrain(ctx)
	})
	close(start)
	wg.Wait()
	if sweepErr != nil || code != http.StatusOK {
		t.Fatalf("sweep %v, webhook %d", sweepErr, code)
	}
	rec, err := s.Store.GetConnectionForReplies(ctx, sh.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NeedsReauth {
		t.Fatalf("connection flagged for re-authorising: %s\n%s", rec.ReauthReason, tail(s.log.String(), 3000))
	}
	for _, tk := range []ticket{first, second} {
		if got := s.quietReplies(t, tk.reviewID); len(got) != 1 {
			t.Errorf("ticket %d: replies %q, want one", tk.id, got)
		}
	}
	t.Logf("refresh-token grants during the race: %d", s.TP.Calls("refresh")-refreshes)
}

// withSwitches sets the main helpdesk account's switches for one test.
func (s *system) withSwitches(tb testing.TB, sw gorgiassim.Switches) {
	tb.Helper()
	if err := s.HD.SetSwitches(account, sw); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.HD.SetSwitches(account, gorgiassim.Switches{}) })
}

// 2. The integration's template renders without message.* and Gorgias never redelivers: the
// webhook still forwards the ticket's first reply, once.
func TestTemplateWithoutMessageVars(t *testing.T) {
	s := stack(t)
	for _, mode := range []gorgiassim.MessageVarsMode{gorgiassim.MessageVarsEmpty, gorgiassim.MessageVarsNone} {
		t.Run(string(mode), func(t *testing.T) {
			s.withSwitches(t, gorgiassim.Switches{WebhookMessageVars: mode, NoRedelivery: true})
			tk := s.take(t, review.Service, false)
			text := "Thanks, " + string(mode) + " template: your voucher is in your inbox."
			_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
			if len(d.Attempts) != 1 {
				t.Fatalf("delivery attempts %+v, want one", d.Attempts)
			}
			s.wantReplies(t, tk.reviewID, text)
			s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
		})
	}
}

// 3. The first read of the ticket's messages fails and Gorgias never redelivers: the reply is
// posted once all the same (the client's own retry, or the queued reply check).
func TestFirstMessageReadFails(t *testing.T) {
	s := stack(t)
	ctx := context.Background()
	s.withSwitches(t, gorgiassim.Switches{NoRedelivery: true})
	for _, tc := range []struct {
		name  string
		times int // failed reads: 1 is absorbed by the client's retry; 20 outlasts it
	}{{"once", 1}, {"for the whole delivery", 20}} {
		t.Run(tc.name, func(t *testing.T) {
			tk := s.take(t, review.Service, false)
			id := s.HD.AddFault(gorgiassim.Fault{Account: account, Method: http.MethodGet, Path: "/api/messages", Status: http.StatusBadGateway, Times: tc.times})
			text := "We are sorry: " + tc.name + "."
			_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
			s.HD.RemoveFault(id)
			if len(d.Attempts) != 1 || d.Attempts[0].Status != http.StatusOK {
				t.Fatalf("delivery attempts %+v, want one answered 200", d.Attempts)
			}
			if _, err := s.Drain(ctx, waitLimit); err != nil {
				t.Fatalf("drain: %v\n%s", err, tail(s.log.String(), 3000))
			}
			s.wantReplies(t, tk.reviewID, text)
			s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
		})
	}
}

// 4. A quoted agent reply whose stripped fields are null: Trustpilot gets only the new text.
func TestQuotedReplyPostsOnlyTheNewText(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	text := "Thank you for your patience, the parcel was re-sent this morning."
	m, _ := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text, Quote: true, Stripped: gorgiassim.StrippedNull})
	if !strings.Contains(m.BodyText, "wrote:") {
		t.Fatalf("the simulator did not quote the thread: %q", m.BodyText)
	}
	s.wantReplies(t, tk.reviewID, text)
}

// 6. Trustpilot commits the post but the answer is lost, and stores the text with other
// whitespace (and shows a comment only after a while): one reply, one comment, and the note
// says posted.
func TestCommittedPostAnswerLost(t *testing.T) {
	s := stack(t)
	ctx := context.Background()
	if err := s.TP.SetSwitches(unitID, trustpilotsim.Switches{ReplyText: trustpilotsim.TextFlatten, ReplyVisibilityDelay: trustpilotsim.Duration(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.TP.SetSwitches(unitID, trustpilotsim.Switches{}) }()
	text := "Thank you!\n\nWe have  sent a replacement;\r\nit ships today."

	svc := s.take(t, review.Service, false)
	id := s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/reviews/" + svc.reviewID + "/reply", DropAfter: true, Times: 1})
	defer s.TP.RemoveFault(id)
	s.reply(t, gorgiassim.AgentReply{TicketID: svc.id, BodyText: text})

	prod := s.take(t, review.Product, false)
	id = s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/conversations/*/comments", DropAfter: true, Times: 1})
	defer s.TP.RemoveFault(id)
	comments := s.TP.Calls("post_comment")
	s.reply(t, gorgiassim.AgentReply{TicketID: prod.id, BodyText: text})

	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := s.Drain(ctx, waitLimit); err != nil {
			t.Fatalf("drain: %v\n%s", err, tail(s.log.String(), 3000))
		}
		if count(s.notes(t, svc.id), notePosted) == 1 && count(s.notes(t, prod.id), noteComment) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notes %q / %q\n%s", s.notes(t, svc.id), s.notes(t, prod.id), tail(s.log.String(), 3000))
		}
	}
	// What the agent wrote, as Pilotdesk posts it (line breaks as \n); the simulator stores it
	// flattened.
	s.wantReplies(t, svc.reviewID, strings.ReplaceAll(text, "\r\n", "\n"))
	if n := s.TP.Calls("post_comment") - comments; n != 1 {
		t.Errorf("%d comment posts, want 1", n)
	}
	r, _ := s.TP.ProductReview(prod.reviewID)
	if r.ConversationID == nil || len(s.TP.Comments(*r.ConversationID)) != 1 {
		t.Errorf("product review conversation %v: want exactly one comment", r.ConversationID)
	}
	for _, tk := range []ticket{svc, prod} {
		if notes := s.notes(t, tk.id); count(notes, "NOT posted") != 0 || len(notes) != 1 {
			t.Errorf("ticket %d notes %q, want one saying posted", tk.id, notes)
		}
	}
}
