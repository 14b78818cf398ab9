// Package review holds the one domain type every Trustpilot review is normalised into, service
// and product alike, so that sync, tickets and replies never look at Trustpilot's JSON shapes.
package review

import (
	"encoding/json"
	"regexp"
	"time"
)

// Kind is the kind of Trustpilot review.
type Kind string

// The review kinds Trustpilot has.
const (
	Service Kind = "service"
	Product Kind = "product"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Service || k == Product }

var idPattern = regexp.MustCompile(`^[a-f0-9]{24}$`)

// ValidID reports whether id looks like a Trustpilot id (24 lowercase hex).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Review is a Trustpilot review of either kind.
type Review struct {
	ID             string    `json:"id"`
	Kind           Kind      `json:"kind"`
	BusinessUnitID string    `json:"business_unit_id,omitempty"`
	Stars          int       `json:"stars"`
	Title          string    `json:"title,omitempty"` // service reviews only
	Text           string    `json:"text"`            // service `text` or product `content`
	Language       string    `json:"language,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"` // zero when never edited
	ReviewerName   string    `json:"reviewer_name,omitempty"`
	ReviewerID     string    `json:"reviewer_id,omitempty"`
	Email          string    `json:"email,omitempty"` // referralEmail (service) or consumer.email (product)
	ReferenceID    string    `json:"reference_id,omitempty"`
	ProductSKU     string    `json:"product_sku,omitempty"`
	ProductName    string    `json:"product_name,omitempty"`
	Link           string    `json:"link,omitempty"`
	HasReply       bool      `json:"has_reply"`
	ConversationID string    `json:"conversation_id,omitempty"` // product reviews

	// Raw is the review as Trustpilot sent it, kept for the ticket sidebar.
	Raw json.RawMessage `json:"-"`
}

// Version is the time that identifies the review's current content: its last edit, or its
// creation when it was never edited. Sync compares versions to notice edits.
func (r Review) Version() time.Time {
	if r.UpdatedAt.After(r.CreatedAt) {
		return r.UpdatedAt
	}
	return r.CreatedAt
}
