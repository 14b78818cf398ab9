package gorgiassim

import (
	"testing"
	"time"
)

// These tests drive the bucket with made-up arrival times, so its numbers are exact.

var t0 = time.Unix(1_700_000_000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

func testAccount(calls int, window time.Duration, other int) *account {
	return newAccount(AccountConfig{ID: "a", RateCalls: calls, RateWindow: window, Switches: Switches{OtherCalls: other}}, t0)
}

// The other integration's calls stay in the bucket: a window after a burst, a second burst
// finds the bucket still half full.
func TestOtherCallsFillTheBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		other             int
		wantUsed          int // the header's "used" on the first call of the second burst
		wantAdmitted      int // of the second burst's 10 calls
		wantOther, wantTh int
	}{
		// Without them the bucket is empty again after a window.
		{other: 0, wantUsed: 1, wantAdmitted: 10, wantOther: 0, wantTh: 0},
		// 5 a second, at 0.2 s, 0.4 s, …, 1.0 s: the bucket drains 2 between them,
		// 10 → 9 → 8 → 7 → 6 → 5, so 5 places are left.
		{other: 5, wantUsed: 6, wantAdmitted: 5, wantOther: 5, wantTh: 5},
	}
	for _, tt := range tests {
		a := testAccount(10, time.Second, tt.other)
		for i := range 10 {
			if _, _, ok := a.admit(t0); !ok {
				t.Fatalf("other %d: first burst call %d throttled", tt.other, i)
			}
		}
		admitted := 0
		for i := range 10 {
			used, retry, ok := a.admit(at(time.Second))
			if i == 0 && used != tt.wantUsed {
				t.Errorf("other %d: used %d, want %d", tt.other, used, tt.wantUsed)
			}
			if ok {
				admitted++
			} else if used != 10 || retry != 1 {
				t.Errorf("other %d: a 429 said used %d, Retry-After %d", tt.other, used, retry)
			}
		}
		st := a.stats
		if admitted != tt.wantAdmitted || st.OtherCalls != tt.wantOther || st.OtherThrottled != 0 ||
			st.Throttled != tt.wantTh || st.Requests != 20 || st.MaxInWindow != 10 {
			t.Errorf("other %d: admitted %d, stats %+v", tt.other, admitted, st)
		}
	}
}

// A client using exactly the room left never meets a full bucket; one using the whole ceiling
// crowds the other integration out: once the bucket is full, whoever comes first after it
// drained a place gets it — here always the client, half a tick ahead of the other's calls.
func TestOtherCallsRoom(t *testing.T) {
	t.Parallel()
	const tick = 100 * time.Millisecond
	t.Run("room left", func(t *testing.T) {
		a := testAccount(10, time.Second, 5) // the other integration's calls at every even tick
		maxUsed := 0
		for i := 1; i <= 50; i += 2 { // the client's at every odd one: 5 a second
			used, _, ok := a.admit(at(time.Duration(i) * tick))
			if !ok {
				t.Fatalf("call at tick %d throttled", i)
			}
			maxUsed = max(maxUsed, used)
		}
		a.advance(at(50 * tick))
		if st := a.stats; st.Throttled != 0 || st.OtherThrottled != 0 || st.OtherCalls != 25 || st.Requests != 25 || maxUsed != 1 {
			t.Fatalf("max used %d, stats %+v", maxUsed, st)
		}
	})
	t.Run("whole ceiling", func(t *testing.T) {
		a := testAccount(10, time.Second, 5)
		for i := range 50 { // 10 a second, the ceiling were it not shared, half a tick off theirs
			a.admit(at(time.Duration(i)*tick + tick/2))
		}
		a.advance(at(50 * tick))
		if st := a.stats; st.Throttled != 0 || st.OtherThrottled == 0 || st.OtherCalls != 25 || st.Requests != 50 || st.MaxInWindow != 10 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// MaxInWindow is a sliding window of the client's own requests: four requests straddling a
// window boundary count together, the other integration's calls never.
func TestMaxInWindowSliding(t *testing.T) {
	t.Parallel()
	a := testAccount(100, time.Second, 50)
	for _, ms := range []int{900, 950, 1050, 1100, 2200, 5000, 6000} {
		a.admit(at(time.Duration(ms) * time.Millisecond))
	}
	// Fixed one-second slots would hold at most 2; (0.1 s, 1.1 s] holds 4. Requests exactly a
	// window apart (5.0 s, 6.0 s) are not in one window.
	if st := a.stats; st.MaxInWindow != 4 || st.Requests != 7 || st.OtherCalls != 300 {
		t.Fatalf("stats %+v", st)
	}
}

// Changing the rate plays the calls due at the old one first; the new one starts from then.
func TestSetOtherCalls(t *testing.T) {
	t.Parallel()
	a := testAccount(10, time.Second, 4) // at 0.25 s, 0.5 s, …
	a.setOtherCalls(0, at(600*time.Millisecond))
	a.advance(at(3 * time.Second))
	if a.stats.OtherCalls != 2 {
		t.Fatalf("stopped at 0.6 s: %d calls, want 2", a.stats.OtherCalls)
	}
	a.setOtherCalls(2, at(3*time.Second)) // at 3.5 s, 4.0 s, …
	a.advance(at(3499 * time.Millisecond))
	if a.stats.OtherCalls != 2 {
		t.Fatalf("restarted at 3 s: %d calls by 3.499 s, want 2", a.stats.OtherCalls)
	}
	a.advance(at(4 * time.Second))
	if a.stats.OtherCalls != 4 || a.cfg.OtherCalls != 2 {
		t.Fatalf("by 4 s: %d calls, rate %d", a.stats.OtherCalls, a.cfg.OtherCalls)
	}
	// The same rate again changes nothing: no call is lost or doubled.
	a.setOtherCalls(2, at(4200*time.Millisecond))
	a.advance(at(4500 * time.Millisecond))
	if a.stats.OtherCalls != 5 {
		t.Fatalf("by 4.5 s: %d calls, want 5", a.stats.OtherCalls)
	}
}
