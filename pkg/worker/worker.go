// Package worker is the SQS-triggered function's handler: it decodes each job of a batch,
// runs it, and reports the failed ones in batchItemFailures so SQS redelivers only those.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
)

// Syncer runs a sync job. It must stop before ctx's deadline and enqueue its own continuation.
type Syncer interface {
	Sync(ctx context.Context, job queue.Job) error
}

// ReplyRetrier forwards a reply again after a transient failure.
type ReplyRetrier interface {
	RetryReply(ctx context.Context, job queue.Job) error
}

// Sweeper runs the reply sweep of a helpdesk account.
type Sweeper interface {
	SweepReplies(ctx context.Context, job queue.Job) error
}

// Requeuer puts a job back on the queue.
type Requeuer interface {
	Send(ctx context.Context, jobs []queue.Job, delay time.Duration) error
}

// Visibility shortens a failed message's invisibility, so a transient failure is retried after
// a backoff instead of the queue's whole visibility timeout.
type Visibility interface {
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Handler handles a batch of jobs. Build it with New.
type Handler struct {
	Visibility Visibility   // nil: failed messages wait the queue's visibility timeout
	Sync       Syncer       // nil: sync jobs fail loudly
	Replies    ReplyRetrier // nil: reply-retry jobs fail loudly
	Sweeps     Sweeper      // nil: reply-sweep jobs fail loudly
	Queue      Requeuer
	Log        *slog.Logger
	// Retry spaces the redeliveries of a failed job (the same policy as the reply retries).
	Retry backoff.Policy
	// MinTime is the least time left for starting a job; with less, the job is put back on
	// the queue untouched instead of starting and being cut off.
	MinTime time.Duration
}

// DefaultMinTime is the least time left for starting a job.
const DefaultMinTime = 5 * time.Second

// New returns a Handler that retries failed jobs with retry and starts none with less than
// DefaultMinTime left.
func New(sync Syncer, replies ReplyRetrier, sweeps Sweeper, q Requeuer, vis Visibility, retry backoff.Policy, log *slog.Logger) *Handler {
	return &Handler{Sync: sync, Replies: replies, Sweeps: sweeps, Queue: q, Visibility: vis, Retry: retry, Log: log, MinTime: DefaultMinTime}
}

// fastTrack makes a message that can never succeed visible again at once, so it reaches the
// dead-letter queue after maxReceiveCount quick receives instead of as many visibility timeouts.
func (h *Handler) fastTrack(ctx context.Context, rec events.SQSMessage, log *slog.Logger) {
	if h.Visibility == nil {
		return
	}
	if err := h.Visibility.ChangeVisibility(ctx, rec.ReceiptHandle, 0); err != nil {
		log.Warn("could not release the message early", "error", err.Error())
	}
}

// retryAfter is the backoff for a message's next delivery, by its receive count.
func (h *Handler) retryAfter(rec events.SQSMessage) time.Duration {
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	return h.Retry.EqualJitter(max(n-1, 0))
}

// ErrNotConfigured is returned for a job type this deployment cannot run.
var ErrNotConfigured = errors.New("no handler configured for this job type")

// Handle runs every record and reports the ones to redeliver. An agent's reply never waits
// behind a backfill: the batch's reply checks and notes run first, then sweeps, then syncs (a
// sync may take the rest of the invocation), each in the order SQS gave them.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	batch := make([]parsed, len(ev.Records))
	for i, rec := range ev.Records {
		job, err := queue.Parse([]byte(rec.Body))
		batch[i] = parsed{rec: rec, job: job, err: err}
	}
	slices.SortStableFunc(batch, func(a, b parsed) int { return cmp.Compare(a.urgency(), b.urgency()) })
	for _, p := range batch {
		if err := h.handleOne(ctx, p); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: p.rec.MessageId})
		}
	}
	return resp, nil
}

// parsed is a record of the batch with its job (or why its body is no job).
type parsed struct {
	rec events.SQSMessage
	job queue.Job
	err error
}

// urgency ranks a record for Handle: reply work 0, sweeps 1, syncs 2. A body that does not parse
// ranks 0: it fails at once, whatever its place.
func (p parsed) urgency() int {
	switch {
	case p.err != nil, p.job.Type == queue.TypeReplyRetry:
		return 0
	case p.job.Type == queue.TypeReplySweep:
		return 1
	}
	return 2
}

func (h *Handler) handleOne(ctx context.Context, p parsed) error {
	rec, job, err := p.rec, p.job, p.err
	log := h.Log.With("message_id", rec.MessageId, "receive_count", rec.Attributes["ApproximateReceiveCount"])
	if err != nil {
		// Poison: it can never succeed. Failing it lets SQS move it to the DLQ after
		// maxReceiveCount receives; the reason is logged every time.
		log.Error("malformed job; it will reach the dead-letter queue", "reason", err.Error(), "body_bytes", len(rec.Body))
		h.fastTrack(ctx, rec, log)
		return err
	}
	log = log.With("job_type", job.Type, "connection_id", job.ConnectionID, "kind", job.Kind)
	if dl, ok := ctx.Deadline(); ok && h.MinTime > 0 && time.Until(dl) < h.MinTime {
		if err := h.Queue.Send(ctx, []queue.Job{job}, 0); err != nil {
			log.Warn("not enough time left and requeue failed", "error", err.Error())
			return err
		}
		log.Info("not enough time left to start; job requeued")
		return nil
	}
	// Every job ends before the invocation does, whatever its calls wait for (a Retry-After, a
	// paused rate limiter): what is left is for recording the outcome and redelivery.
	jctx, cancel := h.jobContext(ctx)
	defer cancel()
	if job.Type == queue.TypeReplyRetry {
		log = log.With("review_id", job.ReviewID, "ticket_id", job.TicketID)
	}
	err = h.run(jctx, job)
	switch {
	case err == nil:
		return nil
	case errs.Is(err, errs.NotExist):
		// The connection was deleted after the job was queued: nothing to do, ever.
		log.Warn("job dropped: its connection no longer exists", "reason", err.Error())
		return nil
	case errs.Retryable(err):
		delay := h.retryAfter(rec)
		log.Warn("job failed; SQS will redeliver it", "error", err.Error(), "retry_in_s", int(delay/time.Second))
		if h.Visibility != nil && delay > 0 {
			if verr := h.Visibility.ChangeVisibility(ctx, rec.ReceiptHandle, delay); verr != nil {
				log.Warn("could not shorten the retry delay", "error", verr.Error())
			}
		}
		return err
	default:
		log.Error("job failed permanently; it will reach the dead-letter queue", "error", err.Error(), "kind_of_error", errs.KindOf(err).String())
		h.fastTrack(ctx, rec, log)
		return err
	}
}

// JobMargin is how long before the invocation's deadline a job's own context ends.
const JobMargin = 2 * time.Second

func (h *Handler) jobContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-JobMargin))
	}
	return context.WithCancel(ctx)
}

// run runs one job by its type.
func (h *Handler) run(ctx context.Context, job queue.Job) (err error) {
	switch job.Type {
	case queue.TypeSync:
		if h.Sync == nil {
			err = fmt.Errorf("sync job: %w", ErrNotConfigured)
		} else {
			err = h.Sync.Sync(ctx, job)
		}
	case queue.TypeReplyRetry:
		if h.Replies == nil {
			err = fmt.Errorf("reply-retry job: %w", ErrNotConfigured)
		} else {
			err = h.Replies.RetryReply(ctx, job)
		}
	case queue.TypeReplySweep:
		if h.Sweeps == nil {
			err = fmt.Errorf("reply-sweep job: %w", ErrNotConfigured)
		} else {
			err = h.Sweeps.SweepReplies(ctx, job)
		}
	}
	return err
}
