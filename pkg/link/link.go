// Package link holds the durable record review ↔ ticket and the vocabulary of its two state
// machines: the ticket claim (claimed → linked, or failed for a while) and the review's one
// reply slot (none → claimed → posted | failed, or reopened after a fixable refusal).
//
// The link, never a helpdesk tag, is the source of truth for "already synced" and "already
// replied". The transitions themselves are conditional writes kept inside the store
// implementations (pkg/store, pkg/store/memstore) and proven alike by pkg/store/storetest;
// this package only names the states and answers read-only questions about a link.
package link

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// State is where the ticket of a review stands.
type State string

// Ticket states.
const (
	StateNone    State = ""        // no link yet
	StateClaimed State = "claimed" // a worker is creating the ticket
	StateLinked  State = "linked"  // the ticket exists and is recorded
	// StateFailed: set aside. Its ticket could not be made yet; the sync passes it by and the
	// set-aside pass tries it again from ClaimExpires on (never, once GivenUp).
	StateFailed State = "failed"
)

// ReplyState is where the review's one reply slot stands.
type ReplyState string

// Reply slot states.
const (
	ReplyNone    ReplyState = ""        // free
	ReplyClaimed ReplyState = "claimed" // a reply is being posted (or waits for a retry)
	ReplyPosted  ReplyState = "posted"  // Trustpilot has the reply
	ReplyFailed  ReplyState = "failed"  // refused for good; the slot stays used
)

// HeldPrefix starts the reply result of a reply the public-reply guard held back.
const HeldPrefix = "held: "

// ReplyHeld reports whether the review's reply is still free and the last reply refused was
// held by the public-reply guard (an agent's override can still send it).
func (l Link) ReplyHeld() bool {
	return l.ReplyState == ReplyNone && l.ReplyRefused != 0 && strings.HasPrefix(l.ReplyResult, HeldPrefix)
}

// Final reports whether s ends the slot (posted or refused for good).
func (s ReplyState) Final() bool { return s == ReplyPosted || s == ReplyFailed }

// Link is the durable record review ↔ ticket.
type Link struct {
	ConnectionID  string
	ReviewID      string
	Kind          review.Kind
	State         State
	Owner         string
	ClaimExpires  time.Time
	Attempts      int64
	TicketID      int64
	CustomerID    int64
	Account       string // helpdesk account key
	Reviewer      string // reviewer.Key of the reviewer's email, "" when anonymous
	ReviewVersion time.Time
	Stars         int
	ReplyState    ReplyState
	ReplyMessage  int64 // the helpdesk message that holds (or used) the reply slot
	ReplyExpires  time.Time
	ReplyOwner    string
	ReplyResult   string
	ReplyRefused  int64 // the last message refused for a fixable reason (not tried again)
	UpdatedAt     time.Time
	// LinkedAt is when the ticket was recorded (ConfirmLink); it never changes afterwards, so a
	// message on the ticket after it is activity the reply sweep must look at.
	LinkedAt time.Time

	// Set aside (State failed, or claimed again by a retry): kept until the review is linked.
	Failures  int64     // failed attempts to make its ticket
	LastError string    // the last one's error, for the operator
	GivenUp   bool      // no automatic retry any more; `pilotdesk sync ID --retry-failed` forces one
	Uncertain time.Time // when a create with an unknown outcome was sent; zero once none is pending
	Snapshot  string    // the review as read from Trustpilot (JSON), so a retry needs no Trustpilot call

	// For the guard and the report (set when the ticket is recorded): the review's creation on
	// Trustpilot, its language, and its reference (order) id — removed when the review is
	// deleted. RepliedAt is when the reply was posted; Held counts the agent replies the
	// public-reply guard held back.
	ReviewCreatedAt time.Time
	Language        string
	ReferenceID     string
	RepliedAt       time.Time
	Held            int64

	// DeletedAt is when Pilotdesk learnt the review was deleted on Trustpilot (its text and
	// personal data were removed then); zero while it exists. The link stays, so a reinstated
	// review finds its ticket again.
	DeletedAt time.Time
}

// RefusedUntil reports whether the helpdesk refused the review's ticket and the review is
// left alone at now.
func (l Link) RefusedUntil(now time.Time) bool {
	return l.State == StateFailed && l.ClaimExpires.After(now)
}

// SetAside reports whether the review waits on the set-aside list.
func (l Link) SetAside() bool {
	return l.State == StateFailed || (l.State == StateClaimed && l.Failures > 0)
}

// AsideDue reports whether the set-aside pass should try the review at now: not given up, its
// wait over (or a retry's claim expired), and it carries the review to try with.
func (l Link) AsideDue(now time.Time) bool {
	return l.SetAside() && !l.GivenUp && len(l.Snapshot) > 0 && !l.ClaimExpires.After(now)
}

// Handled reports whether messageID was already forwarded or refused, so a repeated delivery
// can be answered without reading the helpdesk. A stale link only skips this shortcut: the
// store's reply claim still decides.
func (l Link) Handled(messageID int64) bool {
	return (l.ReplyMessage == messageID && l.ReplyState.Final()) || l.ReplyRefused == messageID
}

// ClaimStatus is the outcome of claiming a review's ticket.
type ClaimStatus int

// Claim outcomes.
const (
	ClaimGranted ClaimStatus = iota + 1 // the caller owns the review until the claim expires
	ClaimLinked                         // the ticket already exists: nothing to create
	ClaimBusy                           // another worker holds a live claim
	ClaimRefused                        // the helpdesk refused it recently: skip it until ClaimExpires
)

func (s ClaimStatus) String() string {
	switch s {
	case ClaimGranted:
		return "granted"
	case ClaimLinked:
		return "linked"
	case ClaimBusy:
		return "busy"
	case ClaimRefused:
		return "refused"
	}
	return "unknown"
}

// Claim is the result of claiming a review.
type Claim struct {
	Status ClaimStatus
	// Recover is true when an earlier attempt may already have created the ticket (it crashed
	// or failed after sending the request): look the ticket up by external id before creating.
	Recover bool
	Link    Link
}

// Confirm records the ticket for a claimed review and makes the link final.
type Confirm struct {
	ConnectionID  string
	ReviewID      string
	Owner         string
	Account       string
	TicketID      int64
	CustomerID    int64
	ReviewVersion time.Time
	Stars         int
	// Reviewer is the reviewer's key (reviewer.Key of the email; "" for an anonymous review):
	// where the review's sidebar entry is, so that deleting the review can remove it.
	Reviewer string
	// What the public-reply guard and the report need of the review: its creation, language and
	// reference (order) id.
	ReviewCreatedAt time.Time
	Language        string
	ReferenceID     string
	// Recovered: the ticket was found by its external id, not created under this claim, so it
	// may be recorded even after the claim expired (no second ticket can come of it).
	Recovered bool
}

// Batch is one store write of a sync: the confirms of reviews whose tickets were just made
// and the claims of the reviews next in line, all of one connection and one owner. The store
// writes all of it or, when any confirm's claim was lost or any review to claim has a link
// already, nothing; the caller then confirms and claims one at a time, which tells which.
type Batch struct {
	ConnectionID string
	Owner        string
	Confirms     []Confirm
	Claims       []Want
	ClaimTTL     time.Duration
}

// Want is a review a Batch claims: one with no link at all yet.
type Want struct {
	ReviewID string
	Kind     review.Kind
}

// MaxBatch is how many writes (confirms and claims) one Batch may hold: DynamoDB's oldest
// transaction limit, well inside today's.
const MaxBatch = 25

// Check says what is wrong with the batch, if anything.
func (b Batch) Check() error {
	n := len(b.Confirms) + len(b.Claims)
	switch {
	case b.ConnectionID == "" || b.Owner == "":
		return errors.New("a batch needs its connection and owner")
	case n == 0 || n > MaxBatch:
		return fmt.Errorf("a batch holds 1 to %d writes, not %d", MaxBatch, n)
	case len(b.Claims) > 0 && b.ClaimTTL <= 0:
		return errors.New("a batch's claims need a lifetime")
	}
	seen := make(map[string]bool, n)
	for _, c := range b.Confirms {
		if c.ConnectionID != b.ConnectionID || c.Owner != b.Owner {
			return fmt.Errorf("confirm of review %s is not the batch's connection and owner", c.ReviewID)
		}
		if c.ReviewID == "" || seen[c.ReviewID] {
			return fmt.Errorf("review %q twice or empty in a batch", c.ReviewID)
		}
		seen[c.ReviewID] = true
	}
	for _, w := range b.Claims {
		if w.ReviewID == "" || seen[w.ReviewID] {
			return fmt.Errorf("review %q twice or empty in a batch", w.ReviewID)
		}
		seen[w.ReviewID] = true
	}
	return nil
}

// Aside sets a claimed review aside: its ticket could not be made in this attempt.
type Aside struct {
	ConnectionID string
	ReviewID     string
	Owner        string    // the claim's owner; a claim lost to another worker is left alone
	Reason       string    // the error, for the operator
	RetryAt      time.Time // when to try again; ignored when GivenUp
	GivenUp      bool
	Failed       bool      // the attempt failed (counted in Failures); false: only waiting on a look-up
	Uncertain    time.Time // non-zero: a create with an unknown outcome was sent at that time
	Settled      bool      // the last uncertain create is proven absent: forget Uncertain
	Snapshot     string    // the review (JSON), to retry it without Trustpilot; "" keeps the stored one
}

// ErrClaimLost means the caller's claim is no longer its own: it expired (and the ticket was not
// a recovered one), or another worker took the review over.
var ErrClaimLost = errors.New("claim lost to another worker")

// SlotStatus is the outcome of claiming the reply slot.
type SlotStatus int

// Reply slot claim outcomes.
const (
	SlotGranted       SlotStatus = iota + 1 // the caller may post this message
	SlotUsed                                // the slot is used (by this or another message)
	SlotBusy                                // another delivery of this message is posting right now
	SlotNoLink                              // the review has no confirmed link
	SlotRefusedBefore                       // this message was refused for a fixable reason; the slot waits for a new one
)

func (s SlotStatus) String() string {
	switch s {
	case SlotGranted:
		return "granted"
	case SlotUsed:
		return "used"
	case SlotBusy:
		return "busy"
	case SlotNoLink:
		return "no link"
	case SlotRefusedBefore:
		return "refused before"
	}
	return "unknown"
}

// SlotClaim is the result of claiming the reply slot.
type SlotClaim struct {
	Status SlotStatus
	Link   Link
}

// externalIDPrefix marks the helpdesk tickets Pilotdesk creates: external_id = prefix + review id.
const externalIDPrefix = "trustpilot:"

// ExternalID is the ticket external_id of a review.
func ExternalID(reviewID string) string { return externalIDPrefix + reviewID }

// ReviewIDOf returns the review id an external id names; ok is false when it is not ours.
func ReviewIDOf(externalID string) (reviewID string, ok bool) {
	id, ok := strings.CutPrefix(externalID, externalIDPrefix)
	return id, ok && id != ""
}
