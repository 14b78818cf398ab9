// Package backoff computes retry delays: capped exponential backoff with full jitter, and the
// server's Retry-After when it gives one.
package backoff

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy is a capped exponential backoff.
type Policy struct {
	Base time.Duration // first delay's ceiling
	Cap  time.Duration // no delay is longer
}

// Delay returns the delay before retry number attempt (0 for the first retry): a random
// duration in [0, min(Cap, Base*2^attempt)], so concurrent clients spread out.
func (p Policy) Delay(attempt int) time.Duration {
	ceil := p.ceiling(attempt)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// EqualJitter returns the delay before retry number attempt with "equal jitter": a random
// duration in [ceil/2, ceil], ceil = min(Cap, Base*2^attempt). Retries of work whose failure is
// likely to last a while (an outage) use it: never right away, still spread out.
func (p Policy) EqualJitter(attempt int) time.Duration {
	ceil := p.ceiling(attempt)
	if ceil <= 0 {
		return 0
	}
	half := ceil / 2
	return half + time.Duration(rand.Int64N(int64(ceil-half)+1))
}

func (p Policy) ceiling(attempt int) time.Duration {
	ceil := p.Base
	for i := 0; i < attempt && ceil < p.Cap; i++ {
		ceil *= 2
	}
	return min(ceil, p.Cap)
}

// JobCap is the longest a queued job waits between two attempts.
const JobCap = 15 * time.Minute

// DefaultJobBase is the first retry delay of a queued job when none is configured.
const DefaultJobBase = 30 * time.Second

// JobRetry is the one retry policy of queued work: the worker's redeliveries of failed jobs
// and the reply retries the webhook and the worker queue. base <= 0 takes DefaultJobBase.
func JobRetry(base time.Duration) Policy {
	if base <= 0 {
		base = DefaultJobBase
	}
	return Policy{Base: base, Cap: JobCap}
}

// RetryAfter parses a Retry-After header (delay seconds or an HTTP date) relative to now.
// It reports false when the header is absent or unreadable; the result is capped at max.
func RetryAfter(h http.Header, now time.Time, max time.Duration) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, false
		}
		if secs >= max.Seconds() {
			return max, true
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d < 0 {
			d = 0
		}
	} else {
		return 0, false
	}
	if d > max {
		d = max
	}
	return d, true
}
