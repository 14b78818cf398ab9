package trustpilot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// ErrAlreadyReplied is wrapped in an errs.Conflict when a review already has a company reply
// that Pilotdesk did not just post: Trustpilot keeps one reply per service review.
var ErrAlreadyReplied = errors.New("trustpilot: review already has a reply")

// ErrReplyNotVisible is wrapped in an errs.Transient when Trustpilot refuses a service reply as
// a conflict (the review has a reply) but a re-read shows none yet: a committed reply, most
// likely our own lost attempt, that reads do not show yet. Retry later: the re-read then
// recognises our reply (success) or finds another (ErrAlreadyReplied).
var ErrReplyNotVisible = errors.New("trustpilot: review has a reply that is not visible yet")

// ErrCommentOutcomeUnknown is wrapped in an errs.Transient when a product-review comment POST
// got no usable answer (connection lost, broken answer, 5xx): the comment may or may not be
// stored. Comments append, so do not post again before ProductReplyPosted reports it absent,
// asked after Trustpilot has had time to show it.
var ErrCommentOutcomeUnknown = errors.New("trustpilot: outcome of the comment post unknown")

// APIError is a non-2xx answer from Trustpilot. Its text carries the status, the message, the
// error code and the correlation id (which Trustpilot support asks for) but never a request
// header, so no token or secret.
type APIError struct {
	Status        int
	Message       string
	ErrorCode     string // application errorCode (a number) or gateway errorcode ("oauth.v2.InvalidAccessToken")
	Details       string
	CorrelationID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trustpilot: %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Details != "" {
		fmt.Fprintf(&b, " (%s)", e.Details)
	}
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " errorCode=%s", e.ErrorCode)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " correlationId=%s", e.CorrelationID)
	}
	return b.String()
}

// ErrorBody is what ParseErrorBody finds in an error response.
type ErrorBody struct {
	Message, ErrorCode, Details, CorrelationID string
}

// The bodies Trustpilot answers errors with (reference §5.2 and §7.7): an application body, an
// Apigee gateway fault, and OAuth's terse shape, which the token endpoint may use.
type errorJSON struct {
	Message          string          `json:"message"`
	ErrorCode        json.RawMessage `json:"errorCode"`
	Details          json.RawMessage `json:"details"`
	CorrelationID    string          `json:"correlationId"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Fault            *struct {
		FaultString string `json:"faultstring"`
		Detail      struct {
			ErrorCode string `json:"errorcode"`
		} `json:"detail"`
	} `json:"fault"`
}

// Bounds on what an error body contributes to an error message: it is outside input and ends
// up in logs and in the internal notes agents read.
const (
	maxMessageLen = 300
	maxCodeLen    = 80
)

// ParseErrorBody reads either error body shape. A body that is not JSON (an HTML error page
// from a proxy) becomes a short, cleaned message.
func ParseErrorBody(body []byte) ErrorBody {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ErrorBody{}
	}
	var j errorJSON
	if err := json.Unmarshal(body, &j); err != nil {
		if body[0] == '<' {
			return ErrorBody{} // an HTML page says nothing the status does not
		}
		return ErrorBody{Message: clean(string(body), maxMessageLen)}
	}
	var eb ErrorBody
	switch {
	case j.Fault != nil:
		eb.Message = j.Fault.FaultString
		eb.ErrorCode = j.Fault.Detail.ErrorCode
	case j.Message != "":
		eb.Message = j.Message
	case j.Error != "":
		eb.Message = j.Error
		if j.ErrorDescription != "" {
			eb.Message += ": " + j.ErrorDescription
		}
	}
	if eb.ErrorCode == "" {
		eb.ErrorCode = rawScalar(j.ErrorCode)
	}
	eb.Details = rawScalar(j.Details)
	eb.CorrelationID = j.CorrelationID
	eb.Message = clean(eb.Message, maxMessageLen)
	eb.Details = clean(eb.Details, maxMessageLen)
	eb.ErrorCode = clean(eb.ErrorCode, maxCodeLen)
	eb.CorrelationID = clean(eb.CorrelationID, maxCodeLen)
	return eb
}

// rawScalar renders a JSON string or number; objects and arrays (details is sometimes
// structured) are kept as compact JSON.
func rawScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// clean makes outside text safe for one log line: no control characters, bounded length, valid
// UTF-8.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func newAPIError(status int, _ http.Header, body []byte) *APIError {
	eb := ParseErrorBody(body)
	return &APIError{Status: status, Message: eb.Message, ErrorCode: eb.ErrorCode,
		Details: eb.Details, CorrelationID: eb.CorrelationID}
}

// StatusOf returns the HTTP status of the APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// isKind is a shorthand used where a caller acts on one kind.
func isKind(err error, k errs.Kind) bool { return errs.KindOf(err) == k }
