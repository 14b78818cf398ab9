package trustpilotsim

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// callerKey is the API key a request spends: its apikey header, the key of its bearer token's
// business unit, or the Basic-auth key of a token request ("" when none can be told).
func (s *Sim) callerKey(r *http.Request) string {
	if k := r.Header.Get("apikey"); k != "" {
		return k
	}
	if key, _, ok := r.BasicAuth(); ok {
		return key
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		if at, ok := s.access[tok]; ok {
			if u := s.units[at.unit]; u != nil {
				return u.APIKey
			}
		}
	}
	if r.Method == http.MethodPost {
		_ = r.ParseForm() // the auth-code grant may carry client_id in the form
		return r.PostForm.Get("client_id")
	}
	return ""
}

// logCall notes a call against its API key, on the simulator's clock.
func (s *Sim) logCall(key string) {
	if key == "" {
		return
	}
	now := s.Now()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.calls[key] = append(s.calls[key], now)
}

// CallsByKey reports the calls made with an API key in [from, to) on the simulator's clock
// (zero times: unbounded).
func (s *Sim) CallsByKey(key string, from, to time.Time) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	n := 0
	for _, t := range s.calls[key] {
		if (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to)) {
			n++
		}
	}
	return n
}

// MaxCallsInWindow is the most calls an API key made within any window of that length (the
// measure of Trustpilot's "833 calls per 5 minutes").
func (s *Sim) MaxCallsInWindow(key string, window time.Duration) int {
	s.cmu.Lock()
	ts := append([]time.Time(nil), s.calls[key]...)
	s.cmu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
