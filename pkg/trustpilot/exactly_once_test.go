package trustpilot

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

const existingConv = "67c000000000000000000001" // productWithConv's conversation

var (
	dropReply   = trustpilotsim.Fault{Method: "POST", Path: "/v1/private/reviews/*/reply", DropAfter: true, Times: 1}
	dropComment = trustpilotsim.Fault{Method: "POST", Path: "/v1/private/conversations/*/comments", DropAfter: true, Times: 1}
)

func setSwitches(t *testing.T, e *env, sw trustpilotsim.Switches) {
	t.Helper()
	if err := e.sim.SetSwitches(acmeUnit, sw); err != nil {
		t.Fatal(err)
	}
}

// conversationOf returns the conversation id the simulator holds for a product review.
func conversationOf(t *testing.T, e *env, reviewID string) string {
	t.Helper()
	pr, _ := e.sim.ProductReview(reviewID)
	if pr.ConversationID == nil {
		t.Fatalf("review %s has no conversation", reviewID)
	}
	return *pr.ConversationID
}

func TestSameText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stored, posted string
		same           bool
	}{
		{"Thanks!", "Thanks!", true},
		{"Thank you,\n\nJane!", "  Thank you,\r\n\r\n\r\nJane!  ", true},
		{"Thank you, Jane! See you soon.", "Thank you,\n\n  Jane!\tSee you\rsoon.", true},
		{"a\u00a0b", "a b", true}, // a no-break space counts as whitespace
		{"Thanks", "Thanks!", false},
		{"Thank you Jane", "Thank you, Jane", false},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := sameText(tt.stored, tt.posted); got != tt.same {
			t.Errorf("sameText(%q, %q) = %v, want %v", tt.stored, tt.posted, got, tt.same)
		}
	}
}

// Trustpilot stores the reply with other whitespace than posted: it is still recognised as ours.
func TestNormalisedReplyTextIsRecognised(t *testing.T) {
	t.Parallel()
	const message = "Thank you,\r\n\r\n\r\n   Jane!  See you soon.  \n"
	for _, mode := range []trustpilotsim.TextMode{trustpilotsim.TextLines, trustpilotsim.TextFlatten} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			t.Run("service", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, trustpilotsim.Options{})
				setSwitches(t, e, trustpilotsim.Switches{ReplyText: mode})
				c := e.client(t)
				if err := c.ReplyToServiceReview(ctx, unansweredService, message); err != nil {
					t.Fatal(err)
				}
				if got, _ := e.sim.ServiceReview(unansweredService); got.CompanyReply == nil || got.CompanyReply.Text == message {
					t.Fatalf("the simulator did not normalise: %+v", got.CompanyReply)
				}
				// A redelivered event: the stored, normalised reply is ours.
				if err := c.ReplyToServiceReview(ctx, unansweredService, message); err != nil {
					t.Fatalf("repeat: %v, want success", err)
				}
				// The lost-answer path compares the same way: the retry's 409 leads to a re-read.
				e.sim.AddFault(dropReply)
				if err := c.ReplyToServiceReview(ctx, "65a000000000000000000003", message); err != nil {
					t.Fatalf("after a dropped answer: %v", err)
				}
				if n := e.sim.Calls("reply"); n != 3 {
					t.Errorf("reply POSTs = %d, want 3 (one, then one dropped and one refused)", n)
				}
				if err := c.ReplyToServiceReview(ctx, unansweredService, "Thank you, Jane! See you later."); !errors.Is(err, ErrAlreadyReplied) {
					t.Errorf("another text: %v, want ErrAlreadyReplied", err)
				}
			})
			t.Run("product", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, trustpilotsim.Options{})
				setSwitches(t, e, trustpilotsim.Switches{ReplyText: mode})
				c := e.client(t)
				if err := c.ReplyToProductReview(ctx, productWithConv, message); err != nil {
					t.Fatal(err)
				}
				if cs := e.sim.Comments(existingConv); len(cs) != 1 || cs[0].Content == message {
					t.Fatalf("comments %+v", cs)
				}
				if ok, err := c.ProductReplyPosted(ctx, productWithConv, message); err != nil || !ok {
					t.Fatalf("ProductReplyPosted = %v, %v; want true", ok, err)
				}
				if ok, err := c.ProductReplyPosted(ctx, productWithConv, "Thank you, Jane!"); err != nil || ok {
					t.Fatalf("ProductReplyPosted(other text) = %v, %v; want false", ok, err)
				}
				if err := c.ReplyToProductReview(ctx, productWithConv, message); err != nil {
					t.Fatal(err)
				}
				if n := len(e.sim.Comments(existingConv)); n != 1 {
					t.Errorf("comments = %d, want 1", n)
				}
			})
		})
	}
}

// The POST is committed and the connection closed without an answer: the retry reports
// success and the simulator holds one reply, one comment.
func TestAnswerDroppedAfterCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("service", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		e.sim.AddFault(dropReply)
		c := e.client(t)
		if err := c.ReplyToServiceReview(ctx, unansweredService, "Thanks!"); err != nil {
			t.Fatal(err)
		}
		if rs := e.sim.Replies(unansweredService); len(rs) != 1 {
			t.Errorf("replies = %+v, want 1", rs)
		}
		if n := e.sim.Calls("reply"); n != 2 {
			t.Errorf("reply POSTs = %d, want 2 (dropped, then refused as a conflict)", n)
		}
	})
	for _, tc := range []struct{ name, review string }{{"comment", productWithConv}, {"new conversation", productNoConv}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, trustpilotsim.Options{})
			e.sim.AddFault(dropComment)
			c := e.client(t)
			err := c.ReplyToProductReview(ctx, tc.review, "Sorry about that.")
			if !errors.Is(err, ErrCommentOutcomeUnknown) || errs.KindOf(err) != errs.Transient {
				t.Fatalf("err = %v, want transient ErrCommentOutcomeUnknown", err)
			}
			if ok, err := c.ProductReplyPosted(ctx, tc.review, "Sorry about that."); err != nil || !ok {
				t.Fatalf("ProductReplyPosted = %v, %v; want true", ok, err)
			}
			// The caller's retry finds the comment and posts nothing.
			if err := c.ReplyToProductReview(ctx, tc.review, "Sorry about that."); err != nil {
				t.Fatal(err)
			}
			if n := len(e.sim.Comments(conversationOf(t, e, tc.review))); n != 1 {
				t.Errorf("comments = %d, want 1", n)
			}
			if n := e.sim.Calls("post_comment"); n != 1 {
				t.Errorf("comment POSTs = %d, want 1", n)
			}
		})
	}
}

// Trustpilot shows a committed reply only after a delay, while refusing a second one.
func TestDelayedReplyVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const delay = 2 * time.Minute
	t.Run("service: ours", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		setSwitches(t, e, trustpilotsim.Switches{ReplyVisibilityDelay: trustpilotsim.Duration(delay)})
		e.sim.AddFault(dropReply)
		c := e.client(t)
		for i := range 2 { // the first attempt, and a retry still within the delay
			err := c.ReplyToServiceReview(ctx, unansweredService, "Thanks!")
			if !errors.Is(err, ErrReplyNotVisible) || errs.KindOf(err) != errs.Transient || errors.Is(err, ErrAlreadyReplied) {
				t.Fatalf("attempt %d: err = %v, want transient ErrReplyNotVisible", i+1, err)
			}
			if StatusOf(err) != 409 {
				t.Errorf("attempt %d: status %d, want the 409 wrapped", i+1, StatusOf(err))
			}
		}
		e.clock.Advance(delay)
		posts := e.sim.Calls("reply")
		if err := c.ReplyToServiceReview(ctx, unansweredService, "Thanks!"); err != nil {
			t.Fatalf("after the delay: %v, want success", err)
		}
		if n := e.sim.Calls("reply"); n != posts {
			t.Errorf("reply POSTs after the delay: %d more, want none", n-posts)
		}
		if rs := e.sim.Replies(unansweredService); len(rs) != 1 {
			t.Errorf("replies = %+v, want 1", rs)
		}
	})
	t.Run("service: someone else's", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		setSwitches(t, e, trustpilotsim.Switches{ReplyVisibilityDelay: trustpilotsim.Duration(delay)})
		c := e.client(t)
		if err := c.ReplyToServiceReview(ctx, unansweredService, "Typed in Trustpilot."); err != nil {
			t.Fatal(err)
		}
		if err := c.ReplyToServiceReview(ctx, unansweredService, "From the helpdesk."); !errors.Is(err, ErrReplyNotVisible) {
			t.Fatalf("within the delay: %v, want ErrReplyNotVisible", err)
		}
		e.clock.Advance(delay)
		err := c.ReplyToServiceReview(ctx, unansweredService, "From the helpdesk.")
		if !errors.Is(err, ErrAlreadyReplied) || errs.KindOf(err) != errs.Conflict {
			t.Fatalf("after the delay: %v, want ErrAlreadyReplied conflict", err)
		}
		if rs := e.sim.Replies(unansweredService); len(rs) != 1 || rs[0].Message != "Typed in Trustpilot." {
			t.Errorf("replies = %+v", rs)
		}
	})
	t.Run("product", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		setSwitches(t, e, trustpilotsim.Switches{ReplyVisibilityDelay: trustpilotsim.Duration(delay), ReplyText: trustpilotsim.TextLines})
		e.sim.AddFault(dropComment)
		c := e.client(t)
		const msg = "Sorry  about\r\nthat."
		if err := c.ReplyToProductReview(ctx, productWithConv, msg); !errors.Is(err, ErrCommentOutcomeUnknown) || errs.KindOf(err) != errs.Transient {
			t.Fatalf("err = %v, want transient ErrCommentOutcomeUnknown", err)
		}
		// Within the delay the comment does not show: the caller must not post again yet.
		if ok, err := c.ProductReplyPosted(ctx, productWithConv, msg); err != nil || ok {
			t.Fatalf("ProductReplyPosted within the delay = %v, %v; want false", ok, err)
		}
		e.clock.Advance(delay)
		if ok, err := c.ProductReplyPosted(ctx, productWithConv, msg); err != nil || !ok {
			t.Fatalf("ProductReplyPosted after the delay = %v, %v; want true", ok, err)
		}
		if err := c.ReplyToProductReview(ctx, productWithConv, msg); err != nil {
			t.Fatalf("retry after the delay: %v", err)
		}
		if n, cs := e.sim.Calls("post_comment"), len(e.sim.Comments(existingConv)); n != 1 || cs != 1 {
			t.Errorf("comment POSTs = %d, comments = %d; want 1 and 1", n, cs)
		}
	})
}

func TestProductReplyPosted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	c := e.client(t)
	ctx := context.Background()
	// No conversation yet: nothing posted, and nothing created by asking.
	if ok, err := c.ProductReplyPosted(ctx, productNoConv, "Hi"); err != nil || ok {
		t.Fatalf("no conversation: %v, %v", ok, err)
	}
	if n := e.sim.Calls("create_conversation"); n != 0 {
		t.Errorf("create-conversation calls = %d", n)
	}
	if ok, err := c.ProductReplyPosted(ctx, productWithConv, "Hi"); err != nil || ok {
		t.Fatalf("empty conversation: %v, %v", ok, err)
	}
	if err := c.ReplyToProductReview(ctx, productNoConv, "Hi there"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.ProductReplyPosted(ctx, productNoConv, " Hi\nthere "); err != nil || !ok {
		t.Fatalf("after posting: %v, %v", ok, err)
	}
	for _, tc := range []struct {
		review, msg string
		kind        errs.Kind
	}{{"x", "Hi", errs.Invalid}, {productNoConv, " \n", errs.Invalid}, {"66b0000000000000000000ff", "Hi", errs.NotExist}} {
		if _, err := c.ProductReplyPosted(ctx, tc.review, tc.msg); errs.KindOf(err) != tc.kind {
			t.Errorf("ProductReplyPosted(%q, %q): %v, want %s", tc.review, tc.msg, err, tc.kind)
		}
	}
}

// Only a comment POST that may have landed is reported as of unknown outcome.
func TestCommentOutcomeUnknownOnlyWhenSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		fault   trustpilotsim.Fault
		unknown bool
	}{
		{"dropped after commit", dropComment, true},
		{"dropped before commit", trustpilotsim.Fault{Drop: true}, true}, // the client cannot tell the two apart
		{"503", trustpilotsim.Fault{Status: 503}, true},
		{"429 for good", trustpilotsim.Fault{Status: 429}, false},
		{"400", trustpilotsim.Fault{Status: 400}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, trustpilotsim.Options{})
			tt.fault.Method, tt.fault.Path = "POST", "/v1/private/conversations/*/comments"
			e.sim.AddFault(tt.fault)
			err := e.client(t).ReplyToProductReview(ctx, productWithConv, "Thanks")
			if err == nil || errors.Is(err, ErrCommentOutcomeUnknown) != tt.unknown {
				t.Fatalf("err = %v, want ErrCommentOutcomeUnknown: %v", err, tt.unknown)
			}
		})
	}
	t.Run("budget exhausted before sending", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		// Token, review read and conversation read use the budget; the POST finds none left.
		c := e.client(t, func(c *Config) { c.BudgetCalls = 3; c.BudgetWindow = time.Minute; c.BudgetMaxWait = time.Millisecond })
		err := c.ReplyToProductReview(ctx, productWithConv, "Thanks")
		if !errors.Is(err, ErrBudgetExhausted) || errors.Is(err, ErrCommentOutcomeUnknown) {
			t.Fatalf("err = %v, want ErrBudgetExhausted only", err)
		}
		if n := e.sim.Calls("post_comment"); n != 0 {
			t.Errorf("comment POSTs = %d", n)
		}
	})
}
