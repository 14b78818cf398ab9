package trustpilot

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// budget is a sliding-window limit on calls for one connection: at most n calls in any window.
// It lives per process; with several Lambda instances each keeps its own count, so the default
// leaves the real limit to the sum staying low (a sync job runs one instance per connection).
type budget struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	calls  []time.Time // start times of the calls in the current window, oldest first
}

type budgetRegistry struct {
	mu sync.Mutex
	m  map[string]*budget
}

var sharedBudgets = &budgetRegistry{m: map[string]*budget{}}

func (r *budgetRegistry) get(key string, n int, window time.Duration) *budget {
	key = fmt.Sprintf("%s\x00%d\x00%s", key, n, window)
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.m[key]
	if !ok {
		b = &budget{n: n, window: window}
		r.m[key] = b
	}
	return b
}

// wait takes a slot, waiting up to maxWait (and never past ctx's deadline) for one to free.
// It uses the real clock: the window is about wall time even when tests move token time.
func (b *budget) wait(ctx context.Context, maxWait time.Duration) error {
	if b == nil {
		return nil
	}
	for {
		d := b.take(time.Now())
		if d == 0 {
			return nil
		}
		if d > maxWait {
			return fmt.Errorf("%w: next slot in %s", ErrBudgetExhausted, d.Round(time.Millisecond))
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return fmt.Errorf("%w: next slot after the deadline", ErrBudgetExhausted)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// take records a call at now and returns 0, or returns how long until a slot frees.
func (b *budget) take(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	cut := now.Add(-b.window)
	i := 0
	for i < len(b.calls) && !b.calls[i].After(cut) {
		i++
	}
	b.calls = b.calls[i:]
	if len(b.calls) < b.n {
		b.calls = append(b.calls, now)
		return 0
	}
	return b.calls[0].Sub(cut) + time.Millisecond
}
