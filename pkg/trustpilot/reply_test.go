package trustpilot

import (
	"context"
	"errors"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

const (
	unansweredService = "65a000000000000000000002"
	answeredService   = "65a000000000000000000007"
	productNoConv     = "66b000000000000000000001"
	productWithConv   = "66b000000000000000000002"
)

func TestReplyToServiceReviewOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	c := e.client(t)
	ctx := context.Background()
	if err := c.ReplyToServiceReview(ctx, unansweredService, "Thank you, Jane!"); err != nil {
		t.Fatal(err)
	}
	// The helpdesk delivers the same event again: our own reply is recognised, nothing is posted.
	if err := c.ReplyToServiceReview(ctx, unansweredService, "Thank you, Jane!"); err != nil {
		t.Fatalf("repeat of the same reply: %v", err)
	}
	// A different reply is refused before any POST.
	err := c.ReplyToServiceReview(ctx, unansweredService, "Another answer")
	if !errors.Is(err, ErrAlreadyReplied) || errs.KindOf(err) != errs.Conflict {
		t.Fatalf("second reply: err = %v, want ErrAlreadyReplied conflict", err)
	}
	err = c.ReplyToServiceReview(ctx, answeredService, "Hello")
	if !errors.Is(err, ErrAlreadyReplied) || errs.KindOf(err) != errs.Conflict {
		t.Fatalf("answered review: err = %v, want ErrAlreadyReplied conflict", err)
	}
	if n := e.sim.Calls("reply"); n != 1 {
		t.Errorf("reply POSTs = %d, want 1", n)
	}
	rs := e.sim.Replies(unansweredService)
	if len(rs) != 1 || rs[0].AuthorBusinessUserID != acmeUser || rs[0].Message != "Thank you, Jane!" {
		t.Errorf("replies = %+v", rs)
	}
	r, err := c.GetServiceReview(ctx, unansweredService)
	if err != nil || !r.HasReply {
		t.Errorf("re-read: HasReply=%v err=%v", r.HasReply, err)
	}
}

func TestReplyLostAnswerIsRecognised(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	// The reply is stored but the connection dies before the answer: the client retries, gets
	// 409, re-reads, and finds its own reply.
	e.sim.AddFault(trustpilotsim.Fault{Method: "POST", Path: "/v1/private/reviews/*/reply", Truncate: true, Times: 1})
	c := e.client(t)
	if err := c.ReplyToServiceReview(context.Background(), unansweredService, "Thanks!"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sim.Replies(unansweredService)); n != 1 {
		t.Errorf("replies stored = %d, want 1", n)
	}
	if n := e.sim.Calls("reply"); n != 2 {
		t.Errorf("reply POSTs = %d, want 2 (one lost, one refused as a conflict)", n)
	}
}

func TestReplyRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	ctx := context.Background()
	tests := []struct {
		name    string
		user    string
		review  string
		message string
		kind    errs.Kind
	}{
		{"empty message", acmeUser, unansweredService, "  ", errs.Invalid},
		{"no business user", "", unansweredService, "Hi", errs.Invalid},
		{"unit id as user", acmeUnit, unansweredService, "Hi", errs.Permission},
		{"unknown review", acmeUser, "65a0000000000000000000ff", "Hi", errs.NotExist},
		{"bad id", acmeUser, "x", "Hi", errs.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(t, func(c *Config) { c.Credentials.BusinessUserID = tt.user; c.ConnectionID = "refusals" })
			if err := c.ReplyToServiceReview(ctx, tt.review, tt.message); errs.KindOf(err) != tt.kind {
				t.Errorf("service: err = %v, want %s", err, tt.kind)
			}
		})
	}
	if n := len(e.sim.Replies("")); n != 0 {
		t.Errorf("replies stored = %d, want 0", n)
	}
}

func TestReplyToProductReview(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	c := e.client(t)
	ctx := context.Background()
	for _, msg := range []string{"Sorry about the fit!", "We sent a replacement."} {
		if err := c.ReplyToProductReview(ctx, productNoConv, msg); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.Calls("create_conversation"); n != 1 {
		t.Errorf("create-conversation calls = %d, want 1", n)
	}
	pr, _ := e.sim.ProductReview(productNoConv)
	if pr.ConversationID == nil {
		t.Fatal("review has no conversation")
	}
	cs := e.sim.Comments(*pr.ConversationID)
	if len(cs) != 2 || cs[0].Author.ID != acmeUser || cs[0].Author.Type != "businessUser" || cs[0].IntegrationID != IntegrationID {
		t.Errorf("comments = %+v", cs)
	}
	// An existing conversation is used as is.
	if err := c.ReplyToProductReview(ctx, productWithConv, "Thanks"); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls("create_conversation"); n != 1 {
		t.Errorf("create-conversation calls = %d, want still 1", n)
	}
	if n := len(e.sim.Comments("67c000000000000000000001")); n != 1 {
		t.Errorf("comments on the existing conversation = %d, want 1", n)
	}
	// The unit id in x-business-user-id: 403, permission (node-trustpilot #104).
	bad := e.client(t, func(c *Config) { c.Credentials.BusinessUserID = acmeUnit })
	if err := bad.ReplyToProductReview(ctx, productWithConv, "Hi"); errs.KindOf(err) != errs.Permission {
		t.Errorf("unit id as user: err = %v, want permission", err)
	}
}

func TestProductCommentNotRepeatedAfterUnknownOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	e.sim.AddFault(trustpilotsim.Fault{Method: "POST", Path: "/v1/private/conversations/*/comments", Truncate: true, Times: 1})
	c := e.client(t)
	err := c.ReplyToProductReview(context.Background(), productWithConv, "Thanks")
	if errs.KindOf(err) != errs.Transient {
		t.Fatalf("err = %v, want transient", err)
	}
	if n := e.sim.Calls("post_comment"); n != 1 {
		t.Errorf("comment POSTs = %d, want 1: a comment is not repeated blindly", n)
	}
	// The queued retry finds the comment the lost answer was about and posts nothing.
	if err := c.ReplyToProductReview(context.Background(), productWithConv, "Thanks"); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls("post_comment"); n != 1 {
		t.Errorf("comment POSTs after the retry = %d, want still 1", n)
	}
	if n := len(e.sim.Comments("67c000000000000000000001")); n != 1 {
		t.Errorf("comments = %d, want 1", n)
	}
}

func TestCreateConversationLostAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	// The conversation is created but its answer is lost: the retry gets 409 and the client
	// finds the conversation on the review instead of failing or creating another.
	e.sim.AddFault(trustpilotsim.Fault{Method: "POST", Path: "/v1/private/product-reviews/*/create-conversation", Truncate: true, Times: 1})
	c := e.client(t)
	if err := c.ReplyToProductReview(context.Background(), productNoConv, "Hello"); err != nil {
		t.Fatal(err)
	}
	pr, _ := e.sim.ProductReview(productNoConv)
	if pr.ConversationID == nil || len(e.sim.Comments(*pr.ConversationID)) != 1 {
		t.Fatal("comment not in the review's conversation")
	}
	if n := e.sim.Calls("create_conversation"); n != 2 {
		t.Errorf("create-conversation calls = %d, want 2 (lost, then 409)", n)
	}
}

func TestProductComment429IsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	e.sim.AddFault(trustpilotsim.Fault{Method: "POST", Path: "/v1/private/conversations/*/comments", Status: 429, Times: 1})
	c := e.client(t)
	if err := c.ReplyToProductReview(context.Background(), productWithConv, "Thanks"); err != nil {
		t.Fatal(err)
	}
	if n, cs := e.sim.Calls("post_comment"), len(e.sim.Comments("67c000000000000000000001")); n != 2 || cs != 1 {
		t.Errorf("comment POSTs = %d, comments = %d; want 2 and 1", n, cs)
	}
}
