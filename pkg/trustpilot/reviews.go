package trustpilot

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// trustpilotAPIHost is the public API's host: next-page links may name it even when a deployment
// (or a test) talks to another base URL.
const trustpilotAPIHost = "api.trustpilot.com"

// PerPage is the page size for both review lists: Trustpilot's maximum (reference §2.1, §7.5).
const PerPage = 100

// Rejected is a review in a page that could not be normalised. It is reported, not fatal: one
// bad review must not block the others (the caller logs it or parks it for a human).
type Rejected struct {
	ID  string // as far as it could be read
	Raw json.RawMessage
	Err error
}

// ServicePage is one page of service reviews, oldest first.
type ServicePage struct {
	Reviews  []review.Review
	Rejected []Rejected
	// Next is the next-page href ("" when done). It is the resumable checkpoint: passing it to
	// ListServiceReviews continues after this page.
	Next string
}

// ProductPage is one page of product reviews.
type ProductPage struct {
	Reviews  []review.Review
	Rejected []Rejected
	Page     int
	More     bool // false once a page comes back short (reference §7.5)
}

func (c *Client) serviceListPath() string {
	return "/v1/private/business-units/" + c.cfg.Credentials.BusinessUnitID + "/reviews"
}

// ListServiceReviews returns one page of the business unit's private service reviews. With
// next == "" it starts at since (createdAt ≥ since; zero means from the beginning), oldest first,
// PerPage a page; otherwise it follows next, a ServicePage.Next from an earlier call.
func (c *Client) ListServiceReviews(ctx context.Context, since time.Time, next string) (ServicePage, error) {
	const op = "trustpilot.ListServiceReviews"
	var path string
	if next == "" {
		q := url.Values{}
		if !since.IsZero() {
			q.Set("startDateTime", FormatQueryTime(since))
		}
		q.Set("orderBy", "createdat.asc")
		q.Set("perPage", strconv.Itoa(PerPage))
		q.Set("page", "1")
		path = c.serviceListPath() + "?" + q.Encode()
	} else {
		p, err := c.followable(next, c.serviceListPath())
		if err != nil {
			return ServicePage{}, errs.E(errs.Invalid, op, err)
		}
		path = p
	}
	pageNo := pageOf(path)
	body, err := c.call(ctx, request{op: op, method: "GET", path: path, auth: true})
	if err != nil {
		return ServicePage{}, err
	}
	var j struct {
		Links   []linkJSON        `json:"links"`
		Reviews []json.RawMessage `json:"reviews"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return ServicePage{}, errs.E(errs.Invalid, op, fmt.Errorf("decoding review list: %w", err))
	}
	var page ServicePage
	page.Reviews, page.Rejected = c.normalizeAll(j.Reviews, NormalizeServiceReview)
	if len(j.Reviews) == 0 {
		// A page past the end is empty (reference §2.1): whatever its links say, we are done.
		return page, nil
	}
	for _, l := range j.Links {
		if l.Rel == "next-page" && (l.Method == "" || l.Method == "GET") {
			p, err := c.followable(l.Href, c.serviceListPath())
			if err != nil || pageOf(p) <= pageNo {
				// An href we cannot use (another host, an odd spelling, no page number) does not
				// stop the sync: the next page number with our own query reads the same list.
				c.log.Warn("trustpilot: next-page link not usable; continuing by page number", "href", clean(l.Href, 200), "err", err)
				p = c.servicePath(path, pageNo+1)
			}
			if p != next {
				page.Next = p
			}
			break
		}
	}
	return page, nil
}

// pageOf reads the page number of a list path (1 when it has none).
func pageOf(path string) int {
	u, err := url.Parse(path)
	if err != nil {
		return 1
	}
	n, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// servicePath is path (ours) with another page number.
func (c *Client) servicePath(path string, page int) string {
	u, err := url.Parse(path)
	if err != nil {
		return c.serviceListPath() + "?page=" + strconv.Itoa(page)
	}
	q := u.Query()
	q.Set("page", strconv.Itoa(page))
	if q.Get("perPage") == "" {
		q.Set("perPage", strconv.Itoa(PerPage))
	}
	return c.serviceListPath() + "?" + q.Encode()
}

// followable turns a server-sent href into a path on our base URL. Only the path and query are
// used, and the path must be the list we asked for: the bearer token must never follow a link to
// another host or resource.
//
// Accepted spellings (reference §2.1 leaves them open): absolute on our API host or Trustpilot's,
// a path from the root, a path relative to the list, a trailing slash, other letter case.
func (c *Client) followable(href, wantPath string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		return "", fmt.Errorf("unreadable link: %w", err)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, c.base.Host) && !strings.EqualFold(u.Hostname(), trustpilotAPIHost) {
		return "", fmt.Errorf("link to another host %.100q", u.Host)
	}
	if u.Scheme != "" && u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("link with scheme %.20q", u.Scheme)
	}
	path := u.Path
	if !strings.HasPrefix(path, "/") {
		path = (&url.URL{Path: wantPath}).ResolveReference(&url.URL{Path: path}).Path
	}
	if !strings.EqualFold(strings.TrimSuffix(path, "/"), wantPath) {
		return "", fmt.Errorf("link to unexpected path %.100q", u.Path)
	}
	// Our own path, not the link's spelling of it: an escaped variant cannot reach elsewhere.
	return wantPath + "?" + u.RawQuery, nil
}

// ServicePages iterates over service-review pages from since (or from checkpoint, a
// ServicePage.Next). Each page's Next is the checkpoint to store before handling the next page.
// Iteration stops after the last page or the first error, which is yielded.
func (c *Client) ServicePages(ctx context.Context, since time.Time, checkpoint string) iter.Seq2[ServicePage, error] {
	return func(yield func(ServicePage, error) bool) {
		next := checkpoint
		for {
			p, err := c.ListServiceReviews(ctx, since, next)
			if err != nil {
				yield(ServicePage{}, err)
				return
			}
			if !yield(p, nil) || p.Next == "" {
				return
			}
			next = p.Next
		}
	}
}

// ListProductReviews returns page (from 1) of the business unit's product reviews. The API has
// no date filter and no documented order, so callers page through all and deduplicate by id.
func (c *Client) ListProductReviews(ctx context.Context, page int) (ProductPage, error) {
	const op = "trustpilot.ListProductReviews"
	if page < 1 {
		return ProductPage{}, errs.E(errs.Invalid, op, fmt.Errorf("page %d < 1", page))
	}
	q := url.Values{}
	q.Set("page", strconv.Itoa(page))
	q.Set("perPage", strconv.Itoa(PerPage))
	path := "/v1/private/product-reviews/business-units/" + c.cfg.Credentials.BusinessUnitID + "/reviews?" + q.Encode()
	body, err := c.call(ctx, request{op: op, method: "GET", path: path, auth: true})
	if err != nil {
		return ProductPage{}, err
	}
	var j struct {
		ProductReviews []json.RawMessage `json:"productReviews"`
		Links          []linkJSON        `json:"links"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return ProductPage{}, errs.E(errs.Invalid, op, fmt.Errorf("decoding product review list: %w", err))
	}
	// Whether another page follows: the API's own links when it sends them; otherwise any page
	// with reviews, since Trustpilot may cap perPage below what we asked (reference §4) and a
	// short page is then not the last. The cost is one empty page at the end of a scan.
	more := len(j.ProductReviews) > 0
	if j.Links != nil {
		more = false
		for _, l := range j.Links {
			more = more || l.Rel == "next-page"
		}
	}
	p := ProductPage{Page: page, More: more}
	p.Reviews, p.Rejected = c.normalizeAll(j.ProductReviews, NormalizeProductReview)
	return p, nil
}

func (c *Client) normalizeAll(raws []json.RawMessage, norm func([]byte) (review.Review, error)) ([]review.Review, []Rejected) {
	out := make([]review.Review, 0, len(raws))
	var bad []Rejected
	for _, raw := range raws {
		r, err := norm(raw)
		if err != nil {
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &id)
			id.ID = clean(id.ID, maxIDLen)
			c.log.Warn("trustpilot: review skipped", "review_id", id.ID, "err", err)
			bad = append(bad, Rejected{ID: id.ID, Raw: raw, Err: errs.E(errs.Invalid, "trustpilot.normalize", err)})
			continue
		}
		out = append(out, r)
	}
	return out, bad
}

// GetServiceReview reads one private service review.
func (c *Client) GetServiceReview(ctx context.Context, id string) (review.Review, error) {
	const op = "trustpilot.GetServiceReview"
	return c.getReview(ctx, op, "/v1/private/reviews/", id, NormalizeServiceReview)
}

// GetProductReview reads one private product review.
func (c *Client) GetProductReview(ctx context.Context, id string) (review.Review, error) {
	const op = "trustpilot.GetProductReview"
	return c.getReview(ctx, op, "/v1/private/product-reviews/", id, NormalizeProductReview)
}

func (c *Client) getReview(ctx context.Context, op, prefix, id string, norm func([]byte) (review.Review, error)) (review.Review, error) {
	if !review.ValidID(id) {
		return review.Review{}, errs.E(errs.Invalid, op, fmt.Errorf("invalid review id %.30q", id))
	}
	body, err := c.call(ctx, request{op: op, method: "GET", path: prefix + id, auth: true})
	if err != nil {
		return review.Review{}, err
	}
	r, err := norm(body)
	if err != nil {
		return review.Review{}, errs.E(errs.Invalid, op, err)
	}
	if r.ID != id {
		return review.Review{}, errs.E(errs.Invalid, op, fmt.Errorf("asked for review %s, got %s", id, r.ID))
	}
	return r, nil
}
