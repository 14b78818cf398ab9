// Package memstore is an in-memory stand-in for the DynamoDB store (pkg/store), for the use
// cases' tests: same methods, same conditional rules, same error kinds and the same values
// back, down to how times are truncated. pkg/store/storetest runs the same suite against both,
// so a rule that holds here holds on DynamoDB.
//
// Items are kept the way the DynamoDB store writes them (claim, reply and lease expiries as
// Unix milliseconds, other times as the store's fixed-width strings, connections as their
// JSON document) and decoded on the way out, so callers always get copies.
package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/ledger"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/token"
)

// Store is the in-memory store. One mutex guards everything: each method is one atomic step,
// as each DynamoDB conditional write is.
type Store struct {
	d   *data
	now func() time.Time
}

type data struct {
	mu      sync.Mutex
	conns   map[string]*connItem
	links   map[linkKey]*linkItem
	cursors map[cursorKey]*cursorItem
	tokens  map[string]tokenItem
	leases  map[string]leaseItem
	once    map[string]int64 // key -> until, Unix ms
	custs   map[custKey]map[string]string
	revs    map[[2]string]map[string]string // account, reviewer → review id → entry
	slots   map[string]time.Time            // helpdesk account → next free call slot
	parked  map[string]map[string]string    // helpdesk account → job id → body
	calls   map[string]map[string]int       // API key hash → minute or day bucket → calls
}

type custKey struct {
	account string
	id      int64
}

type linkKey struct{ conn, review string }

type cursorKey struct {
	conn string
	kind review.Kind
}

// New returns an empty store on the real clock.
func New() *Store {
	return &Store{now: time.Now, d: &data{
		conns:   map[string]*connItem{},
		links:   map[linkKey]*linkItem{},
		cursors: map[cursorKey]*cursorItem{},
		tokens:  map[string]tokenItem{},
		leases:  map[string]leaseItem{},
		once:    map[string]int64{},
		custs:   map[custKey]map[string]string{},
		revs:    map[[2]string]map[string]string{},
		slots:   map[string]time.Time{},
		parked:  map[string]map[string]string{},
		calls:   map[string]map[string]int{},
	}}
}

// WithClock returns a view of the same data that reads time from now (tests of expiry), as
// store.Store.WithClock does.
func (s *Store) WithClock(now func() time.Time) *Store {
	return &Store{d: s.d, now: now}
}

func (s *Store) lock() func() {
	s.d.mu.Lock()
	return s.d.mu.Unlock
}

// The DynamoDB store's time encodings, copied so that both stores hand back equal values.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(timeFormat, s)
	return t
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// msTime mirrors the DynamoDB store: 0 (released or removed) reads back as the zero time.
func msTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// errNotFound stands for store.ErrNotFound without importing the DynamoDB adapter.
var errNotFound = errors.New("not found")

// live reports a cancelled or expired context the way the DynamoDB store classifies the SDK's
// error for it, so use cases see the same kind on either store.
func live(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return errs.E(errs.Transient, op, err)
	}
	return nil
}

// emptyKey mirrors DynamoDB's refusal of an empty string as a key (a ValidationException,
// which the DynamoDB store leaves unclassified): an empty id is a caller's bug either way.
func emptyKey(op, what string) error {
	return errs.E(errs.Other, op, fmt.Errorf("%s: a key attribute cannot be an empty string", what))
}

// ---- connections ----

type connItem struct {
	doc          []byte
	updatedAt    string
	needsReauth  bool
	reauthReason string
	deleted      bool
}

// PutConnection creates or replaces a connection (replacing clears its reauth flag and any
// tombstone, as the DynamoDB PutItem does). Secrets must already be removed.
func (s *Store) PutConnection(ctx context.Context, c connection.Connection) error {
	const op = "store.PutConnection"
	if c.Helpdesk.APIKey != "" || c.Trustpilot.APIKey != "" || c.Trustpilot.APISecret != "" || c.Trustpilot.RefreshToken != "" || c.Trustpilot.WebhookSecret != "" {
		return errs.E(errs.Invalid, op, fmt.Errorf("connection %s still holds secrets; split them off first", c.ID))
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := live(ctx, op); err != nil {
		return err
	}
	if c.ID == "" {
		return emptyKey(op, "connection id")
	}
	defer s.lock()()
	s.d.conns[c.ID] = &connItem{doc: doc, updatedAt: fmtTime(s.now())}
	return nil
}

func (c *connItem) record() (connection.Record, error) {
	var conn connection.Connection
	if err := json.Unmarshal(c.doc, &conn); err != nil {
		return connection.Record{}, errs.E(errs.Invalid, "store.decodeConnection", err)
	}
	return connection.Record{Connection: conn, NeedsReauth: c.needsReauth, ReauthReason: c.reauthReason,
		UpdatedAt: parseTime(c.updatedAt), Deleted: c.deleted}, nil
}

// GetConnection returns one connection (errs.NotExist when absent or deleted).
func (s *Store) GetConnection(ctx context.Context, id string) (connection.Record, error) {
	r, err := s.GetConnectionForReplies(ctx, id)
	if err == nil && r.Deleted {
		return connection.Record{}, errs.E(errs.NotExist, "store.GetConnection", fmt.Errorf("connection %s: deleted", id))
	}
	return r, err
}

// GetConnectionForReplies returns a connection even when it was deleted without purge.
func (s *Store) GetConnectionForReplies(ctx context.Context, id string) (connection.Record, error) {
	const op = "store.GetConnection"
	if err := live(ctx, op); err != nil {
		return connection.Record{}, fmt.Errorf("connection %s: %w", id, err)
	}
	if id == "" {
		return connection.Record{}, fmt.Errorf("connection %s: %w", id, emptyKey(op, "connection id"))
	}
	defer s.lock()()
	c, ok := s.d.conns[id]
	if !ok {
		return connection.Record{}, fmt.Errorf("connection %s: %w", id, errs.E(errs.NotExist, op, errNotFound))
	}
	return c.record()
}

// ListConnections returns every connection not deleted, ordered by id; nil when there are none.
func (s *Store) ListConnections(ctx context.Context) ([]connection.Record, error) {
	if err := live(ctx, "store.ListConnections"); err != nil {
		return nil, err
	}
	defer s.lock()()
	ids := make([]string, 0, len(s.d.conns))
	for id := range s.d.conns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []connection.Record
	for _, id := range ids {
		r, err := s.d.conns[id].record()
		if err != nil {
			return nil, err
		}
		if !r.Deleted {
			out = append(out, r)
		}
	}
	return out, nil
}

// SetReauth marks a connection (tombstones included) as needing a human to re-authorise it.
func (s *Store) SetReauth(ctx context.Context, id string, needs bool, reason string) error {
	const op = "store.SetReauth"
	if err := live(ctx, op); err != nil {
		return err
	}
	if id == "" {
		return emptyKey(op, "connection id")
	}
	defer s.lock()()
	c, ok := s.d.conns[id]
	if !ok {
		return errs.E(errs.NotExist, op, fmt.Errorf("connection %s: %w", id, errNotFound))
	}
	c.needsReauth, c.reauthReason = needs, reason
	return nil
}

// DeleteConnection removes a connection's cursors. Without purge its links, its cached token,
// the sidebar entries of its reviews and a tombstone stay, so replies on existing tickets keep
// working; with purge all of it goes, and of the sidebar's entries exactly those its reviews
// wrote (entries other connections' reviews wrote under the same reviewers stay).
func (s *Store) DeleteConnection(ctx context.Context, id string, purge bool) error {
	rec, err := s.GetConnectionForReplies(ctx, id)
	if err != nil {
		return err
	}
	if rec.Deleted && !purge {
		return errs.E(errs.NotExist, "store.DeleteConnection", fmt.Errorf("connection %s: already deleted", id))
	}
	unlock := s.lock()
	if c, ok := s.d.conns[id]; ok && !c.deleted {
		c.deleted, c.updatedAt = true, fmtTime(s.now())
	}
	unlock()
	if err := s.waitForSync(ctx, rec.Connection); err != nil {
		if rec.Deleted {
			return err
		}
		unlock := s.lock() // nothing is deleted yet: the connection stays as it was
		if c, ok := s.d.conns[id]; ok {
			c.deleted = false
		}
		unlock()
		return fmt.Errorf("connection %s not deleted: %w", id, err)
	}
	defer s.lock()()
	if c, ok := s.d.conns[id]; !ok {
		return errs.E(errs.NotExist, "store.GetConnection", fmt.Errorf("connection %s: deleted meanwhile", id))
	} else if !c.deleted {
		return errs.E(errs.Conflict, "store.DeleteConnection", fmt.Errorf("connection %s was put again while its delete waited for its sync: not deleted", id))
	}
	for k := range s.d.cursors {
		if k.conn == id {
			delete(s.d.cursors, k)
		}
	}
	if !purge {
		return nil
	}
	delete(s.d.tokens, id)
	delete(s.d.conns, id)
	for k := range s.d.links {
		if k.conn == id {
			delete(s.d.links, k)
		}
	}
	for k, entries := range s.d.revs {
		for rid, entry := range entries {
			if e, err := reviewer.Unmarshal(entry); err == nil && e.ConnectionID == id {
				delete(entries, rid)
			}
		}
		if len(entries) == 0 {
			delete(s.d.revs, k)
		}
	}
	return nil
}

// ---- links ----

// linkItem holds a link's attributes as the DynamoDB store writes them.
type linkItem struct {
	connectionID  string
	kind          review.Kind
	state         link.State
	owner         string
	claimExpires  int64 // Unix ms; 0 once released or removed
	attempts      int64
	ticketID      int64
	customerID    int64
	reviewer      string
	account       string
	reviewVersion string // fixed-width time string, compared as a string like on DynamoDB
	stars         int
	indexed       bool // on the ticket index (gsi1), set by ConfirmLink
	aside         bool // on the set-aside index (gsi1 too), until ConfirmLink
	failures      int64
	lastError     string
	givenUp       bool
	uncertainAt   int64 // Unix ms; 0 = none
	snapshot      string
	deletedAt     string
	replyState    link.ReplyState
	replyMessage  int64
	replyExpires  int64 // Unix ms
	replyOwner    string
	replyResult   string
	replyRefused  int64
	hasRefused    bool // reply_refused_id exists: message id 0 must not count as refused
	updatedAt     string
	linkedAt      string
	reviewCreated string
	language      string
	referenceID   string
	repliedAt     string
	held          int64
}

func (l *linkItem) decode(reviewID string) link.Link {
	return link.Link{
		ConnectionID:  l.connectionID,
		ReviewID:      reviewID,
		Kind:          l.kind,
		State:         l.state,
		Owner:         l.owner,
		ClaimExpires:  msTime(l.claimExpires),
		Attempts:      l.attempts,
		TicketID:      l.ticketID,
		CustomerID:    l.customerID,
		Reviewer:      l.reviewer,
		Account:       l.account,
		ReviewVersion: parseTime(l.reviewVersion),
		Stars:         l.stars,
		ReplyState:    l.replyState,
		ReplyMessage:  l.replyMessage,
		ReplyExpires:  msTime(l.replyExpires),
		ReplyOwner:    l.replyOwner,
		ReplyResult:   l.replyResult,
		ReplyRefused:  l.replyRefused,
		UpdatedAt:     parseTime(l.updatedAt),
		LinkedAt:      parseTime(l.linkedAt),
		Failures:      l.failures,
		LastError:     l.lastError,
		GivenUp:       l.givenUp,
		Uncertain:     msTime(l.uncertainAt),
		Snapshot:      l.snapshot,
		DeletedAt:     parseTime(l.deletedAt),

		ReviewCreatedAt: parseTime(l.reviewCreated),
		Language:        l.language,
		ReferenceID:     l.referenceID,
		RepliedAt:       parseTime(l.repliedAt),
		Held:            l.held,
	}
}

// givenUpMs is the DynamoDB store's claim expiry of a review given up.
const givenUpMs = 253402300799000

// ClaimReview takes the right to create the ticket for a review: granted when no link exists
// or the previous claim (or failure's wait) expired.
func (s *Store) ClaimReview(ctx context.Context, connID, reviewID string, kind review.Kind, owner string, ttl time.Duration) (link.Claim, error) {
	const op = "store.ClaimReview"
	if err := live(ctx, op); err != nil {
		return link.Claim{}, err
	}
	if reviewID == "" {
		return link.Claim{}, emptyKey(op, "review id")
	}
	defer s.lock()()
	now := s.now()
	k := linkKey{connID, reviewID}
	l, ok := s.d.links[k]
	if ok && !((l.state == link.StateClaimed || l.state == link.StateFailed) && l.claimExpires < ms(now)) {
		old := l.decode(reviewID)
		switch l.state {
		case link.StateLinked:
			return link.Claim{Status: link.ClaimLinked, Link: old}, nil
		case link.StateFailed:
			return link.Claim{Status: link.ClaimRefused, Link: old}, nil
		}
		return link.Claim{Status: link.ClaimBusy, Link: old}, nil
	}
	if !ok {
		l = &linkItem{}
		s.d.links[k] = l
	}
	l.state, l.owner, l.claimExpires, l.connectionID = link.StateClaimed, owner, ms(now.Add(ttl)), connID
	l.kind, l.updatedAt = kind, fmtTime(now)
	l.attempts++
	got := l.decode(reviewID)
	return link.Claim{Status: link.ClaimGranted, Recover: got.Attempts > 1, Link: got}, nil
}

// claimedBy returns the link when owner holds its ticket claim (expired or not: only a
// takeover ends a claim).
func (s *Store) claimedBy(connID, reviewID, owner string) *linkItem {
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok || l.state != link.StateClaimed || l.owner != owner {
		return nil
	}
	return l
}

// ReleaseClaim gives a claim up after a failure, keeping the attempt count so the next
// claimer recovers. A claim the caller no longer holds is left alone.
func (s *Store) ReleaseClaim(ctx context.Context, connID, reviewID, owner string) error {
	unlock, err := s.enter(ctx, "store.ReleaseClaim", reviewID)
	if err != nil {
		return err
	}
	defer unlock()
	if l := s.claimedBy(connID, reviewID, owner); l != nil {
		l.claimExpires = 0
	}
	return nil
}

// SetAside puts a claimed review on the set-aside list until a.RetryAt (never when given up);
// a claim the caller no longer holds is left alone.
func (s *Store) SetAside(ctx context.Context, a link.Aside) error {
	unlock, err := s.enter(ctx, "store.SetAside", a.ReviewID)
	if err != nil {
		return err
	}
	defer unlock()
	l := s.claimedBy(a.ConnectionID, a.ReviewID, a.Owner)
	if l == nil {
		return nil
	}
	l.state, l.claimExpires, l.lastError, l.givenUp = link.StateFailed, ms(a.RetryAt), a.Reason, a.GivenUp
	if a.GivenUp {
		l.claimExpires = givenUpMs
	}
	l.updatedAt, l.aside = fmtTime(s.now()), true
	if len(a.Snapshot) > 0 {
		l.snapshot = a.Snapshot
	}
	switch {
	case !a.Uncertain.IsZero():
		l.uncertainAt = ms(a.Uncertain)
	case a.Settled:
		l.uncertainAt = 0
	}
	if a.Failed {
		l.failures++
	}
	return nil
}

// RecordUnreadable lists a review that could not be read: given up for the set-aside pass but
// claimable at once. A linked or claimed review is left alone.
func (s *Store) RecordUnreadable(ctx context.Context, connID, reviewID string, kind review.Kind, reason string) error {
	unlock, err := s.enter(ctx, "store.RecordUnreadable", reviewID)
	if err != nil {
		return err
	}
	defer unlock()
	k := linkKey{connID, reviewID}
	l, ok := s.d.links[k]
	if ok && l.state != link.StateFailed {
		return nil
	}
	if !ok {
		l = &linkItem{}
		s.d.links[k] = l
	}
	l.state, l.claimExpires, l.lastError, l.givenUp = link.StateFailed, 0, reason, true
	l.connectionID, l.kind, l.updatedAt, l.aside = connID, kind, fmtTime(s.now()), true
	l.failures++
	return nil
}

// ListSetAside returns a connection's set-aside reviews, ordered by review id.
func (s *Store) ListSetAside(ctx context.Context, connID string) ([]link.Link, error) {
	if err := live(ctx, "store.ListSetAside"); err != nil {
		return nil, err
	}
	defer s.lock()()
	var out []link.Link
	for k, l := range s.d.links {
		if k.conn == connID && l.aside {
			out = append(out, l.decode(k.review))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ReviewID < out[j].ReviewID })
	return out, nil
}

// ListLinks returns every link of a connection, by review id.
func (s *Store) ListLinks(ctx context.Context, connID string) ([]link.Link, error) {
	if err := live(ctx, "store.ListLinks"); err != nil {
		return nil, err
	}
	defer s.lock()()
	var out []link.Link
	for k, l := range s.d.links {
		if k.conn == connID {
			out = append(out, l.decode(k.review))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ReviewID < out[j].ReviewID })
	return out, nil
}

// RetrySetAside makes a set-aside review due now with a fresh attempt budget; errs.NotExist
// when it is not set aside.
func (s *Store) RetrySetAside(ctx context.Context, connID, reviewID string) error {
	const op = "store.RetrySetAside"
	unlock, err := s.enter(ctx, op, reviewID)
	if err != nil {
		return err
	}
	defer unlock()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok || l.state != link.StateFailed {
		return errs.E(errs.NotExist, op, fmt.Errorf("review %s is not set aside", reviewID))
	}
	l.claimExpires, l.givenUp, l.failures, l.updatedAt = 0, false, 0, fmtTime(s.now())
	return nil
}

// ConfirmLink turns the caller's claim into a link; errs.Conflict wrapping link.ErrClaimLost
// when the claim is no longer the caller's.
func (s *Store) ConfirmLink(ctx context.Context, c link.Confirm) error {
	const op = "store.ConfirmLink"
	if err := live(ctx, op); err != nil {
		return err
	}
	if c.ReviewID == "" {
		return emptyKey(op, "review id")
	}
	defer s.lock()()
	l := s.claimedBy(c.ConnectionID, c.ReviewID, c.Owner)
	if l == nil || (!c.Recovered && l.claimExpires < ms(s.now())) {
		return errs.E(errs.Conflict, op, fmt.Errorf("review %s: %w", c.ReviewID, link.ErrClaimLost))
	}
	s.confirmLocked(l, c)
	return nil
}

func (s *Store) confirmLocked(l *linkItem, c link.Confirm) {
	l.state, l.ticketID, l.customerID, l.account, l.reviewer = link.StateLinked, c.TicketID, c.CustomerID, c.Account, c.Reviewer
	l.reviewVersion, l.stars, l.updatedAt = fmtTime(c.ReviewVersion), c.Stars, fmtTime(s.now())
	l.linkedAt = l.updatedAt
	// Like the DynamoDB store: an empty value leaves what the item holds.
	if !c.ReviewCreatedAt.IsZero() {
		l.reviewCreated = fmtTime(c.ReviewCreatedAt)
	}
	if c.Language != "" {
		l.language = c.Language
	}
	if c.ReferenceID != "" {
		l.referenceID = c.ReferenceID
	}
	l.indexed, l.claimExpires = true, 0
	l.aside, l.failures, l.lastError, l.givenUp, l.uncertainAt, l.snapshot = false, 0, "", false, 0, ""
}

// ConfirmAndClaim writes a sync's batch, all of it or (false) nothing (see the DynamoDB store).
func (s *Store) ConfirmAndClaim(ctx context.Context, b link.Batch) ([]link.Claim, bool, error) {
	const op = "store.ConfirmAndClaim"
	if err := live(ctx, op); err != nil {
		return nil, false, err
	}
	if err := b.Check(); err != nil {
		return nil, false, errs.E(errs.Invalid, op, err)
	}
	defer s.lock()()
	now := s.now()
	confirmed := make([]*linkItem, len(b.Confirms))
	for i, c := range b.Confirms {
		l := s.claimedBy(c.ConnectionID, c.ReviewID, c.Owner)
		if l == nil || (!c.Recovered && l.claimExpires < ms(now)) {
			return nil, false, nil
		}
		confirmed[i] = l
	}
	for _, w := range b.Claims {
		if _, taken := s.d.links[linkKey{b.ConnectionID, w.ReviewID}]; taken {
			return nil, false, nil
		}
	}
	for i, c := range b.Confirms {
		s.confirmLocked(confirmed[i], c)
	}
	claims := make([]link.Claim, 0, len(b.Claims))
	for _, w := range b.Claims {
		n := &linkItem{state: link.StateClaimed, owner: b.Owner, claimExpires: ms(now.Add(b.ClaimTTL)), connectionID: b.ConnectionID,
			kind: w.Kind, updatedAt: fmtTime(now), attempts: 1}
		s.d.links[linkKey{b.ConnectionID, w.ReviewID}] = n
		claims = append(claims, link.Claim{Status: link.ClaimGranted, Link: n.decode(w.ReviewID)})
	}
	return claims, true, nil
}

// DropClaim removes a claim the owner took ahead and never used (see the DynamoDB store).
func (s *Store) DropClaim(ctx context.Context, connID, reviewID, owner string) error {
	unlock, err := s.enter(ctx, "store.DropClaim", reviewID)
	if err != nil {
		return err
	}
	defer unlock()
	if l := s.claimedBy(connID, reviewID, owner); l != nil && l.attempts == 1 {
		delete(s.d.links, linkKey{connID, reviewID})
	}
	return nil
}

// GetLink returns one link (errs.NotExist when absent).
func (s *Store) GetLink(ctx context.Context, connID, reviewID string) (link.Link, error) {
	const op = "store.GetLink"
	if err := live(ctx, op); err != nil {
		return link.Link{}, err
	}
	if reviewID == "" {
		return link.Link{}, emptyKey(op, "review id")
	}
	defer s.lock()()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok {
		return link.Link{}, errs.E(errs.NotExist, op, errNotFound)
	}
	return l.decode(reviewID), nil
}

// GetLinks returns the links that exist among reviewIDs, by review id.
func (s *Store) GetLinks(ctx context.Context, connID string, reviewIDs []string) (map[string]link.Link, error) {
	const op = "store.GetLinks"
	out := make(map[string]link.Link, len(reviewIDs))
	if len(reviewIDs) == 0 {
		return out, nil // the DynamoDB store sends no request then, so nothing can fail
	}
	if err := live(ctx, op); err != nil {
		return nil, err
	}
	defer s.lock()()
	for _, id := range reviewIDs {
		if id == "" {
			return nil, emptyKey(op, "review id")
		}
		if l, ok := s.d.links[linkKey{connID, id}]; ok {
			out[id] = l.decode(id)
		}
	}
	return out, nil
}

// LinksByTicket returns the links confirmed for a helpdesk ticket id, ordered by account,
// connection and review (the ticket index's sort key).
func (s *Store) LinksByTicket(ctx context.Context, ticketID int64) ([]link.Link, error) {
	if err := live(ctx, "store.LinksByTicket"); err != nil {
		return nil, err
	}
	defer s.lock()()
	type sorted struct {
		sk string
		l  link.Link
	}
	var found []sorted
	for k, l := range s.d.links {
		if l.indexed && l.ticketID == ticketID {
			found = append(found, sorted{l.account + "#" + k.conn + "#" + k.review, l.decode(k.review)})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].sk < found[j].sk })
	out := make([]link.Link, 0, len(found))
	for _, f := range found {
		out = append(out, f.l)
	}
	return out, nil
}

// SetReviewVersion records a newer review version on a linked review; false when the link is
// not linked or already has this version or a newer one.
func (s *Store) SetReviewVersion(ctx context.Context, connID, reviewID string, version time.Time, stars int) (bool, error) {
	const op = "store.SetReviewVersion"
	if err := live(ctx, op); err != nil {
		return false, err
	}
	if reviewID == "" {
		return false, emptyKey(op, "review id")
	}
	defer s.lock()()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	v := fmtTime(version)
	if !ok || l.state != link.StateLinked || !(l.reviewVersion < v) {
		return false, nil
	}
	l.reviewVersion, l.stars, l.updatedAt = v, stars, fmtTime(s.now())
	return true, nil
}

// SetReviewer names a linked review's reviewer and helpdesk account on a link that names none
// (see the DynamoDB store's).
func (s *Store) SetReviewer(ctx context.Context, connID, reviewID, account, who string) (bool, error) {
	const op = "store.SetReviewer"
	if err := live(ctx, op); err != nil {
		return false, err
	}
	if reviewID == "" || account == "" || who == "" {
		return false, emptyKey(op, "review id, account or reviewer")
	}
	defer s.lock()()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok || l.state != link.StateLinked || l.reviewer != "" {
		return false, nil
	}
	l.reviewer, l.updatedAt = who, fmtTime(s.now())
	if l.account == "" {
		l.account = account
	}
	return true, nil
}

// ---- reply slot ----

// ClaimReply takes the review's one reply slot for a helpdesk message: only the first message
// gets it; the same message may take it again once its claim expired or was released.
func (s *Store) ClaimReply(ctx context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (link.SlotClaim, error) {
	const op = "store.ClaimReply"
	if err := live(ctx, op); err != nil {
		return link.SlotClaim{}, err
	}
	if reviewID == "" {
		return link.SlotClaim{}, emptyKey(op, "review id")
	}
	defer s.lock()()
	now := s.now()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok {
		return link.SlotClaim{Status: link.SlotNoLink}, nil
	}
	free := l.replyState == link.ReplyNone ||
		(l.replyState == link.ReplyClaimed && l.replyMessage == messageID && l.replyExpires < ms(now))
	if l.state == link.StateLinked && !(l.hasRefused && l.replyRefused == messageID) && free {
		l.replyState, l.replyMessage, l.replyOwner, l.replyExpires = link.ReplyClaimed, messageID, owner, ms(now.Add(ttl))
		l.updatedAt = fmtTime(now)
		return link.SlotClaim{Status: link.SlotGranted, Link: l.decode(reviewID)}, nil
	}
	old := l.decode(reviewID)
	switch {
	case old.State != link.StateLinked:
		return link.SlotClaim{Status: link.SlotNoLink, Link: old}, nil
	case old.ReplyState == link.ReplyClaimed && old.ReplyMessage == messageID:
		return link.SlotClaim{Status: link.SlotBusy, Link: old}, nil
	case old.ReplyRefused == messageID:
		return link.SlotClaim{Status: link.SlotRefusedBefore, Link: old}, nil
	}
	return link.SlotClaim{Status: link.SlotUsed, Link: old}, nil
}

// heldBy returns the link when messageID holds its reply claim.
func (s *Store) heldBy(connID, reviewID string, messageID int64) *linkItem {
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok || l.replyState != link.ReplyClaimed || l.replyMessage != messageID {
		return nil
	}
	return l
}

// FinishReply records the final outcome (ReplyPosted or ReplyFailed) of the message's reply
// claim; errs.Conflict when the message does not hold the claim.
func (s *Store) FinishReply(ctx context.Context, connID, reviewID string, messageID int64, state link.ReplyState, result string) error {
	const op = "store.FinishReply"
	if !state.Final() {
		return errs.E(errs.Invalid, op, fmt.Errorf("bad state %q", state))
	}
	if err := live(ctx, op); err != nil {
		return err
	}
	if reviewID == "" {
		return emptyKey(op, "review id")
	}
	defer s.lock()()
	l := s.heldBy(connID, reviewID, messageID)
	if l == nil {
		return errs.E(errs.Conflict, op, fmt.Errorf("review %s: reply claim for message %d not held", reviewID, messageID))
	}
	l.replyState, l.replyResult, l.updatedAt, l.replyExpires = state, result, fmtTime(s.now()), 0
	if state == link.ReplyPosted {
		l.repliedAt = l.updatedAt
	}
	return nil
}

// ReleaseReply lets the same message claim the slot again at once; no other message can.
func (s *Store) ReleaseReply(ctx context.Context, connID, reviewID string, messageID int64) error {
	unlock, err := s.enter(ctx, "store.ReleaseReply", reviewID)
	if err != nil {
		return err
	}
	defer unlock()
	if l := s.heldBy(connID, reviewID, messageID); l != nil {
		l.replyExpires = 0
	}
	return nil
}

// ReopenReply frees the slot the message holds after a failure a human can fix; that message
// is then refused for good while the next one may take the slot.
func (s *Store) ReopenReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error {
	return s.reopenReply(ctx, "store.ReopenReply", connID, reviewID, messageID, result, false)
}

// HoldReply is ReopenReply for a reply the public-reply guard held back, counted on the link.
func (s *Store) HoldReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error {
	return s.reopenReply(ctx, "store.HoldReply", connID, reviewID, messageID, result, true)
}

func (s *Store) reopenReply(ctx context.Context, op, connID, reviewID string, messageID int64, result string, held bool) error {
	unlock, err := s.enter(ctx, op, reviewID)
	if err != nil {
		return err
	}
	defer unlock()
	if l := s.heldBy(connID, reviewID, messageID); l != nil {
		if held {
			l.held++
		}
		l.replyState, l.replyResult, l.replyRefused, l.hasRefused = link.ReplyNone, result, messageID, true
		l.replyMessage, l.replyExpires, l.replyOwner, l.updatedAt = 0, 0, "", fmtTime(s.now())
	}
	return nil
}

// ---- cursors ----

type cursorItem struct {
	since     string
	resume    string
	lastRunAt string
	lastError string
	seen      int64
	created   int64
	errors    int64
	queuedAt  int64 // Unix ms
	queued    bool
	scheduled int64 // Unix ms
	runCalls  int64
}

// cursor returns the cursor item, created empty: DynamoDB's UpdateItem creates it too.
func (s *Store) cursor(connID string, kind review.Kind) *cursorItem {
	k := cursorKey{connID, kind}
	c, ok := s.d.cursors[k]
	if !ok {
		c = &cursorItem{}
		s.d.cursors[k] = c
	}
	return c
}

// GetCursor returns the cursor; a zero cursor when none is stored yet.
func (s *Store) GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error) {
	if err := live(ctx, "store.GetCursor"); err != nil {
		return cursor.Cursor{}, err
	}
	defer s.lock()()
	if c, ok := s.d.cursors[cursorKey{connID, kind}]; ok {
		return c.decode(connID, kind), nil
	}
	return cursor.Cursor{ConnectionID: connID, Kind: kind}, nil
}

func (c *cursorItem) decode(connID string, kind review.Kind) cursor.Cursor {
	return cursor.Cursor{ConnectionID: connID, Kind: kind, Since: parseTime(c.since), Resume: c.resume,
		LastRunAt: parseTime(c.lastRunAt), LastError: c.lastError, ReviewSeen: c.seen, Tickets: c.created, Errors: c.errors,
		ScheduledAt: msTime(c.scheduled), RunCalls: c.runCalls}
}

// MarkScheduled records when, on the scheduler's clock, the kind's job was queued.
func (s *Store) MarkScheduled(ctx context.Context, connID string, kind review.Kind, at time.Time) error {
	if err := live(ctx, "store.MarkScheduled"); err != nil {
		return err
	}
	defer s.lock()()
	s.cursor(connID, kind).scheduled = ms(at)
	return nil
}

// SetRunCalls records the Trustpilot calls of the kind's last finished run.
func (s *Store) SetRunCalls(ctx context.Context, connID string, kind review.Kind, calls int64) error {
	if err := live(ctx, "store.SetRunCalls"); err != nil {
		return err
	}
	defer s.lock()()
	s.cursor(connID, kind).runCalls = calls
	return nil
}

// SaveCheckpoint records progress by cursor.Cursor.Apply's rule, and when the run was.
func (s *Store) SaveCheckpoint(ctx context.Context, connID string, kind review.Kind, cp cursor.Checkpoint) error {
	if err := live(ctx, "store.SaveCheckpoint"); err != nil {
		return err
	}
	defer s.lock()()
	c := s.cursor(connID, kind)
	// Stored times are truncated the DynamoDB way, so the rule sees what a read would return.
	cp.Since = parseTime(fmtTime(cp.Since))
	next := c.decode(connID, kind).Apply(cp)
	c.since, c.resume, c.lastError = fmtTime(next.Since), next.Resume, next.LastError
	c.seen, c.created, c.errors = next.ReviewSeen, next.Tickets, next.Errors
	c.lastRunAt = fmtTime(s.now())
	return nil
}

// MarkQueued records that a sync job for the connection and kind is queued; false when one
// already is (queued less than staleAfter ago and not cleared).
func (s *Store) MarkQueued(ctx context.Context, connID string, kind review.Kind, staleAfter time.Duration) (bool, error) {
	if err := live(ctx, "store.MarkQueued"); err != nil {
		return false, err
	}
	defer s.lock()()
	now := s.now()
	c := s.cursor(connID, kind)
	if c.queued && !(c.queuedAt < ms(now.Add(-staleAfter))) {
		return false, nil
	}
	c.queued, c.queuedAt = true, ms(now)
	return true, nil
}

// ClearQueued records that the connection's sync of kind finished.
func (s *Store) ClearQueued(ctx context.Context, connID string, kind review.Kind) error {
	if err := live(ctx, "store.ClearQueued"); err != nil {
		return err
	}
	defer s.lock()()
	if c, ok := s.d.cursors[cursorKey{connID, kind}]; ok { // a deleted cursor stays deleted
		c.queued, c.queuedAt = false, 0
	}
	return nil
}

// RecordError notes a run's failure without touching its progress.
func (s *Store) RecordError(ctx context.Context, connID string, kind review.Kind, msg string) error {
	if err := live(ctx, "store.RecordError"); err != nil {
		return err
	}
	defer s.lock()()
	c := s.cursor(connID, kind)
	c.lastError, c.lastRunAt = msg, fmtTime(s.now())
	return nil
}

// ---- leases, once marks, tokens ----

type leaseItem struct {
	owner   string
	holder  string // what it is held for (AcquireLeaseFor)
	expires int64  // Unix ms
}

// AcquireLease takes (or, for the same owner, renews) the named lease until now+ttl; false
// when another owner holds it unexpired.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return s.AcquireLeaseFor(ctx, name, owner, "", ttl)
}

// AcquireLeaseFor is AcquireLease recording what the lease is held for (LeaseHolder).
func (s *Store) AcquireLeaseFor(ctx context.Context, name, owner, holder string, ttl time.Duration) (bool, error) {
	if err := live(ctx, "store.AcquireLease"); err != nil {
		return false, err
	}
	defer s.lock()()
	now := s.now()
	if l, ok := s.d.leases[name]; ok && !(l.expires < ms(now)) && l.owner != owner {
		return false, nil
	}
	s.d.leases[name] = leaseItem{owner: owner, holder: holder, expires: ms(now.Add(ttl))}
	return true, nil
}

// LeaseHolder reads the named lease: what it is held for and until when; held is false when
// nobody holds it unexpired.
func (s *Store) LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, held bool, err error) {
	if err := live(ctx, "store.LeaseHolder"); err != nil {
		return "", time.Time{}, false, err
	}
	defer s.lock()()
	l, ok := s.d.leases[name]
	if !ok || l.expires < ms(s.now()) { // expired as AcquireLease sees it
		return "", time.Time{}, false, nil
	}
	return l.holder, time.UnixMilli(l.expires), true, nil
}

// waitForSync returns once no sync of the connection can still write (see the DynamoDB
// store's).
func (s *Store) waitForSync(ctx context.Context, c connection.Connection) error {
	for name := c.HelpdeskAccountKey(); name != ""; {
		if err := live(ctx, "store.DeleteConnection"); err != nil {
			return err
		}
		unlock := s.lock()
		l, exists := s.d.leases[name]
		unlock()
		until := time.UnixMilli(l.expires)
		left := until.Add(leaseSkew).Sub(s.now())
		if !exists || left < 0 || (l.holder != "" && l.holder != c.ID) {
			return nil
		}
		t := time.NewTimer(max(min(20*time.Millisecond, left), time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("connection %s: waiting for its sync to stop (the lease runs to %s): %w", c.ID, until.UTC().Format(time.RFC3339), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// leaseSkew is how long past its expiry a lease held for the connection is still waited for
// (the DynamoDB store's: the clocks of the worker and of the deletion may differ).
const leaseSkew = 30 * time.Second

// ReleaseLease gives the lease up if owner holds it (expired or not).
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := live(ctx, "store.ReleaseLease"); err != nil {
		return err
	}
	defer s.lock()()
	if l, ok := s.d.leases[name]; ok && l.owner == owner {
		delete(s.d.leases, name)
	}
	return nil
}

// MarkOnce records key and reports whether this call was the first to do so within ttl.
func (s *Store) MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := live(ctx, "store.MarkOnce"); err != nil {
		return false, err
	}
	defer s.lock()()
	now := s.now()
	if until, ok := s.d.once[key]; ok && !(until < ms(now)) {
		return false, nil
	}
	s.d.once[key] = ms(now.Add(ttl))
	return true, nil
}

type tokenItem struct{ access, refresh, expires string }

// LoadToken returns the cached token; ok is false when none is stored.
func (s *Store) LoadToken(ctx context.Context, connID string) (token.Token, bool, error) {
	if err := live(ctx, "store.LoadToken"); err != nil {
		return token.Token{}, false, err
	}
	defer s.lock()()
	t, ok := s.d.tokens[connID]
	if !ok {
		return token.Token{}, false, nil
	}
	return token.Token{AccessToken: t.access, RefreshToken: t.refresh, ExpiresAt: parseTime(t.expires)}, true, nil
}

// SaveToken stores the newest token (and, with it, the newest refresh token).
func (s *Store) SaveToken(ctx context.Context, connID string, t token.Token) error {
	if err := live(ctx, "store.SaveToken"); err != nil {
		return err
	}
	defer s.lock()()
	exp := fmtTime(t.ExpiresAt)
	if old, ok := s.d.tokens[connID]; ok && !(old.expires < exp) {
		return nil // a newer token is stored already
	}
	s.d.tokens[connID] = tokenItem{access: t.AccessToken, refresh: t.RefreshToken, expires: exp}
	return nil
}

// RecordCustomerEntry adds or replaces one review's entry in the list of what was written to a
// helpdesk customer's data and returns the whole list.
func (s *Store) RecordCustomerEntry(ctx context.Context, account string, customerID int64, reviewID, entry string) (map[string]string, error) {
	unlock, err := s.enter(ctx, "store.RecordCustomerEntry", reviewID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	k := custKey{account, customerID}
	if s.d.custs[k] == nil {
		s.d.custs[k] = map[string]string{}
	}
	s.d.custs[k][reviewID] = entry
	return maps.Clone(s.d.custs[k]), nil
}

// MarkDeleted records the review deleted on Trustpilot, removing its snapshot; false when it
// already was or no link exists.
func (s *Store) MarkDeleted(ctx context.Context, connID, reviewID string) (bool, error) {
	unlock, err := s.enter(ctx, "store.MarkDeleted", reviewID)
	if err != nil {
		return false, err
	}
	defer unlock()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok || l.deletedAt != "" {
		return false, nil
	}
	l.deletedAt, l.snapshot, l.referenceID = fmtTime(s.now()), "", ""
	l.updatedAt = l.deletedAt
	return true, nil
}

// MarkReinstated clears the deletion mark; false when there was none.
func (s *Store) MarkReinstated(ctx context.Context, connID, reviewID string) (bool, error) {
	unlock, err := s.enter(ctx, "store.MarkReinstated", reviewID)
	if err != nil {
		return false, err
	}
	defer unlock()
	l, ok := s.d.links[linkKey{connID, reviewID}]
	if !ok || l.deletedAt == "" {
		return false, nil
	}
	l.deletedAt = ""
	return true, nil
}

// ForgetCustomerEntry removes a review's entry from a customer's written list.
func (s *Store) ForgetCustomerEntry(ctx context.Context, account string, customerID int64, reviewID string) (bool, error) {
	unlock, err := s.enter(ctx, "store.ForgetCustomerEntry", reviewID)
	if err != nil {
		return false, err
	}
	defer unlock()
	_, had := s.d.custs[custKey{account, customerID}][reviewID]
	delete(s.d.custs[custKey{account, customerID}], reviewID)
	return had, nil
}

// TakeCalls grants n calls to key unless the buckets window reaches over would then hold more
// than limit; when refused, it says when to ask again, when granted when the grant's bucket
// ends.
func (s *Store) TakeCalls(ctx context.Context, key string, n, limit int, window time.Duration) (bool, time.Time, error) {
	if err := live(ctx, "store.TakeCalls"); err != nil {
		return false, time.Time{}, err
	}
	defer s.lock()()
	now := s.now()
	cur, back, next := ledger.Span(now, window)
	b := s.d.calls[key]
	if b == nil {
		b = map[string]int{}
		s.d.calls[key] = b
	}
	sum := 0
	for m := cur - back; m <= cur; m++ {
		sum += b[ledger.SK(window, m)]
	}
	if sum+n > limit {
		return false, next, nil
	}
	b[ledger.SK(window, cur)] += n
	b[ledger.DaySK(now)] += n
	return true, next, nil
}

// CallCounts returns key's calls within window and per UTC day for days days, today first.
func (s *Store) CallCounts(ctx context.Context, key string, window time.Duration, days int) (int, []int, error) {
	if err := live(ctx, "store.CallCounts"); err != nil {
		return 0, nil, err
	}
	defer s.lock()()
	now := s.now()
	cur, back, _ := ledger.Span(now, window)
	b := s.d.calls[key]
	recent := 0
	for m := cur - back; m <= cur; m++ {
		recent += b[ledger.SK(window, m)]
	}
	daily := make([]int, days)
	for d := range days {
		daily[d] = b[ledger.DaySK(now.AddDate(0, 0, -d))]
	}
	return recent, daily, nil
}

// enter checks a call on one review (a live context, a review id) and takes the lock.
func (s *Store) enter(ctx context.Context, op, reviewID string) (unlock func(), err error) {
	if err := live(ctx, op); err != nil {
		return nil, err
	}
	if reviewID == "" {
		return nil, emptyKey(op, "review id")
	}
	return s.lock(), nil
}

// ---- test helpers (not part of the store's contract) ----

// Links returns every link of a connection, ordered by review id, so use-case tests can see
// all that was recorded without knowing the review ids in advance.
func (s *Store) Links(connID string) []link.Link {
	out, _ := s.ListLinks(context.Background(), connID)
	return out
}

// AddOtherCalls counts n calls of key that were not polls in today's total of them.
func (s *Store) AddOtherCalls(ctx context.Context, key string, n int) error {
	if err := live(ctx, "store.AddOtherCalls"); err != nil {
		return err
	}
	defer s.lock()()
	if s.d.calls[key] == nil {
		s.d.calls[key] = map[string]int{}
	}
	s.d.calls[key][ledger.OtherSK(s.now())] += n
	return nil
}

// OtherCallDays returns AddOtherCalls's counts per UTC day for days days, today first.
func (s *Store) OtherCallDays(ctx context.Context, key string, days int) ([]int, error) {
	if err := live(ctx, "store.OtherCallDays"); err != nil {
		return nil, err
	}
	defer s.lock()()
	daily := make([]int, days)
	for d := range days {
		daily[d] = s.d.calls[key][ledger.OtherSK(s.now().AddDate(0, 0, -d))]
	}
	return daily, nil
}

// PutReviewerEntry adds or replaces a review's entry under its reviewer.
func (s *Store) PutReviewerEntry(ctx context.Context, account, reviewer, reviewID, entry string) error {
	const op = "store.PutReviewerEntry"
	if err := live(ctx, op); err != nil {
		return err
	}
	if account == "" || reviewer == "" || reviewID == "" {
		return emptyKey(op, "account, reviewer or review id")
	}
	defer s.lock()()
	k := [2]string{account, reviewer}
	if s.d.revs[k] == nil {
		s.d.revs[k] = map[string]string{}
	}
	s.d.revs[k][reviewID] = entry
	return nil
}

// PutReviewerEntries writes many entries of the account's reviewers.
func (s *Store) PutReviewerEntries(ctx context.Context, account string, recs []reviewer.Record) error {
	for _, r := range recs {
		if err := s.PutReviewerEntry(ctx, account, r.Reviewer, r.ReviewID, r.Entry); err != nil {
			return err
		}
	}
	return nil
}

// ReviewerEntries returns a reviewer's entries by review id.
func (s *Store) ReviewerEntries(ctx context.Context, account, reviewer string) (map[string]string, error) {
	const op = "store.ReviewerEntries"
	if err := live(ctx, op); err != nil {
		return nil, err
	}
	if account == "" || reviewer == "" {
		return nil, emptyKey(op, "account or reviewer")
	}
	defer s.lock()()
	out := maps.Clone(s.d.revs[[2]string{account, reviewer}])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// ForgetReviewerEntry removes a review's entry.
func (s *Store) ForgetReviewerEntry(ctx context.Context, account, reviewer, reviewID string) error {
	const op = "store.ForgetReviewerEntry"
	if err := live(ctx, op); err != nil {
		return err
	}
	if account == "" || reviewer == "" || reviewID == "" {
		return emptyKey(op, "account, reviewer or review id")
	}
	defer s.lock()()
	delete(s.d.revs[[2]string{account, reviewer}], reviewID)
	return nil
}

// TakeSlots reserves n call slots of the account, interval apart and none before notBefore,
// unless the first would start more than horizon from now; it returns the first slot's start.
func (s *Store) TakeSlots(ctx context.Context, account string, n int, interval, horizon time.Duration, notBefore time.Time) (time.Time, bool, error) {
	const op = "store.TakeSlots"
	if err := live(ctx, op); err != nil {
		return time.Time{}, false, err
	}
	if account == "" || n <= 0 || interval <= 0 {
		return time.Time{}, false, emptyKey(op, "account key, slots or interval")
	}
	defer s.lock()()
	now := s.now()
	start := now
	if next, ok := s.d.slots[account]; ok && next.After(start) {
		start = next
	}
	if notBefore.After(start) {
		start = notBefore
	}
	if start.Sub(now) > horizon {
		return start, false, nil
	}
	s.d.slots[account] = start.Add(time.Duration(n) * interval)
	return start, true, nil
}

// PushSlots moves the account's next free slot to until at the earliest.
func (s *Store) PushSlots(ctx context.Context, account string, until time.Time) error {
	const op = "store.PushSlots"
	if err := live(ctx, op); err != nil {
		return err
	}
	if account == "" {
		return emptyKey(op, "account key")
	}
	defer s.lock()()
	if until.After(s.d.slots[account]) {
		s.d.slots[account] = until
	}
	return nil
}

// ParkJob keeps a job's body under the account, once per id.
func (s *Store) ParkJob(ctx context.Context, account, id, body string) error {
	const op = "store.ParkJob"
	if err := live(ctx, op); err != nil {
		return err
	}
	if account == "" || id == "" {
		return emptyKey(op, "account or job id")
	}
	defer s.lock()()
	if s.d.parked[account] == nil {
		s.d.parked[account] = map[string]string{}
	}
	s.d.parked[account][id] = body
	return nil
}

// TakeParked removes and returns the account's parked jobs.
func (s *Store) TakeParked(ctx context.Context, account string) ([]string, error) {
	const op = "store.TakeParked"
	if err := live(ctx, op); err != nil {
		return nil, err
	}
	if account == "" {
		return nil, emptyKey(op, "account")
	}
	defer s.lock()()
	var out []string
	for _, id := range slices.Sorted(maps.Keys(s.d.parked[account])) {
		out = append(out, s.d.parked[account][id])
	}
	delete(s.d.parked, account)
	return out, nil
}
