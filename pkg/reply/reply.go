// Package reply is the use case behind the webhook: decide whether a helpdesk message is the
// agent's first public reply on a linked ticket, forward it to Trustpilot exactly once, and
// tell the agent what happened with an internal note.
//
// The link in the store decides, never the helpdesk tag (agents remove tags). The reply slot is
// claimed with a conditional write before Trustpilot is called, so duplicate or concurrent
// deliveries of the same event, and later agent replies, never post again.
package reply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/replyguard"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// Store is what replies need from the store.
type Store interface {
	LinksByTicket(ctx context.Context, ticketID int64) ([]link.Link, error)
	GetLink(ctx context.Context, connID, reviewID string) (link.Link, error)
	ListConnections(ctx context.Context) ([]connection.Record, error)
	GetConnectionForReplies(ctx context.Context, id string) (connection.Record, error)
	ClaimReply(ctx context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (link.SlotClaim, error)
	FinishReply(ctx context.Context, connID, reviewID string, messageID int64, state link.ReplyState, result string) error
	ReleaseReply(ctx context.Context, connID, reviewID string, messageID int64) error
	ReopenReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error
	HoldReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error
	SetReauth(ctx context.Context, id string, needs bool, reason string) error
	MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// The reply sweep's cursor per helpdesk account (cursor.SweepID, cursor.SweepKind).
	GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error)
	SaveCheckpoint(ctx context.Context, connID string, kind review.Kind, cp cursor.Checkpoint) error
	ClearQueued(ctx context.Context, connID string, kind review.Kind) error
}

// Helpdesk reads a ticket's messages and leaves notes.
type Helpdesk interface {
	ListMessages(ctx context.Context, ticketID int64, cursor string) ([]gorgias.Message, string, error)
	ListTicketsUpdated(ctx context.Context, cursor string) ([]gorgias.TicketUpdate, string, error)
	PostInternalNote(ctx context.Context, ticketID int64, text string) (gorgias.Message, error)
}

// Trustpilot posts replies.
type Trustpilot interface {
	ReplyToServiceReview(ctx context.Context, reviewID, message string) error
	ReplyToProductReview(ctx context.Context, reviewID, message string) error
	ProductReplyPosted(ctx context.Context, reviewID, message string) (bool, error)
}

// Opener builds a connection's clients.
type Opener interface {
	Open(ctx context.Context, c connection.Connection) (Helpdesk, Trustpilot, error)
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(ctx context.Context, c connection.Connection) (Helpdesk, Trustpilot, error)

// Open calls f.
func (f OpenerFunc) Open(ctx context.Context, c connection.Connection) (Helpdesk, Trustpilot, error) {
	return f(ctx, c)
}

// Enqueuer queues reply retries.
type Enqueuer interface {
	Send(ctx context.Context, jobs []queue.Job, delay time.Duration) error
}

// Service forwards replies. Build it with New.
type Service struct {
	Store Store
	Open  Opener
	Queue Enqueuer
	Log   *slog.Logger
	Owner string // this instance, in reply claims
	cfg   Config
}

// Config tunes a Service; zero values take the defaults.
type Config struct {
	// ClaimTTL bounds how long a crashed delivery keeps the slot from a retry of its message.
	ClaimTTL time.Duration
	// Retry spaces reply-retry jobs (equal jitter: at least half of each step's ceiling, since a
	// retry right away would likely meet the same outage). The worker's redeliveries use the
	// same policy, so one value configures both.
	Retry backoff.Policy
	// MaxAttempts is how many queued attempts are made before the job is left to SQS's
	// redelivery and, finally, the dead-letter queue.
	MaxAttempts int
	// PostTimeout bounds the Trustpilot calls of one attempt (0: only the caller's deadline).
	// The webhook sets WebhookPostTimeout so that it answers the helpdesk in time even when
	// Trustpilot hangs; a post that runs out of it is queued for a retry like any transient
	// failure. Either way the calls stop early enough before the caller's deadline to release
	// the slot, queue the retry and leave the note.
	PostTimeout time.Duration
	// HelpdeskWait bounds the helpdesk reads that decide a reply, waiting for the allowance
	// included (0: only the caller's deadline). The webhook sets WebhookHelpdeskWait: a delivery
	// is never held long; what does not fit is queued.
	HelpdeskWait time.Duration
	// CommentRecheck: after a product-review comment attempt, further attempts of the same
	// message within this window only look for the comment (Trustpilot may show a committed one
	// late; a second comment would stay). Service replies need no window: Trustpilot refuses a
	// second one.
	CommentRecheck time.Duration
}

// DefaultCommentRecheck is the default CommentRecheck.
const DefaultCommentRecheck = 5 * time.Minute

// errCommentPending says a comment attempt's outcome is still unknown: it is looked for again later.
var errCommentPending = errors.New("an earlier attempt's comment may still appear on Trustpilot; looking for it again later")

// WebhookHelpdeskWait is how long a webhook delivery may wait for the helpdesk allowance.
const WebhookHelpdeskWait = 5 * time.Second

// WebhookPostTimeout is the Trustpilot time the webhook allows inside one delivery: well within
// the helpdesk's delivery timeout; slower posts go to the queue.
const WebhookPostTimeout = 6 * time.Second

func (c Config) withDefaults() Config {
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = 2 * time.Minute
	}
	if c.Retry.Base <= 0 {
		c.Retry = backoff.JobRetry(0)
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 6
	}
	if c.CommentRecheck <= 0 {
		c.CommentRecheck = DefaultCommentRecheck
	}
	return c
}

// New returns a Service with cfg's zero fields set to their defaults.
func New(st Store, open Opener, q Enqueuer, log *slog.Logger, owner string, cfg Config) *Service {
	return &Service{Store: st, Open: open, Queue: q, Log: log, Owner: owner, cfg: cfg.withDefaults()}
}

// deadlineMargin is the time kept after the Trustpilot calls for the bookkeeping that follows.
const deadlineMargin = 3 * time.Second

// postContext is ctx bounded by PostTimeout, by the reply claim's lifetime (a post still
// running when the claim expires could meet a second one), and by ctx's own deadline less
// deadlineMargin.
func (s *Service) postContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d, bounded := s.cfg.PostTimeout, s.cfg.PostTimeout > 0
	if limit := s.cfg.ClaimTTL - 10*time.Second; limit > 0 && (!bounded || limit < d) {
		d, bounded = limit, true
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - deadlineMargin; !bounded || left < d {
			d, bounded = max(left, 0), true
		}
	}
	if !bounded {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Outcomes (the webhook's answer and the logs).
const (
	OutcomePosted   = "posted to Trustpilot"
	OutcomeQueued   = "Trustpilot unavailable; reply queued for retry"
	OutcomeRefused  = "not posted"
	OutcomeNoLink   = "ignored: the ticket has no Pilotdesk link"
	OutcomeNotReply = "ignored: not a public agent reply"
	OutcomeDone     = "ignored: this message was already handled"
	OutcomeBusy     = "ignored: this message is being forwarded right now"
	OutcomeUsed     = "not posted: the review's one reply was already used"
	OutcomeOff      = "ignored: replies are off for this connection"
	OutcomeSweep    = "accepted: the reply sweep will forward it"
	OutcomeLinking  = "accepted: the review's ticket is being linked; its replies are checked again shortly"
)

// A review's ticket is linked a few seconds after its create (the sync records a group of
// tickets in one write, eight calls' worth: 4 s at Gorgias' allowance): a reply in between is
// checked again linkWait later, then after twice as long each time, up to linkWaits more
// times. The checks span 3+6+...+96 = 189 s, longer than the sync's claim (2 min 15 s by
// default); after it, a ticket not linked is recovered by the next sync and the reply sweep
// forwards its reply.
const (
	linkWait  = 3 * time.Second
	linkWaits = 5
)

// linkCheckDelay is how long the n-th re-check of a reply waiting for its link waits (n from 0).
func linkCheckDelay(n int) time.Duration { return linkWait << min(n, linkWaits) }

// Process handles one parsed helpdesk event (the webhook.Processor contract). The event only
// says which ticket got a message: the ticket's messages, read from the helpdesk, decide which
// reply is the first. Whatever fails before the reply slot is claimed is queued for a reply
// check or, when even that fails, left to the reply sweep; the helpdesk gets a 2xx either way,
// because a 5xx it may never retry would be the only record of the reply.
func (s *Service) Process(ctx context.Context, ev gorgias.WebhookEvent) (string, error) {
	log := s.Log.With("ticket_id", ev.TicketID, "message_id", ev.MessageID)
	if dl, ok := ctx.Deadline(); ok {
		// Answer before the function's own deadline: what does not fit is queued.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	if ev.Event != "" && ev.Event != gorgias.EventMessageCreated {
		return "ignored: event " + ev.Event, nil
	}
	// The payload's flags are hints; only explicit string values are trusted to skip early
	// (our own notes come back through this webhook with via "api").
	if ev.Via == "api" || ev.Via == "rule" || ev.RuleID != 0 {
		log.Debug("skipped on the payload's hints", "channel", ev.Channel, "via", ev.Via)
		return OutcomeNotReply, nil
	}
	lk, ok, err := s.findLink(ctx, ev)
	if err != nil {
		if !errs.Retryable(err) {
			return OutcomeNoLink, err
		}
		log.Warn("link look-up failed; the reply sweep will find this ticket", "error", err.Error())
		return OutcomeSweep, nil
	}
	if !ok {
		if reviewID, ours := link.ReviewIDOf(ev.TicketExternalID); ours && review.ValidID(reviewID) && !ev.IsInternalNote() {
			return s.notLinkedYet(ctx, ev, reviewID, log), nil
		}
		log.Info(OutcomeNoLink)
		return OutcomeNoLink, nil
	}
	if ev.IsInternalNote() && !lk.ReplyHeld() {
		// An agent's internal note matters only as the override of a held reply: anything else
		// costs the link's read, never a helpdesk call.
		return OutcomeNotReply, nil
	}
	if ev.MessageID != 0 && lk.Handled(ev.MessageID) {
		// A repeated delivery of a message already forwarded (or refused): answer without
		// touching the helpdesk, whose small shared rate budget duplicates would otherwise spend.
		// A stale read only skips this shortcut: the claim still decides.
		return OutcomeDone, nil
	}
	out, err := s.check(ctx, lk, ev.MessageID, 0, log)
	if err != nil && errs.Retryable(err) {
		return s.later(ctx, lk, ev.MessageID, 0, err, log), nil
	}
	return out, err
}

// RetryReply runs a reply-retry job (the worker.ReplyRetrier contract): the ticket's replies
// are checked again, and the first one is forwarded if it was not.
func (s *Service) RetryReply(ctx context.Context, job queue.Job) error {
	log := s.Log.With("connection_id", job.ConnectionID, "review_id", job.ReviewID, "ticket_id", job.TicketID,
		"message_id", job.MessageID, "attempt", job.Attempt)
	if job.Note != "" {
		return s.leaveNote(ctx, job, log)
	}
	links, err := s.Store.LinksByTicket(ctx, job.TicketID)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.ConnectionID == job.ConnectionID && l.ReviewID == job.ReviewID {
			_, err := s.check(ctx, l, job.MessageID, job.Attempt, log)
			return err
		}
	}
	if l, err := s.Store.GetLink(ctx, job.ConnectionID, job.ReviewID); err == nil && l.State == link.StateClaimed && job.Continuation < linkWaits {
		// The waits for the link count apart from the attempts (those bound Trustpilot's retries).
		job.Continuation++
		if err := s.enqueue(ctx, job, linkCheckDelay(job.Continuation)); err == nil {
			log.Info("review's ticket still being linked; reply check queued again")
			return nil
		}
	}
	log.Warn("reply retry dropped: the ticket has no link (the reply sweep forwards its reply if it is linked later)")
	return nil
}

// notLinkedYet answers a message on a review's ticket (its external id names the review) that
// has no link yet. When a connection holds the review's claim, its sync is creating or
// recording the ticket right now: a reply check is queued for after the link is written.
// Otherwise the ticket is not one of Pilotdesk's links (or no longer is).
func (s *Service) notLinkedYet(ctx context.Context, ev gorgias.WebhookEvent, reviewID string, log *slog.Logger) string {
	recs, err := s.Store.ListConnections(ctx)
	if err != nil {
		log.Warn("connections not read; the reply sweep will find this ticket", "error", err.Error())
		return OutcomeSweep
	}
	for _, rec := range recs {
		l, err := s.Store.GetLink(ctx, rec.Connection.ID, reviewID)
		if errs.Is(err, errs.NotExist) {
			continue
		}
		if err != nil {
			log.Warn("link not read; the reply sweep will find this ticket", "connection_id", rec.Connection.ID, "error", err.Error())
			return OutcomeSweep
		}
		if l.State != link.StateClaimed && (l.State != link.StateLinked || l.TicketID != ev.TicketID) {
			continue
		}
		job := queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: rec.Connection.ID, ReviewID: reviewID,
			TicketID: ev.TicketID, MessageID: ev.MessageID}
		log = log.With("connection_id", rec.Connection.ID, "review_id", reviewID)
		if err := s.enqueue(ctx, job, linkCheckDelay(0)); err != nil {
			log.Error("reply check not queued; the reply sweep will find this ticket", "error", err.Error())
			return OutcomeSweep
		}
		log.Info(OutcomeLinking)
		return OutcomeLinking
	}
	log.Info(OutcomeNoLink)
	return OutcomeNoLink
}

// later queues a reply check after a transient failure before the claim; when the queue fails
// too, the reply sweep (which reads every recently updated ticket) is the record.
func (s *Service) later(ctx context.Context, lk link.Link, messageID int64, attempt int, cause error, log *slog.Logger) string {
	job := queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: lk.ConnectionID, ReviewID: lk.ReviewID,
		TicketID: lk.TicketID, MessageID: messageID, Attempt: attempt + 1}
	if err := s.enqueue(ctx, job, s.cfg.Retry.EqualJitter(attempt)); err != nil {
		log.Error("reply check not queued; the reply sweep will find this ticket", "cause", cause.Error(), "error", err.Error())
		return OutcomeSweep
	}
	log.Warn("reply check queued after a transient failure", "cause", cause.Error())
	return OutcomeQueued
}

func (s *Service) findLink(ctx context.Context, ev gorgias.WebhookEvent) (link.Link, bool, error) {
	links, err := s.Store.LinksByTicket(ctx, ev.TicketID)
	if err != nil {
		return link.Link{}, false, err
	}
	if len(links) == 1 {
		return links[0], true, nil
	}
	// Ticket ids of two helpdesk accounts collide: the ticket's external id names the review.
	want, ours := link.ReviewIDOf(ev.TicketExternalID)
	for _, l := range links {
		if ours && l.ReviewID == want {
			return l, true, nil
		}
	}
	return link.Link{}, false, nil
}

// helpdeskContext bounds the helpdesk calls that decide a reply (the limiter's wait included).
func (s *Service) helpdeskContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cfg.HelpdeskWait > 0 {
		return context.WithTimeout(ctx, s.cfg.HelpdeskWait)
	}
	return context.WithCancel(ctx)
}

// check reads the ticket's messages and forwards the first public agent reply through the
// review's one reply slot. delivered, when not 0, is the message an event or a retry named: when
// it is a later agent reply than the first, it gets the one-reply note.
func (s *Service) check(ctx context.Context, lk link.Link, delivered int64, attempt int, log *slog.Logger) (string, error) {
	log = log.With("connection_id", lk.ConnectionID, "review_id", lk.ReviewID, "ticket_id", lk.TicketID)
	rec, err := s.Store.GetConnectionForReplies(ctx, lk.ConnectionID)
	if err != nil {
		return "", err
	}
	conn := rec.Connection
	policy := conn.Reply.Service
	if lk.Kind == review.Product {
		policy = conn.Reply.Product
	}
	if policy == connection.ReplyOff {
		return OutcomeOff, nil
	}
	hd, tp, err := s.Open.Open(ctx, conn)
	if err != nil {
		return "", err
	}
	for range 2 { // a fixable refusal of the first reply makes the next one eligible at once
		msgs, err := s.messages(ctx, hd, lk.TicketID)
		if errs.Is(err, errs.NotExist) {
			log.Info("ticket gone from the helpdesk; ignored")
			return OutcomeNotReply, nil
		}
		if errs.Is(err, errs.Permission) || errs.Is(err, errs.Reauth) {
			// The helpdesk refuses the connection's API key: flag it for the operator.
			if rerr := s.Store.SetReauth(ctx, conn.ID, true, "helpdesk: "+shortErr(err)); rerr != nil {
				log.Warn("could not mark the connection for re-authorising", "error", rerr.Error())
			}
			return "", err
		}
		if err != nil {
			return "", err
		}
		if held, note, ok := overrideOfHeld(msgs, lk, delivered); ok {
			// An internal note with the marker sends the held reply as it is: the note's id
			// takes the slot (the held message keeps its refusal), the guard is not asked again.
			held.ID = note.ID
			out, _, err := s.post(ctx, hd, tp, conn, lk, held, false, attempt, log.With("override_note", note.ID))
			return out, err
		}
		first, ok := FirstReply(msgs, lk.ReplyRefused)
		if !ok {
			if m, found := findMessage(msgs, delivered); found && isAgentReply(m) {
				// An agent reply without text (attachments only, or only a quote): it cannot use
				// the review's reply, and the agent is told.
				s.noteOnce(ctx, hd, lk, fmt.Sprintf("empty#%d", delivered), "Pilotdesk: this reply was not posted to Trustpilot because it has no text.", log)
				return OutcomeRefused + ": empty reply", nil
			}
			log.Debug(OutcomeNotReply)
			return OutcomeNotReply, nil
		}
		out, slot, err := s.post(ctx, hd, tp, conn, lk, first, conn.Reply.GuardOn(), attempt, log)
		if err != nil || delivered == 0 || delivered == first.ID {
			return out, err
		}
		later, isReply := findMessage(msgs, delivered)
		if !isReply || !isAgentReply(later) {
			return out, nil
		}
		if text, _ := ReplyText(later, trustpilot.MaxReplyLen); text == "" {
			return out, nil // a message without text never competes for the slot
		}
		if slot.ReplyRefused == first.ID && slot.ReplyState == link.ReplyNone {
			lk = slot // the first was refused for a fixable reason: the next reply may go
			continue
		}
		if (out == OutcomeBusy || out == OutcomeQueued) && attempt+1 < s.cfg.MaxAttempts {
			// The first reply's outcome is not known yet: if it is refused for a fixable reason,
			// this one is next. Decide once it is known.
			return s.later(ctx, lk, delivered, attempt, errors.New("the first reply on the ticket is still being posted"), log), nil
		}
		used := slot.ReplyMessage
		if used == 0 {
			used = first.ID
		}
		s.usedNote(ctx, hd, lk, delivered, used, slot.ReplyResult, log)
		return OutcomeUsed, nil
	}
	return OutcomeDone, nil
}

// messages reads every message of the ticket, oldest first.
func (s *Service) messages(ctx context.Context, hd Helpdesk, ticketID int64) ([]gorgias.Message, error) {
	hctx, cancel := s.helpdeskContext(ctx)
	defer cancel()
	var all []gorgias.Message
	cursor := ""
	for page := 0; page < maxMessagePages; page++ {
		msgs, next, err := hd.ListMessages(hctx, ticketID, cursor)
		if err != nil {
			if hctx.Err() != nil && ctx.Err() == nil {
				err = errs.E(errs.Transient, "reply.messages", fmt.Errorf("helpdesk allowance not available within %s: %w", s.cfg.HelpdeskWait, err))
			}
			return nil, err
		}
		all = append(all, msgs...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
	return all, nil
}

// maxMessagePages bounds the messages read for one ticket (100 a page); a review ticket with
// more than a thousand messages is not a conversation a first reply hides in.
const maxMessagePages = 10

// FirstReply is the rule for which message uses the review's one reply: the earliest public
// agent reply with text by creation time (then id), after the message last refused for a fixable
// reason when there is one (the next reply after a refusal is the one tried). A reply with no
// text of its own (attachments only, only a quote) never takes the slot.
func FirstReply(msgs []gorgias.Message, refused int64) (gorgias.Message, bool) {
	sorted := slices.Clone(msgs)
	slices.SortStableFunc(sorted, func(a, b gorgias.Message) int {
		if c := a.CreatedDatetime.Compare(b.CreatedDatetime); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	start := 0
	if refused != 0 {
		for i, m := range sorted {
			if m.ID == refused {
				start = i + 1
			}
		}
	}
	for _, m := range sorted[start:] {
		if text, _ := ReplyText(m, trustpilot.MaxReplyLen); isAgentReply(m) && text != "" {
			return m, true
		}
	}
	return gorgias.Message{}, false
}

func findMessage(msgs []gorgias.Message, id int64) (gorgias.Message, bool) {
	for _, m := range msgs {
		if m.ID == id {
			return m, true
		}
	}
	return gorgias.Message{}, false
}

// post claims the reply slot for msg and posts it, after the public-reply guard when guard is
// set and the text does not carry the override marker (which is never posted). It returns the
// outcome and the link as the slot left it.
func (s *Service) post(ctx context.Context, hd Helpdesk, tp Trustpilot, conn connection.Connection, lk link.Link, msg gorgias.Message, guard bool, attempt int, log *slog.Logger) (string, link.Link, error) {
	messageID := msg.ID
	log = log.With("message_id", messageID)
	if lk.Handled(messageID) {
		return OutcomeDone, lk, nil
	}
	text, cut := ReplyText(msg, trustpilot.MaxReplyLen)
	text, overridden := stripOverride(text)
	if text == "" {
		s.noteOnce(ctx, hd, lk, fmt.Sprintf("empty#%d", messageID), "Pilotdesk: this reply was not posted to Trustpilot because it has no text.", log)
		return OutcomeRefused + ": empty reply", lk, nil
	}
	claim, err := s.Store.ClaimReply(ctx, lk.ConnectionID, lk.ReviewID, messageID, s.Owner, s.cfg.ClaimTTL)
	if err != nil {
		return "", lk, err
	}
	switch claim.Status {
	case link.SlotNoLink:
		return OutcomeNoLink, claim.Link, nil
	case link.SlotBusy:
		return OutcomeBusy, claim.Link, nil
	case link.SlotRefusedBefore:
		return OutcomeDone, claim.Link, nil
	case link.SlotUsed:
		if claim.Link.ReplyMessage == messageID {
			return OutcomeDone, claim.Link, nil
		}
		s.usedNote(ctx, hd, lk, messageID, claim.Link.ReplyMessage, claim.Link.ReplyResult, log)
		return OutcomeUsed, claim.Link, nil
	}

	if guard && !overridden {
		if found := replyguard.Check(text, replyguard.Options{Language: lk.Language, References: []string{lk.ReferenceID}}); len(found) > 0 {
			return s.hold(ctx, hd, claim.Link, lk, messageID, found, log)
		}
	}

	pctx, cancel := s.postContext(ctx)
	if lk.Kind == review.Product {
		err = s.comment(pctx, tp, lk, messageID, text)
	} else {
		err = tp.ReplyToServiceReview(pctx, lk.ReviewID, text)
	}
	timedOut := pctx.Err() != nil && ctx.Err() == nil
	cancel()
	if err != nil && timedOut {
		// Our own bound ran out, not the caller's: Trustpilot is too slow to wait for here. If the
		// post landed after all, the retry's re-read of the review recognises it.
		err = errs.E(errs.Transient, "reply.post", fmt.Errorf("Trustpilot did not answer in time: %w", err))
	}
	if err == nil {
		note := "Pilotdesk: this reply was posted to Trustpilot as the public reply to the review."
		if lk.Kind == review.Product {
			note = "Pilotdesk: this reply was posted to Trustpilot as a comment on the product review."
		}
		if cut {
			note += fmt.Sprintf(" It was longer than the %d bytes a reply may have and was cut: check the end of it on Trustpilot.", trustpilot.MaxReplyLen)
		}
		// Record it even when the caller's context is ending: an unrecorded post would let a
		// retry of this message post again once its claim expires.
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		ferr := s.Store.FinishReply(fctx, lk.ConnectionID, lk.ReviewID, messageID, link.ReplyPosted, "posted")
		if ferr != nil && errs.Retryable(ferr) {
			ferr = s.Store.FinishReply(fctx, lk.ConnectionID, lk.ReviewID, messageID, link.ReplyPosted, "posted")
		}
		fcancel()
		if ferr != nil {
			log.Error("reply posted but not recorded", "error", ferr.Error())
		}
		s.note(ctx, hd, lk, note, log)
		metrics.Add(metrics.RepliesPosted, 1)
		log.Info("reply posted to Trustpilot", "kind", lk.Kind, "cut", cut)
		done := claim.Link
		done.ReplyState, done.ReplyMessage, done.ReplyResult = link.ReplyPosted, messageID, "posted"
		return OutcomePosted, done, nil
	}
	out, err := s.failed(ctx, hd, conn, lk, messageID, attempt, err, log)
	after := claim.Link
	if strings.HasPrefix(out, OutcomeRefused) {
		if l, gerr := s.Store.GetLink(ctx, lk.ConnectionID, lk.ReviewID); gerr == nil {
			after = l
		}
	}
	return out, after, err
}

// comment posts a product-review comment at most once per CommentRecheck window for one
// message: a later attempt within the window (a retry after a lost answer, a recovered claim)
// only looks for the comment, since Trustpilot may show a committed one late.
func (s *Service) comment(ctx context.Context, tp Trustpilot, lk link.Link, messageID int64, text string) error {
	first, err := s.Store.MarkOnce(ctx, fmt.Sprintf("comment#%s#%s#%d", lk.ConnectionID, lk.ReviewID, messageID), s.cfg.CommentRecheck)
	if err != nil {
		return err
	}
	if first {
		return tp.ReplyToProductReview(ctx, lk.ReviewID, text)
	}
	posted, err := tp.ProductReplyPosted(ctx, lk.ReviewID, text)
	if err != nil {
		return err
	}
	if posted {
		return nil
	}
	return errs.E(errs.Transient, "reply.comment", errCommentPending)
}

// failed records a Trustpilot failure: transient ones are queued for a retry, permanent ones
// end the slot with a note saying why.
func (s *Service) failed(ctx context.Context, hd Helpdesk, conn connection.Connection, lk link.Link, messageID int64, attempt int, err error, log *slog.Logger) (string, error) {
	if errs.Retryable(err) && !errors.Is(err, trustpilot.ErrAlreadyReplied) {
		metrics.Add(metrics.RepliesFailed, 1)
		next := attempt + 1
		if next >= s.cfg.MaxAttempts {
			// Leave it to SQS: it redelivers, then dead-letters the job for an operator.
			s.noteOnce(ctx, hd, lk, fmt.Sprintf("gave-up#%d#%d", messageID, next), fmt.Sprintf("Pilotdesk: Trustpilot still fails after %d attempts (%v). "+
				"The reply is kept and retried from the dead-letter queue when an operator redrives it.", next, shortErr(err)), log)
			log.Error("reply still failing; leaving it to SQS redelivery and the DLQ", "error", err.Error())
			// The job's redelivery takes the slot again.
			if rerr := s.Store.ReleaseReply(ctx, lk.ConnectionID, lk.ReviewID, messageID); rerr != nil {
				return "", rerr
			}
			return "", err
		}
		job := queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: lk.ConnectionID, ReviewID: lk.ReviewID,
			TicketID: lk.TicketID, MessageID: messageID, Attempt: next}
		// The job first, then the slot's release: a slot released without a job would wait for
		// no one, while a claim left live expires and the reply sweep recovers it.
		if qerr := s.enqueue(ctx, job, s.cfg.Retry.EqualJitter(attempt)); qerr != nil {
			return "", qerr
		}
		if rerr := s.Store.ReleaseReply(ctx, lk.ConnectionID, lk.ReviewID, messageID); rerr != nil {
			log.Warn("reply slot not released; the queued retry takes it when the claim expires", "error", rerr.Error())
		}
		log.Warn("Trustpilot failed transiently; reply queued for retry", "error", err.Error(), "next_attempt", next)
		return OutcomeQueued, nil
	}
	var why string
	fixable := false // a human can fix it: the slot reopens for the next reply
	switch {
	case errors.Is(err, trustpilot.ErrAlreadyReplied):
		why = "the review already has a reply on Trustpilot (written there or by another tool); Trustpilot keeps one reply per review"
	case errs.Is(err, errs.Reauth):
		why = "the connection's Trustpilot credentials must be re-authorised (run `pilotdesk connection check " + conn.ID + "` after fixing them)"
		if rerr := s.Store.SetReauth(ctx, conn.ID, true, shortErr(err)); rerr != nil {
			log.Warn("could not mark the connection for re-authorising", "error", rerr.Error())
		}
		fixable = true
	case errs.Is(err, errs.Permission):
		why = "Trustpilot refused it (no access: the account needs Trustpilot's paid API module, and the business user must be an admin)"
		fixable = true
	case errs.Is(err, errs.NotExist):
		why = "the review no longer exists on Trustpilot"
	default:
		// A refusal of this text (validation): the agent may write a new reply.
		why = "Trustpilot refused it: " + shortErr(err)
		fixable = true
	}
	if fixable {
		if ferr := s.Store.ReopenReply(ctx, lk.ConnectionID, lk.ReviewID, messageID, why); ferr != nil {
			return "", ferr
		}
		s.noteOnce(ctx, hd, lk, fmt.Sprintf("refused#%d", messageID), "Pilotdesk: this reply was NOT posted to Trustpilot: "+why+
			". Once that is fixed, the next public reply on this ticket will be posted.", log)
		log.Warn("reply not posted; slot reopened", "reason", why, "error", err.Error())
		metrics.Add(metrics.RepliesRefused, 1)
		return OutcomeRefused + ": " + why, nil
	}
	if ferr := s.Store.FinishReply(ctx, lk.ConnectionID, lk.ReviewID, messageID, link.ReplyFailed, why); ferr != nil && !errs.Is(ferr, errs.Conflict) {
		return "", ferr
	}
	s.note(ctx, hd, lk, "Pilotdesk: this reply was NOT posted to Trustpilot: "+why+".", log)
	log.Warn("reply not posted", "reason", why, "error", err.Error())
	metrics.Add(metrics.RepliesRefused, 1)
	return OutcomeRefused + ": " + why, nil
}

// isAgentReply is the rule: from an agent, public, not an internal note, not by a rule, not
// written through the API (Pilotdesk's own notes and other integrations).
func isAgentReply(m gorgias.Message) bool {
	return m.FromAgent && m.Public && m.Channel != gorgias.ChannelInternalNote && m.RuleID == nil && m.Via != "rule" && m.Via != "api"
}

// note leaves the agent a note. Inside a webhook delivery it waits for the helpdesk allowance no
// longer than HelpdeskWait; a note that could not be left in time is queued for the worker, so
// the agent always learns the outcome.
func (s *Service) note(ctx context.Context, hd Helpdesk, lk link.Link, text string, log *slog.Logger) {
	hctx, cancel := s.helpdeskContext(ctx)
	_, err := hd.PostInternalNote(hctx, lk.TicketID, text)
	timedOut := hctx.Err() != nil && ctx.Err() == nil
	cancel()
	if err == nil {
		return
	}
	if !errs.Retryable(err) && !timedOut {
		log.Warn("could not leave the agent a note", "error", err.Error())
		return
	}
	job := queue.Job{V: queue.Version, Type: queue.TypeReplyRetry, ConnectionID: lk.ConnectionID, ReviewID: lk.ReviewID, TicketID: lk.TicketID, Note: text}
	if qerr := s.enqueue(ctx, job, 0); qerr != nil {
		log.Error("agent note neither left nor queued", "error", err.Error(), "queue_error", qerr.Error())
		return
	}
	log.Warn("agent note queued: the helpdesk did not take it in time", "error", err.Error())
}

// enqueue queues one job even when the caller's context is ending: it records work the caller
// could not finish.
func (s *Service) enqueue(ctx context.Context, job queue.Job, delay time.Duration) error {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	return s.Queue.Send(qctx, []queue.Job{job}, delay)
}

// leaveNote runs a queued note job.
func (s *Service) leaveNote(ctx context.Context, job queue.Job, log *slog.Logger) error {
	rec, err := s.Store.GetConnectionForReplies(ctx, job.ConnectionID)
	if err != nil {
		return err
	}
	hd, _, err := s.Open.Open(ctx, rec.Connection)
	if err != nil {
		return err
	}
	if _, err := hd.PostInternalNote(ctx, job.TicketID, job.Note); err != nil {
		return err
	}
	log.Info("queued agent note left")
	return nil
}

// noteOnce leaves a note at most once per (ticket, key), however often the event is delivered.
func (s *Service) noteOnce(ctx context.Context, hd Helpdesk, lk link.Link, key string, text string, log *slog.Logger) {
	first, err := s.Store.MarkOnce(ctx, fmt.Sprintf("note#%s#%d#%s", lk.ConnectionID, lk.TicketID, key), 30*24*time.Hour)
	if err != nil || !first {
		return
	}
	s.note(ctx, hd, lk, text, log)
}

// usedNote tells the agent, once per message, that messageID was not posted because an earlier
// message (usedBy) has the review's one reply.
func (s *Service) usedNote(ctx context.Context, hd Helpdesk, lk link.Link, messageID, usedBy int64, result string, log *slog.Logger) {
	s.noteOnce(ctx, hd, lk, fmt.Sprintf("used#%d", messageID), fmt.Sprintf("Pilotdesk: this reply was NOT posted to Trustpilot. A review has one public reply, "+
		"and an earlier message on this ticket (%d) already used it (%s). Edit the reply on Trustpilot if it must change.",
		usedBy, orDash(result)), log)
	log.Info(OutcomeUsed, "used_by", usedBy, "message_id", messageID)
}

func orDash(s string) string {
	if s == "" {
		return "in progress"
	}
	return s
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
