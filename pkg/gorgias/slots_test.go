package gorgias

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// Three instances (three schedules on one store) calling as fast as they can never put more
// than the limit in any window, and together use nearly all of it; an urgent call made while
// they do gets a slot within a few intervals, not behind their backlog.
func TestSharedScheduleHoldsTheLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	const limit, window = 10, time.Second
	inst := func() *sharedSchedule {
		return &sharedSchedule{slots: st, account: "acme.gorgias.com", limit: limit, window: window, interval: window / (limit - 1)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var mu sync.Mutex
	var calls []time.Time
	var wg sync.WaitGroup
	for range 3 {
		s := inst()
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s.wait(ctx, Background) == nil {
					mu.Lock()
					calls = append(calls, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	time.Sleep(1500 * time.Millisecond)
	start := time.Now()
	if err := inst().wait(context.Background(), Urgent); err != nil {
		t.Fatal(err)
	}
	urgentWait := time.Since(start)
	wg.Wait()
	sort.Slice(calls, func(i, j int) bool { return calls[i].Before(calls[j]) })
	peak, lo := 0, 0
	for hi := range calls {
		for calls[hi].Sub(calls[lo]) >= window {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	rate := float64(len(calls)) / calls[len(calls)-1].Sub(calls[0]).Seconds()
	t.Logf("%d calls, peak %d in %s, %.1f calls/s (limit %d/%s), urgent call waited %s", len(calls), peak, window, rate, limit, window, urgentWait)
	if peak > limit {
		t.Fatalf("%d calls within %s, limit %d", peak, window, limit)
	}
	// Loose bounds (a loaded machine delays goroutines); the e2e tests and benchmarks measure
	// the sustained share: here the instances must not starve, and the urgent call must not
	// queue behind the background calls' reservations (that would be seconds).
	if rate < 0.5*(limit-1)/window.Seconds() {
		t.Fatalf("%.1f calls/s: the instances left the allowance unused", rate)
	}
	if urgentWait > time.Second {
		t.Fatalf("an urgent call waited %s behind background calls", urgentWait)
	}
}

// Usage above a fifth of the account's bucket (other integrations) pushes every instance's
// next slot back by the time the excess takes to drain.
func TestObserveMakesRoomForOthers(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	s := &sharedSchedule{slots: st, account: "a", limit: 40, window: 20 * time.Second, interval: 20 * time.Second / 39}
	s.observe(context.Background(), 8, 40) // Pilotdesk's own calls keep the bucket this low: nothing
	if at, ok, _ := st.TakeSlots(context.Background(), "a", 1, s.interval, 0); !ok || time.Until(at) > 0 {
		t.Fatalf("pushed at 30/40: %v %v", at, ok)
	}
	s.observe(context.Background(), 40, 40)
	if at, ok, _ := st.TakeSlots(context.Background(), "a", 1, s.interval, time.Minute); !ok || time.Until(at) < 15*time.Second {
		t.Fatalf("at 40/40 the next slot is %s away, want the 16 s the 32 over the mark take to drain", time.Until(at))
	}
}

// With a limit so high that a slot's interval is shorter than the store's round trip, the
// slots reserved are still used (they used to lapse before their first use, every time).
func TestScheduleWithAHighLimitMakesProgress(t *testing.T) {
	t.Parallel()
	slow := slowSlots{memstore.New()}
	s := &sharedSchedule{slots: slow, account: "fast", limit: 2000, window: time.Second, interval: time.Second / 1999}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i := range 20 {
		if err := s.wait(ctx, Background); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// slowSlots answers like a store across a network: 5 ms a call.
type slowSlots struct{ *memstore.Store }

func (s slowSlots) TakeSlots(ctx context.Context, account string, n int, interval, horizon time.Duration) (time.Time, bool, error) {
	time.Sleep(5 * time.Millisecond)
	return s.Store.TakeSlots(ctx, account, n, interval, horizon)
}
