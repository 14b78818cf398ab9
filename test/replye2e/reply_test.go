package replye2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

const (
	notePosted  = "was posted to Trustpilot"
	noteComment = "as a comment on the product review"
	noteOneRule = "A review has one public reply"
	// trustpilotMax is trustpilot.MaxReplyLen: the client refuses longer replies (in bytes).
	trustpilotMax = trustpilot.MaxReplyLen
)

// wantReplies asserts the exact replies the Trustpilot simulator received for a review.
func (s *system) wantReplies(tb testing.TB, reviewID string, texts ...string) {
	tb.Helper()
	got := s.TP.Replies(reviewID)
	if len(got) != len(texts) {
		tb.Fatalf("review %s: %d replies on Trustpilot, want %d: %+v\n%s", reviewID, len(got), len(texts), got, tail(s.log.String(), 3000))
	}
	for i, r := range got {
		if r.Message != texts[i] {
			tb.Errorf("reply %d: %q, want %q", i, r.Message, texts[i])
		}
		if r.AuthorBusinessUserID != userID {
			tb.Errorf("reply %d: author %q, want the connection's business user", i, r.AuthorBusinessUserID)
		}
	}
}

// wantNotes asserts how many of Pilotdesk's notes on a ticket contain each text.
func (s *system) wantNotes(tb testing.TB, ticketID int64, total int, want map[string]int) {
	tb.Helper()
	notes := s.notes(tb, ticketID)
	if len(notes) != total {
		tb.Errorf("ticket %d: %d notes, want %d: %q", ticketID, len(notes), total, notes)
	}
	for sub, n := range want {
		if got := count(notes, sub); got != n {
			tb.Errorf("ticket %d: %d notes with %q, want %d: %q", ticketID, got, sub, n, notes)
		}
	}
}

// 1. An agent's public reply on a service-review ticket is posted once, with its text, and the
// agent sees a note saying so.
func TestAgentReplyIsPosted(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	text := "Thank you, Ana. We have refunded your order and sent a new one."
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text, BodyHTML: "<p>Thank you, Ana.</p><p>We have refunded your order and sent a new one.</p>"})
	s.wantReplies(t, tk.reviewID, text)
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1, "public reply to the review": 1})
}

// 2. The same event delivered 10 times at once and 5 times in a row posts one reply.
func TestDuplicateDeliveriesPostOnce(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	text := "Sorry about the delay, your parcel left our warehouse today."
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	posts, hd := s.TP.Calls("reply"), s.HD.Stats(account).Requests

	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Go(func() { codes[i], _ = s.repost(t, d) })
	}
	wg.Wait()
	for i := range 5 {
		code, body := s.repost(t, d)
		codes = append(codes, code)
		if i == 0 && !strings.Contains(body, reply.OutcomeDone) {
			t.Errorf("a repeated delivery answered %s, want %q", body, reply.OutcomeDone)
		}
	}
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d answered %d, want 200", i, c)
		}
	}
	s.wantReplies(t, tk.reviewID, text)
	if got := s.TP.Calls("reply") - posts; got != 0 {
		t.Errorf("%d more POSTs to the reply endpoint after the first delivery, want 0", got)
	}
	// Duplicates are answered from the link: they spend none of the helpdesk's rate budget.
	if got := s.HD.Stats(account).Requests - hd; got != 0 {
		t.Errorf("%d helpdesk calls for 15 repeated deliveries, want 0", got)
	}
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// 2b. The runtime emulator runs one webhook invocation at a time, so the claim is also raced
// in process against the same DynamoDB: ten concurrent Process calls and the helpdesk's own
// delivery of the same event post one reply and leave one note.
func TestConcurrentProcessClaimsOnce(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	factory := &connector.Factory{Secrets: s.Secrets, Tokens: s.Store, TrustpilotURL: s.TP.URL(), TrustpilotAttempts: 1,
		HelpdeskRate: connector.RateLimit{Calls: 40, Window: 2 * time.Second}, Log: discard}
	svc := reply.New(s.Store, app.ReplyOpener(factory), s.Queue, discard, "replye2e", reply.Config{})

	text := "We are sorry, a replacement is on its way."
	m, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.id, BodyText: text}) // its delivery races us
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"ticket_id": tk.id, "message_id": m.ID, "ticket_external_id": link.ExternalID(tk.reviewID),
		"from_agent": "True", "public": "True", "channel": m.Channel, "via": m.Via})
	ev, err := gorgias.ParseWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := make([]string, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Go(func() { outcomes[i], errs[i] = svc.Process(context.Background(), ev) })
	}
	wg.Wait()
	if d := s.delivery(t, m.ID); !d.OK {
		t.Fatalf("the helpdesk's delivery failed: %+v", d.Attempts)
	}
	posted := 0
	for i, o := range outcomes {
		if errs[i] != nil {
			t.Errorf("Process %d: %v", i, errs[i])
		}
		if o == reply.OutcomePosted {
			posted++
		}
	}
	if posted > 1 {
		t.Errorf("%d in-process calls report %q", posted, reply.OutcomePosted)
	}
	s.wantReplies(t, tk.reviewID, text)
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// 3. An internal note does not use up the reply: the public reply after it is posted.
func TestInternalNoteThenPublicReply(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: "internal: customer called twice, be nice", Internal: true})
	s.wantReplies(t, tk.reviewID)
	text := "Thanks for the feedback, we have passed it on to the team."
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	s.wantReplies(t, tk.reviewID, text)
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// 4. The link decides, not the tag: a reply on a ticket whose trustpilot-review tag was removed
// is still posted.
func TestTagRemovedStillPosted(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	if err := s.HD.RemoveTag(tk.id, "trustpilot-review"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.HD.Ticket(tk.id); strings.Contains(strings.Join(got.Tags, ","), "trustpilot-review") {
		t.Fatalf("tag still on the ticket: %v", got.Tags)
	}
	text := "We appreciate your honest review."
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	s.wantReplies(t, tk.reviewID, text)
}

// 5. A second public reply is not posted; one note (even if its event comes twice) explains the
// one-reply rule.
func TestSecondReplyNotPosted(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	first := "Thank you for shopping with us."
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: first})
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: "PS: here is a discount code."})
	for range 2 {
		if code, body := s.repost(t, d); code != http.StatusOK || !strings.Contains(body, reply.OutcomeUsed) {
			t.Errorf("repeated second reply answered %d %s, want 200 %q", code, body, reply.OutcomeUsed)
		}
	}
	s.wantReplies(t, tk.reviewID, first)
	s.wantNotes(t, tk.id, 2, map[string]int{notePosted: 1, noteOneRule: 1})
}

// A service review that already has a reply on Trustpilot (written there) is not overwritten.
func TestReviewAlreadyRepliedOnTrustpilot(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, true)
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: "Our reply from the helpdesk."})
	s.wantReplies(t, tk.reviewID)
	s.wantNotes(t, tk.id, 1, map[string]int{"already has a reply on Trustpilot": 1})
}

// 6. A product review is answered with one comment in a conversation created once.
func TestProductReviewComment(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Product, false)
	created, comments := s.TP.Calls("create_conversation"), s.TP.Calls("post_comment")
	text := "Thanks! The larger size is back in stock."
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	if code, _ := s.repost(t, d); code != http.StatusOK {
		t.Fatalf("repeated delivery answered %d", code)
	}
	pr, _ := s.TP.ProductReview(tk.reviewID)
	if pr.ConversationID == nil {
		t.Fatalf("product review %s has no conversation", tk.reviewID)
	}
	got := s.TP.Comments(*pr.ConversationID)
	if len(got) != 1 || got[0].Content != text {
		t.Fatalf("comments %+v, want one with %q", got, text)
	}
	if got[0].IntegrationID == "" {
		t.Errorf("comment has no integration id")
	}
	if n := s.TP.Calls("create_conversation") - created; n != 1 {
		t.Errorf("%d create-conversation calls, want 1", n)
	}
	if n := s.TP.Calls("post_comment") - comments; n != 1 {
		t.Errorf("%d post-comment calls, want 1", n)
	}
	s.wantNotes(t, tk.id, 1, map[string]int{noteComment: 1})
}

// 7a. Trustpilot fails twice with 500: the webhook still answers 2xx, queues a reply-retry job,
// and the worker posts the reply once.
func TestTransientFailureRetriedThroughQueue(t *testing.T) {
	s := stack(t)
	ctx := context.Background()
	tk := s.take(t, review.Service, false)
	mark := s.log.Len()
	id := s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/reviews/" + tk.reviewID + "/reply", Status: 500, Times: 2})
	defer s.TP.RemoveFault(id)
	posts := s.TP.Calls("reply")
	text := "Apologies, we have fixed the sizing chart."
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	if st := d.Attempts[len(d.Attempts)-1].Status; st != http.StatusOK || len(d.Attempts) != 1 {
		t.Fatalf("delivery attempts %+v, want one answered 200", d.Attempts)
	}
	s.wantReplies(t, tk.reviewID)
	waiting, inFlight, err := s.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waiting+inFlight != 1 {
		t.Fatalf("%d jobs queued, want the one reply-retry", waiting+inFlight)
	}
	if !s.loggedSince(mark, "reply queued for retry", tk.reviewID) {
		t.Errorf("the webhook did not log the queued outcome for review %s", tk.reviewID)
	}
	if _, err := s.Drain(ctx, waitLimit); err != nil {
		t.Fatalf("drain: %v\n%s", err, tail(s.log.String(), 4000))
	}
	s.wantReplies(t, tk.reviewID, text)
	if n := s.TP.Calls("reply") - posts; n != 3 {
		t.Errorf("%d POSTs to the reply endpoint, want 3 (500, 500, 201)", n)
	}
	if dead, err := s.DeadLetters(ctx); err != nil || dead != 0 {
		t.Errorf("%d dead letters (%v), want 0", dead, err)
	}
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// 7b. Trustpilot refuses with 403: no retry, and the note says why.
func TestForbiddenNotRetried(t *testing.T) {
	s := stack(t)
	ctx := context.Background()
	tk := s.take(t, review.Service, false)
	id := s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/reviews/" + tk.reviewID + "/reply", Status: 403})
	defer s.TP.RemoveFault(id)
	posts := s.TP.Calls("reply")
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: "Thank you for the five stars!"})
	if code, body := s.repost(t, d); code != http.StatusOK || !strings.Contains(body, reply.OutcomeDone) {
		t.Errorf("repeated delivery answered %d %s, want 200 %q", code, body, reply.OutcomeDone)
	}
	s.wantReplies(t, tk.reviewID)
	if n := s.TP.Calls("reply") - posts; n != 1 {
		t.Errorf("%d POSTs to the reply endpoint, want 1", n)
	}
	if waiting, inFlight, err := s.Depth(ctx); err != nil || waiting+inFlight != 0 {
		t.Errorf("%d jobs queued (%v), want none", waiting+inFlight, err)
	}
	s.wantNotes(t, tk.id, 1, map[string]int{"NOT posted": 1, "paid API module": 1})
}

// 8. Bad input is a 4xx, never a 5xx; an event for a ticket without a link is acknowledged and
// changes nothing.
func TestBadInput(t *testing.T) {
	s := stack(t)
	secret := map[string]string{webhook.SecretHeader: s.WebhookSecret}
	valid := `{"event":"ticket-message-created","ticket_id":"%d","message_id":"%d","from_agent":"True","public":"True","channel":"email","via":"helpdesk"}`
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		message string
	}{
		{"wrong secret", fmt.Sprintf(valid, s.tickets[0].id, 1), map[string]string{webhook.SecretHeader: "not-the-secret"}, http.StatusUnauthorized, "X-Pilotdesk-Secret"},
		{"no secret", fmt.Sprintf(valid, s.tickets[0].id, 1), nil, http.StatusUnauthorized, "X-Pilotdesk-Secret"},
		{"malformed JSON", `{"ticket_id": 12, "message_id": `, secret, http.StatusBadRequest, "not a JSON object"},
		{"missing ticket id", `{"message_id": 12}`, secret, http.StatusBadRequest, "ticket_id"},
		// A template rendered without message.* still names the ticket: accepted, the ticket's
		// messages decide (ticket 12 has no link here).
		{"missing message id", `{"ticket_id": 12}`, secret, http.StatusOK, reply.OutcomeNoLink},
		{"empty body", ``, secret, http.StatusBadRequest, "empty body"},
		{"2 MiB body", `{"pad":"` + strings.Repeat("x", 2<<20) + `"}`, secret, http.StatusRequestEntityTooLarge, "1 MiB"},
		{"unknown ticket", fmt.Sprintf(valid, 987654321, 123), secret, http.StatusOK, reply.OutcomeNoLink},
	}
	hd, tp := s.HD.Stats(account).Requests, s.tpCalls()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.post(t, tc.body, tc.headers)
			if code != tc.status || code >= 500 {
				t.Fatalf("status %d (%s), want %d", code, body, tc.status)
			}
			var r struct{ Message string }
			if err := json.Unmarshal([]byte(body), &r); err != nil || !strings.Contains(r.Message, tc.message) {
				t.Errorf("answer %s, want a JSON message with %q", body, tc.message)
			}
		})
	}
	if n := s.HD.Stats(account).Requests - hd; n != 0 {
		t.Errorf("%d helpdesk calls for bad input, want 0", n)
	}
	if n := s.tpCalls() - tp; n != 0 {
		t.Errorf("%d Trustpilot calls for bad input, want 0", n)
	}
}

// A reply longer than Trustpilot's limit is cut to fit and posted, and the note says it was cut
// (both counted in bytes, which is what the client enforces: multi-byte text must fit too).
func TestLongReplyIsCut(t *testing.T) {
	s := stack(t)
	tests := []struct {
		name string
		text string
	}{
		{"ascii", strings.Repeat("Thank you for your patience. ", 500)},
		{"multi-byte under the limit in characters", strings.Repeat("Merci beaucoup é à ü — ", 400)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := s.take(t, review.Service, false)
			s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: tc.text})
			got := s.TP.Replies(tk.reviewID)
			if len(got) != 1 {
				t.Fatalf("%d replies, want 1; notes %q", len(got), s.notes(t, tk.id))
			}
			if n := len(got[0].Message); n > trustpilotMax || !strings.HasSuffix(got[0].Message, "…") ||
				!strings.HasPrefix(tc.text, strings.TrimSuffix(got[0].Message, "…")) {
				t.Errorf("posted %d bytes ending %q, want a prefix of the reply cut to at most %d bytes with an ellipsis", n, tail(got[0].Message, 20), trustpilotMax)
			}
			s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1, "was cut": 1})
		})
	}
}

// A message written by a helpdesk rule (an auto-reply) is not the agent's reply and does not
// use the slot.
func TestRuleMessageIgnored(t *testing.T) {
	s := stack(t)
	tk := s.take(t, review.Service, false)
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: "Auto-reply: we got your message.", Rule: true})
	if code, body := s.repost(t, d); code != http.StatusOK || !strings.Contains(body, reply.OutcomeNotReply) {
		t.Errorf("rule message answered %d %s, want 200 %q", code, body, reply.OutcomeNotReply)
	}
	s.wantReplies(t, tk.reviewID)
	text := "Hello, a human here: thanks for the review."
	s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	s.wantReplies(t, tk.reviewID, text)
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// 7c. Trustpilot hangs on the reply for longer than the helpdesk waits for the webhook's answer
// (10 s in the simulator): the webhook still answers 2xx in time, the reply is queued, and the
// worker posts it exactly once.
func TestSlowTrustpilotQueuedNotLost(t *testing.T) {
	s := stack(t)
	ctx := context.Background()
	tk := s.take(t, review.Service, false)
	id := s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/reviews/" + tk.reviewID + "/reply", Delay: trustpilotsim.Duration(12 * time.Second), Times: 1})
	defer s.TP.RemoveFault(id)
	text := "Sorry for the wait, a voucher is on its way."
	_, d := s.reply(t, gorgiassim.AgentReply{TicketID: tk.id, BodyText: text})
	if len(d.Attempts) != 1 || d.Attempts[0].Status != http.StatusOK {
		t.Errorf("delivery attempts %+v, want one answered 200 within the helpdesk's timeout", d.Attempts)
	}
	if _, err := s.Drain(ctx, waitLimit); err != nil {
		t.Fatalf("drain: %v\n%s", err, tail(s.log.String(), 4000))
	}
	s.wantReplies(t, tk.reviewID, text)
	s.wantNotes(t, tk.id, 1, map[string]int{notePosted: 1})
}

// Security: the functions' output never carries a secret. The test runs its own flow through
// the paths that handle credentials — Trustpilot token requests by the webhook and by the
// worker, a reply posted, one refused, one retried through the queue, deliveries with a wrong,
// a missing and the right secret — and scans what the functions printed meanwhile, so its
// verdict does not depend on other tests having run. It also scans everything printed before
// it (the other scenarios' output, when they ran first).
func TestNoSecretsInLogs(t *testing.T) {
	s := stack(t)
	ctx := context.Background()
	mark := s.log.Len()
	secrets := map[string]string{"webhook secret": s.WebhookSecret, "helpdesk API key": hdKey, "Trustpilot API key": tpKey, "Trustpilot API secret": tpSecret}
	tokens := func(when string) {
		t.Helper()
		tk, ok, err := s.Store.LoadToken(ctx, s.conn.ID)
		if err != nil || !ok {
			t.Fatalf("no stored Trustpilot token %s (%v)", when, err)
		}
		secrets["Trustpilot access token ("+when+")"] = tk.AccessToken
		secrets["Trustpilot refresh token ("+when+")"] = tk.RefreshToken
	}
	tokens("before the flow")
	tokenCalls := s.TP.Calls("token")

	// The webhook: its token was revoked, so it requests one, then posts the reply.
	s.TP.RevokeTokens(unitID)
	posted := s.take(t, review.Service, false)
	text := "Thank you, we are glad the parcel arrived in time."
	s.reply(t, gorgiassim.AgentReply{TicketID: posted.id, BodyText: text})
	s.wantReplies(t, posted.reviewID, text)
	tokens("requested by the webhook")

	// A reply Trustpilot refuses.
	refused := s.take(t, review.Service, false)
	id := s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/reviews/" + refused.reviewID + "/reply", Status: 403})
	defer s.TP.RemoveFault(id)
	s.reply(t, gorgiassim.AgentReply{TicketID: refused.id, BodyText: "Thanks for the stars!"})
	s.wantReplies(t, refused.reviewID)
	s.wantNotes(t, refused.id, 1, map[string]int{"NOT posted": 1})

	// A reply that fails once and is retried by the worker, which requests a token of its own:
	// the one it holds was revoked above, and the stored one has expired meanwhile.
	retried := s.take(t, review.Service, false)
	id = s.TP.AddFault(trustpilotsim.Fault{Method: http.MethodPost, Path: "/v1/private/reviews/" + retried.reviewID + "/reply", Status: 500, Times: 1})
	defer s.TP.RemoveFault(id)
	retriedText := "Sorry for the trouble, a new one is on its way."
	s.reply(t, gorgiassim.AgentReply{TicketID: retried.id, BodyText: retriedText})
	s.wantReplies(t, retried.reviewID)
	s.TP.RevokeTokens(unitID)
	// The store never lets an older token replace a newer one, so the stored token is aged in
	// the table directly (its item layout is the store's: pk CONN#<id>, sk TOKEN).
	if _, err := dynamodb.NewFromConfig(s.AWS.AWS).UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Store.Table()),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "CONN#" + s.conn.ID}, "sk": &ddbtypes.AttributeValueMemberS{Value: "TOKEN"},
		},
		UpdateExpression:          aws.String("SET token_expires = :past"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":past": &ddbtypes.AttributeValueMemberS{Value: "2000-01-01T00:00:00.000000000Z"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Drain(ctx, waitLimit); err != nil {
		t.Fatalf("drain: %v\n%s", err, tail(s.log.String(), 4000))
	}
	s.wantReplies(t, retried.reviewID, retriedText)
	tokens("requested by the worker")
	if n := s.TP.Calls("token") - tokenCalls; n < 2 {
		t.Errorf("%d Trustpilot token requests during the flow, want at least 2 (webhook and worker)", n)
	}

	// Deliveries with a wrong secret, without one, and with the right one but a broken body.
	body := fmt.Sprintf(`{"event":"ticket-message-created","ticket_id":"%d","message_id":"1","from_agent":"True","public":"True","channel":"email","via":"helpdesk"}`, posted.id)
	for _, tc := range []struct {
		body    string
		headers map[string]string
		status  int
	}{
		// Wrong, but it contains the secret: printing what was presented would show the secret.
		{body, map[string]string{webhook.SecretHeader: "x" + s.WebhookSecret}, http.StatusUnauthorized},
		{body, nil, http.StatusUnauthorized},
		{`{"ticket_id": `, map[string]string{webhook.SecretHeader: s.WebhookSecret}, http.StatusBadRequest},
	} {
		if code, answer := s.post(t, tc.body, tc.headers); code != tc.status {
			t.Errorf("delivery answered %d %s, want %d", code, answer, tc.status)
		}
	}

	all := s.log.String()
	flow := all[mark:]
	// The scan is only worth something if the flow's output was captured: the webhook's retry
	// and its refusal of a bad secret, and the worker's run of the retry.
	for _, want := range [][]string{{"reply queued for retry", retried.reviewID}, {"bad or missing secret"}, {`"function":"worker"`}} {
		if !s.loggedSince(mark, want...) {
			t.Errorf("no line of the functions' output during this test has %q:\n%s", want, tail(flow, 3000))
		}
	}
	for name, secret := range secrets {
		switch {
		case secret == "":
		case strings.Contains(flow, secret):
			t.Errorf("the %s appears in the functions' output during this test", name)
		case strings.Contains(all, secret):
			t.Errorf("the %s appears in the functions' output before this test", name)
		}
	}
}
