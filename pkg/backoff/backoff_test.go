package backoff_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
)

func TestDelayCappedAndJittered(t *testing.T) {
	t.Parallel()
	p := backoff.Policy{Base: 100 * time.Millisecond, Cap: time.Second}
	for attempt := range 20 {
		ceil := min(p.Cap, p.Base<<min(attempt, 10))
		for range 50 {
			if d := p.Delay(attempt); d < 0 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, ceil)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"3", 3 * time.Second, true}, {"0.5", 500 * time.Millisecond, true}, {"-1", 0, false},
		{"NaN", 0, false}, {"Inf", 0, false}, {"1e300", time.Minute, true}, {"soon", 0, false},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), time.Minute, true},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := backoff.RetryAfter(h, now, time.Minute)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %v %v, want %v %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "NaN", "1e300", "Wed, 21 Oct 2015 07:28:00 GMT", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("Retry-After", v)
		d, _ := backoff.RetryAfter(h, time.Now(), time.Minute)
		if d < 0 || d > time.Minute {
			t.Fatalf("%q gave %v", v, d)
		}
	})
}

func TestEqualJitterStaysInTheUpperHalf(t *testing.T) {
	t.Parallel()
	p := backoff.JobRetry(time.Second)
	for attempt, ceil := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		for range 200 {
			if d := p.EqualJitter(attempt); d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, ceil/2, ceil)
			}
		}
	}
	if d := p.EqualJitter(100); d > backoff.JobCap || d < backoff.JobCap/2 {
		t.Fatalf("capped delay %v", d)
	}
	if d := (backoff.Policy{}).EqualJitter(3); d != 0 {
		t.Fatalf("zero policy waits %v", d)
	}
	if backoff.JobRetry(0).Base != backoff.DefaultJobBase {
		t.Fatal("JobRetry(0) does not take the default base")
	}
}
