package synce2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
)

// dayResult is one connection's simulated day.
type dayResult struct {
	webhooks      bool
	calls, synced int
	added         int
}

// simulateDay runs 288 schedule ticks of simulated time (one day) for two tier-1 connections
// (calls_per_year 200 000) with 5 000 product reviews each and newReviews new service reviews
// spread over the day; connection 0 gets Trustpilot webhooks, connection 1 relies on polling.
// The catalogue is 1★ and the connections take 2★ and up: each scan reads every page (the
// calls are the same as for a synced catalogue) without 10 000 links in the local table,
// whose queries moto answers by reading the whole table.
func simulateDay(t testing.TB, s *system, newReviews int) [2]dayResult {
	ctx := context.Background()
	dayStart := time.Now()
	tier := int64(200_000)
	for i, u := range s.units {
		fx := trustpilotsim.Generate(u, 5, 5000, dayStart.Add(-48*time.Hour), dayStart.Add(-time.Hour), int64(70+i))
		for j := range fx.ProductReviews {
			fx.ProductReviews[j].Stars = 1
		}
		for j := range fx.ServiceReviews {
			fx.ServiceReviews[j].Stars = 1
		}
		if err := s.TP.Load(fx); err != nil {
			t.Fatal(err)
		}
		s.fixtures[i] = fx
		s.conns[i].Trustpilot.CallsPerYear = &tier
		s.conns[i].MinStars = 2
		// No replies in this day: no reply sweep each tick (they cost helpdesk calls, not
		// Trustpilot ones), so most ticks queue nothing and the day runs faster.
		s.conns[i].Reply = connection.ReplyPolicy{Service: connection.ReplyOff, Product: connection.ReplyOff}
		if err := s.PutConnection(ctx, s.conns[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.trustpilotHook(t) // connection 0 gets webhooks; connection 1 relies on polling
	keys := []string{s.conns[0].Trustpilot.APIKey, s.conns[1].Trustpilot.APIKey}
	from := time.Now()

	var added [2][]string
	// The new reviews arrive over the first 23 hours; the last hour lets the polls catch up.
	const ticks, arriving = 288, 276
	for tick := range ticks {
		at := dayStart.Add(time.Duration(tick) * 5 * time.Minute)
		for n := min(tick+1, arriving)*newReviews/arriving - min(tick, arriving)*newReviews/arriving; n > 0; n-- {
			for i := range s.units {
				k := len(added[i])
				email := fmt.Sprintf("day%d@example.com", k)
				rv := trustpilotsim.ServiceReview{ID: fmt.Sprintf("5fd%d%020x", i, uint64(k)+hash(t.Name())%1e9*1000), Stars: 3,
					Title: ptr(fmt.Sprintf("day review %d", k)), Text: ptr("new during the day"), Language: "en", ReferralEmail: &email,
					CreatedAt: time.Now().UTC().Format(time.RFC3339Nano), Consumer: trustpilotsim.Consumer{ID: "5f3a2b3c4d5e6f7a8b9c0d03"},
					BusinessUnit: trustpilotsim.BusinessUnitRef{ID: s.units[i]}}
				if err := s.TP.PutServiceReview(rv); err != nil {
					t.Fatal(err)
				}
				added[i] = append(added[i], rv.ID)
			}
		}
		sent := len(s.TP.FlushWebhooks(ctx, false)) > 0
		out, err := s.Runtime.TickAt(ctx, at)
		if err != nil {
			t.Fatalf("tick %d: %v %s", tick, err, out)
		}
		var res scheduler.Result
		if json.Unmarshal(out, &res) != nil || res.Enqueued > 0 || res.Unparked > 0 || sent {
			if _, err := s.DrainPolling(ctx, 2*time.Minute, 0); err != nil {
				t.Fatalf("tick %d: %v", tick, err)
			}
		}
	}
	if _, err := s.DrainPolling(ctx, 2*time.Minute, 0); err != nil {
		t.Fatalf("after the day: %v", err)
	}
	got := s.ticketsByReview(t)
	var out [2]dayResult
	for i := range s.units {
		out[i] = dayResult{webhooks: i == 0, calls: s.TP.CallsByKey(keys[i], from, time.Time{}), added: len(added[i])}
		for _, id := range added[i] {
			out[i].synced += min(got[id], 1)
			if got[id] > 1 {
				t.Errorf("review %s has %d tickets", id, got[id])
			}
		}
		t.Logf("connection %d (webhooks %v): %d Trustpilot calls in the simulated day, %d of %d new reviews synced (%s)",
			i, i == 0, out[i].calls, out[i].synced, out[i].added, time.Since(dayStart).Round(time.Second))
	}
	return out
}

// 4. A simulated day for a tier-1 connection with 5 000 product reviews and 20 new reviews:
// with webhooks at most 440 Trustpilot calls that day and every new review synced; without
// them (polling alone) still within the day's share of the allowance, every review synced.
func TestSimulatedDayStaysWithinTheAllowance(t *testing.T) {
	t.Parallel()
	s := startB(t, devstack.Options{Name: "day"}, 0, 0)
	defer s.Stop()
	for _, r := range simulateDay(t, s, 20) {
		limit := 440
		if !r.webhooks {
			limit = 200_000 / 365
		}
		if r.calls > limit || r.synced != r.added || r.added != 20 {
			t.Errorf("webhooks %v: %d calls (want ≤ %d), %d of %d new reviews synced", r.webhooks, r.calls, limit, r.synced, r.added)
		}
	}
}

// BenchmarkSimulatedDay reports Trustpilot calls per simulated day for 0, 20 and 500 new
// reviews, with webhooks (connection 0) and without (connection 1).
func BenchmarkSimulatedDay(b *testing.B) {
	for _, n := range []int{0, 20, 500} {
		b.Run(fmt.Sprintf("new-%d", n), func(b *testing.B) {
			for range b.N {
				s := startB(b, devstack.Options{Name: "bench-day"}, 0, 0)
				for _, r := range simulateDay(b, s, n) {
					if r.synced != r.added {
						b.Errorf("webhooks %v: %d of %d new reviews synced", r.webhooks, r.synced, r.added)
					}
					b.ReportMetric(float64(r.calls), fmt.Sprintf("trustpilot-calls/day-webhooks-%v", r.webhooks))
				}
				s.Stop()
			}
		})
	}
}

// 5. Trustpilot's rate limit holds across instances: a backfill on one worker instance, a
// webhook batch on the other, agent replies through the webhook function and CLI checks, all
// on one connection, never put more calls in any window of the simulator's log than the limit
// (TRUSTPILOT_RATE_LIMIT, scaled down from 833/5m to 30/10s so the test takes a minute), and
// every piece of work still ends done: the backfill read every page, every reply is posted once.
func TestTrustpilotLimitHoldsAcrossInstances(t *testing.T) {
	t.Parallel()
	const limit, window = 30, 10 * time.Second
	s := startB(t, devstack.Options{Name: "tp-limit", Workers: 2, Env: map[string]string{"TRUSTPILOT_RATE_LIMIT": "30/10s"}}, 0, 0)
	defer s.Stop()
	ctx := context.Background()
	c := s.conns[0]
	c.ReviewKinds, c.MinStars = []review.Kind{review.Service}, 2
	if err := s.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.TP.SetSwitches(s.units[0], trustpilotsim.Switches{PerPageCap: 2}); err != nil {
		t.Fatal(err)
	}
	put := func(n, stars int, created time.Time) {
		for i := range n {
			rv := trustpilotsim.ServiceReview{ID: fmt.Sprintf("5fe%d%020x", stars, i), Stars: stars, Title: ptr("limit"), Text: ptr("limit test"),
				Language: "en", CreatedAt: created.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339), Consumer: trustpilotsim.Consumer{ID: "5f3a2b3c4d5e6f7a8b9c0d04"},
				BusinessUnit: trustpilotsim.BusinessUnitRef{ID: s.units[0]}}
			if err := s.TP.PutServiceReview(rv); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(10, 4, time.Now().Add(-2*time.Hour))
	s.tick(t, 2*time.Minute)
	tickets := s.HD.Tickets(s.account)
	if len(tickets) != 10 {
		t.Fatalf("%d tickets before the load, want 10", len(tickets))
	}
	s.cli(t, "helpdesk", "install-webhook", c.ID, "--url", s.WebhookURL)
	put(120, 1, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) // 60 pages of 1★ the backfill reads
	key := c.Trustpilot.APIKey
	from := time.Now()

	s.cli(t, "sync", c.ID, "--since", "2024-01-01")
	hook := s.trustpilotHook(t)
	var evs []string
	for i := range 25 { // ids of no review: each is read alone, and creates nothing
		evs = append(evs, fmt.Sprintf(`{"eventName":"service-review-created","eventData":{"id":"5fe9%020x"}}`, i))
	}
	drained := make(chan error, 1)
	go func() {
		_, err := s.DrainPolling(ctx, 5*time.Minute, 0)
		drained <- err
	}()
	if d := s.TP.SendWebhookBody(ctx, hook, []byte(`{"events":[`+strings.Join(evs, ",")+`]}`), len(evs)); d.Status/100 != 2 {
		t.Fatalf("webhook batch: %+v", d)
	}
	for _, tk := range tickets {
		if _, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: tk.ID, BodyText: fmt.Sprintf("Thank you, reviewer of ticket %d.", tk.ID)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		s.cliWith(t, func(o *cliOpts) { o.tpRate = connector.TrustpilotRate{Calls: limit, Window: window} }, "connection", "check", c.ID)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	// Replies the webhook function queued (no slot within its wait) are in the queue now.
	if _, err := s.DrainPolling(ctx, 5*time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	calls, peak := s.TP.CallsByKey(key, from, time.Time{}), s.TP.MaxCallsInWindow(key, window)
	t.Logf("%d Trustpilot calls in %s, at most %d in any %s (limit %d)", calls, time.Since(from).Round(time.Second), peak, window, limit)
	if peak > limit {
		t.Errorf("%d calls within %s: over the limit of %d", peak, window, limit)
	}
	if calls < 60+25 || peak < limit*2/3 {
		t.Errorf("%d calls, peak %d: the load did not press on the limit", calls, peak)
	}
	for _, tk := range tickets {
		id, _ := link.ReviewIDOf(tk.ExternalID)
		if n := len(s.TP.Replies(id)); n != 1 {
			t.Errorf("review %s: %d replies posted, want 1", id, n)
		}
	}
	if n := len(s.HD.Tickets(s.account)); n != 10 {
		t.Errorf("%d tickets after the load, want 10 (1★ filtered, forged ids create nothing)", n)
	}
}
