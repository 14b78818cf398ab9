package trustpilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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

// sameText reports whether a text read back from Trustpilot is the one we posted. Trustpilot
// may store a reply with other whitespace than it was sent with (line breaks as \n, runs of
// spaces collapsed, trimmed, or flattened to one line), so texts are compared with every
// whitespace run, line breaks included, as one space, and trimmed. Unicode normalisation (NFC)
// is not applied: it would need golang.org/x/text, and an agent's reply is posted as typed.
func sameText(stored, posted string) bool {
	return strings.Join(strings.Fields(stored), " ") == strings.Join(strings.Fields(posted), " ")
}

// ReplyToServiceReview posts message as the company reply to a service review. Trustpilot
// keeps one reply per review, so it re-reads the review first (reference §7.4) and returns
// ErrAlreadyReplied, wrapped in an errs.Conflict, when a reply is already there — unless that
// reply is this very message (compared ignoring whitespace, see sameText), which means an
// earlier attempt of ours landed: then it succeeds.
//
// A POST refused as a conflict while the re-read shows no reply at all means a reply exists
// that reads do not show yet (Trustpilot committed it, visibility lags): most likely our own
// earlier attempt whose answer was lost. That is a transient error wrapping ErrReplyNotVisible,
// so the caller retries later, when the re-read recognises the reply (or finds another's and
// gets ErrAlreadyReplied).
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
		// serviceReplied answers ErrAlreadyReplied itself when another reply shows.
		if done, rerr := c.serviceReplied(ctx, op, reviewID, message); rerr != nil || done {
			return rerr
		}
		return errs.E(errs.Transient, op, fmt.Errorf("%w: %w", ErrReplyNotVisible, err))
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
	if json.Unmarshal(r.Raw, &j) == nil && sameText(j.CompanyReply.Text, message) {
		return true, nil
	}
	return false, errs.E(errs.Conflict, op, ErrAlreadyReplied)
}

// ReplyToProductReview posts message as a comment in the review's conversation, creating the
// conversation first when the review has none (reference §7.5). The comment is posted as the
// connection's business user (x-business-user-id). When the conversation already holds our
// comment with this text (compared ignoring whitespace), an earlier attempt landed and nothing
// is posted.
//
// Comments append, so a comment POST whose outcome is unknown (no answer, a broken answer, a
// 5xx) is not repeated: the error is transient and wraps ErrCommentOutcomeUnknown. The comment
// may be there already, possibly not yet visible; before posting again the caller should ask
// ProductReplyPosted (or call ReplyToProductReview, which asks the same) only once Trustpilot
// has had time to show it.
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
	var uncertain bool
	_, err = c.call(ctx, request{op: op, method: http.MethodPost, path: "/v1/private/conversations/" + convID + "/comments",
		body: body, header: h, auth: true, retry: retryOnly429, uncertain: &uncertain})
	if err != nil && uncertain && isKind(err, errs.Transient) {
		// No answer, a broken one or a 5xx: the comment may have been stored.
		return errs.E(errs.Transient, op, fmt.Errorf("%w: %w", ErrCommentOutcomeUnknown, err))
	}
	return err
}

// ProductReplyPosted reports whether the conversation of a product review holds our comment
// with message's text (compared ignoring whitespace, as ReplyToProductReview does), so a caller
// can check before posting again after an attempt whose outcome it does not know. A review
// without a conversation has no comment: false. A comment Trustpilot has stored but does not
// show yet reads as absent.
func (c *Client) ProductReplyPosted(ctx context.Context, reviewID, message string) (bool, error) {
	const op = "trustpilot.ProductReplyPosted"
	switch {
	case !review.ValidID(reviewID):
		return false, errs.E(errs.Invalid, op, fmt.Errorf("invalid review id %.30q", reviewID))
	case strings.TrimSpace(message) == "":
		return false, errs.E(errs.Invalid, op, errors.New("empty reply"))
	}
	r, err := c.GetProductReview(ctx, reviewID)
	if err != nil {
		return false, err
	}
	if r.ConversationID == "" {
		return false, nil
	}
	return c.hasComment(ctx, op, r.ConversationID, message)
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
		if sameText(cm.Content, message) && (cm.Author.Type == "" || strings.EqualFold(cm.Author.Type, "businessUser")) {
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
	_, err := c.ReplyAuthors(ctx)
	return err
}

// ReplyAuthors is Check that also says who wrote the replies among the business unit's latest
// service reviews (one call, like Check): the business user ids Trustpilot accepts as reply
// authors, newest first, each once. Trustpilot has no call that checks a business user id, so
// this is the evidence an operator gets before the first reply; an answer it cannot read
// yields no authors, not an error.
func (c *Client) ReplyAuthors(ctx context.Context) ([]string, error) {
	const op = "trustpilot.Check"
	body, err := c.call(ctx, request{op: op, method: http.MethodGet,
		path: c.serviceListPath() + "?perPage=20&orderBy=createdat.desc", auth: true})
	if err != nil {
		return nil, err
	}
	var j struct {
		Reviews []struct {
			CompanyReply *struct {
				Author string `json:"authorBusinessUserId"`
			} `json:"companyReply"`
		} `json:"reviews"`
	}
	_ = json.Unmarshal(body, &j)
	var authors []string
	for _, r := range j.Reviews {
		if r.CompanyReply != nil && validPathID(r.CompanyReply.Author) && !slices.Contains(authors, r.CompanyReply.Author) {
			authors = append(authors, r.CompanyReply.Author)
		}
	}
	return authors, nil
}

// BusinessUnit is what the public find endpoint says of a business unit.
type BusinessUnit struct {
	ID          string
	DisplayName string
}

// FindBusinessUnit finds the business unit of a domain ("acme.com") with the public API
// (reference §1.3: GET /v1/business-units/find?name=, the apikey header only). NotExist when
// Trustpilot knows no business unit by that name.
func (c *Client) FindBusinessUnit(ctx context.Context, domain string) (BusinessUnit, error) {
	const op = "trustpilot.FindBusinessUnit"
	domain = strings.TrimSpace(domain)
	if domain == "" {
		return BusinessUnit{}, errs.E(errs.Invalid, op, errors.New("a domain is required"))
	}
	h := http.Header{}
	h.Set("apikey", c.cfg.Credentials.APIKey)
	body, err := c.call(ctx, request{op: op, method: http.MethodGet, path: "/v1/business-units/find?name=" + url.QueryEscape(domain), header: h})
	if err != nil {
		return BusinessUnit{}, err
	}
	var j struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
		Name        any    `json:"name"`
	}
	if err := json.Unmarshal(body, &j); err != nil || !review.ValidID(j.ID) {
		return BusinessUnit{}, errs.E(errs.Invalid, op, fmt.Errorf("an answer without a business unit id"))
	}
	return BusinessUnit{ID: j.ID, DisplayName: j.DisplayName}, nil
}
