package gorgias

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// DataKey is the key of Pilotdesk's part of a customer's custom data.
const DataKey = "trustpilot"

// DefaultDataCap bounds Pilotdesk's part (§9.3: under 200 kB, well under the 250 kB we assume
// Gorgias allows for the whole object).
const DefaultDataCap = 200_000

// ReviewEntry is one review as agents see it in the customer sidebar.
type ReviewEntry struct {
	ReviewID    string    `json:"review_id"`
	Kind        string    `json:"kind,omitempty"`
	Stars       int       `json:"stars"`
	Title       string    `json:"title,omitempty"`
	Text        string    `json:"text,omitempty"`
	URL         string    `json:"url,omitempty"`
	ProductName string    `json:"product_name,omitempty"`
	ProductSKU  string    `json:"product_sku,omitempty"`
	ReferenceID string    `json:"reference_id,omitempty"`
	TicketID    int64     `json:"ticket_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// ReviewData is Pilotdesk's part of the customer data: reviews newest first.
type ReviewData struct {
	Reviews []ReviewEntry `json:"reviews"`
	Total   int           `json:"total"`             // reviews ever recorded, trimmed ones included
	Trimmed int           `json:"trimmed,omitempty"` // older reviews dropped to respect the cap
}

// EntryFromReview builds the sidebar entry of a review and its ticket.
func EntryFromReview(r review.Review, ticketID int64) ReviewEntry {
	return ReviewEntry{
		ReviewID: r.ID, Kind: string(r.Kind), Stars: r.Stars, Title: r.Title, Text: r.Text, URL: r.Link,
		ProductName: r.ProductName, ProductSKU: r.ProductSKU, ReferenceID: r.ReferenceID, TicketID: ticketID,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// DecodeReviewData reads Pilotdesk's part; absent or null gives an empty one.
func DecodeReviewData(raw json.RawMessage) (ReviewData, error) {
	var d ReviewData
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return d, nil
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return ReviewData{}, errs.E(errs.Invalid, "gorgias.DecodeReviewData", err)
	}
	return d, nil
}

// UpsertReview puts e into Pilotdesk's part old (replacing an entry with the same review id, as
// after an edit), keeps entries newest first by creation, and drops the oldest until the
// marshalled part is at most capBytes (DefaultDataCap when capBytes <= 0). A lone entry larger
// than the cap has its text cut. A part that is not ours to read (corrupted by hand) is started
// afresh: the key is Pilotdesk's.
func UpsertReview(old json.RawMessage, e ReviewEntry, capBytes int) (json.RawMessage, error) {
	return UpsertReviews(old, []ReviewEntry{e}, capBytes)
}

// UpsertReviews is UpsertReview for several entries at once.
func UpsertReviews(old json.RawMessage, entries []ReviewEntry, capBytes int) (json.RawMessage, error) {
	const op = "gorgias.UpsertReview"
	if capBytes <= 0 {
		capBytes = DefaultDataCap
	}
	d, err := DecodeReviewData(old)
	if err != nil {
		d = ReviewData{}
	}
	byID := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e.ReviewID == "" {
			return nil, errs.E(errs.Invalid, op, errors.New("review id is required"))
		}
		byID[e.ReviewID] = true
	}
	kept := d.Reviews[:0:0]
	for _, r := range d.Reviews {
		if byID[r.ReviewID] {
			delete(byID, r.ReviewID) // not new: replaced below
			continue
		}
		kept = append(kept, r)
	}
	d.Total += len(byID)
	seen := map[string]bool{}
	for _, e := range entries {
		if !seen[e.ReviewID] {
			seen[e.ReviewID] = true
			kept = append(kept, e)
		}
	}
	d.Total = max(d.Total, len(kept)+d.Trimmed)
	sort.SliceStable(kept, func(i, j int) bool {
		if !kept[i].CreatedAt.Equal(kept[j].CreatedAt) {
			return kept[i].CreatedAt.After(kept[j].CreatedAt)
		}
		return kept[i].ReviewID > kept[j].ReviewID
	})
	d.Reviews = kept
	return trimToCap(d, capBytes)
}

// RemoveReview takes a review's entry out of Pilotdesk's part (the review was deleted on
// Trustpilot: its text must go). The total keeps counting it; a part without the entry comes
// back unchanged.
func RemoveReview(old json.RawMessage, reviewID string, capBytes int) (json.RawMessage, error) {
	d, err := DecodeReviewData(old)
	if err != nil {
		d = ReviewData{}
	}
	kept := d.Reviews[:0:0]
	for _, r := range d.Reviews {
		if r.ReviewID != reviewID {
			kept = append(kept, r)
		}
	}
	d.Reviews = kept
	if capBytes <= 0 {
		capBytes = DefaultDataCap
	}
	return trimToCap(d, capBytes)
}

// trimToCap drops the oldest entries until d fits, measuring each entry once.
func trimToCap(d ReviewData, capBytes int) (json.RawMessage, error) {
	const op = "gorgias.UpsertReview"
	sizes := make([]int, len(d.Reviews))
	sum := 0
	for i, r := range d.Reviews {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, errs.E(errs.Invalid, op, err)
		}
		sizes[i] = len(b)
		sum += len(b) + 1 // the comma
	}
	// Drop from the end while the estimate is over; the exact check below settles the rest.
	for len(d.Reviews) > 1 {
		shell, _ := json.Marshal(ReviewData{Reviews: []ReviewEntry{}, Total: d.Total, Trimmed: d.Trimmed + 1})
		if len(shell)+sum-1 <= capBytes {
			break
		}
		n := len(d.Reviews) - 1
		sum -= sizes[n] + 1
		d.Reviews = d.Reviews[:n]
		d.Trimmed++
	}
	for {
		b, err := json.Marshal(d)
		if err != nil {
			return nil, errs.E(errs.Invalid, op, err)
		}
		if len(b) <= capBytes {
			return b, nil
		}
		if len(d.Reviews) > 1 {
			d.Reviews = d.Reviews[:len(d.Reviews)-1]
			d.Trimmed++
			continue
		}
		if len(d.Reviews) == 1 && (d.Reviews[0].Text != "" || d.Reviews[0].Title != "") {
			r := &d.Reviews[0]
			field := &r.Text
			if r.Text == "" {
				field = &r.Title
			}
			*field = cutJSON(*field, jsonLen(*field)-(len(b)-capBytes))
			continue
		}
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("a review entry does not fit in %d bytes", capBytes))
	}
}

func jsonLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b)
}

// cutJSON returns the longest prefix of s (on a rune boundary, marked with "…") whose JSON
// encoding fits in budget bytes: escaping makes JSON length and text length differ.
func cutJSON(s string, budget int) string {
	lo, hi := 0, len(s) // the answer's prefix length is in [lo, hi)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		for mid > 0 && mid < len(s) && !utf8.RuneStart(s[mid]) {
			mid--
		}
		if mid <= lo {
			break
		}
		if jsonLen(s[:mid]+"…") <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for lo > 0 && lo < len(s) && !utf8.RuneStart(s[lo]) {
		lo--
	}
	if lo == 0 {
		return ""
	}
	return s[:lo] + "…"
}
