package trustpilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// MaxReplyLen bounds a reply; Trustpilot does not document a limit, so this only stops a
// runaway message (a whole e-mail thread) from being posted publicly.
const MaxReplyLen = 10000

// IntegrationID tags the comments Pilotdesk posts in product-review conversations.
const IntegrationID = "pilotdesk"

func (c *Client) checkReply(op, reviewID, message string) error {
	switch {
	case !review.ValidID(reviewID):
		return errs.E(errs.Invalid, op, fmt.Errorf("invalid review id %.30q", reviewID))
	case strings.TrimSpace(message) == "":
		return errs.E(errs.Invalid, op, errors.New("empty reply"))
	case !utf8.ValidString(message) || len(message) > MaxReplyLen:
		return errs.E(errs.Invalid, op, fmt.Errorf("reply must be valid UTF-8 of at most %d bytes", MaxReplyLen))
	case c.cfg.Credentials.BusinessUserID == "":
		return errs.E(errs.Invalid, op, errors.New("connection has no business user id to reply as"))
	}
	return nil
}

// ReplyToServiceReview posts message as the company reply to a service review. Trustpilot
// keeps one reply per review, so it re-reads the review first (reference §7.4) and returns
// ErrAlreadyReplied, wrapped in an errs.Conflict, when a reply is already there — unless that
// reply is this very message, which means an earlier attempt of ours landed: then it succeeds.
func (c *Client) ReplyToServiceReview(ctx context.Context, reviewID, message string) error {
	const op = "trustpilot.ReplyToServiceReview"
	if err := c.checkReply(op, reviewID, message); err != nil {
		return err
	}
	if done, err := c.serviceReplied(ctx, op, reviewID, message); err != nil || done {
		return err
	}
	body, _ := json.Marshal(struct {
		AuthorBusinessUserID string `json:"authorBusinessUserId"`
		Message              string `json:"message"`
	}{c.cfg.Credentials.BusinessUserID, message})
	h := http.Header{"Content-Type": {"application/json"}}
	// Repeating the POST is safe: if an attempt whose answer we lost did land, the repeat is
	// refused as a conflict and the re-read below recognises our own reply.
	_, err := c.call(ctx, request{op: op, method: http.MethodPost, path: "/v1/private/reviews/" + reviewID + "/reply",
		body: body, header: h, auth: true, retry: retryTransient})
	if err == nil {
		return nil
	}
	if isKind(err, errs.Conflict) {
		if done, rerr := c.serviceReplied(ctx, op, reviewID, message); rerr != nil || done {
			return rerr
		}
		return errs.E(errs.Conflict, op, fmt.Errorf("%w: %w", ErrAlreadyReplied, err))
	}
	return err
}

// serviceReplied re-reads the review: done=true when our message is already its reply, and an
// ErrAlreadyReplied conflict when another reply is.
func (c *Client) serviceReplied(ctx context.Context, op, reviewID, message string) (bool, error) {
	r, err := c.GetServiceReview(ctx, reviewID)
	if err != nil {
		return false, err
	}
	if !r.HasReply {
		return false, nil
	}
	var j struct {
		CompanyReply struct {
			Text string `json:"text"`
		} `json:"companyReply"`
	}
	if json.Unmarshal(r.Raw, &j) == nil && strings.TrimSpace(j.CompanyReply.Text) == strings.TrimSpace(message) {
		return true, nil
	}
	return false, errs.E(errs.Conflict, op, ErrAlreadyReplied)
}

// ReplyToProductReview posts message as a comment in the review's conversation, creating the
// conversation first when the review has none (reference §7.5). The comment is posted as the
// connection's business user (x-business-user-id).
func (c *Client) ReplyToProductReview(ctx context.Context, reviewID, message string) error {
	const op = "trustpilot.ReplyToProductReview"
	if err := c.checkReply(op, reviewID, message); err != nil {
		return err
	}
	r, err := c.GetProductReview(ctx, reviewID)
	if err != nil {
		return err
	}
	convID := r.ConversationID
	if convID == "" {
		if convID, err = c.createConversation(ctx, op, reviewID); err != nil {
			return err
		}
	} else {
		// An earlier attempt may have posted the comment and lost the answer: comments
		// append, so look before posting again.
		posted, err := c.hasComment(ctx, op, convID, message)
		if err != nil {
			return err
		}
		if posted {
			return nil
		}
	}
	body, _ := json.Marshal(struct {
		Content       string `json:"content"`
		IntegrationID string `json:"integrationId"`
	}{message, IntegrationID})
	h := http.Header{
		"Content-Type":       {"application/json"},
		"X-Business-User-Id": {c.cfg.Credentials.BusinessUserID},
	}
	// Comments append: a repeat after a lost answer would post twice, so only 429 is repeated
	// here; other transient failures go back to the caller's queue.
	_, err = c.call(ctx, request{op: op, method: http.MethodPost, path: "/v1/private/conversations/" + convID + "/comments",
		body: body, header: h, auth: true, retry: retryOnly429})
	return err
}

// hasComment reports whether the conversation already holds message as a business-user comment.
func (c *Client) hasComment(ctx context.Context, op, convID, message string) (bool, error) {
	body, err := c.call(ctx, request{op: op, method: http.MethodGet, path: "/v1/private/conversations/" + convID, auth: true, retry: retryTransient})
	if err != nil {
		return false, err
	}
	var conv struct {
		Comments []struct {
			Content string `json:"content"`
			Author  struct {
				Type string `json:"type"`
			} `json:"author"`
		} `json:"comments"`
	}
	if err := json.Unmarshal(body, &conv); err != nil {
		return false, errs.E(errs.Invalid, op, fmt.Errorf("conversation %s: unreadable body: %v", convID, err))
	}
	for _, cm := range conv.Comments {
		if cm.Content == message && (cm.Author.Type == "" || strings.EqualFold(cm.Author.Type, "businessUser")) {
			return true, nil
		}
	}
	return false, nil
}

func (c *Client) createConversation(ctx context.Context, op, reviewID string) (string, error) {
	body, err := c.call(ctx, request{op: op, method: http.MethodPost,
		path: "/v1/private/product-reviews/" + reviewID + "/create-conversation", auth: true, retry: retryTransient})
	if isKind(err, errs.Conflict) {
		// It exists already (an earlier attempt of ours, or a reply from Trustpilot's UI).
		r, rerr := c.GetProductReview(ctx, reviewID)
		if rerr != nil {
			return "", rerr
		}
		if r.ConversationID == "" {
			return "", err
		}
		return r.ConversationID, nil
	}
	if err != nil {
		return "", err
	}
	var j struct {
		ConversationID string `json:"conversationId"`
	}
	if err := json.Unmarshal(body, &j); err != nil || !validPathID(j.ConversationID) {
		return "", errs.E(errs.Invalid, op, fmt.Errorf("create-conversation answer has no valid conversationId (%v)", err))
	}
	return j.ConversationID, nil
}

// Check fetches a token and makes one cheap private call, so an operator learns whether the
// connection's credentials and business unit work.
func (c *Client) Check(ctx context.Context) error {
	const op = "trustpilot.Check"
	_, err := c.call(ctx, request{op: op, method: http.MethodGet,
		path: c.serviceListPath() + "?perPage=1", auth: true})
	return err
}
