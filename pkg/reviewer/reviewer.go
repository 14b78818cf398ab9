// Package reviewer is what Pilotdesk keeps of a reviewer for the helpdesk's sidebar: one entry
// per review, indexed by a hash of the reviewer's email within a helpdesk account (never the
// email itself), so the sidebar is answered from the table alone and a deleted review's entry
// can be removed.
package reviewer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Key names a reviewer by email: the same for every spelling of the address's case and
// surrounding space; "" for no email.
func Key(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return ""
	}
	h := sha256.Sum256([]byte("pilotdesk-reviewer\x00" + e))
	return hex.EncodeToString(h[:16])
}

// ExcerptLen bounds an entry's text, in characters.
const ExcerptLen = 280

// Entry is one review as the sidebar shows it.
type Entry struct {
	ReviewID       string    `json:"review_id"`
	ConnectionID   string    `json:"connection_id"`
	BusinessUnitID string    `json:"business_unit_id,omitempty"`
	Kind           string    `json:"kind"`
	Stars          int       `json:"stars"`
	Title          string    `json:"title,omitempty"`
	Excerpt        string    `json:"excerpt,omitempty"`
	ProductName    string    `json:"product,omitempty"`
	ProductSKU     string    `json:"sku,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Link           string    `json:"link,omitempty"`
	TicketID       int64     `json:"ticket_id"`
}

// EntryOf is the entry of a review linked to a ticket.
func EntryOf(connID string, rv review.Review, ticketID int64) Entry {
	return Entry{
		ReviewID: rv.ID, ConnectionID: connID, BusinessUnitID: rv.BusinessUnitID, Kind: string(rv.Kind), Stars: rv.Stars,
		Title: rv.Title, Excerpt: Excerpt(rv.Text, ExcerptLen), ProductName: rv.ProductName, ProductSKU: rv.ProductSKU,
		CreatedAt: rv.CreatedAt, Link: rv.Link, TicketID: ticketID,
	}
}

// Excerpt is s with its spaces folded, cut to n characters at a word where it can.
func Excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n])
	if i := strings.LastIndexByte(cut, ' '); i > len(cut)/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

// Marshal is the entry as stored.
func (e Entry) Marshal() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// Unmarshal reads a stored entry.
func Unmarshal(s string) (Entry, error) {
	var e Entry
	err := json.Unmarshal([]byte(s), &e)
	return e, err
}

// Record is an entry as the index stores it: under its reviewer, by review id.
type Record struct {
	Reviewer, ReviewID, Entry string
}
