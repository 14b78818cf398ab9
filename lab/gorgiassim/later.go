package gorgiassim

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// pending is work the simulator does after the request that asked for it: a create committed
// late (Fault.CommitAfter) or a customer-data write applied late (Switches.CustomerDataApplyDelay).
type pending struct {
	due   time.Time
	seq   int64 // arrival order among work due at the same time
	run   func(now time.Time)
	timer *time.Timer
}

func (p *pending) before(q *pending) bool {
	return p.due.Before(q.due) || p.due.Equal(q.due) && p.seq < q.seq
}

// later schedules run (called holding s.mu) at due; the caller holds s.mu. Work runs in due
// order whichever timer goroutine gets the lock first, so writes queued in order apply in order.
// Nothing is scheduled once the server is closed.
func (s *Server) later(due time.Time, run func(now time.Time)) {
	if s.closed {
		return
	}
	s.nextPending++
	p := &pending{due: due, seq: s.nextPending, run: run}
	i, _ := slices.BinarySearchFunc(s.pending, p, func(x, y *pending) int {
		if x.before(y) {
			return -1
		}
		return 1
	})
	s.pending = slices.Insert(s.pending, i, p)
	// Close waits for a timer that fired, or stops one that has not (and releases it).
	s.wg.Add(1)
	p.timer = time.AfterFunc(time.Until(due), func() {
		defer s.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.runUpTo(p)
	})
}

// runUpTo runs the pending work due up to and including last, oldest first; the caller holds
// s.mu. Work already run (by an earlier timer, ApplyPending) or dropped by Close is not there.
func (s *Server) runUpTo(last *pending) {
	ran := false
	for len(s.pending) > 0 && !last.before(s.pending[0]) {
		p := s.pending[0]
		s.pending = s.pending[1:]
		s.stopPending(p)
		p.run(time.Now().UTC())
		ran = true
	}
	if ran {
		s.pendingChanged()
	}
}

// stopPending stops p's timer; if it had not fired, its goroutine never comes, so the caller
// (holding s.mu) releases it from s.wg.
func (s *Server) stopPending(p *pending) {
	if p.timer.Stop() {
		s.wg.Done()
	}
}

func (s *Server) pendingChanged() {
	close(s.pendChanged)
	s.pendChanged = make(chan struct{})
}

// dropPending abandons all pending work (on Close); the caller holds s.mu.
func (s *Server) dropPending() {
	for _, p := range s.pending {
		s.stopPending(p)
	}
	s.pending = nil
	s.pendingChanged()
}

// ApplyPending does now, in the order it was due, all work still waiting: late commits of
// creates (Fault.CommitAfter) and delayed customer-data writes (Switches.CustomerDataApplyDelay),
// so a test need not sleep through the delays. A late-committed item is then hidden for
// Fault.HiddenFor from now.
func (s *Server) ApplyPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.pending); n > 0 {
		s.runUpTo(s.pending[n-1])
	}
}

// WaitPending waits until no late commit or delayed customer-data write is waiting (applied,
// or dropped by Close); on ctx's end it returns ctx's error.
func (s *Server) WaitPending(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, ch := len(s.pending), s.pendChanged
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lateCommit travels in a create's context under a late-commit fault: commit schedules the
// create for due instead of applying it, and tells serveLate so.
type lateCommit struct {
	due       time.Time
	hide      time.Duration
	scheduled bool
}

type lateKey struct{}

// serveLate plays a create Gorgias commits after the client has given up (Fault.CommitAfter,
// HiddenFor): the handler validates the request now and schedules it, then the client is held
// for the fault's Latency and gets no answer. A request refused by validation is answered at
// once, as without the fault: only a create that would succeed is at stake.
func (s *Server) serveLate(w *statusRecorder, r *http.Request, f Fault, arrived time.Time) {
	lc := &lateCommit{due: arrived.Add(f.CommitAfter), hide: f.HiddenFor}
	s.api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), lateKey{}, lc)))
	if !lc.scheduled {
		return
	}
	sleep(r.Context(), f.Latency)
	w.status = 0 // counted as "no answer"
	panic(http.ErrAbortHandler)
}

// createFunc applies a validated create holding s.mu and returns the answer's status and body;
// what it creates stays out of API reads until hiddenUntil.
type createFunc func(now, hiddenUntil time.Time) (int, any)

// commit applies a validated create and answers with its result or, under a late-commit fault,
// schedules it and leaves the answer to serveLate. A late create that no longer applies at its
// commit (its ticket gone, say) is only logged: nobody is listening for the answer.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, apply createFunc) {
	lc, late := r.Context().Value(lateKey{}).(*lateCommit)
	s.mu.Lock()
	if late {
		lc.scheduled = true
		path := r.URL.Path
		s.later(lc.due, func(now time.Time) {
			if status, out := apply(now, now.Add(lc.hide)); status >= 300 {
				s.log.Info("gorgiassim: late create refused at commit", "path", path, "status", status, "answer", out)
			}
		})
		s.mu.Unlock()
		return
	}
	status, out := apply(time.Now().UTC(), time.Time{})
	s.mu.Unlock()
	writeJSON(w, status, out)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
