// Package cursor holds how far sync has come for one connection and review kind (the
// high-water mark and where an unfinished run resumes) and the progress a run checkpoints.
package cursor

import (
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Cursor is how far sync has come for one connection and review kind, plus its counters.
type Cursor struct {
	ConnectionID string
	Kind         review.Kind
	// Since is the high-water mark: the newest review creation time fully synced.
	Since time.Time
	// Resume is where an unfinished run (a backfill) continues: a next-page link or page number.
	Resume     string
	LastRunAt  time.Time
	LastError  string
	ReviewSeen int64
	Tickets    int64
	Errors     int64
	// ScheduledAt is when the scheduler last queued this kind's job, on the scheduler's clock
	// (its event's time); RunCalls the Trustpilot calls the last finished run made: what the
	// scheduler paces the next one by.
	ScheduledAt time.Time
	RunCalls    int64
}

// Checkpoint is one step of progress to record. Counters add up; Since only moves forward.
type Checkpoint struct {
	Since     time.Time // new high-water mark (never moves back)
	Resume    string    // "" when the run finished
	Seen      int64     // reviews looked at in this step
	Created   int64     // tickets created in this step
	Errors    int64     // reviews that failed permanently in this step
	LastError string
}

// Apply is c after cp: the rule every store implements for a checkpoint.
func (c Cursor) Apply(cp Checkpoint) Cursor {
	if cp.Since.After(c.Since) {
		c.Since = cp.Since
	}
	c.Resume = cp.Resume
	c.ReviewSeen += cp.Seen
	c.Tickets += cp.Created
	c.Errors += cp.Errors
	if cp.LastError != "" {
		c.LastError = cp.LastError
	}
	return c
}

// SweepKind keys the reply sweep's cursor and queued mark, kept per helpdesk account under
// SweepID: Since is the newest ticket update the sweep has looked at.
const SweepKind review.Kind = "reply-sweep"

// SweepID names the reply sweep's cursor of a helpdesk account (connection.HelpdeskAccountKey).
func SweepID(account string) string { return "sweep#" + account }

// DeepKind keys the deep pass's cursor and queued mark for a review kind: its LastRunAt says
// when the pass last ran, and its checkpoints never touch the incremental pass's cursor.
func DeepKind(k review.Kind) review.Kind { return "deep-" + k }

// DeletionsKind keys the deletions pass's cursor and queued mark: Since is the end of the last
// window read from Trustpilot's Deletions API.
const DeletionsKind review.Kind = "deletions"

// EventsKind keys the record of a connection's Trustpilot webhook batches: its LastRunAt is the
// last one handled, which tells the scheduler webhooks arrive.
const EventsKind review.Kind = "webhook-events"

// AsideKind keys the queued mark of a connection's set-aside pass for a review kind.
func AsideKind(k review.Kind) review.Kind { return "aside-" + k }
