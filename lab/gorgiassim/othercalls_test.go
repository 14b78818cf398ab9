package gorgiassim_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

// usedOf reads "used" of the call-limit header.
func usedOf(t *testing.T, r resp) int {
	t.Helper()
	used, _, _ := strings.Cut(r.header.Get(gorgiassim.CallLimitHeader), "/")
	n, err := strconv.Atoi(used)
	if err != nil {
		t.Fatalf("call-limit header %q", r.header.Get(gorgiassim.CallLimitHeader))
	}
	return n
}

// End to end, with the switch set over the control API: the other integration's calls show in
// the header and throttle a client bursting to the ceiling, but are not the client's requests.
// (bucket_test.go has the exact numbers.)
func TestOtherCallsSwitch(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{RateCalls: 10, RateWindow: time.Second})
	if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"other_calls":-1}`); r.status != 400 {
		t.Fatalf("negative other_calls: %d %s", r.status, r.body)
	}
	if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"other_calls":5}`); r.status != 200 {
		t.Fatalf("PUT switches: %d %s", r.status, r.body)
	}
	var sw gorgiassim.Switches
	if err := json.Unmarshal(ctl(t, s, "GET", "/_sim/accounts/acme/switches", "").body, &sw); err != nil || sw.OtherCalls != 5 {
		t.Fatalf("GET switches: %+v %v", sw, err)
	}
	for i := range 10 {
		if r := call(t, s, "GET", "/api/tickets", nil); r.status != 200 {
			t.Fatalf("first burst, call %d: %d (the other integration is only 5 a second)", i, r.status)
		}
	}
	// A window on, the bucket has drained the burst but holds the other integration's calls.
	waitFor(t, 5*time.Second, "the other integration's calls", func() bool { return s.Stats("").OtherCalls >= 5 })
	throttled := 0
	for i := range 10 {
		r := call(t, s, "GET", "/api/tickets", nil)
		// About 6 now, 1 without them; the margin is for a slow machine, as the leftover of
		// the first burst drains by one every 0.2 s.
		if i == 0 && usedOf(t, r) < 2 {
			t.Fatalf("used %d: the other integration's calls are not in the header", usedOf(t, r))
		}
		if r.status == 429 {
			throttled++
		}
	}
	var st gorgiassim.Stats
	if err := json.Unmarshal(ctl(t, s, "GET", "/_sim/stats", "").body, &st); err != nil {
		t.Fatal(err)
	}
	if throttled < 1 || st.Throttled != throttled || st.Requests != 20 || st.ByEndpoint["GET /api/tickets"] != 20 ||
		st.OtherCalls < 5 || st.MaxInWindow > 20 {
		t.Fatalf("throttled %d of the second burst, stats %+v", throttled, st)
	}
	// Switched off, the bucket is the client's alone again.
	if err := s.SetSwitches("acme", gorgiassim.Switches{}); err != nil {
		t.Fatal(err)
	}
	before := s.Stats("").OtherCalls
	time.Sleep(300 * time.Millisecond)
	if got := s.Stats("").OtherCalls; got != before {
		t.Fatalf("other calls went on after the switch went off: %d → %d", before, got)
	}
}
