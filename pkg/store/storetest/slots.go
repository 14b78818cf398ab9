package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Call slots: consecutive reservations follow each other interval apart; one that would start
// beyond the horizon is refused with its start; a push from the usage header moves the next
// slot on; slots never start in the past.
func testCallSlots(t *testing.T, e *env) {
	key := e.name("acct")
	const iv = 500 * time.Millisecond
	take := func(n int, horizon time.Duration) (time.Time, bool) {
		t.Helper()
		at, ok, err := e.s.TakeSlots(e.ctx, key, n, iv, horizon)
		e.must(err)
		return at, ok
	}
	now := e.now()
	if at, ok := take(2, time.Second); !ok || !at.Equal(now) {
		t.Fatalf("first slots at %v %v, want now", at, ok)
	}
	if at, ok := take(2, time.Second); !ok || !at.Equal(now.Add(2*iv)) {
		t.Fatalf("second slots at %v, want %v", at, now.Add(2*iv))
	}
	if at, ok := take(2, time.Second); ok || !at.Equal(now.Add(4*iv)) {
		t.Fatalf("slots beyond the horizon: %v %v, want refused at %v", at, ok, now.Add(4*iv))
	}
	if at, ok := take(1, time.Minute); !ok || !at.Equal(now.Add(4*iv)) {
		t.Fatalf("a long horizon takes the next slot: %v %v", at, ok)
	}
	e.must(e.s.PushSlots(e.ctx, key, now.Add(10*time.Second)))
	e.must(e.s.PushSlots(e.ctx, key, now.Add(time.Second))) // earlier: no effect
	if at, ok := take(1, time.Minute); !ok || !at.Equal(now.Add(10*time.Second)) {
		t.Fatalf("after a push: %v %v", at, ok)
	}
	e.clk.Add(time.Hour)
	if at, ok := take(1, 0); !ok || !at.Equal(e.now()) {
		t.Fatalf("idle account: %v %v, want now", at, ok)
	}
}

// Concurrent reservations never share a slot (one refused for contention is asked again, as
// the limiter does).
func testConcurrentCallSlots(t *testing.T, e *env) {
	key := e.name("acct")
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got := 0; got < 5; {
				at, ok, err := e.s.TakeSlots(e.ctx, key, 1, time.Millisecond, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					continue
				}
				got++
				mu.Lock()
				if seen[at.UnixNano()] {
					t.Errorf("slot %v given twice", at)
				}
				seen[at.UnixNano()] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("%d distinct slots, want 40", len(seen))
	}
}

// Parked jobs: one per id, taken once, by one taker only.
func testParkedJobs(t *testing.T, e *env) {
	acct := e.name("acct")
	e.must(e.s.ParkJob(e.ctx, acct, "a", `{"job":"a"}`))
	e.must(e.s.ParkJob(e.ctx, acct, "a", `{"job":"a"}`))
	e.must(e.s.ParkJob(e.ctx, acct, "b", `{"job":"b"}`))
	e.must(e.s.ParkJob(e.ctx, e.name("acct"), "c", `{"job":"c"}`))
	var wg sync.WaitGroup
	got := make([][]string, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := e.s.TakeParked(e.ctx, acct)
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		}()
	}
	wg.Wait()
	all := append(append([]string{}, got[0]...), got[1]...)
	slices.Sort(all)
	if !slices.Equal(all, []string{`{"job":"a"}`, `{"job":"b"}`}) {
		t.Fatalf("taken %v and %v, want a and b once between them", got[0], got[1])
	}
	if b, err := e.s.TakeParked(e.ctx, acct); err != nil || len(b) != 0 {
		t.Fatalf("taken again: %v %v", b, err)
	}
}
