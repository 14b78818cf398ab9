package gorgias

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Slots schedules a helpdesk account's calls across every instance and function (the store in
// production): TakeSlots reserves n slots interval apart, none before notBefore, unless the
// first starts beyond horizon (then it says when it would); PushSlots moves every instance's
// next slot on at once (after a 429).
type Slots interface {
	TakeSlots(ctx context.Context, account string, n int, interval, horizon time.Duration, notBefore time.Time) (time.Time, bool, error)
	PushSlots(ctx context.Context, account string, until time.Time) error
}

// Priority orders an account's calls: an agent's reply never waits behind a backfill.
type Priority int

const (
	// Background calls (sync) take slots only close to now, so their reservations never run
	// far ahead of a reply's.
	Background Priority = iota
	// Urgent calls (replies, their notes) take the next slot whatever is reserved.
	Urgent
)

// slotBatch is how many slots an instance reserves per store write at priority p. A sync makes
// its calls back to back, so four slots per conditional write are used, not lapsed: a quarter
// of a store write per call. An urgent caller (a reply and its note) makes one or two calls and
// takes two: more would lapse unused and waste the account's allowance. A reply's wait behind
// a sync is that reservation, about four intervals (2 s at Gorgias' 40 per 20 s).
func slotBatch(p Priority) int {
	if p == Urgent {
		return 2
	}
	return 4
}

// lateSlot is how late a reserved slot may still be used when the interval is shorter (high
// limits); at Gorgias' 40 per 20 s the interval (0.51 s) is the bound.
const lateSlot = 100 * time.Millisecond

// UrgentHorizon is how far ahead an urgent call may reserve (its caller's deadline bounds the
// wait anyway).
const UrgentHorizon = 30 * time.Second

// sharedSchedule spends an instance's reserved slots of one account.
type sharedSchedule struct {
	slots    Slots
	account  string
	interval time.Duration
	limit    int
	window   time.Duration

	mu   sync.Mutex
	next time.Time // the instance's next reserved slot
	left int       // slots reserved from next on, interval apart
	hold time.Time // no call before: the room other integrations' calls take (observe)
}

var sharedSchedules = struct {
	sync.Mutex
	m map[string]*sharedSchedule
}{m: map[string]*sharedSchedule{}}

// scheduleFor is the process's schedule of an account on slots: calls per window, spaced so
// that no window holds more than calls (window/(calls-1) apart: calls-1 intervals span less
// than the window, so at most calls slots fall in it).
func scheduleFor(slots Slots, account string, calls int, window time.Duration) *sharedSchedule {
	key := fmt.Sprintf("%s\x00%d\x00%s", account, calls, window)
	sharedSchedules.Lock()
	defer sharedSchedules.Unlock()
	s, ok := sharedSchedules.m[key]
	if !ok || s.slots != slots {
		s = &sharedSchedule{slots: slots, account: account, limit: calls, window: window,
			interval: window / time.Duration(max(calls-1, 1))}
		sharedSchedules.m[key] = s
	}
	return s
}

// wait returns when a slot of the account is the caller's.
func (s *sharedSchedule) wait(ctx context.Context, p Priority) error {
	batch := slotBatch(p)
	horizon := time.Duration(batch) * s.interval
	if p == Urgent {
		horizon = UrgentHorizon
	}
	for {
		s.mu.Lock()
		now := time.Now()
		for s.left > 0 && now.Sub(s.next) > max(s.interval, lateSlot) {
			// A slot left unused too long lapses: used late it could crowd a later window.
			// (Not before lateSlot: a reservation's round trip to the store makes its first slot
			// a little late already, and with a high limit the interval is shorter than that.)
			s.next, s.left = s.next.Add(s.interval), s.left-1
		}
		if s.left > 0 {
			at := s.next
			s.next, s.left = s.next.Add(s.interval), s.left-1
			s.mu.Unlock()
			if err := sleepUntil(ctx, at); err != nil {
				return err
			}
			s.mu.Lock()
			held := at.Before(s.hold)
			s.mu.Unlock()
			if !held {
				return nil
			}
			continue // a hold came while it slept, and its slot is inside: take one after it
		}
		hold := s.hold
		s.mu.Unlock()
		start, ok, err := s.slots.TakeSlots(ctx, s.account, batch, s.interval, horizon, hold)
		if err != nil {
			return fmt.Errorf("helpdesk call schedule: %w", err)
		}
		if !ok {
			if err := sleepUntil(ctx, start.Add(-horizon)); err != nil {
				return err
			}
			continue
		}
		s.mu.Lock()
		if s.left == 0 || start.After(s.next) {
			s.next, s.left = start, batch
		}
		s.skipHeld()
		s.mu.Unlock()
	}
}

// othersMark is the bucket level Pilotdesk's own calls stay at or under, so that a level above
// it is someone else's. Gorgias' usage header is its leaky bucket's level; Pilotdesk's calls,
// a slot apart and the slots a little slower than the leak, leave about one call in it after
// each (two when a slot used late meets the next one on time). Three leaves room for that,
// and is as little as another integration's calls can show before Pilotdesk gives way: its
// use in the first window it shares is the others' room plus about the mark (a leaky bucket
// shows others only once the calls together outrun the leak).
func othersMark(limit int) int { return max(3, limit/16) }

// observe makes room for other integrations' calls on the account: at a level above
// othersMark, this instance makes no call before the excess has drained (a call handed a slot
// inside that time, asleep until it, takes another after it; only calls already sent go). Its
// slots reserved inside that time lapse, and its next reservation starts after it, which
// moves the shared schedule on for every instance without a store write of its own (each
// instance sees the level in its own answers too). Pilotdesk settles on what the others leave.
func (s *sharedSchedule) observe(used, limit int) {
	mark := othersMark(limit)
	if used <= mark || limit <= 0 {
		return
	}
	until := time.Now().Add(time.Duration(used-mark) * s.window / time.Duration(limit))
	s.mu.Lock()
	defer s.mu.Unlock()
	if until.After(s.hold) {
		s.hold = until
	}
	s.skipHeld()
}

// skipHeld lapses the reserved slots before the hold (s.mu held). A reservation asked before
// the hold was known may hold some.
func (s *sharedSchedule) skipHeld() {
	for s.left > 0 && s.next.Before(s.hold) {
		s.next, s.left = s.next.Add(s.interval), s.left-1
	}
}

func sleepUntil(ctx context.Context, at time.Time) error {
	if dl, ok := ctx.Deadline(); ok && dl.Before(at) {
		// Like a Retry-After past the deadline: the caller's run continues later, no review of
		// it failed.
		return &WaitError{Until: at, Err: errors.New("the account's next helpdesk call slot")}
	}
	return sleep(ctx, time.Until(at))
}
