package storetest

import (
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
