package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Call slots: consecutive reservations follow each other interval apart; one that would start
// beyond the horizon is refused with its start; a push (after a 429) moves the next slot on;
// a reservation asked not before a time (room other integrations took) starts there and moves
// the schedule past it for every instance; slots never start in the past.
func testCallSlots(t *testing.T, e *env) {
	key := e.name("acct")
	const iv = 500 * time.Millisecond
	takeFrom := func(n int, horizon time.Duration, notBefore time.Time) (time.Time, bool) {
		t.Helper()
		at, ok, err := e.s.TakeSlots(e.ctx, key, n, iv, horizon, notBefore)
		e.must(err)
		return at, ok
	}
	take := func(n int, horizon time.Duration) (time.Time, bool) {
		t.Helper()
		return takeFrom(n, horizon, time.Time{})
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
	now = e.now()
	if at, ok := takeFrom(2, time.Second, now.Add(3*time.Second)); ok || !at.Equal(now.Add(3*time.Second)) {
		t.Fatalf("not before 3 s, horizon 1 s: %v %v, want refused at %v", at, ok, now.Add(3*time.Second))
	}
	if at, ok := take(1, time.Minute); !ok || !at.Equal(now.Add(iv)) {
		t.Fatalf("a refused reservation moved the schedule: next slot %v %v, want %v", at, ok, now.Add(iv))
	}
	if at, ok := takeFrom(2, time.Minute, now.Add(3*time.Second)); !ok || !at.Equal(now.Add(3*time.Second)) {
		t.Fatalf("not before 3 s: %v %v", at, ok)
	}
	if at, ok := take(1, time.Minute); !ok || !at.Equal(now.Add(3*time.Second+2*iv)) {
		t.Fatalf("after a reservation not before 3 s, another instance's: %v %v, want %v", at, ok, now.Add(3*time.Second+2*iv))
	}
	if at, ok := takeFrom(1, time.Minute, now); !ok || !at.Equal(now.Add(3*time.Second+3*iv)) {
		t.Fatalf("a not-before already passed: %v %v, want the next slot", at, ok)
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
				at, ok, err := e.s.TakeSlots(e.ctx, key, 1, time.Millisecond, time.Hour, time.Time{})
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
