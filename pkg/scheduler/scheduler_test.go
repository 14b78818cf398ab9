package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

type fakeQueue struct{ jobs []queue.Job }

func (f *fakeQueue) Send(_ context.Context, jobs []queue.Job, _ time.Duration) error {
	f.jobs = append(f.jobs, jobs...)
	return nil
}

func conn(id, helpdesk string, kinds ...review.Kind) connection.Connection {
	return connection.Connection{ID: id, ReviewKinds: kinds, Helpdesk: connection.Helpdesk{Type: "gorgias", URL: helpdesk}}
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	off := conn("off", "https://acme.gorgias.com", review.Product)
	off.Disabled = true
	for _, c := range []connection.Connection{
		conn("both", "https://acme.gorgias.com", review.Service, review.Product),
		conn("service-only", "https://acme.gorgias.com", review.Service),
		conn("needs-reauth", "https://globex.gorgias.com", review.Service),
		off,
		conn("pending", "https://initech.gorgias.com", review.Service),
	} {
		if err := st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetReauth(ctx, "needs-reauth", true, "refresh rejected"); err != nil {
		t.Fatal(err)
	}
	// The previous tick's service job of "pending" is still on the queue.
	if ok, err := st.MarkQueued(ctx, "pending", review.Service, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	q := &fakeQueue{}
	s := &scheduler.Scheduler{Connections: st, Queue: q, Log: slog.New(slog.DiscardHandler)}
	res, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 3 sync jobs; one reply sweep per helpdesk account that has a syncable connection (acme
	// through "both", initech through "pending"); globex's only connection needs re-authorising.
	if res.Enqueued != 5 || res.Sweeps != 2 || len(q.jobs) != 5 || len(res.Skipped) != 2 || res.Pending != 1 {
		t.Fatalf("result %+v jobs %+v", res, q.jobs)
	}
	seen := map[string]bool{}
	for _, j := range q.jobs {
		if err := j.Validate(); err != nil {
			t.Fatal(err)
		}
		seen[j.Type+"/"+j.ConnectionID+"/"+string(j.Kind)] = true
	}
	for _, k := range []string{"sync/both/service", "sync/both/product", "sync/service-only/service", "reply-sweep/both/", "reply-sweep/pending/"} {
		if !seen[k] {
			t.Fatalf("missing job %s in %v", k, seen)
		}
	}
	// The next tick queues nothing new while those are pending (one job per connection and
	// kind, one sweep per account) or not due yet by their pace.
	q.jobs = nil
	res, err = s.Run(ctx)
	if err != nil || res.Enqueued != 0 || res.Pending+res.Paced != 6 || res.Pending < 3 {
		t.Fatalf("second tick: %+v %v, jobs %+v", res, err, q.jobs)
	}
	// A finished sweep clears its mark: the next tick queues it again.
	if err := st.ClearQueued(ctx, cursor.SweepID("acme.gorgias.com"), cursor.SweepKind); err != nil {
		t.Fatal(err)
	}
	q.jobs = nil
	if res, err = s.Run(ctx); err != nil || res.Sweeps != 1 || len(q.jobs) != 1 || q.jobs[0].Type != queue.TypeReplySweep {
		t.Fatalf("third tick: %+v %v, jobs %+v", res, err, q.jobs)
	}
}

type failingQueue struct{}

func (failingQueue) Send(context.Context, []queue.Job, time.Duration) error {
	return errors.New("sqs unavailable")
}

// A failed send unmarks what it did not queue: the next tick queues it again.
func TestFailedSendClearsTheMarks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	if err := st.PutConnection(ctx, conn("both", "https://acme.gorgias.com", review.Service, review.Product)); err != nil {
		t.Fatal(err)
	}
	if _, err := (&scheduler.Scheduler{Connections: st, Queue: failingQueue{}, Log: slog.New(slog.DiscardHandler)}).Run(ctx); err == nil {
		t.Fatal("a failed send is an error")
	}
	q := &fakeQueue{}
	res, err := (&scheduler.Scheduler{Connections: st, Queue: q, Log: slog.New(slog.DiscardHandler)}).Run(ctx)
	if err != nil || res.Enqueued != 3 || res.Pending != 0 {
		t.Fatalf("next tick %+v %v", res, err)
	}
}

// The deep and deletions passes: none before a connection's first sync, then once (their own
// queued marks), then again a period after they last ran; off with a negative period.
func TestPeriodicPasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New().WithClock(clock)
	if err := st.PutConnection(ctx, conn("shop", "https://acme.gorgias.com", review.Service, review.Product)); err != nil {
		t.Fatal(err)
	}
	passes := func(s *scheduler.Scheduler) map[string]int {
		t.Helper()
		q := &fakeQueue{}
		s.Queue = q
		if _, err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, j := range q.jobs {
			if j.Pass != "" {
				out[j.Pass]++
			}
		}
		return out
	}
	s := &scheduler.Scheduler{Connections: st, Log: slog.New(slog.DiscardHandler), Now: clock}
	if got := passes(s); len(got) != 0 {
		t.Fatalf("passes before the first sync: %v", got)
	}
	if err := st.SaveCheckpoint(ctx, "shop", review.Service, cursor.Checkpoint{}); err != nil { // the first sync ran
		t.Fatal(err)
	}
	if got := passes(s); got[queue.PassDeep] != 1 || got[queue.PassDeletions] != 1 {
		t.Fatalf("passes after the first sync: %v, want one of each", got)
	}
	if got := passes(s); len(got) != 0 {
		t.Fatalf("passes queued twice: %v", got)
	}
	for _, k := range []review.Kind{cursor.DeepKind(review.Service), cursor.DeletionsKind} {
		if err := st.SaveCheckpoint(ctx, "shop", k, cursor.Checkpoint{}); err != nil {
			t.Fatal(err)
		}
		if err := st.ClearQueued(ctx, "shop", k); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(23 * time.Hour)
	if got := passes(s); len(got) != 0 {
		t.Fatalf("passes within the day: %v", got)
	}
	now = now.Add(time.Hour)
	if got := passes(s); got[queue.PassDeep] != 1 || got[queue.PassDeletions] != 1 {
		t.Fatalf("passes a day later: %v", got)
	}
	off := &scheduler.Scheduler{Connections: st, Log: slog.New(slog.DiscardHandler), Now: clock, DeepEvery: -1, DeletionsEvery: -1}
	now = now.Add(48 * time.Hour)
	if got := passes(off); len(got) != 0 {
		t.Fatalf("passes turned off ran: %v", got)
	}
}

// Polls are paced from the allowance: a tier-1 connection with a 50-page catalogue scans its
// products a few times a day and polls service reviews often; with webhooks arriving, service
// polling slows to a reconciliation; unlimited connections poll every tick.
func TestPlanPacesPollsByAllowance(t *testing.T) {
	t.Parallel()
	costs := scheduler.Costs{Service: 1, Product: 50, Deep: 1, Deletions: 1}
	off := scheduler.Plan(200_000, costs, false, true)
	on := scheduler.Plan(200_000, costs, true, true)
	daily := 200_000.0 / 365
	for _, p := range []scheduler.Pace{off, on} {
		if p.PerDay > scheduler.PollShare*daily || p.PerDay < 0.6*daily {
			t.Fatalf("%+v: polls cost %.0f a day, want within %.0f and near it", p, p.PerDay, scheduler.PollShare*daily)
		}
	}
	if !(on.Service > off.Service && on.Service <= scheduler.ReconcileBound && on.Product < off.Product) {
		t.Fatalf("webhooks on %+v, off %+v: service should slow to a reconciliation within 6 h, products speed up", on, off)
	}
	if off.Product < time.Hour || off.Service > 15*time.Minute {
		t.Fatalf("without webhooks %+v: product scans every few hours, service polls within minutes", off)
	}
	if u := scheduler.Plan(0, costs, false, true); u.Service != 0 || u.Product != 0 {
		t.Fatalf("unlimited: %+v", u)
	}
	tiny := scheduler.Plan(10_000, scheduler.Costs{Service: 3, Product: 500}, false, true)
	if tiny.Service > scheduler.ReconcileBound || tiny.Product > scheduler.MaxProductInterval {
		t.Fatalf("a small allowance still polls within the bounds: %+v", tiny)
	}
	if p := scheduler.Projected(100, 548, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)); p != 548*365 {
		t.Fatalf("projected %d", p)
	}
	if p := scheduler.Projected(600, 10, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)); p != 605*365 {
		t.Fatalf("projected from the last 24 hours %d, want %d", p, 605*365)
	}
	// A connection set up ten minutes after midnight UTC: its 40 calls so far are the last 24
	// hours' whole use, not a tenth of an hour's pace.
	if p := scheduler.Projected(40, 0, time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)); p != 40*365 {
		t.Fatalf("projected just after midnight %d, want %d", p, 40*365)
	}
}

// Webhook fetches and replies beyond the quarter the polls leave them make the polls give way,
// down to their floors, so that a busy connection still stays within its allowance; the
// estimate of those calls comes from the ledger's last 24 hours.
func TestPollsGiveWayToOtherCalls(t *testing.T) {
	t.Parallel()
	daily := 200_000.0 / 365
	costs := scheduler.Costs{Service: 1, Product: 50, Deep: 1, Deletions: 1}
	quiet := scheduler.Plan(200_000, costs, true, true)
	busy := costs
	busy.Other = 500 // 500 new reviews a day, each read once when its webhook arrives
	p := scheduler.Plan(200_000, busy, true, true)
	if total := p.PerDay + busy.Other + 2; total > (1-scheduler.Headroom)*daily+2 || p.Product <= quiet.Product {
		t.Fatalf("with 500 other calls a day: %+v spends %.0f a day in all (allowance %.0f); quiet %+v", p, total, daily, quiet)
	}
	if p.Service > scheduler.ReconcileBound || p.Product > scheduler.MaxProductInterval {
		t.Fatalf("the floors still hold: %+v", p)
	}
	if q := scheduler.Plan(200_000, scheduler.Costs{Service: 1, Product: 50, Deep: 1, Deletions: 1, Other: 100}, true, true); q != quiet {
		t.Fatalf("other calls within the reserve change nothing: %+v vs %+v", q, quiet)
	}
	noon := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if other := scheduler.OtherCalls(250, 500, noon); other != 500 {
		t.Fatalf("other calls in the last 24 h at noon: %.0f, want 500", other)
	}
}

// A set-aside review that is due is retried within a tick, whatever the pace of its kind's
// polls: one set-aside pass per kind, not queued again while it is pending.
func TestDueSetAsideReviewsAreRetriedEachTick(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	if err := st.PutConnection(ctx, conn("shop", "https://acme.gorgias.com", review.Service, review.Product)); err != nil {
		t.Fatal(err)
	}
	aside := func(id string, kind review.Kind, retry time.Time) {
		t.Helper()
		if _, err := st.ClaimReview(ctx, "shop", id, kind, "w", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := st.SetAside(ctx, link.Aside{ConnectionID: "shop", ReviewID: id, Owner: "w", Reason: "503", RetryAt: retry, Failed: true, Snapshot: `{"id":"` + id + `"}`}); err != nil {
			t.Fatal(err)
		}
	}
	aside("5f0000000000000000000001", review.Service, time.Now().Add(-time.Minute))
	aside("5f0000000000000000000002", review.Product, time.Now().Add(time.Hour)) // not due
	count := func() (n int) {
		t.Helper()
		q := &fakeQueue{}
		s := &scheduler.Scheduler{Connections: st, Queue: q, Log: slog.New(slog.DiscardHandler)}
		res, err := s.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range q.jobs {
			if j.Pass == queue.PassAside {
				if j.Kind != review.Service {
					t.Fatalf("set-aside pass for %s, which has none due", j.Kind)
				}
				n++
			}
		}
		if res.Retries != n {
			t.Fatalf("result counts %d retries, %d queued", res.Retries, n)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d set-aside passes, want 1", n)
	}
	if n := count(); n != 0 {
		t.Fatalf("queued again while pending: %d", n)
	}
}

// An account whose connections post no replies gets no reply sweep.
func TestNoSweepWithoutReplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	c := conn("quiet", "https://umbrella.gorgias.com", review.Service)
	c.Reply = connection.ReplyPolicy{Service: connection.ReplyOff, Product: connection.ReplyFirst}
	if err := st.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	q := &fakeQueue{}
	res, err := (&scheduler.Scheduler{Connections: st, Queue: q, Log: slog.New(slog.DiscardHandler)}).Run(ctx)
	if err != nil || res.Sweeps != 0 || len(q.jobs) != 1 || q.jobs[0].Type != queue.TypeSync {
		t.Fatalf("result %+v %v, jobs %+v", res, err, q.jobs)
	}
}
