package reply

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
)

// Sweep bounds: how far back the first sweep of an account looks, and how much it
// re-reads behind its cursor (the helpdesk's list is eventually consistent).
const (
	sweepFirstLookBack = 24 * time.Hour
	sweepOverlap       = 2 * time.Minute
	sweepMargin        = 10 * time.Second // time kept before the deadline
	// sweepMaxPages bounds one sweep's listing (100 tickets a page). Only a first sweep of a
	// busy account (24 h back) can reach it; it then starts from the oldest ticket it read.
	sweepMaxPages = 50
)

// SweepResult is what one sweep did, for logs and tests.
type SweepResult struct {
	Calls      int // helpdesk list calls
	Tickets    int // tickets updated since the cursor
	Candidates int // review tickets whose reply may be missing
	Forwarded  int // replies posted by this sweep
}

// SweepReplies runs a reply-sweep job (the worker.Sweeper contract). A helpdesk that refuses the
// connection's credentials flags the connection (the scheduler then stops sweeping through it)
// instead of sending the job to the dead-letter queue every tick.
func (s *Service) SweepReplies(ctx context.Context, job queue.Job) error {
	_, err := s.Sweep(ctx, job)
	if errs.Is(err, errs.Permission) || errs.Is(err, errs.Reauth) {
		if rerr := s.Store.SetReauth(ctx, job.ConnectionID, true, "helpdesk: "+shortErr(err)); rerr != nil {
			return rerr
		}
		s.Log.Error("reply sweep refused by the helpdesk; connection marked for re-authorising", "connection_id", job.ConnectionID, "error", err.Error())
		if rec, gerr := s.Store.GetConnectionForReplies(ctx, job.ConnectionID); gerr == nil {
			_ = s.Store.ClearQueued(ctx, cursor.SweepID(rec.Connection.HelpdeskAccountKey()), cursor.SweepKind)
		}
		return nil
	}
	return err
}

// Sweep is the reply sweep of one helpdesk account (the job's connection is any connection on
// it): the truth behind the webhook. It lists the account's tickets updated since its cursor,
// newest first, keeps the review tickets whose one reply is unused and that got a message after
// their link last changed (or whose reply claim was left by a crashed instance), and checks each
// through the same path as the webhook. Cost: one list call per 100 updated tickets, plus one
// message read per candidate ticket.
func (s *Service) Sweep(ctx context.Context, job queue.Job) (SweepResult, error) {
	var res SweepResult
	log := s.Log.With("connection_id", job.ConnectionID, "job_type", job.Type)
	rec, err := s.Store.GetConnectionForReplies(ctx, job.ConnectionID)
	if err != nil {
		return res, err
	}
	account := rec.Connection.HelpdeskAccountKey()
	id := cursor.SweepID(account)
	log = log.With("account", account)
	hd, _, err := s.Open.Open(ctx, rec.Connection)
	if err != nil {
		return res, err
	}
	cur, err := s.Store.GetCursor(ctx, id, cursor.SweepKind)
	if err != nil {
		return res, err
	}
	now := time.Now()
	from := cur.Since.Add(-sweepOverlap)
	if cur.Since.IsZero() {
		from = now.Add(-sweepFirstLookBack)
	}
	// Collect the window first (a page is cheap), then check oldest first so the cursor can
	// follow what was done when the deadline comes.
	var window []gorgias.TicketUpdate
	page := ""
	for {
		tickets, next, err := hd.ListTicketsUpdated(ctx, page)
		res.Calls++
		if err != nil {
			return res, err
		}
		done := false
		for _, t := range tickets {
			if t.UpdatedDatetime.Before(from) {
				done = true
				break
			}
			window = append(window, t)
		}
		if done || next == "" {
			break
		}
		if res.Calls >= sweepMaxPages || !sweepTimeLeft(ctx) {
			if cur.Since.IsZero() {
				log.Warn("first reply sweep of the account stops listing; older updates are not swept", "pages", res.Calls)
				break
			}
			return res, errs.E(errs.Transient, "reply.Sweep", fmt.Errorf("%d ticket pages updated since %s: not listed in one run", res.Calls, from.Format(time.RFC3339)))
		}
		page = next
	}
	res.Tickets = len(window)
	slices.SortStableFunc(window, func(a, b gorgias.TicketUpdate) int { return a.UpdatedDatetime.Compare(b.UpdatedDatetime) })
	mark := cur.Since
	var holdAt time.Time // a live claim: the next sweep must look at this ticket again
	for _, t := range window {
		if !sweepTimeLeft(ctx) {
			log.Info("reply sweep stopped before the deadline; the next one continues", "checked_until", mark)
			break
		}
		lk, candidate, busy, err := s.sweepCandidate(ctx, account, t, now)
		if err != nil {
			return res, s.saveSweep(ctx, id, mark, holdAt, res, err)
		}
		if busy && (holdAt.IsZero() || t.UpdatedDatetime.Before(holdAt)) {
			holdAt = t.UpdatedDatetime
		}
		if candidate {
			res.Candidates++
			tlog := log.With("ticket_id", t.ID, "review_id", lk.ReviewID)
			out, err := s.check(ctx, lk, 0, 0, tlog)
			switch {
			case err != nil && !errs.Retryable(err):
				tlog.Warn("reply sweep could not check the ticket", "error", err.Error())
			case err != nil || out == OutcomeBusy || out == OutcomeQueued || out == OutcomeSweep:
				// Not settled: the next sweep looks at this ticket again; the others go on.
				if err != nil {
					tlog.Warn("reply sweep check failed; the next sweep tries again", "error", err.Error())
				}
				if holdAt.IsZero() || t.UpdatedDatetime.Before(holdAt) {
					holdAt = t.UpdatedDatetime
				}
			}
			if out == OutcomePosted {
				res.Forwarded++
				tlog.Info("reply sweep forwarded a reply the webhook had not")
			}
		}
		if t.UpdatedDatetime.After(mark) {
			mark = t.UpdatedDatetime
		}
	}
	if err := s.saveSweep(ctx, id, mark, holdAt, res, nil); err != nil {
		return res, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := s.Store.ClearQueued(cctx, id, cursor.SweepKind); err != nil {
		log.Warn("could not clear the sweep's queued mark; the scheduler waits for it to go stale", "error", err.Error())
	}
	log.Info("reply sweep done", "helpdesk_calls", res.Calls, "tickets", res.Tickets, "candidates", res.Candidates, "forwarded", res.Forwarded)
	return res, nil
}

func sweepTimeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > sweepMargin
}

// sweepCandidate decides, from the store alone, whether a listed ticket needs a reply check.
func (s *Service) sweepCandidate(ctx context.Context, account string, t gorgias.TicketUpdate, now time.Time) (lk link.Link, candidate, busy bool, err error) {
	reviewID, ours := link.ReviewIDOf(t.ExternalID)
	if !ours {
		return lk, false, false, nil
	}
	if !t.LastMessageDatetime.IsZero() && !t.CreatedDatetime.IsZero() && !t.LastMessageDatetime.After(t.CreatedDatetime) {
		// No message since the ticket was made: it holds only the review it was created with.
		// Without an agent's message there is no reply to forward, and no reply claim either
		// (one is taken only for an agent's message), so the link need not be read: a sweep
		// after a backfill reads no link per new ticket.
		return lk, false, false, nil
	}
	links, err := s.Store.LinksByTicket(ctx, t.ID)
	if err != nil {
		return lk, false, false, err
	}
	for _, l := range links {
		if l.ReviewID == reviewID && (l.Account == account || l.Account == "") {
			lk = l
			break
		}
	}
	switch {
	case lk.ReviewID == "" || lk.State != link.StateLinked || lk.ReplyState.Final():
		return lk, false, false, nil
	case lk.ReplyState == link.ReplyClaimed && lk.ReplyExpires.After(now):
		return lk, false, true, nil // being posted right now
	case lk.ReplyState == link.ReplyClaimed && lk.ReplyExpires.IsZero():
		return lk, false, false, nil // released for a queued retry: that job owns it
	case lk.ReplyState == link.ReplyClaimed:
		return lk, true, false, nil // left by a crashed instance
	}
	// A message after the link was made: possibly an agent reply (the link's own later changes,
	// an edit note's version or a reopened slot, do not hide it).
	since := lk.LinkedAt
	if since.IsZero() {
		since = lk.UpdatedAt // a link recorded before LinkedAt existed
	}
	return lk, t.Activity().After(since), false, nil
}

// saveSweep moves the sweep's cursor to mark, but never past a ticket it must see again.
func (s *Service) saveSweep(ctx context.Context, id string, mark, holdAt time.Time, res SweepResult, cause error) error {
	if !holdAt.IsZero() && !mark.Before(holdAt) {
		mark = holdAt.Add(-time.Millisecond)
	}
	cp := cursor.Checkpoint{Since: mark, Seen: int64(res.Tickets), Created: int64(res.Forwarded)}
	if cause != nil {
		cp.LastError = "reply sweep: " + shortErr(cause)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := s.Store.SaveCheckpoint(sctx, id, cursor.SweepKind, cp); err != nil {
		if cause != nil {
			return cause
		}
		return err
	}
	return cause
}
