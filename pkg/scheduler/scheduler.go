// Package scheduler is the use case behind the scheduled function: one sync job per enabled
// connection and enabled review kind, sent in batches.
package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Connections lists the configured connections and keeps one pending job per connection and kind.
type Connections interface {
	ListConnections(ctx context.Context) ([]connection.Record, error)
	MarkQueued(ctx context.Context, connID string, kind review.Kind, staleAfter time.Duration) (bool, error)
	ClearQueued(ctx context.Context, connID string, kind review.Kind) error
	GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error)
	MarkScheduled(ctx context.Context, connID string, kind review.Kind, at time.Time) error
	CallCounts(ctx context.Context, key string, window time.Duration, days int) (int, []int, error)
	OtherCallDays(ctx context.Context, key string, days int) ([]int, error)
	ListSetAside(ctx context.Context, connID string) ([]link.Link, error)
	queue.Parker
}

// TickSlack is how early a poll still counts as due: ticks arrive a little late or early, and a
// poll due at the next tick must not wait for the one after.
const TickSlack = 30 * time.Second

// StaleAfter is how long a queued job may stay unfinished before the scheduler queues another
// (a lost message must not stop a connection for good).
const StaleAfter = time.Hour

// Sender enqueues jobs.
type Sender interface {
	Send(ctx context.Context, jobs []queue.Job, delay time.Duration) error
}

// DefaultDeepEvery is how often the deep pass of a connection's service reviews runs.
const DefaultDeepEvery = 24 * time.Hour

// Scheduler enqueues the periodic sync jobs.
type Scheduler struct {
	Connections Connections
	Queue       Sender
	Log         *slog.Logger
	// DeepEvery is how often each connection's deep pass runs (0: DefaultDeepEvery; negative:
	// never). The first runs one period after the connection's first sync.
	DeepEvery time.Duration
	// DeletionsEvery is how often each connection reads Trustpilot's Deletions API (0:
	// DefaultDeletionsEvery; negative: never).
	DeletionsEvery time.Duration
	Now            func() time.Time
}

// DefaultDeletionsEvery is how often the deletions pass runs.
const DefaultDeletionsEvery = 24 * time.Hour

// Skipped is a connection the scheduler left out, and why.
type Skipped struct {
	ConnectionID string `json:"connection_id"`
	Reason       string `json:"reason"`
}

// Result is what one run did; it is the function's response, visible in local runs.
type Result struct {
	Enqueued  int       `json:"enqueued"`  // sync jobs and reply sweeps
	Sweeps    int       `json:"sweeps"`    // reply sweeps among them (one per helpdesk account)
	Deep      int       `json:"deep"`      // deep passes among them
	Deletions int       `json:"deletions"` // deletions passes among them
	Retries   int       `json:"retries"`   // set-aside passes among them (a set-aside review is due)
	Pending   int       `json:"pending"`   // jobs not queued again: one is still on the queue
	Paced     int       `json:"paced"`     // polls not due yet: the allowance spaces them
	Unparked  int       `json:"unparked"`  // parked jobs sent on (their lease holder did not)
	Skipped   []Skipped `json:"skipped,omitempty"`
}

// Run is RunAt on the scheduler's clock.
func (s *Scheduler) Run(ctx context.Context) (Result, error) { return s.RunAt(ctx, s.now()) }

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// WebhooksActiveFor is how recent a connection's last Trustpilot webhook batch must be for its
// service polling to count as a reconciliation.
const WebhooksActiveFor = 7 * 24 * time.Hour

// RunAt enqueues, at now (the schedule's event time), each enabled connection's sync job of
// every enabled kind that is due by its pace (Plan, from the connection's allowance), its deep
// and deletions passes when due, and one reply sweep per helpdesk account.
func (s *Scheduler) RunAt(ctx context.Context, now time.Time) (Result, error) {
	conns, err := s.Connections.ListConnections(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("list connections: %w", err)
	}
	var res Result
	var jobs []queue.Job
	sharing := Sharing(conns)
	reauth, lag := 0, time.Duration(0)
	defer func() {
		metrics.Set(metrics.NeedsReauth, float64(reauth))
		metrics.Set(metrics.SyncLag, lag.Seconds())
	}()
	for _, c := range conns {
		switch {
		case c.Connection.Disabled:
			res.Skipped = append(res.Skipped, Skipped{c.Connection.ID, "disabled"})
			continue
		case c.NeedsReauth:
			reauth++
			// Retrying cannot help until a human re-authorises; report it every run instead.
			s.Log.Warn("connection needs re-authorising; not syncing", "connection_id", c.Connection.ID, "reason", c.ReauthReason)
			res.Skipped = append(res.Skipped, Skipped{c.Connection.ID, "needs re-authorising: " + c.ReauthReason})
			continue
		}
		o, err := s.pace(ctx, c.Connection, sharing[c.Connection.Trustpilot.LedgerKey], now)
		if err != nil {
			return res, err
		}
		pace, curs := o.Pace, o.Cursors
		// Lag: how long since the connection last finished a sync of a kind it syncs (from its
		// first sync on; a connection never synced counts from when it was queued first).
		for _, k := range []review.Kind{review.Service, review.Product} {
			if last := curs[k].LastRunAt; c.Connection.Kinds(k) && !last.IsZero() {
				lag = max(lag, now.Sub(last))
			}
		}
		for _, k := range []review.Kind{review.Service, review.Product} {
			if !c.Connection.Kinds(k) {
				continue
			}
			interval := pace.Service
			if k == review.Product {
				interval = pace.Product
			}
			if last := curs[k].ScheduledAt; !last.IsZero() && now.Sub(last) < interval-TickSlack {
				res.Paced++
				continue
			}
			first, err := s.Connections.MarkQueued(ctx, c.Connection.ID, k, StaleAfter)
			if err != nil {
				return res, err
			}
			if !first {
				res.Pending++
				continue
			}
			jobs = append(jobs, queue.SyncJob(c.Connection.ID, k))
		}
		// A set-aside review due is retried within a tick, whatever the poll's pace.
		if err := s.retries(ctx, c.Connection, now, &jobs, &res); err != nil {
			return res, err
		}
		for _, p := range []struct {
			pass  string
			key   review.Kind
			every time.Duration
			n     *int
		}{
			{queue.PassDeep, cursor.DeepKind(review.Service), cmp.Or(s.DeepEvery, DefaultDeepEvery), &res.Deep},
			{queue.PassDeletions, cursor.DeletionsKind, cmp.Or(s.DeletionsEvery, DefaultDeletionsEvery), &res.Deletions},
		} {
			if !c.Connection.Kinds(review.Service) {
				break
			}
			due, err := s.due(ctx, c.Connection.ID, curs, p.key, p.every, now)
			if err != nil {
				return res, err
			}
			if due {
				j := queue.SyncJob(c.Connection.ID, review.Service)
				j.Pass = p.pass
				jobs = append(jobs, j)
				*p.n++
			}
		}
	}
	// One reply sweep per helpdesk account (connections may share one), through its first
	// connection by id that posts replies (an account whose connections post none needs none).
	swept := map[string]bool{}
	accounts := map[string]bool{}   // every active account: parked jobs are sent on for each
	sweepIDs := map[string]string{} // connection id → its account's sweep id
	for _, c := range conns {
		account := c.Connection.HelpdeskAccountKey()
		if c.Connection.Disabled || c.NeedsReauth {
			continue
		}
		accounts[account] = true
		if swept[account] || !c.Connection.Replies() {
			continue
		}
		swept[account] = true
		first, err := s.Connections.MarkQueued(ctx, cursor.SweepID(account), cursor.SweepKind, StaleAfter)
		if err != nil {
			return res, err
		}
		if !first {
			res.Pending++
			continue
		}
		jobs = append(jobs, queue.SweepJob(c.Connection.ID))
		sweepIDs[c.Connection.ID] = cursor.SweepID(account)
		res.Sweeps++
	}
	if err := s.Queue.Send(ctx, jobs, 0); err == nil {
		// Paced from when it was queued, on this clock.
		for _, j := range jobs {
			if j.Type != queue.TypeSync {
				continue
			}
			if err := s.Connections.MarkScheduled(ctx, j.ConnectionID, j.MarkKind(), now); err != nil {
				return res, err
			}
		}
	} else {
		// Unmark what was not queued, or the next ticks would wait an hour for jobs that do
		// not exist. (A batch partly sent is marked again: the next tick sees it pending.)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, j := range jobs {
			id, kind := j.ConnectionID, j.MarkKind()
			if j.Type == queue.TypeReplySweep {
				id, kind = sweepIDs[j.ConnectionID], cursor.SweepKind
			}
			if cerr := s.Connections.ClearQueued(cctx, id, kind); cerr != nil {
				s.Log.Warn("could not clear a queued mark after a failed send; it goes stale in an hour", "connection_id", j.ConnectionID, "error", cerr.Error())
			}
		}
		return res, fmt.Errorf("enqueue %d sync jobs: %w", len(jobs), err)
	}
	res.Enqueued = len(jobs)
	// Jobs parked for an account whose lease holder never sent them on (it crashed): back to
	// the queue once a tick; if the lease is still held they park again.
	for account := range accounts {
		n, err := queue.Unpark(ctx, s.Connections, s.Queue, account)
		res.Unparked += n
		if err != nil {
			s.Log.Warn("parked jobs not sent on", "account", account, "error", err.Error())
		}
	}
	s.Log.Info("sync jobs enqueued", "jobs", len(jobs), "still_pending", res.Pending, "connections", len(conns), "skipped", len(res.Skipped))
	return res, nil
}

// retries queues a set-aside pass per review kind that has a set-aside review due.
func (s *Scheduler) retries(ctx context.Context, c connection.Connection, now time.Time, jobs *[]queue.Job, res *Result) error {
	list, err := s.Connections.ListSetAside(ctx, c.ID)
	if err != nil {
		return err
	}
	due := map[review.Kind]bool{}
	for _, l := range list {
		// Due by the store's clock (retry times are the store's), not the schedule's.
		if l.AsideDue(time.Now()) && c.Kinds(l.Kind) {
			due[l.Kind] = true
		}
	}
	for _, k := range []review.Kind{review.Service, review.Product} {
		if !due[k] {
			continue
		}
		first, err := s.Connections.MarkQueued(ctx, c.ID, cursor.AsideKind(k), StaleAfter)
		if err != nil {
			return err
		}
		if first {
			j := queue.SyncJob(c.ID, k)
			j.Pass = queue.PassAside
			*jobs = append(*jobs, j)
			res.Retries++
		}
	}
	return nil
}

// PaceReader reads a connection's cursors and its Trustpilot calls.
type PaceReader interface {
	GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error)
	CallCounts(ctx context.Context, key string, window time.Duration, days int) (int, []int, error)
	OtherCallDays(ctx context.Context, key string, days int) ([]int, error)
}

// Outlook is a connection's poll plan with what it was planned from.
type Outlook struct {
	Pace
	Cursors          map[review.Kind]cursor.Cursor
	Today, Yesterday int     // calls of the connection's API key by UTC day
	Other            float64 // calls in the last 24 hours that were not polls (webhook fetches)
	Allowance        int64   // the connection's part of its API key's yearly allowance (0: unlimited)
	Webhooks         bool    // Trustpilot webhooks arrive
}

// PaceOf plans a connection's polls from its allowance and what its last runs cost (the
// scheduler's decision, and what `status` shows). sharing is how many connections use its
// API key: they share the key's allowance (and ledger) equally.
func PaceOf(ctx context.Context, r PaceReader, c connection.Connection, sharing int, now time.Time) (Outlook, error) {
	o := Outlook{Cursors: map[review.Kind]cursor.Cursor{}, Allowance: c.Allowance()}
	for _, k := range []review.Kind{review.Service, review.Product, cursor.DeepKind(review.Service), cursor.DeletionsKind, cursor.EventsKind} {
		cur, err := r.GetCursor(ctx, c.ID, k)
		if err != nil {
			return Outlook{}, err
		}
		o.Cursors[k] = cur
	}
	if sharing > 1 && o.Allowance > 0 {
		o.Allowance = max(o.Allowance/int64(sharing), 1)
	}
	o.Webhooks = !o.Cursors[cursor.EventsKind].LastRunAt.IsZero() && now.Sub(o.Cursors[cursor.EventsKind].LastRunAt) < WebhooksActiveFor
	costs := Costs{
		Service: o.Cursors[review.Service].RunCalls, Product: o.Cursors[review.Product].RunCalls,
		Deep: o.Cursors[cursor.DeepKind(review.Service)].RunCalls, Deletions: o.Cursors[cursor.DeletionsKind].RunCalls,
	}
	product := c.Kinds(review.Product)
	if o.Allowance > 0 && c.Trustpilot.LedgerKey != "" {
		_, days, err := r.CallCounts(ctx, c.Trustpilot.LedgerKey, time.Minute, 2)
		if err != nil {
			return Outlook{}, err
		}
		other, err := r.OtherCallDays(ctx, c.Trustpilot.LedgerKey, 2)
		if err != nil {
			return Outlook{}, err
		}
		n := max(sharing, 1)
		o.Today, o.Yesterday = days[0]/n, days[1]/n
		o.Other = OtherCalls(other[0], other[1], now) / float64(n)
		costs.Other = o.Other
	}
	o.Pace = Plan(o.Allowance, costs, o.Webhooks, product)
	return o, nil
}

// pace is PaceOf, warning once an hour when the calls of the last days point past the
// allowance.
func (s *Scheduler) pace(ctx context.Context, c connection.Connection, sharing int, now time.Time) (Outlook, error) {
	o, err := PaceOf(ctx, s.Connections, c, sharing, now)
	if err != nil {
		return Outlook{}, err
	}
	if o.Allowance > 0 && now.Minute() < 5 {
		if y := Projected(o.Today, o.Yesterday, now); y > o.Allowance {
			s.Log.Warn("Trustpilot calls projected past the connection's yearly allowance", "connection_id", c.ID,
				"projected_per_year", y, "allowance", o.Allowance, "today", o.Today, "yesterday", o.Yesterday, "other_per_day", int(o.Other))
		}
	}
	return o, nil
}

// Sharing counts the connections on each Trustpilot API key (by ledger key): they share its
// allowance.
func Sharing(recs []connection.Record) map[string]int {
	n := map[string]int{}
	for _, r := range recs {
		if !r.Connection.Disabled && r.Connection.Trustpilot.LedgerKey != "" {
			n[r.Connection.Trustpilot.LedgerKey]++
		}
	}
	return n
}

// due reports whether a connection's periodic pass keyed key is due, and marks it queued if
// so: every after it was last queued, or at once when it never was but the connection has
// synced (a connection's first sync reads everything anyway). A negative every turns it off.
func (s *Scheduler) due(ctx context.Context, connID string, curs map[review.Kind]cursor.Cursor, key review.Kind, every time.Duration, now time.Time) (bool, error) {
	if every < 0 {
		return false, nil
	}
	if last := curs[key]; last.ScheduledAt.IsZero() {
		if curs[review.Service].LastRunAt.IsZero() {
			return false, nil
		}
	} else if now.Sub(last.ScheduledAt) < every-TickSlack {
		return false, nil
	}
	return s.Connections.MarkQueued(ctx, connID, key, StaleAfter)
}
