package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

func testCallBudget(t *testing.T, e *env) {
	key := e.name("key")
	take := func(n int) (bool, time.Time) {
		t.Helper()
		ok, next, err := e.s.TakeCalls(e.ctx, key, n, 10, 5*time.Minute)
		e.must(err)
		return ok, next
	}
	if ok, _ := take(6); !ok {
		t.Fatal("first grant refused")
	}
	e.clk.Add(2 * time.Minute)
	if ok, _ := take(4); !ok {
		t.Fatal("grant up to the limit refused")
	}
	ok, next := take(1)
	if ok || !next.After(e.now()) || next.Sub(e.now()) > time.Minute {
		t.Fatalf("grant over the limit: %v, retry at %v (now %v)", ok, next, e.now())
	}
	// Four minutes after the first grant, a 5-minute window still holds it.
	e.clk.Add(2 * time.Minute)
	if ok, _ := take(1); ok {
		t.Fatal("granted while a 5-minute window could still hold all 11")
	}
	// Six minutes after it, the first grant is out; the second (four minutes old) is not.
	e.clk.Add(2 * time.Minute)
	if ok, _ := take(7); ok {
		t.Fatal("granted 7 beside the 4 still in the window")
	}
	if ok, _ := take(6); !ok {
		t.Fatal("the first grant never left the window")
	}
	recent, daily, err := e.s.CallCounts(e.ctx, key, 5*time.Minute, 2)
	e.must(err)
	if recent != 10 || daily[0]+daily[1] != 16 {
		t.Fatalf("counts: %d in the window (want 10), days %v (want 16 in all)", recent, daily)
	}
	other := e.name("key")
	if r, d, err := e.s.CallCounts(e.ctx, other, 5*time.Minute, 1); err != nil || r != 0 || d[0] != 0 {
		t.Fatalf("an unused key: %d %v %v", r, d, err)
	}
}

func testConcurrentCallGrants(t *testing.T, e *env) {
	key := e.name("key")
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				ok, _, err := e.s.TakeCalls(e.ctx, key, 1, 10, 5*time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := granted.Load(); n != 10 {
		t.Fatalf("%d grants of a 10-call limit from 48 concurrent asks", n)
	}
}

func testScheduledAndRunCalls(t *testing.T, e *env) {
	conn := e.conn()
	at := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC) // the scheduler's clock, not the store's
	e.must(e.s.MarkScheduled(e.ctx, conn, review.Product, at))
	e.must(e.s.SetRunCalls(e.ctx, conn, review.Product, 51))
	c, err := e.s.GetCursor(e.ctx, conn, review.Product)
	e.must(err)
	if !c.ScheduledAt.Equal(at) || c.RunCalls != 51 || !c.Since.IsZero() || c.ReviewSeen != 0 {
		t.Fatalf("cursor %+v", c)
	}
	e.must(e.s.SaveCheckpoint(e.ctx, conn, review.Product, cursor.Checkpoint{Seen: 3}))
	if c, _ = e.s.GetCursor(e.ctx, conn, review.Product); !c.ScheduledAt.Equal(at) || c.RunCalls != 51 || c.ReviewSeen != 3 {
		t.Fatalf("after a checkpoint: %+v", c)
	}
}

// A rate window of other than 5 minutes (TRUSTPILOT_RATE_LIMIT) is counted in buckets of a
// fifth of it: a grant leaves a 30-second window only once no 30-second window can hold it.
func testShortCallWindow(t *testing.T, e *env) {
	key := e.name("key")
	take := func(n int) (bool, time.Time) {
		t.Helper()
		ok, next, err := e.s.TakeCalls(e.ctx, key, n, 10, 30*time.Second)
		e.must(err)
		return ok, next
	}
	ok, ends := take(10)
	if !ok || !ends.After(e.now()) || ends.Sub(e.now()) > 6*time.Second {
		t.Fatalf("first grant: %v, its bucket ends at %v (now %v)", ok, ends, e.now())
	}
	if ok, next := take(1); ok || !next.After(e.now()) || next.Sub(e.now()) > 6*time.Second {
		t.Fatalf("grant over the limit: %v, retry at %v", ok, next)
	}
	e.clk.Add(29 * time.Second)
	if ok, _ := take(1); ok {
		t.Fatal("granted while a 30-second window could still hold all 11")
	}
	e.clk.Add(8 * time.Second)
	if ok, _ := take(10); !ok {
		t.Fatal("the first grant never left the window")
	}
	if recent, _, err := e.s.CallCounts(e.ctx, key, 30*time.Second, 1); err != nil || recent != 10 {
		t.Fatalf("counts over 30 s: %d %v (want 10)", recent, err)
	}
	if recent, _, err := e.s.CallCounts(e.ctx, key, 5*time.Minute, 1); err != nil || recent != 0 {
		t.Fatalf("a 5-minute window counts minute buckets only: %d %v", recent, err)
	}
}

// Calls that were not polls are counted per day beside the grants, and apart from them.
func testOtherCalls(t *testing.T, e *env) {
	key := e.name("key")
	e.must(e.s.AddOtherCalls(e.ctx, key, 3))
	e.clk.Add(24 * time.Hour)
	e.must(e.s.AddOtherCalls(e.ctx, key, 2))
	e.must(e.s.AddOtherCalls(e.ctx, key, 5))
	days, err := e.s.OtherCallDays(e.ctx, key, 3)
	e.must(err)
	if days[0] != 7 || days[1] != 3 || days[2] != 0 {
		t.Fatalf("other calls by day %v, want [7 3 0]", days)
	}
	if _, d, err := e.s.CallCounts(e.ctx, key, 5*time.Minute, 2); err != nil || d[0]+d[1] != 0 {
		t.Fatalf("other calls counted as grants: %v %v", d, err)
	}
}
