package trustpilot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// zoneless layouts: ".999999999" makes fractional seconds optional. Trustpilot's documented
// examples carry no zone (2013-09-07T13:37:00), other sources a Z or fractional seconds
// (reference §2.2); zone-less values are UTC (§7.3).
var (
	zonedLayouts    = []string{time.RFC3339Nano}
	zonelessLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"}
)

// ParseTime parses a Trustpilot timestamp: with or without a zone (Z or an offset), with or
// without fractional seconds, or a bare date; a value without a zone is UTC. The result is UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty timestamp")
	}
	if len(s) > 40 {
		return time.Time{}, fmt.Errorf("timestamp %.40q… too long", s)
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range zonelessLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q not understood", s)
}

// FormatQueryTime formats t the way startDateTime/endDateTime are sent: UTC without a zone
// (reference §7.3), whole seconds.
func FormatQueryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// serviceJSON is the part of a private service review Pilotdesk reads (reference §2.2).
// Strings that Trustpilot sends as null decode to "".
type serviceJSON struct {
	ID       string `json:"id"`
	Consumer *struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	} `json:"consumer"`
	BusinessUnit *struct {
		ID string `json:"id"`
	} `json:"businessUnit"`
	Stars         json.Number     `json:"stars"`
	Title         string          `json:"title"`
	Text          string          `json:"text"`
	Language      string          `json:"language"`
	CreatedAt     string          `json:"createdAt"`
	UpdatedAt     string          `json:"updatedAt"`
	ReferralEmail string          `json:"referralEmail"`
	ReferenceID   string          `json:"referenceId"`
	CompanyReply  json.RawMessage `json:"companyReply"`
	Links         []linkJSON      `json:"links"`
}

type linkJSON struct {
	Href   string `json:"href"`
	Method string `json:"method"`
	Rel    string `json:"rel"`
}

// productJSON is the part of a private product review Pilotdesk reads (reference §4.2).
type productJSON struct {
	ID             string      `json:"id"`
	BusinessUnitID string      `json:"businessUnitId"`
	CreatedAt      string      `json:"createdAt"`
	UpdatedAt      string      `json:"updatedAt"`
	Stars          json.Number `json:"stars"`
	Content        string      `json:"content"`
	Language       string      `json:"language"`
	Consumer       *struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"consumer"`
	ReferenceID string `json:"referenceId"`
	Product     *struct {
		SKU  string `json:"sku"`
		Name string `json:"name"`
	} `json:"product"`
	ConversationID string     `json:"conversationId"`
	Links          []linkJSON `json:"links"`
}

// Bounds on fields that end up in tickets and indexes; review text itself is bounded only by
// the response size (Trustpilot allows long reviews and agents must see them whole).
const (
	maxIDLen    = 64
	maxShortLen = 512
)

// NormalizeServiceReview turns one private service review's JSON into a review.Review, keeping
// raw as Review.Raw. Missing id, stars or createdAt are errors; unknown fields are ignored.
func NormalizeServiceReview(raw []byte) (review.Review, error) {
	var j serviceJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return review.Review{}, fmt.Errorf("service review: %w", err)
	}
	r := review.Review{
		ID:          j.ID,
		Kind:        review.Service,
		Title:       j.Title,
		Text:        j.Text,
		Language:    short(j.Language),
		Email:       cleanEmail(j.ReferralEmail),
		ReferenceID: short(j.ReferenceID),
		HasReply:    hasObject(j.CompanyReply),
	}
	if j.Consumer != nil {
		r.ReviewerName = short(j.Consumer.DisplayName)
		r.ReviewerID = short(j.Consumer.ID)
	}
	if j.BusinessUnit != nil {
		r.BusinessUnitID = short(j.BusinessUnit.ID)
	}
	if err := fillCommon(&r, j.Stars, j.CreatedAt, j.UpdatedAt); err != nil {
		return review.Review{}, fmt.Errorf("service review %.30q: %w", j.ID, err)
	}
	r.Link = reviewLink(j.Links)
	if r.Link == "" {
		r.Link = "https://www.trustpilot.com/reviews/" + r.ID
	}
	r.Raw = append(json.RawMessage(nil), raw...)
	return r, nil
}

// NormalizeProductReview turns one private product review's JSON into a review.Review.
// Product reviews have no public page of their own, so Link stays empty unless the JSON has one.
func NormalizeProductReview(raw []byte) (review.Review, error) {
	var j productJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return review.Review{}, fmt.Errorf("product review: %w", err)
	}
	r := review.Review{
		ID:             j.ID,
		Kind:           review.Product,
		BusinessUnitID: short(j.BusinessUnitID),
		Text:           j.Content,
		Language:       short(j.Language),
		ReferenceID:    short(j.ReferenceID),
		ConversationID: short(j.ConversationID),
		// A conversation exists only once the business has started one, i.e. replied.
		HasReply: j.ConversationID != "",
		Link:     reviewLink(j.Links),
	}
	if j.Consumer != nil {
		r.ReviewerName = short(j.Consumer.Name)
		r.ReviewerID = short(j.Consumer.ID)
		r.Email = cleanEmail(j.Consumer.Email)
	}
	if j.Product != nil {
		r.ProductSKU = short(j.Product.SKU)
		r.ProductName = short(j.Product.Name)
	}
	if err := fillCommon(&r, j.Stars, j.CreatedAt, j.UpdatedAt); err != nil {
		return review.Review{}, fmt.Errorf("product review %.30q: %w", j.ID, err)
	}
	if r.ConversationID != "" && !validPathID(r.ConversationID) {
		return review.Review{}, fmt.Errorf("product review %s: invalid conversationId", r.ID)
	}
	r.Raw = append(json.RawMessage(nil), raw...)
	return r, nil
}

func fillCommon(r *review.Review, stars json.Number, created, updated string) error {
	if r.ID == "" {
		return errors.New("id missing")
	}
	if !review.ValidID(r.ID) {
		// Ids go into URLs and ticket external ids: anything else is refused, not escaped.
		return errors.New("invalid id")
	}
	if stars == "" {
		return errors.New("stars missing")
	}
	n, err := stars.Int64()
	if err != nil || n < 1 || n > 5 {
		return fmt.Errorf("stars %.10q out of range 1-5", string(stars))
	}
	r.Stars = int(n)
	if created == "" {
		return errors.New("createdAt missing")
	}
	if r.CreatedAt, err = ParseTime(created); err != nil {
		return fmt.Errorf("createdAt: %w", err)
	}
	if updated != "" {
		if r.UpdatedAt, err = ParseTime(updated); err != nil {
			return fmt.Errorf("updatedAt: %w", err)
		}
	}
	return nil
}

// hasObject reports whether raw is a JSON object (companyReply is null or one object).
func hasObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// reviewLink picks a link a person can open: an https page on trustpilot.com, not the API.
func reviewLink(links []linkJSON) string {
	for _, l := range links {
		u, err := url.Parse(l.Href)
		if err != nil || u.Scheme != "https" || u.User != nil {
			continue
		}
		h := strings.ToLower(u.Hostname())
		if (h == "trustpilot.com" || strings.HasSuffix(h, ".trustpilot.com")) && !strings.HasPrefix(h, "api.") &&
			len(l.Href) <= maxShortLen {
			return l.Href
		}
	}
	return ""
}

// cleanEmail keeps an address only when it parses as one bare address: it becomes a helpdesk
// customer, and a wrong one is worse than the anonymous customer.
func cleanEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return ""
	}
	return s
}

// short bounds a field that should be short; longer values are cut, not refused, because a
// long name should not cost the reviewer their ticket.
func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxShortLen {
		return clean(s, maxShortLen)
	}
	return s
}
