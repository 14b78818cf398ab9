package gorgias

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented API-key limit (reference §6): 40 calls per 20 s per account.
const (
	DefaultCalls  = 40
	DefaultWindow = 20 * time.Second
)

// CallLimitHeader is Gorgias' "used/limit" header on every response.
const CallLimitHeader = "X-Gorgias-Account-Api-Call-Limit"

// Limiter keeps one helpdesk account under its call limit. At most calls requests are started in
// any window, and a slot is reused only window after the response that used it was read: Gorgias
// counts a call somewhere between our send and our read, so measuring from the read keeps every
// window as Gorgias sees it under the ceiling, whatever the latency. That is at least as strict as
// Gorgias' leaky bucket of the same size. It also pauses everyone on a 429 (Retry-After) and
// when the call-limit header shows the bucket nearly full, which is how other processes' calls
// on the same account become visible.
type Limiter struct {
	calls  int
	window time.Duration

	mu          sync.Mutex
	fresh       int         // slots never used
	ready       []time.Time // when released slots may be used again, ascending
	pausedUntil time.Time
	waiters     int
	wake        chan struct{} // closed when a slot is released and someone waits
}

// NewLimiter allows calls requests per window. Non-positive values take the defaults.
func NewLimiter(calls int, window time.Duration) *Limiter {
	if calls <= 0 {
		calls = DefaultCalls
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &Limiter{calls: calls, window: window, fresh: calls, wake: make(chan struct{})}
}

// Limits returns the limiter's calls and window.
func (l *Limiter) Limits() (int, time.Duration) { return l.calls, l.window }

var shared = struct {
	sync.Mutex
	m map[string]*Limiter
}{m: map[string]*Limiter{}}

// SharedLimiter returns the process-wide limiter for acct, keyed by base URL and email, with the
// default API-key limit. Every client of the same account in the process shares it: the limit
// is per helpdesk account, not per connection.
func SharedLimiter(acct Account) *Limiter {
	return SharedLimiterWith(acct, DefaultCalls, DefaultWindow)
}

// SharedLimiterWith is SharedLimiter for accounts with another limit (OAuth apps: 80/20 s,
// Enterprise: a 10 s window). The first call for an account fixes its limit.
func SharedLimiterWith(acct Account, calls int, window time.Duration) *Limiter {
	base, err := canonicalBaseURL(acct.BaseURL)
	if err != nil {
		base = strings.ToLower(strings.TrimSpace(acct.BaseURL))
	}
	key := base + "\x00" + strings.ToLower(strings.TrimSpace(acct.Email))
	shared.Lock()
	defer shared.Unlock()
	l, ok := shared.m[key]
	if !ok {
		l = NewLimiter(calls, window)
		shared.m[key] = l
	}
	return l
}

// Wait blocks until a call may start, or ctx ends. The caller must call release once the
// response has been read (or the attempt failed).
func (l *Limiter) Wait(ctx context.Context) (release func(), err error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		l.mu.Lock()
		now := time.Now()
		var until time.Time
		switch {
		case now.Before(l.pausedUntil):
			until = l.pausedUntil
		case l.fresh > 0:
			l.fresh--
			l.mu.Unlock()
			return l.releaser(), nil
		case len(l.ready) > 0 && !l.ready[0].After(now):
			l.ready = l.ready[1:]
			l.mu.Unlock()
			return l.releaser(), nil
		case len(l.ready) > 0:
			until = l.ready[0]
		}
		l.waiters++
		wake := l.wake
		l.mu.Unlock()

		var tc <-chan time.Time
		if !until.IsZero() {
			if timer == nil {
				timer = time.NewTimer(until.Sub(now))
			} else {
				timer.Reset(until.Sub(now))
			}
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-wake:
		case <-tc:
		}
		l.mu.Lock()
		l.waiters--
		l.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

func (l *Limiter) releaser() func() {
	var once sync.Once
	return func() { once.Do(l.release) }
}

func (l *Limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := time.Now().Add(l.window)
	if n := len(l.ready); n > 0 && at.Before(l.ready[n-1]) {
		at = l.ready[n-1]
	}
	if len(l.ready) == cap(l.ready) && len(l.ready) < l.calls {
		// Compact instead of growing: ready never holds more than calls entries.
		l.ready = append(make([]time.Time, 0, l.calls), l.ready...)
	}
	l.ready = append(l.ready, at)
	if l.waiters > 0 {
		close(l.wake)
		l.wake = make(chan struct{})
	}
}

// PauseFor stops every caller from starting a call for d (a 429's Retry-After).
func (l *Limiter) PauseFor(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d)
	l.mu.Lock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
	l.mu.Unlock()
}

// Observe reads the call-limit header ("used/limit") of a response and, when Gorgias' bucket is
// within a tenth of full, pauses long enough for it to drain back below that mark: other
// processes on the same account are only visible this way, and slowing down beats a 429.
func (l *Limiter) Observe(h http.Header) {
	used, limit, ok := ParseCallLimit(h.Get(CallLimitHeader))
	if !ok {
		return
	}
	mark := limit - max(1, limit/10)
	if used <= mark {
		return
	}
	// The bucket leaks limit calls per window.
	l.PauseFor(time.Duration(used-mark) * l.window / time.Duration(limit))
}

// ParseCallLimit parses "used/limit".
func ParseCallLimit(v string) (used, limit int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(v), "/")
	if !found {
		return 0, 0, false
	}
	used, err1 := strconv.Atoi(strings.TrimSpace(a))
	limit, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || limit <= 0 || used < 0 {
		return 0, 0, false
	}
	return used, limit, true
}
