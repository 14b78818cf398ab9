package trustpilot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// DeletionsLimit is the page size asked of the Deletions API (its maximum, reference §8).
const DeletionsLimit = 1000

// Deletions is one page of the Deletions API: the ids of reviews deleted in the window asked.
type Deletions struct {
	IDs  []string
	Next string // the page token of the next page; "" after the last
}

// ListDeletedReviews reads one page of GET /v1/reviews/deletions for the window [from, to)
// (API key only). Trustpilot's docs say the data of the reviews it returns must be deleted.
func (c *Client) ListDeletedReviews(ctx context.Context, from, to time.Time, next string) (Deletions, error) {
	const op = "trustpilot.ListDeletedReviews"
	q := url.Values{"startDate": {from.UTC().Format(time.RFC3339)}, "endDate": {to.UTC().Format(time.RFC3339)},
		"limit": {strconv.Itoa(DeletionsLimit)}}
	if next != "" {
		q.Set("nextToken", next)
	}
	h := http.Header{}
	h.Set("apikey", c.cfg.Credentials.APIKey)
	body, err := c.call(ctx, request{op: op, method: http.MethodGet, path: "/v1/reviews/deletions?" + q.Encode(), header: h})
	if err != nil {
		return Deletions{}, err
	}
	return ParseDeletions(body)
}

// ParseDeletions reads a Deletions API answer. Its shape is not documented (reference §8 gives
// the parameters only), so it is read tolerantly: the list under "reviews", "deletions",
// "items" or "data", each entry an id string or an object with "id" or "reviewId"; the next
// page's token under "nextToken", "nextPageToken" or "next". Entries without a valid id are
// skipped; a body that is none of these is errs.Invalid.
func ParseDeletions(body []byte) (Deletions, error) {
	const op = "trustpilot.ParseDeletions"
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil || top == nil {
		return Deletions{}, errs.E(errs.Invalid, op, errors.New("not a JSON object"))
	}
	var list []json.RawMessage
	found := false
	for _, k := range []string{"reviews", "deletions", "items", "data"} {
		if raw, ok := top[k]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				return Deletions{}, errs.E(errs.Invalid, op, fmt.Errorf("%q is not a list", k))
			}
			found = true
			break
		}
	}
	if !found {
		return Deletions{}, errs.E(errs.Invalid, op, errors.New("no list of deleted reviews"))
	}
	var out Deletions
	for _, raw := range list {
		var id string
		if json.Unmarshal(raw, &id) != nil {
			var obj struct {
				ID       string `json:"id"`
				ReviewID string `json:"reviewId"`
			}
			if json.Unmarshal(raw, &obj) != nil {
				continue
			}
			id = obj.ID
			if id == "" {
				id = obj.ReviewID
			}
		}
		if review.ValidID(id) {
			out.IDs = append(out.IDs, id)
		}
	}
	for _, k := range []string{"nextToken", "nextPageToken", "next"} {
		var tok string
		if raw, ok := top[k]; ok && json.Unmarshal(raw, &tok) == nil && tok != "" {
			out.Next = tok
			break
		}
	}
	return out, nil
}
