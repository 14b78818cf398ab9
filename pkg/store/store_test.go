package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

var env *localaws.Env

func TestMain(m *testing.M) {
	var err error
	env, err = localaws.Start(context.Background(), "store-test", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests need moto:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	return store.New(dynamodb.NewFromConfig(env.AWS), env.TableName())
}

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func sampleConnection(id string) connection.Connection {
	c := connection.Connection{
		ID:             id,
		Helpdesk:       connection.Helpdesk{Type: "gorgias", URL: "https://acme.gorgias.com", Email: "ops@acme.com", APIKey: "k"},
		Trustpilot:     connection.Trustpilot{BusinessUnitID: "5f0c00000000000000000001", BusinessUserID: "5f0d00000000000000000001", APIKey: "a", APISecret: "s"},
		AnonymousEmail: "reviews@acme.com",
	}
	c.ApplyDefaults()
	return c
}

func TestConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := sampleConnection("conn-crud")
	if err := s.PutConnection(ctx, c); err == nil {
		t.Fatal("PutConnection accepted a connection that still holds secrets")
	}
	bare, _ := c.SplitSecrets()
	if err := s.PutConnection(ctx, bare); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "conn-crud")
	if err != nil {
		t.Fatal(err)
	}
	if got.Connection.Helpdesk.URL != c.Helpdesk.URL || got.Connection.AnonymousEmail != c.AnonymousEmail || got.Connection.Helpdesk.APIKey != "" {
		t.Fatalf("round trip: %+v", got.Connection)
	}
	if err := s.SetReauth(ctx, "conn-crud", true, "refresh token rejected"); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range all {
		if r.Connection.ID == "conn-crud" {
			found = true
			if !r.NeedsReauth || r.ReauthReason != "refresh token rejected" {
				t.Fatalf("reauth not recorded: %+v", r)
			}
		}
	}
	if !found {
		t.Fatal("ListConnections misses conn-crud")
	}
	// Links survive a delete unless purged.
	if _, err := s.ClaimReview(ctx, "conn-crud", "aaaaaaaaaaaaaaaaaaaaaaaa", review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "conn-crud", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConnection(ctx, "conn-crud"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := s.GetLink(ctx, "conn-crud", "aaaaaaaaaaaaaaaaaaaaaaaa"); err != nil {
		t.Fatalf("link gone after non-purge delete: %v", err)
	}
	if r, err := s.GetConnectionForReplies(ctx, "conn-crud"); err != nil || !r.Deleted {
		t.Fatalf("tombstone for replies: %+v %v", r, err)
	}
	if all, _ := s.ListConnections(ctx); len(all) > 0 {
		for _, r := range all {
			if r.Connection.ID == "conn-crud" {
				t.Fatal("deleted connection still listed")
			}
		}
	}
	if err := s.DeleteConnection(ctx, "conn-crud", false); !errs.Is(err, errs.NotExist) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.DeleteConnection(ctx, "conn-crud", true); err != nil {
		t.Fatalf("purge after delete: %v", err)
	}
	if _, err := s.GetLink(ctx, "conn-crud", "aaaaaaaaaaaaaaaaaaaaaaaa"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("link kept after purge: %v", err)
	}
	if err := s.DeleteConnection(ctx, "never-existed", true); !errs.Is(err, errs.NotExist) {
		t.Fatalf("delete of a missing connection: %v", err)
	}
	if err := s.SetReauth(ctx, "missing", true, "x"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("SetReauth on missing: %v", err)
	}
}

func TestDeletePurgesLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	bare, _ := sampleConnection("conn-purge").SplitSecrets()
	if err := s.PutConnection(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimReview(ctx, "conn-purge", "bbbbbbbbbbbbbbbbbbbbbbbb", review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "conn-purge", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLink(ctx, "conn-purge", "bbbbbbbbbbbbbbbbbbbbbbbb"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("link kept after purge: %v", err)
	}
}

func TestClaimProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t).WithClock(clk.now)
	const conn, rid = "conn-claim", "cccccccccccccccccccccccc"

	c1, err := s.ClaimReview(ctx, conn, rid, review.Service, "w1", time.Minute)
	if err != nil || c1.Status != store.Claimed || c1.Recover {
		t.Fatalf("first claim: %+v %v", c1, err)
	}
	c2, err := s.ClaimReview(ctx, conn, rid, review.Service, "w2", time.Minute)
	if err != nil || c2.Status != store.Busy {
		t.Fatalf("second claim while live: %+v %v", c2, err)
	}
	// w1 crashes; its claim expires; w2 takes over and must recover (look the ticket up).
	clk.add(2 * time.Minute)
	c3, err := s.ClaimReview(ctx, conn, rid, review.Service, "w2", time.Minute)
	if err != nil || c3.Status != store.Claimed || !c3.Recover {
		t.Fatalf("takeover: %+v %v", c3, err)
	}
	// w1 wakes up and tries to confirm: it lost.
	err = s.ConfirmLink(ctx, store.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "acme.gorgias.com", TicketID: 1})
	if !errors.Is(err, store.ErrClaimLost) || !errs.Is(err, errs.Conflict) {
		t.Fatalf("stale confirm: %v", err)
	}
	v := clk.now().Add(-time.Hour)
	if err := s.ConfirmLink(ctx, store.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w2", Account: "acme.gorgias.com", TicketID: 42, CustomerID: 7, ReviewVersion: v, Stars: 2}); err != nil {
		t.Fatal(err)
	}
	c4, err := s.ClaimReview(ctx, conn, rid, review.Service, "w3", time.Minute)
	if err != nil || c4.Status != store.Linked || c4.Link.TicketID != 42 {
		t.Fatalf("claim after link: %+v %v", c4, err)
	}
	links, err := s.LinksByTicket(ctx, "acme.gorgias.com", 42)
	if err != nil || len(links) != 1 || links[0].ReviewID != rid || links[0].ConnectionID != conn || links[0].Stars != 2 {
		t.Fatalf("by ticket: %+v %v", links, err)
	}
	if l, _ := s.LinksByTicket(ctx, "other.gorgias.com", 42); len(l) != 0 {
		t.Fatalf("ticket id of another helpdesk account matched: %+v", l)
	}
	// Edits move the version forward only.
	if ok, err := s.SetReviewVersion(ctx, conn, rid, v.Add(time.Minute), 4); err != nil || !ok {
		t.Fatalf("newer version: %v %v", ok, err)
	}
	if ok, err := s.SetReviewVersion(ctx, conn, rid, v, 1); err != nil || ok {
		t.Fatalf("older version accepted: %v %v", ok, err)
	}
}

func TestReleaseMarksRecover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const conn, rid = "conn-release", "dddddddddddddddddddddddd"
	if c, err := s.ClaimReview(ctx, conn, rid, review.Product, "w1", time.Hour); err != nil || c.Status != store.Claimed {
		t.Fatalf("%+v %v", c, err)
	}
	if err := s.ReleaseClaim(ctx, conn, rid, "w1"); err != nil {
		t.Fatal(err)
	}
	c, err := s.ClaimReview(ctx, conn, rid, review.Product, "w2", time.Hour)
	if err != nil || c.Status != store.Claimed || !c.Recover {
		t.Fatalf("claim after release must recover: %+v %v", c, err)
	}
	// Releasing someone else's claim does nothing.
	if err := s.ReleaseClaim(ctx, conn, rid, "w1"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimReview(ctx, conn, rid, review.Product, "w3", time.Hour); c.Status != store.Busy {
		t.Fatalf("foreign release freed the claim: %+v", c)
	}
}

// Many rounds of concurrent claims: each review must have exactly one winner. (moto's stock
// server was not atomic here; localaws serialises DynamoDB calls as DynamoDB's per-item
// atomicity requires.)
func TestConcurrentClaimsOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	for round := range 25 {
		rid := fmt.Sprintf("%024x", 0xe000+round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := s.ClaimReview(ctx, "conn-race", rid, review.Service, fmt.Sprintf("w%d", i), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if c.Status == store.Claimed {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d workers claimed the same review", round, wins.Load())
		}
	}
}

func TestGetLinksBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	var ids []string
	for i := range 130 {
		id := fmt.Sprintf("%024x", 0xf000+i)
		ids = append(ids, id)
		if i%2 == 0 {
			if _, err := s.ClaimReview(ctx, "conn-batch", id, review.Product, "w", time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.GetLinks(ctx, "conn-batch", append(ids, ids[0])) // a duplicate id is fine
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 65 {
		t.Fatalf("got %d links, want 65", len(got))
	}
	if _, ok := got[ids[2]]; !ok {
		t.Fatal("missing an existing link")
	}
	if _, ok := got[ids[1]]; ok {
		t.Fatal("returned a link that does not exist")
	}
}

func TestReplyClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t).WithClock(clk.now)
	const conn, rid = "conn-reply", "ffffffffffffffffffffffff"

	if rc, err := s.ClaimReply(ctx, conn, rid, 100, "h1", time.Minute); err != nil || rc.Status != store.ReplyNoLink {
		t.Fatalf("reply without link: %+v %v", rc, err)
	}
	if _, err := s.ClaimReview(ctx, conn, rid, review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 100, "h1", time.Minute); rc.Status != store.ReplyNoLink {
		t.Fatalf("reply on an unconfirmed claim: %+v", rc)
	}
	if err := s.ConfirmLink(ctx, store.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w", Account: "a", TicketID: 9}); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := s.ClaimReply(ctx, conn, rid, 100, fmt.Sprintf("h%d", i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if rc.Status == store.ReplyClaimedNow {
				wins.Add(1)
			} else if rc.Status != store.ReplyBusy {
				t.Errorf("concurrent duplicate got %v", rc.Status)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d deliveries claimed the reply", wins.Load())
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 101, "h", time.Minute); rc.Status != store.ReplyUsed {
		t.Fatalf("second message: %+v", rc)
	}
	// Transient failure: release for a retry; the same message may claim again, another may not.
	if err := s.ReleaseReply(ctx, conn, rid, 100); err != nil {
		t.Fatal(err)
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 101, "h", time.Minute); rc.Status != store.ReplyUsed {
		t.Fatalf("other message after release: %+v", rc)
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 100, "retry", time.Minute); rc.Status != store.ReplyClaimedNow {
		t.Fatalf("retry of the same message: %+v", rc)
	}
	if err := s.FinishReply(ctx, conn, rid, 101, store.ReplyPosted, "x"); !errs.Is(err, errs.Conflict) {
		t.Fatalf("finish by a message without the claim: %v", err)
	}
	if err := s.FinishReply(ctx, conn, rid, 100, store.ReplyPosted, "posted"); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour)
	rc, _ := s.ClaimReply(ctx, conn, rid, 100, "late duplicate", time.Minute)
	if rc.Status != store.ReplyUsed || rc.Link.ReplyState != store.ReplyPosted || rc.Link.ReplyMessage != 100 {
		t.Fatalf("after posted: %+v", rc)
	}
}

func TestCursorMonotonic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	cur, err := s.GetCursor(ctx, "conn-cur", review.Service)
	if err != nil || !cur.Since.IsZero() {
		t.Fatalf("empty cursor: %+v %v", cur, err)
	}
	steps := []store.Checkpoint{
		{Since: t0, Resume: "page-2", Seen: 100, Created: 90},
		{Since: t0.Add(-time.Hour), Resume: "page-3", Seen: 100, Created: 100, Errors: 1, LastError: "review x: invalid"},
		{Since: t0.Add(time.Hour), Resume: "", Seen: 5, Created: 5},
	}
	for _, st := range steps {
		if err := s.SaveCheckpoint(ctx, "conn-cur", review.Service, st); err != nil {
			t.Fatal(err)
		}
	}
	cur, err = s.GetCursor(ctx, "conn-cur", review.Service)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Since.Equal(t0.Add(time.Hour)) || cur.Resume != "" || cur.ReviewSeen != 205 || cur.Tickets != 195 || cur.Errors != 1 || cur.LastError == "" {
		t.Fatalf("cursor: %+v", cur)
	}
	if err := s.SaveCheckpoint(ctx, "conn-cur", review.Service, store.Checkpoint{Since: t0}); err != nil {
		t.Fatal(err)
	}
	if cur, _ = s.GetCursor(ctx, "conn-cur", review.Service); !cur.Since.Equal(t0.Add(time.Hour)) {
		t.Fatalf("cursor moved back: %v", cur.Since)
	}
}

func TestLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t).WithClock(clk.now)
	tests := []struct {
		name  string
		owner string
		after time.Duration
		want  bool
	}{
		{"first owner takes it", "a", 0, true},
		{"second owner refused", "b", 0, false},
		{"owner renews", "a", 10 * time.Second, true},
		{"still held", "b", 20 * time.Second, false},
		{"expired: taken over", "b", time.Minute, true},
		{"old owner refused", "a", 0, false},
	}
	for _, tc := range tests {
		clk.add(tc.after)
		got, err := s.AcquireLease(ctx, "acme.gorgias.com", tc.owner, 30*time.Second)
		if err != nil || got != tc.want {
			t.Fatalf("%s: got %v %v", tc.name, got, err)
		}
	}
	if err := s.ReleaseLease(ctx, "acme.gorgias.com", "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, "acme.gorgias.com", "c", time.Second); ok {
		t.Fatal("release by a non-owner freed the lease")
	}
	if err := s.ReleaseLease(ctx, "acme.gorgias.com", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, "acme.gorgias.com", "c", time.Second); !ok {
		t.Fatal("released lease not free")
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	if _, ok, err := s.LoadToken(ctx, "conn-tok"); ok || err != nil {
		t.Fatalf("empty: %v %v", ok, err)
	}
	exp := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SaveToken(ctx, "conn-tok", store.Token{AccessToken: "at", RefreshToken: "rt2", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	tok, ok, err := s.LoadToken(ctx, "conn-tok")
	if err != nil || !ok || tok.AccessToken != "at" || tok.RefreshToken != "rt2" || !tok.ExpiresAt.Equal(exp) {
		t.Fatalf("%+v %v %v", tok, ok, err)
	}
}

func TestMarkOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t).WithClock(clk.now)
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.MarkOnce(ctx, "note#1#2", time.Hour); err != nil {
				t.Error(err)
			} else if ok {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d firsts", firsts.Load())
	}
	clk.add(2 * time.Hour)
	if ok, _ := s.MarkOnce(ctx, "note#1#2", time.Hour); !ok {
		t.Fatal("mark did not expire")
	}
}

func TestReopenReplyAfterFixableRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const conn, rid = "conn-reopen", "abababababababababababab"
	if _, err := s.ClaimReview(ctx, conn, rid, review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmLink(ctx, store.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w", Account: "a", TicketID: 5}); err != nil {
		t.Fatal(err)
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 10, "h", time.Minute); rc.Status != store.ReplyClaimedNow {
		t.Fatalf("first claim: %+v", rc)
	}
	if err := s.ReopenReply(ctx, conn, rid, 10, "no API access"); err != nil {
		t.Fatal(err)
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 10, "h", time.Minute); rc.Status != store.ReplyRefusedBefore {
		t.Fatalf("redelivery of the refused message: %+v", rc)
	}
	if rc, _ := s.ClaimReply(ctx, conn, rid, 11, "h", time.Minute); rc.Status != store.ReplyClaimedNow {
		t.Fatalf("next reply after the fix: %+v", rc)
	}
}

func TestMarkQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t).WithClock(clk.now)
	steps := []struct {
		name  string
		do    func() (bool, error)
		after time.Duration
		want  bool
	}{
		{"first", func() (bool, error) { return s.MarkQueued(ctx, "conn-q", review.Service, time.Hour) }, 0, true},
		{"already queued", func() (bool, error) { return s.MarkQueued(ctx, "conn-q", review.Service, time.Hour) }, time.Minute, false},
		{"other kind", func() (bool, error) { return s.MarkQueued(ctx, "conn-q", review.Product, time.Hour) }, 0, true},
		{"finished", func() (bool, error) { return true, s.ClearQueued(ctx, "conn-q", review.Service) }, 0, true},
		{"queued again", func() (bool, error) { return s.MarkQueued(ctx, "conn-q", review.Service, time.Hour) }, 0, true},
		{"stale mark replaced", func() (bool, error) { return s.MarkQueued(ctx, "conn-q", review.Service, time.Hour) }, 2 * time.Hour, true},
	}
	for _, st := range steps {
		clk.add(st.after)
		got, err := st.do()
		if err != nil || got != st.want {
			t.Fatalf("%s: %v %v", st.name, got, err)
		}
	}
}

func TestFailClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t).WithClock(clk.now)
	const conn, rid = "conn-fail", "cdcdcdcdcdcdcdcdcdcdcdcd"
	if c, _ := s.ClaimReview(ctx, conn, rid, review.Product, "w", time.Minute); c.Status != store.Claimed {
		t.Fatalf("%+v", c)
	}
	if err := s.FailClaim(ctx, conn, rid, "w", "400 subject too long", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ClaimReview(ctx, conn, rid, review.Product, "w2", time.Minute); c.Status != store.Failed {
		t.Fatalf("claim of a failed review: %+v", c)
	}
	clk.add(25 * time.Hour)
	if c, _ := s.ClaimReview(ctx, conn, rid, review.Product, "w2", time.Minute); c.Status != store.Claimed || !c.Recover {
		t.Fatalf("retry after the wait: %+v", c)
	}
}
