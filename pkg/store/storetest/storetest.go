// Package storetest is the conformance suite every store implementation runs (the DynamoDB
// adapter in pkg/store against moto, and pkg/store/memstore): each rule the use cases rely on
// is checked here once, so the in-memory store their tests use cannot drift from DynamoDB.
//
// The suite never sleeps: expiry is driven by a fake clock handed to the store. Every subtest
// uses ids of its own, because the DynamoDB implementation shares one table among them.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/token"
)

// Store is the store's contract: every exported method of pkg/store's Store but Table and
// WithClock. Both implementations assert that they satisfy it.
type Store interface {
	PutConnection(ctx context.Context, c connection.Connection) error
	GetConnection(ctx context.Context, id string) (connection.Record, error)
	GetConnectionForReplies(ctx context.Context, id string) (connection.Record, error)
	ListConnections(ctx context.Context) ([]connection.Record, error)
	SetReauth(ctx context.Context, id string, needs bool, reason string) error
	DeleteConnection(ctx context.Context, id string, purge bool) error

	ClaimReview(ctx context.Context, connID, reviewID string, kind review.Kind, owner string, ttl time.Duration) (link.Claim, error)
	ReleaseClaim(ctx context.Context, connID, reviewID, owner string) error
	SetAside(ctx context.Context, a link.Aside) error
	RecordUnreadable(ctx context.Context, connID, reviewID string, kind review.Kind, reason string) error
	ListSetAside(ctx context.Context, connID string) ([]link.Link, error)
	RetrySetAside(ctx context.Context, connID, reviewID string) error
	ConfirmLink(ctx context.Context, c link.Confirm) error
	ConfirmAndClaim(ctx context.Context, b link.Batch) ([]link.Claim, bool, error)
	DropClaim(ctx context.Context, connID, reviewID, owner string) error
	GetLink(ctx context.Context, connID, reviewID string) (link.Link, error)
	GetLinks(ctx context.Context, connID string, reviewIDs []string) (map[string]link.Link, error)
	LinksByTicket(ctx context.Context, ticketID int64) ([]link.Link, error)
	SetReviewVersion(ctx context.Context, connID, reviewID string, version time.Time, stars int) (bool, error)

	ClaimReply(ctx context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (link.SlotClaim, error)
	FinishReply(ctx context.Context, connID, reviewID string, messageID int64, state link.ReplyState, result string) error
	ReleaseReply(ctx context.Context, connID, reviewID string, messageID int64) error
	ReopenReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error
	HoldReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error
	ListLinks(ctx context.Context, connID string) ([]link.Link, error)

	GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error)
	SaveCheckpoint(ctx context.Context, connID string, kind review.Kind, cp cursor.Checkpoint) error
	MarkQueued(ctx context.Context, connID string, kind review.Kind, staleAfter time.Duration) (bool, error)
	ClearQueued(ctx context.Context, connID string, kind review.Kind) error
	MarkScheduled(ctx context.Context, connID string, kind review.Kind, at time.Time) error
	SetRunCalls(ctx context.Context, connID string, kind review.Kind, calls int64) error
	RecordError(ctx context.Context, connID string, kind review.Kind, msg string) error

	SetReviewer(ctx context.Context, connID, reviewID, account, who string) (bool, error)
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	AcquireLeaseFor(ctx context.Context, name, owner, holder string, ttl time.Duration) (bool, error)
	LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, held bool, err error)
	ReleaseLease(ctx context.Context, name, owner string) error
	MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
	RecordCustomerEntry(ctx context.Context, account string, customerID int64, reviewID, entry string) (map[string]string, error)
	ForgetCustomerEntry(ctx context.Context, account string, customerID int64, reviewID string) (bool, error)
	MarkDeleted(ctx context.Context, connID, reviewID string) (bool, error)
	MarkReinstated(ctx context.Context, connID, reviewID string) (bool, error)
	TakeCalls(ctx context.Context, key string, n, limit int, window time.Duration) (bool, time.Time, error)
	CallCounts(ctx context.Context, key string, window time.Duration, days int) (int, []int, error)
	AddOtherCalls(ctx context.Context, key string, n int) error
	OtherCallDays(ctx context.Context, key string, days int) ([]int, error)
	PutReviewerEntry(ctx context.Context, account, reviewer, reviewID, entry string) error
	PutReviewerEntries(ctx context.Context, account string, recs []reviewer.Record) error
	ReviewerEntries(ctx context.Context, account, reviewer string) (map[string]string, error)
	ForgetReviewerEntry(ctx context.Context, account, reviewer, reviewID string) error
	TakeSlots(ctx context.Context, account string, n int, interval, horizon time.Duration, notBefore time.Time) (time.Time, bool, error)
	PushSlots(ctx context.Context, account string, until time.Time) error
	ParkJob(ctx context.Context, account, id, body string) error
	TakeParked(ctx context.Context, account string) ([]string, error)
	LoadToken(ctx context.Context, connID string) (token.Token, bool, error)
	SaveToken(ctx context.Context, connID string, t token.Token) error
}

// Run runs the suite. newStore returns the store under test reading time from now; it is
// called once per subtest, and subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) Store) {
	ids := &ids{run: randomHex(4), ticket: randomTicketBase()}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: start}
			c.run(t, &env{t: t, s: newStore(t, clk.Now), clk: clk, ids: ids, ctx: t.Context()})
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"ClaimGranted", testClaimGranted},
	{"ClaimBusyUntilExpired", testClaimBusyUntilExpired},
	{"ClaimLinked", testClaimLinked},
	{"ReleaseKeepsAttempts", testReleaseKeepsAttempts},
	{"ReleaseAndFailByNonOwnerAreNoops", testReleaseAndFailByNonOwner},
	{"SetAsideRefusesUntilRetry", testSetAsideRefusesUntilRetry},
	{"SetAsideList", testSetAsideList},
	{"SetAsideGivenUpAndForcedRetry", testSetAsideGivenUpAndForcedRetry},
	{"SetAsideUncertain", testSetAsideUncertain},
	{"RecordUnreadable", testRecordUnreadable},
	{"ConfirmLinksAndIndexesByTicket", testConfirmLinks},
	{"ConfirmAfterTakeoverIsClaimLost", testConfirmAfterTakeover},
	{"ConfirmAfterExpiryOnlyWhenRecovered", testConfirmAfterExpiryOnlyWhenRecovered},
	{"ConfirmWithoutClaimIsClaimLost", testConfirmWithoutClaim},
	{"ConfirmAndClaimAllOrNothing", testConfirmAndClaim},
	{"DropClaimOnlyAnUnusedFirstClaim", testDropClaim},
	{"LinksByTicketOrder", testLinksByTicketOrder},
	{"GetLinkMissing", testGetLinkMissing},
	{"GetLinksBatches", testGetLinksBatches},
	{"SetReviewVersionForwardOnly", testSetReviewVersion},
	{"SetReviewerOnlyOnALinkNamingNone", testSetReviewer},
	{"ReplySlotNeedsLink", testReplySlotNeedsLink},
	{"ReplySlotGranted", testReplySlotGranted},
	{"ReleaseReplyKeepsSlotForMessage", testReleaseReply},
	{"FinishReplyPosted", testFinishReplyPosted},
	{"FinishReplyFailed", testFinishReplyFailed},
	{"FinishReplyNotHeld", testFinishReplyNotHeld},
	{"ReopenReplyRefusesMessage", testReopenReply},
	{"HoldReplyCountsAndFreesTheSlot", testHoldReply},
	{"LinkKeepsWhatTheReportNeeds", testLinkReportFields},
	{"CursorZeroWhenAbsent", testCursorZero},
	{"CheckpointsAddUp", testCheckpoints},
	{"RecordError", testRecordError},
	{"MarkQueued", testMarkQueued},
	{"Lease", testLease},
	{"MarkOnce", testMarkOnce},
	{"Tokens", testTokens},
	{"CustomerEntries", testCustomerEntries},
	{"DeletedAndReinstated", testDeletedAndReinstated},
	{"CallBudgetSlidingWindow", testCallBudget},
	{"CallBudgetShortWindow", testShortCallWindow},
	{"OtherCallsByDay", testOtherCalls},
	{"ReviewerEntries", testReviewerEntries},
	{"CallSlots", testCallSlots},
	{"ConcurrentCallSlots", testConcurrentCallSlots},
	{"ParkedJobs", testParkedJobs},
	{"ConcurrentCallGrantsNeverOverLimit", testConcurrentCallGrants},
	{"ScheduledAndRunCalls", testScheduledAndRunCalls},
	{"ConcurrentCustomerEntriesAllKept", testConcurrentCustomerEntries},
	{"PutConnectionRefusesSecrets", testPutRefusesSecrets},
	{"PutGetListConnections", testPutGetList},
	{"GetConnectionMissing", testGetConnectionMissing},
	{"SetReauth", testSetReauth},
	{"DeleteKeepsTombstone", testDeleteKeepsTombstone},
	{"DeleteMissing", testDeleteMissing},
	{"PurgeRemovesEverything", testPurge},
	{"PurgeRemovesSidebarEntries", testPurgeSidebarEntries},
	{"DeleteWaitsForTheConnectionsSync", testDeleteWaitsForSync},
	{"PutAfterDeleteRevives", testPutAfterDelete},
	{"ReturnedValuesAreCopies", testCopies},
	{"EmptyKeysRejected", testEmptyKeys},
	{"CancelledContextIsTransient", testCancelledContext},
	{"ConcurrentClaimsOneWinner", testConcurrentClaims},
	{"ConcurrentReplyClaimsOneWinner", testConcurrentReplyClaims},
	{"ConcurrentSameMessageOneWinner", testConcurrentSameMessage},
	{"ConcurrentLeaseOneHolder", testConcurrentLease},
	{"ConcurrentMarkOnceOneFirst", testConcurrentMarkOnce},
	{"ConcurrentCheckpointsAddUp", testConcurrentCheckpoints},
}

// start has sub-millisecond digits so that every test also checks how times are truncated.
var start = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

// clock is the fake time the store under test reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// ids hands out ids no other subtest (nor an earlier run on the same table) uses.
type ids struct {
	run    string
	ticket int64
	n      atomic.Int64
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomTicketBase() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])>>24) << 20 // leaves room for a million tickets per run
}

type env struct {
	t   *testing.T
	s   Store
	clk *clock
	ids *ids
	ctx context.Context
}

func (e *env) next() int64 { return e.ids.n.Add(1) }

// conn is a fresh connection id (the table's connection ids are lowercase like real ones).
func (e *env) conn() string { return fmt.Sprintf("st-%s-%d", e.ids.run, e.next()) }

// review is a fresh 24-hex review id, as Trustpilot's are.
func (e *env) review() string { return fmt.Sprintf("%s%016x", e.ids.run, e.next()) }

func (e *env) ticket() int64 { return e.ids.ticket + e.next() }

func (e *env) name(prefix string) string { return fmt.Sprintf("%s-%s-%d", prefix, e.ids.run, e.next()) }

func (e *env) now() time.Time { return e.clk.Now() }

// msT is a time as stored with millisecond precision (claim, reply and lease expiries).
func msT(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// nsT is a time as stored with nanosecond precision (versions, marks, updates): in UTC.
func nsT(t time.Time) time.Time { return t.UTC() }

// epoch is how a removed or released expiry reads back: the zero time.
var epoch = time.Time{}

const ttl = time.Minute

// ---- small assertion helpers ----

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// diff names the fields of two structs that differ; times must be identical, not just Equal,
// because both stores must hand back the same values.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	out := ""
	for i := range gv.NumField() {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			out += fmt.Sprintf("\n  %s: got %v, want %v", gv.Type().Field(i).Name, g, w)
		}
	}
	return out
}

func (e *env) sameLink(what string, got, want link.Link) {
	e.t.Helper()
	if d := diff(got, want); d != "" {
		e.t.Fatalf("%s: link differs:%s", what, d)
	}
}

func (e *env) getLink(conn, rid string) link.Link {
	e.t.Helper()
	l, err := e.s.GetLink(e.ctx, conn, rid)
	if err != nil {
		e.t.Fatalf("GetLink %s: %v", rid, err)
	}
	return l
}

func (e *env) claim(conn, rid, owner string, want link.ClaimStatus) link.Claim {
	e.t.Helper()
	c, err := e.s.ClaimReview(e.ctx, conn, rid, review.Service, owner, ttl)
	if err != nil {
		e.t.Fatalf("ClaimReview %s by %s: %v", rid, owner, err)
	}
	if c.Status != want {
		e.t.Fatalf("ClaimReview %s by %s: %v, want %v (link %+v)", rid, owner, c.Status, want, c.Link)
	}
	return c
}

func (e *env) slot(conn, rid string, msg int64, owner string, want link.SlotStatus) link.SlotClaim {
	e.t.Helper()
	c, err := e.s.ClaimReply(e.ctx, conn, rid, msg, owner, ttl)
	if err != nil {
		e.t.Fatalf("ClaimReply %s message %d: %v", rid, msg, err)
	}
	if c.Status != want {
		e.t.Fatalf("ClaimReply %s message %d: %v, want %v (link %+v)", rid, msg, c.Status, want, c.Link)
	}
	return c
}

// linked claims and confirms a review, returning the link as stored.
func (e *env) linked(conn, rid string, ticket int64) link.Link {
	e.t.Helper()
	e.claim(conn, rid, "creator", link.ClaimGranted)
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "creator",
		Account: "acme.gorgias.com", TicketID: ticket, CustomerID: 3, ReviewVersion: e.now().Add(-time.Hour), Stars: 4}))
	return e.getLink(conn, rid)
}

func (e *env) wantKind(what string, err error, kind errs.Kind) {
	e.t.Helper()
	if !errs.Is(err, kind) {
		e.t.Fatalf("%s: got error %v, want a %s error", what, err, kind)
	}
}
