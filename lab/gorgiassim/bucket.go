package gorgiassim

import (
	"math"
	"time"
)

type account struct {
	cfg    AccountConfig
	userID int64
	tags   map[string]*Tag

	// The leaky bucket: level drains at RateCalls per RateWindow.
	level    float64
	levelAt  time.Time
	arrivals []time.Time // the client's own requests within the last window, for MaxInWindow
	stats    Stats

	// The other integration (Switches.OtherCalls): its k-th call since otherSince is due at
	// otherSince + k*RateWindow/OtherCalls; otherMade of them are in the bucket's history.
	otherSince time.Time
	otherMade  int64
}

func newAccount(ac AccountConfig, now time.Time) *account {
	return &account{cfg: ac, tags: map[string]*Tag{}, stats: newStats(), otherSince: now}
}

// bucketEps absorbs float error when the bucket is exactly full.
const bucketEps = 1e-9

// rate is how fast the bucket drains, in calls per second.
func (a *account) rate() float64 { return float64(a.cfg.RateCalls) / a.cfg.RateWindow.Seconds() }

// drain lets the bucket leak up to t; draining in steps ends where one step would.
func (a *account) drain(t time.Time) {
	if a.levelAt.IsZero() {
		a.levelAt = t
		return
	}
	if t.After(a.levelAt) {
		a.level = max(0, a.level-t.Sub(a.levelAt).Seconds()*a.rate())
		a.levelAt = t
	}
}

// advance brings the bucket to now: it plays, in order, the other integration's calls that
// fell due since the last update, each taking a place in the bucket if there is one (throttled
// otherwise, like the client's), then drains to now. Computing them lazily keeps the account
// free of goroutines, and the result is the same whenever it is computed: the bucket's history
// is a function of the arrival times alone.
func (a *account) advance(now time.Time) {
	if n := a.cfg.OtherCalls; n > 0 {
		step := float64(a.cfg.RateWindow) / float64(n)
		for {
			due := a.otherSince.Add(time.Duration(float64(a.otherMade+1) * step))
			if due.After(now) {
				break
			}
			a.drain(due)
			a.otherMade++
			a.stats.OtherCalls++
			if a.level+1 > float64(a.cfg.RateCalls)+bucketEps {
				a.stats.OtherThrottled++
			} else {
				a.level++
			}
		}
	}
	a.drain(now)
}

// setOtherCalls changes the other integration's rate from now on: the calls due under the old
// rate are played first, and the new rate's first call is one interval away.
func (a *account) setOtherCalls(n int, now time.Time) {
	a.advance(now)
	if n != a.cfg.OtherCalls {
		a.otherSince, a.otherMade = now, 0
	}
	a.cfg.OtherCalls = n
}

// admit accounts for one of the client's requests arriving at now: it reports the bucket's
// level to show and, when the bucket is full, the Retry-After seconds.
func (a *account) admit(now time.Time) (used int, retryAfter int, ok bool) {
	a.advance(now)
	a.stats.Requests++
	a.arrive(now)
	if a.level+1 > float64(a.cfg.RateCalls)+bucketEps {
		a.stats.Throttled++
		wait := (a.level + 1 - float64(a.cfg.RateCalls)) / a.rate()
		return a.cfg.RateCalls, max(1, int(math.Ceil(wait))), false
	}
	a.level++
	return int(math.Ceil(a.level - bucketEps)), 0, true
}

// arrive records a request of the client for MaxInWindow: the requests kept are those in
// (now-RateWindow, now], so their count is that of the sliding window ending now, and the
// largest such count over all arrivals is the largest over every window of that length.
func (a *account) arrive(now time.Time) {
	cut := now.Add(-a.cfg.RateWindow)
	i := 0
	for i < len(a.arrivals) && !a.arrivals[i].After(cut) {
		i++
	}
	a.arrivals = append(a.arrivals[i:], now)
	a.stats.MaxInWindow = max(a.stats.MaxInWindow, len(a.arrivals))
}

// admit accounts for one API request of the account (account.admit).
func (s *Server) admit(a *account) (used int, retryAfter int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return a.admit(time.Now())
}
