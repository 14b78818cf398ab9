package trustpilot

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

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
			if _, err := c.followable(l.Href, c.serviceListPath()); err != nil {
				return ServicePage{}, errs.E(errs.Invalid, op, fmt.Errorf("next-page link: %w", err))
			}
			if l.Href != next {
				page.Next = l.Href
			}
			break
		}
	}
	return page, nil
}

// followable turns a server-sent href into a path on our base URL. Only the path and query are
// used, and the path must be the list we asked for: the bearer token must never follow a link to
// another host or resource.
func (c *Client) followable(href, wantPath string) (string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("unreadable link: %w", err)
	}
	if u.Path != wantPath {
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
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return ProductPage{}, errs.E(errs.Invalid, op, fmt.Errorf("decoding product review list: %w", err))
	}
	p := ProductPage{Page: page, More: len(j.ProductReviews) >= PerPage}
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
