package trustpilot

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
		if err := pause(ctx, d, maxWait, ""); err != nil {
			return err
		}
	}
}

// pause waits d for budget room, unless that is more than maxWait or past ctx's deadline:
// then it fails at once with ErrBudgetExhausted (what says whose budget).
func pause(ctx context.Context, d, maxWait time.Duration, what string) error {
	if d > maxWait {
		return fmt.Errorf("%w%s: next room in %s", ErrBudgetExhausted, what, d.Round(time.Millisecond))
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("%w%s: next room after the deadline", ErrBudgetExhausted, what)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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

// CallLedger grants Trustpilot calls across every instance and function (a DynamoDB count in
// production, store.TakeCalls): n calls for the API key named key, unless limit calls would then
// fall within window; refused, it says when to ask again, granted, until when the calls may be
// made (the end of the ledger bucket they count in).
type CallLedger interface {
	TakeCalls(ctx context.Context, key string, n, limit int, window time.Duration) (bool, time.Time, error)
}

// LedgerKey names an API key in the ledger without holding it: connections sharing a key
// share its allowance, and the table never stores the key.
func LedgerKey(apiKey string) string {
	h := sha256.Sum256([]byte("trustpilot-api-key\x00" + apiKey))
	return hex.EncodeToString(h[:12])
}

// ledgerBatch is how many calls an instance reserves at once: one ledger write serves several
// calls; what an instance reserved and did not use counts against the window (conservative).
const ledgerBatch = 4

// sharedBudget spends an instance's reservations from the ledger.
type sharedBudget struct {
	ledger CallLedger
	key    string
	limit  int
	window time.Duration

	mu    sync.Mutex
	left  int
	until time.Time // a reservation is used within its ledger bucket or lapses
}

var sharedLedgers = struct {
	mu sync.Mutex
	m  map[string]*sharedBudget
}{m: map[string]*sharedBudget{}}

func sharedBudgetFor(l CallLedger, key string, limit int, window time.Duration) *sharedBudget {
	sharedLedgers.mu.Lock()
	defer sharedLedgers.mu.Unlock()
	k := fmt.Sprintf("%s\x00%d\x00%s", key, limit, window)
	b, ok := sharedLedgers.m[k]
	if !ok || b.ledger != l {
		b = &sharedBudget{ledger: l, key: key, limit: limit, window: window}
		sharedLedgers.m[k] = b
	}
	return b
}

// wait takes one call from the instance's reservation, reserving more from the ledger when it
// is spent; it waits for room up to maxWait and never past ctx's deadline.
func (b *sharedBudget) wait(ctx context.Context, maxWait time.Duration) error {
	if b == nil {
		return nil
	}
	start := time.Now()
	for {
		b.mu.Lock()
		now := time.Now()
		if b.left > 0 && now.Before(b.until) {
			b.left--
			b.mu.Unlock()
			return nil
		}
		b.left = 0
		ok, retry, err := b.take(ctx, ledgerBatch)
		if err == nil && !ok {
			ok, retry, err = b.take(ctx, 1) // the window may still have room for one
		}
		b.mu.Unlock()
		if err != nil {
			return fmt.Errorf("call ledger: %w", err)
		}
		if ok {
			return nil
		}
		if err := pause(ctx, time.Until(retry)+10*time.Millisecond, maxWait-time.Since(start), " across instances"); err != nil {
			return err
		}
	}
}

// take asks the ledger for n calls; b.mu is held. A grant of n leaves n-1 for later calls.
func (b *sharedBudget) take(ctx context.Context, n int) (bool, time.Time, error) {
	ok, retry, err := b.ledger.TakeCalls(ctx, b.key, n, b.limit, b.window)
	if ok {
		b.left = n - 1
		// A ledger that does not say keeps the reservation to the second it was granted in.
		b.until = cmp.Or(retry, time.Now().Truncate(time.Second).Add(time.Second))
	}
	return ok, retry, err
}
