// Package reviewsync is the product's main job: it runs one sync job for one connection and
// review kind, turning every Trustpilot review into exactly one helpdesk ticket.
//
// Exactly once rests on the store, not on the helpdesk: a conditional claim before creating,
// the ticket's external_id to find a ticket an earlier, crashed attempt created, and a
// confirmed link afterwards. Progress is checkpointed after every page; a job stops before the
// Lambda's deadline and enqueues its own continuation, so a backfill of any size finishes.
package reviewsync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// Store is what sync needs from the store.
type Store interface {
	GetConnection(ctx context.Context, id string) (connection.Record, error)
	SetReauth(ctx context.Context, id string, needs bool, reason string) error
	GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error)
	SaveCheckpoint(ctx context.Context, connID string, kind review.Kind, cp cursor.Checkpoint) error
	ClaimReview(ctx context.Context, connID, reviewID string, kind review.Kind, owner string, ttl time.Duration) (link.Claim, error)
	ReleaseClaim(ctx context.Context, connID, reviewID, owner string) error
	SetAside(ctx context.Context, a link.Aside) error
	RecordUnreadable(ctx context.Context, connID, reviewID string, kind review.Kind, reason string) error
	ListSetAside(ctx context.Context, connID string) ([]link.Link, error)
	RecordCustomerEntry(ctx context.Context, account string, customerID int64, reviewID, entry string) (map[string]string, error)
	ForgetCustomerEntry(ctx context.Context, account string, customerID int64, reviewID string) (bool, error)
	// The sidebar's reviewer index (reviewer.Key of the email; the entry as reviewer.Entry).
	PutReviewerEntry(ctx context.Context, account, reviewer, reviewID, entry string) error
	PutReviewerEntries(ctx context.Context, account string, recs []reviewer.Record) error
	// Jobs waiting for a held helpdesk-account lease.
	ParkJob(ctx context.Context, account, id, body string) error
	TakeParked(ctx context.Context, account string) ([]string, error)
	ForgetReviewerEntry(ctx context.Context, account, reviewer, reviewID string) error
	// SetReviewer names the reviewer on a link made before the sidebar's index (it names none).
	SetReviewer(ctx context.Context, connID, reviewID, account, who string) (bool, error)
	GetLink(ctx context.Context, connID, reviewID string) (link.Link, error)
	MarkDeleted(ctx context.Context, connID, reviewID string) (bool, error)
	MarkReinstated(ctx context.Context, connID, reviewID string) (bool, error)
	RecordError(ctx context.Context, connID string, kind review.Kind, msg string) error
	ConfirmLink(ctx context.Context, c link.Confirm) error
	// ConfirmAndClaim writes a batch of confirms and claims of reviews with no link yet in one
	// write: all of it, or (false) nothing. DropClaim removes an unused claim taken ahead.
	ConfirmAndClaim(ctx context.Context, b link.Batch) ([]link.Claim, bool, error)
	DropClaim(ctx context.Context, connID, reviewID, owner string) error
	GetLinks(ctx context.Context, connID string, reviewIDs []string) (map[string]link.Link, error)
	SetReviewVersion(ctx context.Context, connID, reviewID string, version time.Time, stars int) (bool, error)
	// AcquireLeaseFor takes the helpdesk account's lease for a sync of the connection holder.
	AcquireLeaseFor(ctx context.Context, name, owner, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	ClearQueued(ctx context.Context, connID string, kind review.Kind) error
	SetRunCalls(ctx context.Context, connID string, kind review.Kind, calls int64) error
	// AddOtherCalls counts Trustpilot calls that were not polls (a webhook batch's reads) for
	// the API key named key: the scheduler paces the polls around them.
	AddOtherCalls(ctx context.Context, key string, n int) error
}

// Reviews reads a business unit's reviews.
type Reviews interface {
	ListServiceReviews(ctx context.Context, since time.Time, next string) (trustpilot.ServicePage, error)
	ListProductReviews(ctx context.Context, page int) (trustpilot.ProductPage, error)
	GetServiceReview(ctx context.Context, id string) (review.Review, error)
	ListDeletedReviews(ctx context.Context, from, to time.Time, next string) (trustpilot.Deletions, error)
}

// Helpdesk writes tickets.
type Helpdesk interface {
	CreateTicket(ctx context.Context, t gorgias.NewTicket) (gorgias.Ticket, error)
	FindTicketByExternalID(ctx context.Context, externalID string) (gorgias.Ticket, bool, error)
	PostInternalNote(ctx context.Context, ticketID int64, text string) (gorgias.Message, error)
	AddTags(ctx context.Context, ticketID int64, names []string) error
	MergeCustomerData(ctx context.Context, customerID int64, key string, update func(old json.RawMessage, room int) (json.RawMessage, error)) (int64, error)
}

// Opener builds a connection's clients from its stored record (credentials come from the
// secret store).
type Opener interface {
	Open(ctx context.Context, c connection.Connection) (Reviews, Helpdesk, error)
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(ctx context.Context, c connection.Connection) (Reviews, Helpdesk, error)

// Open calls f.
func (f OpenerFunc) Open(ctx context.Context, c connection.Connection) (Reviews, Helpdesk, error) {
	return f(ctx, c)
}

// Enqueuer sends continuation jobs.
type Enqueuer interface {
	Send(ctx context.Context, jobs []queue.Job, delay time.Duration) error
}

// Syncer runs sync jobs. Build it with New.
type Syncer struct {
	Store Store
	Open  Opener
	Queue Enqueuer
	Log   *slog.Logger
	Owner string // this instance, in claims and leases
	Now   func() time.Time
	cfg   Config
}

// New returns a Syncer with cfg's zero fields set to their defaults.
func New(st Store, open Opener, q Enqueuer, log *slog.Logger, owner string, cfg Config) *Syncer {
	return &Syncer{Store: st, Open: open, Queue: q, Log: log, Owner: owner, cfg: cfg.withDefaults()}
}

// Config tunes a Syncer; zero values take the defaults.
type Config struct {
	// Margin is the time kept before the deadline: no review starts later than that.
	Margin time.Duration
	// Overlap is how far before the cursor an incremental service sync starts again, so
	// reviews that appear late in Trustpilot's index are not missed.
	Overlap time.Duration
	// ReviewBudget bounds one review's helpdesk calls (retries and waits included); its claim
	// lives that long plus ClaimGrace, so no call outlives the claim that guards it.
	ReviewBudget time.Duration
	// ClaimGrace is how much longer than its calls a claim lives: time to record the ticket.
	ClaimGrace time.Duration
	// LeaseRetry is how long a job waits (SQS delay) when another worker syncs the same
	// helpdesk account.
	LeaseRetry time.Duration
	// CustomerDataCap bounds Pilotdesk's part of a customer's data (bytes).
	CustomerDataCap int
	// MaxContinuations stops a runaway job chain (a bug, not a large backfill).
	MaxContinuations int
	// UncertainWindow is how long after a create with an unknown outcome the ticket is looked
	// for before another create may be sent: longer than a plausible commit lag.
	UncertainWindow time.Duration
	// LookupEvery spaces the look-ups within UncertainWindow.
	LookupEvery time.Duration
	// RetryBase is a set-aside review's first wait; each further failure doubles it, up to
	// RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// GiveUpAfter failures, a set-aside review is given up (listed, retried only on request);
	// a review the helpdesk refuses as invalid is given up after GiveUpInvalid.
	GiveUpAfter   int64
	GiveUpInvalid int64
	// DeepWindow is how far back the deep pass reads service reviews.
	DeepWindow time.Duration
	// WriteGroup is how many new reviews share one store write (8): their claims are taken
	// together, ahead, and their confirms recorded together with the next group's claims, so a
	// backfill's review costs about 1/WriteGroup of a write. A ticket's link is then recorded
	// up to WriteGroup reviews after its create (never after the page: the cursor only passes
	// recorded reviews); should the worker die in between, each of those tickets costs one
	// look-up by its external id when its review is claimed again. 1 writes each review's
	// confirm with the next review's claim.
	WriteGroup int
	// GoneCheck is how often a run looks whether its connection is still there (not deleted,
	// not disabled), between reviews: a deletion waits for the run to stop (it holds the
	// account's lease), so this bounds how long `connection delete` waits.
	GoneCheck time.Duration
}

func (c Config) withDefaults() Config {
	def(&c.Margin, 10*time.Second)
	def(&c.Overlap, 72*time.Hour)
	def(&c.ReviewBudget, 2*time.Minute)
	def(&c.ClaimGrace, 15*time.Second)
	def(&c.LeaseRetry, 30*time.Second)
	def(&c.CustomerDataCap, 200_000)
	def(&c.MaxContinuations, 100_000)
	def(&c.UncertainWindow, 90*time.Second)
	def(&c.LookupEvery, 30*time.Second)
	def(&c.RetryBase, 30*time.Second)
	def(&c.RetryMax, 6*time.Hour)
	def(&c.GiveUpAfter, 12)
	def(&c.GiveUpInvalid, 3)
	def(&c.DeepWindow, 30*24*time.Hour)
	def(&c.WriteGroup, 8)
	def(&c.GoneCheck, 10*time.Second)
	c.WriteGroup = min(c.WriteGroup, link.MaxBatch/2)
	return c
}

// def sets *p to v when it is not positive (unset).
func def[T int | int64 | time.Duration](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}

// Tags every ticket gets.
const (
	TagReview = "trustpilot-review"
	metaKey   = "trustpilot"
)

// run is one job's state.
type run struct {
	s         *Syncer
	cfg       Config
	job       queue.Job
	conn      connection.Connection
	account   string
	reviews   Reviews
	hd        Helpdesk
	log       *slog.Logger
	continued bool // a continuation job was queued
	// gone says the connection was deleted or disabled during the run (looked at every
	// GoneCheck, last at checked): the run stops and queues nothing more of it.
	gone    bool
	checked time.Time
	// resumeSince and resumeAt are where a continuation starts: the current page's checkpoint.
	resumeSince time.Time
	resumeAt    string
	stats       cursor.Checkpoint // this page
	total       cursor.Checkpoint // this run
	retryAt     time.Time         // the earliest retry of a review this run set aside
	failStreak  int               // reviews in a row whose helpdesk calls failed
	calls       int64             // Trustpilot calls this invocation made
	entries     []reviewer.Record // sidebar entries of linked reviews, written a page at a time
	fields      int               // how far the helpdesk's refusals of ticket fields degraded them (see create)
	// The page's store writes for new reviews, WriteGroup at a time (see write): unlinked says
	// the review running has no link at all; upcoming are the page's next reviews without one;
	// ahead the claims taken for them, until they run; pending the confirms not written yet;
	// single that a batch was refused on this page, so the rest of it writes one at a time.
	unlinked bool
	upcoming []review.Review
	ahead    map[string]link.Claim
	pending  []linked
	single   bool
}

// linked is a review whose ticket is made, waiting for its confirm to be written.
type linked struct {
	c      link.Confirm
	rv     review.Review
	ticket gorgias.Ticket
	retry  bool
}

// counted counts a run's Trustpilot calls: the scheduler paces the next run by them.
type counted struct {
	Reviews
	n *int64
}

func (c counted) ListServiceReviews(ctx context.Context, since time.Time, next string) (trustpilot.ServicePage, error) {
	*c.n++
	return c.Reviews.ListServiceReviews(ctx, since, next)
}

func (c counted) ListProductReviews(ctx context.Context, page int) (trustpilot.ProductPage, error) {
	*c.n++
	return c.Reviews.ListProductReviews(ctx, page)
}

func (c counted) GetServiceReview(ctx context.Context, id string) (review.Review, error) {
	*c.n++
	return c.Reviews.GetServiceReview(ctx, id)
}

func (c counted) ListDeletedReviews(ctx context.Context, from, to time.Time, next string) (trustpilot.Deletions, error) {
	*c.n++
	return c.Reviews.ListDeletedReviews(ctx, from, to, next)
}

// Sync runs one sync job. Errors are classified: errs.NotExist when the connection is gone
// (the job is dropped), transient ones to retry the job from its checkpoint. When the job is
// over (finished, or dropped for good) the scheduler may queue the next one.
func (s *Syncer) Sync(ctx context.Context, job queue.Job) error {
	over, err := s.sync(ctx, job)
	if over && err == nil && job.Pass != queue.PassEvents {
		kind := job.MarkKind()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		if cerr := s.Store.ClearQueued(cctx, job.ConnectionID, kind); cerr != nil {
			s.Log.Warn("could not clear the queued mark; the scheduler waits for it to go stale", "connection_id", job.ConnectionID, "error", cerr.Error())
		}
	}
	return err
}

// sync runs the job and reports whether it is over (no continuation or retry of it follows).
func (s *Syncer) sync(ctx context.Context, job queue.Job) (over bool, _ error) {
	cfg := s.cfg
	log := s.Log.With("connection_id", job.ConnectionID, "kind", job.Kind, "pass", cmp.Or(job.Pass, "cursor"))
	rec, err := s.Store.GetConnection(ctx, job.ConnectionID)
	if err != nil {
		return false, err
	}
	conn := rec.Connection
	switch {
	case conn.Disabled:
		log.Info("connection disabled; job skipped")
		return true, nil
	case rec.NeedsReauth:
		log.Warn("connection needs re-authorising; job skipped", "reason", rec.ReauthReason)
		return true, nil
	case !conn.Kinds(job.Kind):
		log.Info("review kind not enabled on the connection; job skipped")
		return true, nil
	case job.Continuation > cfg.MaxContinuations:
		return true, errs.E(errs.Invalid, "reviewsync.Sync", fmt.Errorf("job chain too long (%d continuations)", job.Continuation))
	}
	reviews, hd, err := s.Open.Open(ctx, conn)
	if err != nil {
		return true, s.reauth(ctx, conn, err, log)
	}
	account := conn.HelpdeskAccountKey()
	ok, err := s.Store.AcquireLeaseFor(ctx, account, s.Owner, conn.ID, s.leaseTTL(ctx))
	if err != nil {
		return false, err
	}
	if !ok {
		// One sync at a time per helpdesk account. The job waits beside the account, not on
		// the queue: whoever releases the lease sends it on.
		return false, s.park(ctx, account, job, log)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.Store.ReleaseLease(rctx, account, s.Owner); err != nil {
			log.Warn("lease release failed; it expires on its own", "error", err.Error())
			return
		}
		s.Unpark(rctx, account, log)
	}()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 3*cfg.Margin {
		// A short invocation keeps a proportionate margin, or no review could ever start in it
		// (the run's bound is half a margin inside the invocation's, and a review starts only
		// with a margin left): its runs would only queue continuations of themselves.
		cfg.Margin = max(time.Until(dl)/3, time.Second)
	}
	r := &run{s: s, cfg: cfg, job: job, conn: conn, account: account, hd: hd, log: log}
	r.reviews = counted{Reviews: reviews, n: &r.calls}
	// The connection may have gone between its read and the lease. Deleting it waits for
	// whoever holds the lease for it, so from this look on nothing is written after a deletion.
	if err := r.stillThere(ctx); err != nil {
		return false, err // the job comes back: without this look a deletion could miss the run
	}
	if r.gone {
		log.Info("connection deleted or disabled before the run; job dropped")
		return true, nil
	}
	start := s.now()
	// Every call of the run, its retry waits and limiter waits included, ends before the
	// invocation does, with time left to record progress and queue the continuation.
	rctx, cancel := r.runContext(ctx)
	defer cancel()
	err = r.passes(rctx)
	if r.gone {
		// Nothing more of it: no continuation, no retry, no error recorded on it.
		log.Info("sync run stopped: the connection was deleted or disabled", "seen", r.total.Seen, "created", r.total.Created)
		if err != nil && !errors.Is(err, errGone) {
			log.Warn("the stopped run had failed", "error", err.Error())
		}
		return true, nil
	}
	if err != nil && ctx.Err() == nil && (rctx.Err() != nil || errors.Is(err, gorgias.ErrPastDeadline)) && !r.continued && !connectionLevel(err) {
		// Our own bound ran out mid-call (a long Retry-After, a limiter pause), not the call's own
		// timeout: continue from the current page in a new invocation instead of failing the job.
		log.Info("run bound reached mid-call; continuing from the checkpoint", "error", err.Error())
		// When the call said when it could start (a Retry-After, the account's next call
		// slot), the continuation waits until then: trying at once would only fail again.
		var delay time.Duration
		if we := (*gorgias.WaitError)(nil); errors.As(err, &we) {
			delay = min(max(time.Until(we.Until), 0), 15*time.Minute)
		}
		if cerr := r.continueLater(ctx, r.resumeSince, r.resumeAt, delay); cerr != nil {
			return false, cerr
		}
		err = nil
	}
	r.scheduleRetry(ctx)
	if connectionLevel(err) {
		return true, s.reauth(ctx, conn, err, log)
	}
	if err != nil {
		metrics.Add(metrics.SyncErrors, 1)
		if rerr := s.Store.RecordError(ctx, conn.ID, job.Kind, trim(err.Error())); rerr != nil {
			log.Warn("could not record the error", "error", rerr.Error())
		}
		return false, err
	}
	log.Info("sync run done", "seen", r.total.Seen, "created", r.total.Created, "errors", r.total.Errors,
		"trustpilot_calls", r.calls, "took_ms", s.now().Sub(start).Milliseconds())
	r.recordCost(ctx)
	return !r.continued, nil
}

// park keeps a job that found its account's lease held until the holder releases it (see
// queue.Park). When parking fails the job goes back to the queue after LeaseRetry, as before.
// A lease released while the job was being parked is noticed by trying it once more.
func (s *Syncer) park(ctx context.Context, account string, job queue.Job, log *slog.Logger) error {
	if err := queue.Park(ctx, s.Store, account, job); err != nil {
		log.Warn("job not parked; back on the queue", "account", account, "error", err.Error())
		return s.Queue.Send(ctx, []queue.Job{job}, s.cfg.LeaseRetry)
	}
	log.Info("another worker syncs this helpdesk account; job parked until it is done", "account", account)
	if ok, err := s.Store.AcquireLeaseFor(ctx, account, s.Owner, job.ConnectionID, 10*time.Second); err == nil && ok {
		if err := s.Store.ReleaseLease(ctx, account, s.Owner); err == nil {
			s.Unpark(ctx, account, log)
		}
	}
	return nil
}

// Unpark sends the jobs parked for the account on (see queue.Unpark).
func (s *Syncer) Unpark(ctx context.Context, account string, log *slog.Logger) {
	if _, err := queue.Unpark(ctx, s.Store, s.Queue, account); err != nil {
		log.Warn("parked jobs not all sent on; the scheduler sends them at its next tick", "account", account, "error", err.Error())
	}
}

// recordCost keeps what a finished run (its whole continuation chain) cost in Trustpilot
// calls, on the cursor the scheduler paces that pass by; a webhook batch marks that webhooks
// arrive.
func (r *run) recordCost(ctx context.Context) {
	if r.continued {
		return
	}
	switch r.job.Pass {
	case queue.PassAside:
		return // retries are not what a poll costs
	case queue.PassEvents:
		if err := r.s.Store.SaveCheckpoint(ctx, r.conn.ID, cursor.EventsKind, cursor.Checkpoint{Seen: int64(len(r.job.Events))}); err != nil {
			r.log.Warn("could not record the webhook batch", "error", err.Error())
		}
		if r.conn.Trustpilot.LedgerKey != "" && r.calls > 0 {
			if err := r.s.Store.AddOtherCalls(ctx, r.conn.Trustpilot.LedgerKey, int(r.calls)); err != nil {
				r.log.Warn("could not count the webhook batch's Trustpilot calls", "error", err.Error())
			}
		}
		return
	}
	if err := r.s.Store.SetRunCalls(ctx, r.conn.ID, r.job.MarkKind(), r.job.Calls+r.calls); err != nil {
		r.log.Warn("could not record the run's Trustpilot calls", "error", err.Error())
	}
}

// passes runs the job's passes: the set-aside pass first (a retry job runs only that), then
// the cursor's incremental pass or the deep pass.
func (r *run) passes(ctx context.Context) error {
	if (r.job.Continuation == 0 && r.job.Pass != queue.PassEvents && r.job.Pass != queue.PassDeletions) || r.job.Pass == queue.PassAside {
		if err := r.asidePass(ctx); err != nil || r.job.Pass == queue.PassAside || r.continued {
			return err
		}
	}
	switch {
	case r.job.Pass == queue.PassEvents:
		return r.events(ctx)
	case r.job.Pass == queue.PassDeletions:
		return r.deletions(ctx)
	case r.job.Pass == queue.PassDeep && r.job.Kind == review.Service:
		return r.deep(ctx)
	case r.job.Pass == queue.PassDeep:
		return nil // product runs read every page already
	case r.job.Kind == review.Service:
		return r.service(ctx)
	}
	return r.product(ctx)
}

// events handles the reviews a Trustpilot webhook batch named. The body was only a hint: each
// review is read again from the private API (which also brings the reviewer's email), and one
// that is not this business unit's review creates nothing, so a forged event is harmless.
// Created and updated reviews go through the same path as a poll (ticket, or edit note).
func (r *run) events(ctx context.Context) error {
	listed, err := r.listCreated(ctx)
	if err != nil {
		return err
	}
	var reviews []review.Review
	for _, e := range r.job.Events {
		log := r.log.With("review_id", e.ReviewID, "event", e.Name)
		if rv, ok := listed[e.ReviewID]; ok && e.Name == trustpilot.EventCreated {
			reviews = append(reviews, rv)
			continue
		}
		rv, err := r.reviews.GetServiceReview(ctx, e.ReviewID)
		if e.Name == trustpilot.EventDeleted {
			// Only Trustpilot's own answer proves it: a review it still serves is not deleted.
			switch {
			case errs.Is(err, errs.NotExist):
				if err := r.deleted(ctx, e.ReviewID); err != nil {
					return err
				}
			case err == nil:
				log.Warn("deleted event for a review Trustpilot still serves; ignored")
			default:
				return err
			}
			continue
		}
		switch {
		case errs.Is(err, errs.NotExist), errs.Is(err, errs.Invalid):
			log.Warn("webhook event names no review of this business unit; nothing created", "error", err.Error())
			continue
		case err != nil:
			return err
		case rv.BusinessUnitID != "" && rv.BusinessUnitID != r.conn.Trustpilot.BusinessUnitID:
			log.Warn("webhook event names another business unit's review; nothing created")
			continue
		}
		reviews = append(reviews, rv)
	}
	var mark time.Time
	stop, err := r.page(ctx, reviews, &mark)
	if err != nil {
		return err
	}
	cp := r.flush(time.Time{}, "")
	if stop != nil {
		// A review of the batch is claimed elsewhere: the batch comes back once that claim ends
		// (the reviews already linked cost a read each, nothing more).
		r.continued = true
		return r.send(ctx, r.job, stop.delay)
	}
	r.log.Info("webhook events handled", "events", len(r.job.Events), "created", cp.Created)
	return nil
}

// ListedFetchMin is the fewest created events with a createdAt for which a batch's reviews are
// read from the business unit's review list (one call a page of 100, from the earliest
// createdAt) rather than one by one; ListedSlack widens the list's window around the events'
// createdAt (their clocks and the list's may differ).
const (
	ListedFetchMin = 2
	ListedSlack    = time.Minute
)

// listCreated reads the reviews a batch's created events name from the business unit's private
// review list (which brings referralEmail like the single read, and holds only this business
// unit's reviews): one call per page instead of one per review. It reads at most one page more
// than the events could fill, and stops once every one is found or the list passes the latest
// createdAt; a review it does not find (a forged id, a createdAt that was off) is read alone.
func (r *run) listCreated(ctx context.Context) (map[string]review.Review, error) {
	want := map[string]bool{}
	var from, to time.Time
	for _, e := range r.job.Events {
		at, err := time.Parse(time.RFC3339Nano, e.CreatedAt)
		if e.Name != trustpilot.EventCreated || err != nil {
			continue
		}
		want[e.ReviewID] = true
		if from.IsZero() || at.Before(from) {
			from = at
		}
		if at.After(to) {
			to = at
		}
	}
	if len(want) < ListedFetchMin {
		return nil, nil
	}
	found := map[string]review.Review{}
	href := ""
	for pages := 0; pages <= len(want)/trustpilot.PerPage+1; pages++ {
		page, err := r.reviews.ListServiceReviews(ctx, from.Add(-ListedSlack), href)
		if err != nil {
			return nil, err
		}
		past := false
		for _, rv := range page.Reviews {
			if want[rv.ID] && (rv.BusinessUnitID == "" || rv.BusinessUnitID == r.conn.Trustpilot.BusinessUnitID) {
				found[rv.ID] = rv
			}
			past = past || rv.CreatedAt.After(to.Add(ListedSlack))
		}
		if len(found) == len(want) || past || page.Next == "" {
			break
		}
		href = page.Next
	}
	r.log.Info("webhook batch read from the review list", "created_events", len(want), "found", len(found))
	return found, nil
}

// DeletionsLookBack is how far back the first deletions pass of a connection reads;
// DeletionsOverlap how far before the end of the last window each later one starts (a deletion
// Trustpilot records late is not missed; handling one twice does nothing).
const (
	DeletionsLookBack = 30 * 24 * time.Hour
	DeletionsOverlap  = time.Hour
)

// deletions reads Trustpilot's Deletions API from the end of the last window read up to now,
// page by page (each page's token is the checkpoint), and removes every deleted review of the
// connection from Pilotdesk (see deleted). Ids of other connections' reviews are skipped.
func (r *run) deletions(ctx context.Context) error {
	cur, err := r.s.Store.GetCursor(ctx, r.conn.ID, cursor.DeletionsKind)
	if err != nil {
		return err
	}
	// Whole seconds: the API's dates are ISO 8601 seconds, and a window end it rounded down
	// would leave a gap before the next window.
	to := r.s.now().Truncate(time.Second)
	from := cur.Since.Add(-DeletionsOverlap)
	if cur.Since.IsZero() {
		from = to.Add(-DeletionsLookBack)
	}
	if r.job.Since != nil { // a continuation keeps its window
		to = *r.job.Since
	}
	next := r.job.Resume
	for {
		if !r.timeLeft(ctx) {
			return r.continueLater(ctx, to, next, 0)
		}
		page, err := r.reviews.ListDeletedReviews(ctx, from, to, next)
		if err != nil {
			return err
		}
		links, err := r.s.Store.GetLinks(ctx, r.conn.ID, page.IDs)
		if err != nil {
			return err
		}
		for _, id := range page.IDs {
			if _, ours := links[id]; ours {
				if err := r.deleted(ctx, id); err != nil {
					return err
				}
			}
		}
		cp := cursor.Checkpoint{Seen: int64(len(page.IDs)), Resume: page.Next}
		if page.Next == "" {
			cp.Since = to
		}
		if err := r.s.Store.SaveCheckpoint(ctx, r.conn.ID, cursor.DeletionsKind, cp); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		next = page.Next
	}
}

// TagDeleted marks the ticket of a review deleted on Trustpilot.
const TagDeleted = "trustpilot-deleted"

// DeletedNote is the agent's note on the ticket of a review deleted on Trustpilot.
const DeletedNote = "This review was removed from Trustpilot; its text is no longer stored by Pilotdesk. " +
	"The ticket stays as it is; if the review is reinstated it comes back to this ticket."

// deleted handles a review Trustpilot says is gone (its Deletions API, or a deleted event it
// confirmed): the review's text and personal data leave Pilotdesk's table and the customer's
// sidebar data, its ticket gets a note and the trustpilot-deleted tag, and the link stays so a
// reinstated review finds the same ticket. Every step can be repeated; the note is left once.
func (r *run) deleted(ctx context.Context, reviewID string) error {
	log := r.log.With("review_id", reviewID)
	lk, err := r.s.Store.GetLink(ctx, r.conn.ID, reviewID)
	if errs.Is(err, errs.NotExist) {
		log.Info("deleted review was never synced; nothing stored")
		return nil
	}
	if err != nil {
		return err
	}
	if !lk.DeletedAt.IsZero() {
		return nil // handled before
	}
	who := lk.Reviewer
	if who == "" && lk.Snapshot != "" {
		// Set aside before it was linked: its entry was written already; the snapshot names
		// its reviewer.
		var rv review.Review
		if json.Unmarshal([]byte(lk.Snapshot), &rv) == nil {
			who = r.reviewerKey(rv)
		}
	}
	if who != "" {
		if err := r.s.Store.ForgetReviewerEntry(ctx, r.account, who, reviewID); err != nil {
			return err
		}
	}
	if lk.CustomerID != 0 && lk.Account != "" {
		// The customer's data holds the review if Pilotdesk ever wrote it there (the setting
		// may have been on then): its entry list says so.
		had, err := r.s.Store.ForgetCustomerEntry(ctx, lk.Account, lk.CustomerID, reviewID)
		if err != nil {
			return err
		}
		if had || r.conn.Helpdesk.CustomerData {
			_, err := r.hd.MergeCustomerData(ctx, lk.CustomerID, metaKey, func(old json.RawMessage, room int) (json.RawMessage, error) {
				return gorgias.RemoveReview(old, reviewID, min(r.cfg.CustomerDataCap, room))
			})
			if err != nil && errs.Retryable(err) {
				return err
			} else if err != nil {
				log.Warn("deleted review's customer data entry not removed", "customer_id", lk.CustomerID, "error", err.Error())
			}
		}
	}
	if lk.State == link.StateLinked && lk.TicketID != 0 {
		if err := r.hd.AddTags(ctx, lk.TicketID, []string{TagDeleted}); err != nil {
			return err
		}
		if _, err := r.hd.PostInternalNote(ctx, lk.TicketID, DeletedNote); err != nil {
			return err
		}
	}
	if _, err := r.s.Store.MarkDeleted(ctx, r.conn.ID, reviewID); err != nil {
		return err
	}
	log.Info("review deleted on Trustpilot: its text removed from Pilotdesk, note and tag on its ticket", "ticket_id", lk.TicketID)
	return nil
}

// asidePass retries the connection's set-aside reviews of the job's kind that are due, from
// the snapshots the list keeps: independent of the cursor, so a review the run passed by is
// never forgotten.
func (r *run) asidePass(ctx context.Context) error {
	list, err := r.s.Store.ListSetAside(ctx, r.conn.ID)
	if err != nil {
		return err
	}
	now := r.s.now()
	for _, l := range list {
		if l.Kind != r.job.Kind || !l.AsideDue(now) {
			continue
		}
		var rv review.Review
		if err := json.Unmarshal([]byte(l.Snapshot), &rv); err != nil || rv.ID != l.ReviewID {
			r.log.Error("set-aside review's snapshot unreadable; left for the sync to find again", "review_id", l.ReviewID)
			continue
		}
		if !r.timeLeft(ctx) {
			next := queue.SyncJob(r.conn.ID, r.job.Kind)
			next.Pass, next.Continuation = queue.PassAside, r.job.Continuation+1
			r.continued = true
			return r.send(ctx, next, 0)
		}
		r.stats.Seen++
		r.preIndex(rv)
		r.flushEntries(ctx)
		if _, err := r.one(ctx, rv); err != nil {
			return err
		}
	}
	// Not checkpointed: the cursor's resume point belongs to the cursor's pass. The set-aside
	// list itself is the record; the run's log line counts the retries.
	r.flush(time.Time{}, "")
	return nil
}

// scheduleRetry queues a set-aside pass for the earliest review this run set aside, when SQS
// can hold the delay; later ones are picked up by the scheduler's runs, which begin with it.
func (r *run) scheduleRetry(ctx context.Context) {
	if r.retryAt.IsZero() {
		return
	}
	delay := max(r.retryAt.Sub(r.s.now()), 0) + time.Second
	if delay > queue.MaxDelay {
		return
	}
	next := queue.SyncJob(r.conn.ID, r.job.Kind)
	next.Pass = queue.PassAside
	if err := r.send(ctx, next, delay); err != nil {
		r.log.Warn("could not queue the set-aside retry; the next scheduled run does it", "error", err.Error())
	}
}

// send enqueues one job, even when the run's own time is up.
func (r *run) send(ctx context.Context, job queue.Job, delay time.Duration) error {
	if r.gone {
		return errGone
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return r.s.Queue.Send(sctx, []queue.Job{job}, delay)
}

// connectionLevel reports errors no review of the connection can get past: refused
// credentials (either API), a business unit or helpdesk account that does not exist. Syncing
// on would skip every review and move the cursor past them.
func connectionLevel(err error) bool {
	return errs.Is(err, errs.Reauth) || errs.Is(err, errs.Permission) || errs.Is(err, errs.NotExist)
}

// reauth marks a connection whose credentials or settings a human must fix, so the scheduler
// stops enqueueing it, and drops the job; other errors pass through.
func (s *Syncer) reauth(ctx context.Context, conn connection.Connection, err error, log *slog.Logger) error {
	if !connectionLevel(err) {
		return err
	}
	if serr := s.Store.SetReauth(ctx, conn.ID, true, trim(err.Error())); serr != nil {
		return serr
	}
	log.Error("connection needs re-authorising; syncing stopped until it is fixed", "error", err.Error())
	return nil
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Syncer) leaseTTL(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl) + 5*time.Second
	}
	return 15 * time.Minute
}

// errGone ends a run whose connection was deleted or disabled (run.gone) where it would
// have queued more of it.
var errGone = errors.New("the connection was deleted or disabled during the run")

// stillThere looks whether the connection is still there to sync, and sets r.gone when it was
// deleted or disabled. It returns the look's error, having changed nothing.
func (r *run) stillThere(ctx context.Context) error {
	r.checked = r.s.now()
	rec, err := r.s.Store.GetConnection(ctx, r.conn.ID)
	switch {
	case errs.Is(err, errs.NotExist):
		r.gone = true
	case err != nil:
		return err
	case rec.Connection.Disabled:
		r.gone = true
	}
	return nil
}

// goneNow reports whether the run must stop because its connection went: it looks again when
// the last look is GoneCheck old (a failed look is tried again at the next one).
func (r *run) goneNow(ctx context.Context) bool {
	if !r.gone && r.s.now().Sub(r.checked) >= r.cfg.GoneCheck {
		if err := r.stillThere(ctx); err != nil {
			r.log.Warn("could not look whether the connection is still there; syncing on", "error", err.Error())
		}
	}
	return r.gone
}

// timeLeft reports whether another review may start.
func (r *run) timeLeft(ctx context.Context) bool {
	if ctx.Err() != nil || r.goneNow(ctx) {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > r.cfg.Margin
}

// continueLater enqueues the job's continuation from a checkpoint.
func (r *run) continueLater(ctx context.Context, since time.Time, resume string, delay time.Duration) error {
	next := queue.SyncJob(r.conn.ID, r.job.Kind)
	if !since.IsZero() {
		s := since.UTC()
		next.Since = &s
	}
	next.Resume, next.Pass = resume, r.job.Pass
	next.Continuation, next.Calls = r.job.Continuation+1, r.job.Calls+r.calls
	if err := r.send(ctx, next, delay); err != nil {
		return err
	}
	r.continued = true
	r.log.Info("continuation enqueued", "resume", resume, "continuation", next.Continuation, "delay_s", int(delay/time.Second))
	return nil
}

// service syncs service reviews incrementally, oldest first, one checkpoint per page.
func (r *run) service(ctx context.Context) error {
	since := time.Time{}
	if r.job.Since != nil {
		since = *r.job.Since
	} else {
		cur, err := r.s.Store.GetCursor(ctx, r.conn.ID, review.Service)
		if err != nil {
			return err
		}
		if !cur.Since.IsZero() {
			since = cur.Since.Add(-r.cfg.Overlap)
		}
	}
	return r.servicePages(ctx, since, review.Service)
}

// deep reads the last DeepWindow of service reviews again: a review that first appears with a
// createdAt older than the overlap (held in moderation, reinstated after a report) and an edit
// of an older review are found here. Its checkpoints go to a cursor of its own, so the
// incremental pass's high-water mark is untouched.
func (r *run) deep(ctx context.Context) error {
	since := r.s.now().Add(-r.cfg.DeepWindow)
	if r.job.Since != nil {
		since = *r.job.Since
	}
	return r.servicePages(ctx, since, cursor.DeepKind(review.Service))
}

// servicePages reads service reviews from since, page by page, checkpointing under key.
func (r *run) servicePages(ctx context.Context, since time.Time, key review.Kind) error {
	href := r.job.Resume // "" = the first page from since
	for {
		r.resumeSince, r.resumeAt = since, href
		if !r.timeLeft(ctx) {
			return r.continueLater(ctx, since, href, 0)
		}
		page, err := r.reviews.ListServiceReviews(ctx, since, href)
		if err != nil {
			return err
		}
		if err := r.rejected(ctx, page.Rejected); err != nil {
			return err
		}
		var mark time.Time
		stop, err := r.page(ctx, page.Reviews, &mark)
		if err != nil {
			return err
		}
		cp := r.flush(mark, page.Next)
		if stop != nil {
			cp.Resume = href
		}
		if err := r.s.Store.SaveCheckpoint(ctx, r.conn.ID, key, cp); err != nil {
			return err
		}
		if stop != nil {
			return r.continueLater(ctx, since, href, stop.delay)
		}
		if page.Next == "" {
			return nil
		}
		href = page.Next
	}
}

// product scans every product review page (the API has no date filter); one batched link
// look-up per page skips the reviews already synced without a helpdesk call.
func (r *run) product(ctx context.Context) error {
	pageNo := 1
	if r.job.Resume != "" {
		n, err := strconv.Atoi(r.job.Resume)
		if err != nil || n < 1 {
			return errs.E(errs.Invalid, "reviewsync.product", fmt.Errorf("bad resume page %q", r.job.Resume))
		}
		pageNo = n
	}
	for {
		r.resumeSince, r.resumeAt = time.Time{}, strconv.Itoa(pageNo)
		if !r.timeLeft(ctx) {
			return r.continueLater(ctx, time.Time{}, strconv.Itoa(pageNo), 0)
		}
		page, err := r.reviews.ListProductReviews(ctx, pageNo)
		if err != nil {
			return err
		}
		if err := r.rejected(ctx, page.Rejected); err != nil {
			return err
		}
		var mark time.Time
		stop, err := r.page(ctx, page.Reviews, &mark)
		if err != nil {
			return err
		}
		resume := ""
		if page.More {
			resume = strconv.Itoa(pageNo + 1)
		}
		if stop != nil {
			resume = strconv.Itoa(pageNo)
		}
		cp := r.flush(time.Time{}, resume)
		if err := r.s.Store.SaveCheckpoint(ctx, r.conn.ID, review.Product, cp); err != nil {
			return err
		}
		if stop != nil {
			return r.continueLater(ctx, time.Time{}, resume, stop.delay)
		}
		if !page.More {
			return nil
		}
		pageNo++
	}
}

// rejected records the reviews Trustpilot sent that could not be read (missing id, bad stars):
// counted, logged, and those with an id put on the set-aside list, so `status` shows them
// until Trustpilot sends them readable; never silently dropped.
func (r *run) rejected(ctx context.Context, rej []trustpilot.Rejected) error {
	for _, x := range rej {
		r.stats.Errors++
		r.stats.LastError = trim(fmt.Sprintf("review %s unreadable: %v", x.ID, x.Err))
		r.log.Error("review from Trustpilot is unreadable; not synced", "review_id", x.ID, "error", x.Err.Error())
		if review.ValidID(x.ID) {
			if err := r.s.Store.RecordUnreadable(ctx, r.conn.ID, x.ID, r.job.Kind, trim("unreadable: "+x.Err.Error())); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush returns this page's checkpoint and moves its counters into the run's totals.
func (r *run) flush(since time.Time, resume string) cursor.Checkpoint {
	cp := r.stats
	cp.Since, cp.Resume = since, resume
	r.total.Seen += cp.Seen
	r.total.Created += cp.Created
	r.total.Errors += cp.Errors
	r.stats = cursor.Checkpoint{}
	r.log.Debug("page checkpoint", "seen", cp.Seen, "created", cp.Created, "errors", cp.Errors, "resume", cp.Resume)
	return cp
}

// stopAt asks the run to stop at a review and continue later.
type stopAt struct{ delay time.Duration }

// page processes one page. mark receives the newest creation time of the page when every
// review of it was handled (so the high-water mark never passes a review left behind).
func (r *run) page(ctx context.Context, reviews []review.Review, mark *time.Time) (*stopAt, error) {
	ids := make([]string, 0, len(reviews))
	for _, rv := range reviews {
		ids = append(ids, rv.ID)
	}
	links, err := r.s.Store.GetLinks(ctx, r.conn.ID, ids)
	if err != nil {
		return nil, err
	}
	var unindexed []reviewer.Record
	for _, rv := range reviews {
		if lk, ok := links[rv.ID]; !ok || lk.State != link.StateLinked {
			r.preIndex(rv)
		} else if who := r.reviewerKey(rv); who != "" && lk.Reviewer == "" && lk.TicketID != 0 && lk.DeletedAt.IsZero() {
			// Linked before the sidebar's index existed (the link names no reviewer): its entry
			// is written now, and the link then names the reviewer, so this happens once.
			rec := reviewer.Record{Reviewer: who, ReviewID: rv.ID, Entry: reviewer.EntryOf(r.conn.ID, rv, lk.TicketID).Marshal()}
			r.entries = append(r.entries, rec)
			unindexed = append(unindexed, rec)
		}
	}
	if r.flushEntries(ctx) {
		for _, rec := range unindexed {
			if _, err := r.s.Store.SetReviewer(ctx, r.conn.ID, rec.ReviewID, r.account, rec.Reviewer); err != nil {
				r.log.Warn("older link's reviewer not recorded; its sidebar entry is written again next time", "review_id", rec.ReviewID, "error", err.Error())
			}
		}
		if len(unindexed) > 0 {
			r.log.Info("sidebar entries written for reviews linked before the sidebar", "reviews", len(unindexed))
		}
	}
	r.single = false
	stop, err := r.pageReviews(ctx, reviews, links, mark)
	if serr := r.settle(ctx); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return stop, nil
}

// pageReviews runs the page's reviews in order; page settles the store writes they leave.
func (r *run) pageReviews(ctx context.Context, reviews []review.Review, links map[string]link.Link, mark *time.Time) (*stopAt, error) {
	var newest time.Time
	for i, rv := range reviews {
		if r.goneNow(ctx) { // linked reviews too: an edit's note is a helpdesk call
			return &stopAt{}, nil
		}
		r.stats.Seen++
		if lk, ok := links[rv.ID]; ok && lk.RefusedUntil(r.s.now()) {
			// refused by the helpdesk recently: counted when it failed, skipped until its retry
		} else if ok && lk.State == link.StateLinked {
			if err := r.edited(ctx, rv, lk); err != nil {
				return nil, err
			}
		} else {
			if !r.timeLeft(ctx) {
				return &stopAt{}, nil
			}
			_, has := links[rv.ID]
			r.unlinked, r.upcoming = !has, r.upcomingAfter(reviews[i+1:], links, rv.ID)
			stop, err := r.one(ctx, rv)
			r.unlinked, r.upcoming = false, nil
			if err != nil {
				return nil, err
			}
			if stop != nil {
				return stop, nil
			}
		}
		if rv.CreatedAt.After(newest) {
			newest = rv.CreatedAt
		}
	}
	*mark = newest
	return nil, nil
}

// one brings one review to a linked ticket, or sets it aside with the reason: a failure of
// this review never stops the run (the cursor passes it; the set-aside pass retries it). Only
// what no review can get past ends the run: the connection's credentials, the run's own
// deadline, or the helpdesk failing for two reviews in a row.
func (r *run) one(ctx context.Context, rv review.Review) (*stopAt, error) {
	log := r.log.With("review_id", rv.ID)
	if rv.Stars < r.conn.MinStars {
		log.Debug("below the connection's star filter; skipped", "stars", rv.Stars)
		return nil, nil
	}
	// The claim outlives every call it guards: the review's calls end ClaimGrace before it.
	budget, own := r.budget(ctx)
	claim, early, err := r.claim(ctx, rv, budget)
	if err != nil {
		return nil, err
	}
	if early {
		// Claimed with an earlier write: its calls end before the claim does.
		if left := time.Until(claim.Link.ClaimExpires) - r.cfg.ClaimGrace; left < budget {
			budget, own = left, true
		}
	}
	switch claim.Status {
	case link.ClaimLinked:
		return nil, r.edited(ctx, rv, claim.Link)
	case link.ClaimRefused:
		log.Debug("review set aside; the set-aside pass retries it", "retry_at", claim.Link.ClaimExpires)
		return nil, nil
	case link.ClaimBusy:
		// Another worker (or a crashed one) holds it: come back when its claim expires.
		wait := time.Until(claim.Link.ClaimExpires) + time.Second
		log.Info("review claimed by another worker; continuing later", "wait_s", int(wait/time.Second))
		return &stopAt{delay: max(wait, time.Second)}, nil
	}
	// The run's own bound ends the calls when it is the nearer one, so its expiry reads as the
	// run's (a continuation), not as this review's failure.
	tctx, cancel := context.WithCancel(ctx)
	if own {
		tctx, cancel = context.WithTimeout(ctx, budget)
	}
	res := r.ticket(tctx, rv, claim)
	cancel()
	if res.err != nil {
		return nil, r.setAside(ctx, rv, claim, res, log)
	}
	r.failStreak = 0
	who := r.reviewerKey(rv)
	callsBetween := who != "" && r.conn.Helpdesk.CustomerData && res.ticket.CustomerID != 0
	r.pending = append(r.pending, linked{c: link.Confirm{
		ConnectionID: r.conn.ID, ReviewID: rv.ID, Owner: r.s.Owner, Account: r.account,
		TicketID: res.ticket.ID, CustomerID: res.ticket.CustomerID, ReviewVersion: rv.Version(), Stars: rv.Stars,
		Reviewer: who, Recovered: !res.created,
		ReviewCreatedAt: rv.CreatedAt, Language: rv.Language, ReferenceID: rv.ReferenceID,
	}, rv: rv, ticket: res.ticket, retry: claim.Link.SetAside()})
	// While the next review was claimed ahead with this one, the confirm waits for the group's
	// write; else it is written now, with the next group's claims when the next review runs at
	// once (no helpdesk call in between, time left to start it).
	if !callsBetween && len(r.upcoming) > 0 && len(r.pending) < r.cfg.WriteGroup {
		if _, ok := r.ahead[r.upcoming[0].ID]; ok {
			return nil, nil
		}
	}
	return nil, r.write(ctx, nil, !callsBetween)
}

// claim takes rv's claim: the one an earlier write took ahead for it (early), or a new one,
// together with the pending confirms and the claims of the reviews after it when rv has no
// link at all (one write).
func (r *run) claim(ctx context.Context, rv review.Review, budget time.Duration) (_ link.Claim, early bool, _ error) {
	if c, ok := r.ahead[rv.ID]; ok {
		delete(r.ahead, rv.ID)
		if time.Until(c.Link.ClaimExpires)-r.cfg.ClaimGrace >= min(budget, r.cfg.ReviewBudget/2) {
			return c, true, nil
		}
		// Taken too long ago (the reviews before it were slow): give it back unused and claim
		// it anew, so its calls get their whole budget.
		r.drop(ctx, rv.ID)
	} else if r.unlinked && !r.single {
		if err := r.write(ctx, &rv, true); err != nil {
			return link.Claim{}, false, err
		}
		if c, ok := r.ahead[rv.ID]; ok {
			delete(r.ahead, rv.ID)
			return c, false, nil
		}
	} else if err := r.write(ctx, nil, false); err != nil {
		// Before a review that claims alone (and may take its whole budget), the pending
		// confirms are written: their claims must not run out meanwhile.
		return link.Claim{}, false, err
	}
	c, err := r.s.Store.ClaimReview(ctx, r.conn.ID, rv.ID, rv.Kind, r.s.Owner, budget+r.cfg.ClaimGrace)
	return c, false, err
}

// upcomingAfter lists the reviews of rest that have no link yet (new ones: their claims may be
// taken ahead), up to WriteGroup, in page order.
func (r *run) upcomingAfter(rest []review.Review, links map[string]link.Link, current string) []review.Review {
	out := make([]review.Review, 0, r.cfg.WriteGroup)
	for _, nx := range rest {
		if len(out) == r.cfg.WriteGroup {
			break
		}
		// A page may name a review twice (the list shifted while it was read).
		if _, has := links[nx.ID]; has || nx.ID == current || nx.Stars < r.conn.MinStars ||
			slices.ContainsFunc(out, func(o review.Review) bool { return o.ID == nx.ID }) {
			continue
		}
		out = append(out, nx)
	}
	return out
}

// write records the pending confirms and, with claims, takes the claims of first (a review
// with no link, when not nil) and of the upcoming reviews not claimed yet, up to WriteGroup
// and only with time left to run them: one store write. When the store refuses the batch
// (a claim lost, a review linked meanwhile) or fails, the confirms are written one at a time,
// which tells which was lost, and no claim is taken: the reviews claim on their own.
func (r *run) write(ctx context.Context, first *review.Review, claims bool) error {
	var want []link.Want
	if claims && !r.single && ctx.Err() == nil {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > r.cfg.Margin+time.Second {
			if first != nil {
				want = append(want, link.Want{ReviewID: first.ID, Kind: first.Kind})
			}
			for _, nx := range r.upcoming {
				if len(want) == r.cfg.WriteGroup {
					break
				}
				if _, ok := r.ahead[nx.ID]; !ok {
					want = append(want, link.Want{ReviewID: nx.ID, Kind: nx.Kind})
				}
			}
		}
	}
	if len(r.pending) == 0 && len(want) <= 1 {
		return nil // nothing to write, or one claim: ClaimReview's answer says more
	}
	if len(r.pending) == 1 && len(want) == 0 {
		return r.confirmEach(ctx)
	}
	budget, _ := r.budget(ctx)
	b := link.Batch{ConnectionID: r.conn.ID, Owner: r.s.Owner, Claims: want, ClaimTTL: budget + r.cfg.ClaimGrace}
	for _, p := range r.pending {
		b.Confirms = append(b.Confirms, p.c)
	}
	got, ok, err := r.s.Store.ConfirmAndClaim(ctx, b)
	if err != nil || !ok {
		if err != nil {
			r.log.Debug("batched store write failed; writing one at a time", "error", err.Error())
		}
		r.single = true
		return r.confirmEach(ctx)
	}
	done := r.pending
	r.pending = nil
	if r.ahead == nil && len(got) > 0 {
		r.ahead = make(map[string]link.Claim, len(got))
	}
	for _, c := range got {
		r.ahead[c.Link.ReviewID] = c
	}
	for _, p := range done {
		r.done(ctx, p)
	}
	return nil
}

// confirmEach writes the pending confirms one at a time. A confirm whose claim expired before
// it was written sets its review aside for a look-up; another failure ends the run (the
// reviews left unconfirmed are recovered by their external ids when claimed again).
func (r *run) confirmEach(ctx context.Context) error {
	for len(r.pending) > 0 {
		p := r.pending[0]
		r.pending = r.pending[1:]
		err := r.s.Store.ConfirmLink(ctx, p.c)
		if errors.Is(err, link.ErrClaimLost) {
			// The claim expired before the new ticket was recorded: whoever claims the review
			// next must find this ticket, not make another, so it waits on a look-up like any
			// uncertain create (a takeover already recovers by external id).
			r.log.Warn("claim expired before the ticket was recorded; it will be recovered by its external id",
				"review_id", p.rv.ID, "ticket_id", p.ticket.ID)
			if err := r.aside(ctx, p.rv, link.Aside{Reason: "ticket created after its claim expired; recovering it by external id",
				Uncertain: r.s.now(), RetryAt: r.s.now().Add(r.cfg.LookupEvery)}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			r.pending = nil
			return err
		}
		r.done(ctx, p)
	}
	return nil
}

// done finishes a review whose confirm is written: counted, logged, and its customer data
// written when the connection asks for it.
func (r *run) done(ctx context.Context, p linked) {
	created := !p.c.Recovered
	if created {
		r.stats.Created++
		metrics.Add(metrics.TicketsCreated, 1)
	}
	log := r.log.With("review_id", p.rv.ID, "ticket_id", p.ticket.ID)
	log.Info("review linked to ticket", "created", created, "stars", p.rv.Stars, "retry", p.retry)
	r.sidebar(ctx, p.rv, p.c.Reviewer, p.ticket, log)
}

// settle ends a page's store writes: the pending confirms are written, and claims taken ahead
// for reviews that did not run are dropped, so that whoever claims them next creates their
// tickets without a look-up first.
func (r *run) settle(ctx context.Context) error {
	// Written even when the run's own time is up: a ticket made must be recorded.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := r.write(wctx, nil, false)
	cancel()
	for id := range r.ahead {
		r.drop(ctx, id)
	}
	return err
}

// drop gives a claim taken ahead back unused.
func (r *run) drop(ctx context.Context, reviewID string) {
	delete(r.ahead, reviewID)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := r.s.Store.DropClaim(dctx, r.conn.ID, reviewID, r.s.Owner); err != nil {
		r.log.Warn("unused claim not dropped; it expires on its own", "review_id", reviewID, "error", err.Error())
	}
}

// budget is the time a review's calls get, and whether that bound is the review's own (else
// the run's, whose end reads as the run's: a continuation).
func (r *run) budget(ctx context.Context) (time.Duration, bool) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < r.cfg.ReviewBudget {
		return time.Until(dl), false
	}
	return r.cfg.ReviewBudget, true
}

// preIndex queues the sidebar entry of a review about to get its ticket. It is written before
// the ticket is created: the helpdesk asks the sidebar on ticket-created, and the answer must
// already hold the new review (its ticket id comes from the link once there is one).
func (r *run) preIndex(rv review.Review) {
	if who := r.reviewerKey(rv); who != "" && rv.Stars >= r.conn.MinStars {
		r.entries = append(r.entries, reviewer.Record{Reviewer: who, ReviewID: rv.ID, Entry: reviewer.EntryOf(r.conn.ID, rv, 0).Marshal()})
	}
}

// flushEntries writes the queued sidebar entries: one batch write for a page, and reports
// whether they were. A failure is logged (the tickets show the reviews; the sidebar misses them
// until they are written again by an edit or a retry of the page).
func (r *run) flushEntries(ctx context.Context) (written bool) {
	if len(r.entries) == 0 {
		return true
	}
	err := r.s.Store.PutReviewerEntries(context.WithoutCancel(ctx), r.account, r.entries)
	if err != nil {
		r.log.Warn("sidebar entries not recorded", "entries", len(r.entries), "error", err.Error())
	}
	r.entries = r.entries[:0]
	return err == nil
}

// reviewerKey is the key of a review's reviewer in the sidebar's index: none for a review
// without an email, or with the connection's anonymous address (that customer collects many
// reviewers; none of their reviews may show on another's ticket).
func (r *run) reviewerKey(rv review.Review) string {
	if rv.Email == "" || strings.EqualFold(strings.TrimSpace(rv.Email), strings.TrimSpace(r.conn.AnonymousEmail)) {
		return ""
	}
	return reviewer.Key(rv.Email)
}

// sidebar writes a linked review into the customer's data in the helpdesk when the connection
// asks for it (the reviewer index has its entry already: see preIndex). Neither can fail the review: its ticket shows it already.
func (r *run) sidebar(ctx context.Context, rv review.Review, who string, t gorgias.Ticket, log *slog.Logger) {
	if who == "" {
		return
	}
	if r.conn.Helpdesk.CustomerData {
		r.customerData(ctx, rv, t, log)
	}
}

// attempt is the outcome of one try at a review's ticket.
type attempt struct {
	ticket  gorgias.Ticket
	created bool
	err     error
	sent    bool      // a create was sent in this try
	hold    time.Time // not proven absent yet: look again then, create nothing now
}

// errNotYetAbsent: an earlier create's outcome is still unknown and its ticket not found yet.
var errNotYetAbsent = errors.New("an earlier create's ticket may still appear; not created again until proven absent")

// ticket finds the ticket an earlier attempt created or creates one. After a create with an
// unknown outcome no second create is sent until look-ups spread over UncertainWindow have
// not found the first: a helpdesk may commit a ticket well after its answer was lost.
func (r *run) ticket(ctx context.Context, rv review.Review, claim link.Claim) attempt {
	if claim.Recover {
		t, found, err := r.hd.FindTicketByExternalID(ctx, link.ExternalID(rv.ID))
		if err != nil {
			return attempt{err: err}
		}
		if found {
			r.log.Info("ticket from an earlier attempt recovered", "review_id", rv.ID, "ticket_id", t.ID)
			return attempt{ticket: t}
		}
		if u := claim.Link.Uncertain; !u.IsZero() {
			if end := u.Add(r.cfg.UncertainWindow); r.s.now().Before(end) {
				return attempt{err: errNotYetAbsent, hold: minTime(r.s.now().Add(r.cfg.LookupEvery), end)}
			}
		}
	}
	t, err := r.create(ctx, NewTicket(r.conn, rv))
	if err != nil {
		return attempt{err: err, sent: true}
	}
	return attempt{ticket: t, created: true, sent: true}
}

// TagFieldsRefused marks a ticket created without the ticket fields the connection asks for,
// because the helpdesk refused them.
const TagFieldsRefused = "pilotdesk-ticket-fields-refused"

// create sends the create call. When the helpdesk refuses the ticket fields (an id that is not
// a field of the account, a value of another type: a 400 is certain not to have created
// anything), the ticket is created with every value as text, then without the fields and
// tagged TagFieldsRefused: a review is never set aside for its triage. The rest of the run
// starts from the form that worked.
func (r *run) create(ctx context.Context, t gorgias.NewTicket) (gorgias.Ticket, error) {
	for {
		sent := degradeFields(t, r.fields)
		tk, err := r.hd.CreateTicket(ctx, sent)
		if err == nil || len(sent.CustomFields) == 0 || !gorgias.RefusesField(err, "custom_fields") {
			return tk, err
		}
		r.fields++
		if r.fields == 1 && !hasNumber(t.CustomFields) {
			r.fields++ // every value is text already
		}
		r.log.Warn("the helpdesk refused the connection's ticket fields; creating the ticket without them (check triage.ticket_fields)",
			"next", map[int]string{1: "values as text", 2: "no ticket fields"}[r.fields], "error", err.Error())
	}
}

// degradeFields is t with its ticket fields as create's step-th fallback has them: 0 as they
// are, 1 every value as text, 2 none (and the ticket tagged).
func degradeFields(t gorgias.NewTicket, step int) gorgias.NewTicket {
	switch {
	case step == 0 || len(t.CustomFields) == 0:
		return t
	case step == 1:
		fields := make([]gorgias.CustomField, len(t.CustomFields))
		for i, f := range t.CustomFields {
			fields[i] = gorgias.CustomField{ID: f.ID, Value: fmt.Sprint(f.Value)}
		}
		t.CustomFields = fields
		return t
	}
	t.CustomFields = nil
	t.Tags = append(slices.Clone(t.Tags), TagFieldsRefused)
	return t
}

func hasNumber(fields []gorgias.CustomField) bool {
	for _, f := range fields {
		if _, ok := f.Value.(string); !ok {
			return true
		}
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// setAside records a failed attempt and decides whether the run goes on (nil) or stops.
func (r *run) setAside(ctx context.Context, rv review.Review, claim link.Claim, res attempt, log *slog.Logger) error {
	err := res.err
	now := r.s.now()
	uncertain := errors.Is(err, gorgias.ErrUncertain)
	runLevel := ctx.Err() != nil || errors.Is(err, gorgias.ErrPastDeadline)
	switch {
	case errors.Is(err, errNotYetAbsent):
		log.Info("earlier create not found yet; looking again before creating", "uncertain_since", claim.Link.Uncertain, "next_lookup", res.hold)
		return r.aside(ctx, rv, link.Aside{Reason: errNotYetAbsent.Error(), RetryAt: res.hold})
	case connectionLevel(err) || (runLevel && !uncertain):
		// Nothing was created: the claim goes back, and the run stops (reauth or continuation).
		r.release(ctx, rv.ID, log)
		return err
	}
	failures := claim.Link.Failures + 1
	a := link.Aside{Reason: reason(err, uncertain), Failed: true, RetryAt: now.Add(r.backoff(failures))}
	switch {
	case uncertain:
		// The ticket may exist: look for it over the window before creating again.
		a.Uncertain = now
		a.RetryAt = now.Add(max(r.cfg.LookupEvery, r.backoff(failures)))
	case res.sent:
		a.Settled = true // this create certainly failed; no earlier one is pending any more
	}
	invalid := !errs.Retryable(err)
	a.GivenUp = failures >= r.cfg.GiveUpAfter || (invalid && failures >= r.cfg.GiveUpInvalid)
	r.stats.Errors++
	metrics.Add(metrics.SetAsideReviews, 1)
	r.stats.LastError = trim(fmt.Sprintf("review %s: %v", rv.ID, err))
	if a.GivenUp {
		log.Error("review given up after repeated failures; listed by `pilotdesk status`, retried with `pilotdesk sync ID --retry-failed`", "failures", failures, "error", err.Error())
	} else {
		log.Warn("review set aside; retried later", "failures", failures, "retry_at", a.RetryAt, "uncertain", uncertain, "error", err.Error())
	}
	if aerr := r.aside(ctx, rv, a); aerr != nil {
		return aerr
	}
	if runLevel {
		return err // our own deadline: the run continues in a new invocation
	}
	if errs.Retryable(err) {
		r.failStreak++
		if r.failStreak >= 2 {
			// Two reviews in a row: the helpdesk, not the review, is failing. Stop and let the
			// job retry from its checkpoint rather than set aside every review of the run.
			return err
		}
	}
	return nil
}

// reason is what the operator reads about a failed attempt: the helpdesk's own answer first
// (status and message), then the whole chain.
func reason(err error, uncertain bool) string {
	var b strings.Builder
	var ae *gorgias.APIError
	if errors.As(err, &ae) {
		fmt.Fprintf(&b, "helpdesk answered %d", ae.Status)
		if ae.Message != "" {
			b.WriteString(": " + ae.Message)
		}
	} else {
		b.WriteString(err.Error())
	}
	if uncertain {
		b.WriteString(" (outcome unknown: the ticket is looked for before any new create)")
	}
	if ae != nil {
		b.WriteString(" — " + err.Error())
	}
	return trim(b.String())
}

// aside puts rv on the set-aside list under the run's claim, with its snapshot so the retry
// needs no Trustpilot call, and remembers when the run must come back for it.
func (r *run) aside(ctx context.Context, rv review.Review, a link.Aside) error {
	snap, err := json.Marshal(rv)
	if err != nil {
		return errs.E(errs.Invalid, "reviewsync.aside", err)
	}
	a.ConnectionID, a.ReviewID, a.Owner, a.Snapshot = r.conn.ID, rv.ID, r.s.Owner, string(snap)
	// Recorded even when the run's own time is up: this is what keeps the review from being lost.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.s.Store.SetAside(sctx, a); err != nil {
		return err
	}
	if !a.GivenUp && (r.retryAt.IsZero() || a.RetryAt.Before(r.retryAt)) {
		r.retryAt = a.RetryAt
	}
	return nil
}

func (r *run) release(ctx context.Context, reviewID string, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := r.s.Store.ReleaseClaim(rctx, r.conn.ID, reviewID, r.s.Owner); err != nil {
		log.Warn("claim release failed; it expires on its own", "error", err.Error())
	}
}

// backoff is a set-aside review's wait after its n-th failure.
func (r *run) backoff(n int64) time.Duration {
	d := r.cfg.RetryBase
	for i := int64(1); i < n && d < r.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, r.cfg.RetryMax)
}

// runContext bounds the whole run to half the margin before the invocation's deadline.
func (r *run) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-r.cfg.Margin/2))
	}
	return context.WithCancel(ctx)
}

// customerData merges the review into the reviewer's customer data (best effort: the ticket
// already shows the review, and a failure here never fails the review). Every entry Pilotdesk
// wrote for the customer is merged again from the store's list, so a write the helpdesk
// applies late (after its 202) cannot make the next one drop an entry; the part is cut to the
// room the customer's other keys leave, and a merged customer is followed.
func (r *run) customerData(ctx context.Context, rv review.Review, t gorgias.Ticket, log *slog.Logger) {
	if t.CustomerID == 0 {
		return
	}
	entry := gorgias.EntryFromReview(rv, t.ID)
	entries := []gorgias.ReviewEntry{entry}
	if raw, err := json.Marshal(entry); err == nil {
		list, err := r.s.Store.RecordCustomerEntry(ctx, r.account, t.CustomerID, rv.ID, string(raw))
		if err != nil {
			log.Warn("customer's entry list not updated; writing this review's entry alone", "customer_id", t.CustomerID, "error", err.Error())
		}
		for id, v := range list {
			var e gorgias.ReviewEntry
			if id != rv.ID && json.Unmarshal([]byte(v), &e) == nil && e.ReviewID == id {
				entries = append(entries, e)
			}
		}
	}
	to, err := r.hd.MergeCustomerData(ctx, t.CustomerID, metaKey, func(old json.RawMessage, room int) (json.RawMessage, error) {
		return gorgias.UpsertReviews(old, entries, min(r.cfg.CustomerDataCap, room))
	})
	if err != nil {
		log.Warn("customer data not updated", "customer_id", t.CustomerID, "error", err.Error())
		return
	}
	if to != t.CustomerID {
		log.Info("customer data written to the customer it was merged into", "customer_id", t.CustomerID, "merged_into", to)
	}
}

// edited adds a note to the ticket when the review changed since it was synced, and when a
// review deleted on Trustpilot is back.
func (r *run) edited(ctx context.Context, rv review.Review, lk link.Link) error {
	if !lk.DeletedAt.IsZero() && lk.TicketID != 0 {
		if _, err := r.hd.PostInternalNote(ctx, lk.TicketID, "This review is back on Trustpilot (reinstated).\n\n"+rv.Text); err != nil {
			return err
		}
		if _, err := r.s.Store.MarkReinstated(ctx, r.conn.ID, rv.ID); err != nil {
			return err
		}
		r.log.Info("deleted review reinstated on Trustpilot; back on its ticket", "review_id", rv.ID, "ticket_id", lk.TicketID)
		if who := r.reviewerKey(rv); who != "" && lk.Account != "" {
			if err := r.s.Store.PutReviewerEntry(ctx, lk.Account, who, rv.ID, reviewer.EntryOf(r.conn.ID, rv, lk.TicketID).Marshal()); err != nil {
				r.log.Warn("sidebar entry not restored", "review_id", rv.ID, "error", err.Error())
			}
		}
		r.sidebar(ctx, rv, r.reviewerKey(rv), gorgias.Ticket{ID: lk.TicketID, CustomerID: lk.CustomerID}, r.log.With("review_id", rv.ID))
	}
	if !rv.Version().After(lk.ReviewVersion) || lk.TicketID == 0 {
		return nil
	}
	log := r.log.With("review_id", rv.ID, "ticket_id", lk.TicketID)
	if _, err := r.hd.PostInternalNote(ctx, lk.TicketID, EditNote(rv, lk)); err != nil {
		if errs.Retryable(err) || errs.Is(err, errs.Permission) || errs.Is(err, errs.Reauth) {
			return err
		}
		log.Error("edit note not posted: permanent error", "error", err.Error())
		r.stats.Errors++
		return nil
	}
	if _, err := r.s.Store.SetReviewVersion(ctx, r.conn.ID, rv.ID, rv.Version(), rv.Stars); err != nil {
		return err
	}
	log.Info("review edited on Trustpilot; note added to its ticket", "stars", rv.Stars)
	if who := r.reviewerKey(rv); who != "" && lk.Account != "" {
		// The sidebar shows the edited review (the customer's data, when written, kept the old
		// entry until now as before).
		if err := r.s.Store.PutReviewerEntry(ctx, lk.Account, who, rv.ID, reviewer.EntryOf(r.conn.ID, rv, lk.TicketID).Marshal()); err != nil {
			log.Warn("sidebar entry not updated", "error", err.Error())
		}
	}
	return nil
}

func trim(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}
