// Package queue holds the sync-jobs queue's message contract (a versioned JSON job) and the
// SQS adapter that sends jobs in batches and reads dead letters.
package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Version is the job format version this code writes and reads.
const Version = 1

// Job types.
const (
	TypeSync       = "sync"
	TypeReplyRetry = "reply-retry" // check a ticket's replies again (message_id 0: whichever is first)
	TypeReplySweep = "reply-sweep" // the reply sweep of the helpdesk account of connection_id
)

// Job is one message on the sync-jobs queue.
type Job struct {
	V    int    `json:"v"`
	Type string `json:"type"`

	ConnectionID string      `json:"connection_id"`
	Kind         review.Kind `json:"kind,omitempty"`

	// sync: a backfill from Since (when set) instead of the cursor; Resume continues a run
	// that stopped at its deadline; Continuation counts how many times it did (in a
	// reply-retry job: how many times it waited for its ticket's link to be written).
	Since        *time.Time `json:"since,omitempty"`
	Resume       string     `json:"resume,omitempty"`
	Continuation int        `json:"continuation,omitempty"`
	// Calls are the Trustpilot calls the chain's earlier invocations made (its cost, recorded
	// when it finishes).
	Calls int64 `json:"calls,omitempty"`
	// Pass is what a sync job reads: "" the cursor's incremental pass (after the set-aside
	// pass), PassAside only the set-aside reviews that are due, PassDeep the deep pass.
	Pass string `json:"pass,omitempty"`
	// Events are a Trustpilot webhook batch's review events (PassEvents), one job per batch.
	Events []Event `json:"events,omitempty"`

	// reply-retry: the helpdesk message to forward again.
	ReviewID  string `json:"review_id,omitempty"`
	TicketID  int64  `json:"ticket_id,omitempty"`
	MessageID int64  `json:"message_id,omitempty"`
	Attempt   int    `json:"attempt,omitempty"`
	// Note, when set, is an agent note the webhook could not leave in time: the job leaves it.
	Note string `json:"note,omitempty"`

	EnqueuedAt time.Time `json:"enqueued_at,omitzero"`
}

// Sync passes (Job.Pass).
const (
	PassCursor    = ""
	PassAside     = "aside"     // retry the connection's set-aside reviews that are due
	PassDeep      = "deep"      // read the last DeepWindow of service reviews again, cursor untouched
	PassEvents    = "events"    // the reviews a Trustpilot webhook named, read again from the API
	PassDeletions = "deletions" // Trustpilot's Deletions API since the last pass
)

// Event is one review event of a Trustpilot webhook batch, as queued.
type Event struct {
	ReviewID string `json:"review_id"`
	Name     string `json:"event"` // service-review-created, -updated or -deleted
	// CreatedAt is the review's createdAt the event gave (RFC 3339; "" when it gave none): a
	// hint of where in the review list one call finds the batch's new reviews.
	CreatedAt string `json:"created_at,omitempty"`
}

// MaxJobEvents bounds the events of one job; a larger batch becomes several jobs.
const MaxJobEvents = 100

// MarkKind is the cursor a sync job's queued, scheduled and cost marks live on: the kind's own
// for the cursor pass (and webhook batches), the pass's for the others.
func (j Job) MarkKind() review.Kind {
	switch j.Pass {
	case PassDeep:
		return cursor.DeepKind(j.Kind)
	case PassDeletions:
		return cursor.DeletionsKind
	case PassAside:
		return cursor.AsideKind(j.Kind)
	}
	return j.Kind
}

// MaxDelay is the longest delay SQS gives a message.
const MaxDelay = 15 * time.Minute

// MaxJobBytes bounds a job message; SQS allows 256 KiB, ours are tiny.
const MaxJobBytes = 16 << 10

// ErrMalformed marks a message that can never be processed (poison).
var ErrMalformed = errors.New("malformed job")

// Parse decodes and validates a job message. Unknown fields are tolerated (a newer writer may
// add some); a missing required field is an ErrMalformed error naming it.
func Parse(body []byte) (Job, error) {
	if len(body) > MaxJobBytes {
		return Job{}, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrMalformed, len(body), MaxJobBytes)
	}
	var j Job
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&j); err != nil {
		return Job{}, fmt.Errorf("%w: not a JSON job: %v", ErrMalformed, err)
	}
	if err := j.Validate(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// Validate checks the job's fields.
func (j Job) Validate() error {
	var bad []string
	if j.V != Version {
		bad = append(bad, fmt.Sprintf("v: unsupported version %d (want %d)", j.V, Version))
	}
	if strings.TrimSpace(j.ConnectionID) == "" {
		bad = append(bad, "connection_id: required")
	}
	switch j.Type {
	case TypeSync:
		if !j.Kind.Valid() {
			bad = append(bad, fmt.Sprintf("kind: must be service or product, got %q", j.Kind))
		}
		if j.Continuation < 0 {
			bad = append(bad, "continuation: must not be negative")
		}
		switch j.Pass {
		case PassCursor, PassAside, PassDeep, PassDeletions:
		case PassEvents:
			if len(j.Events) == 0 || len(j.Events) > MaxJobEvents {
				bad = append(bad, fmt.Sprintf("events: 1 to %d required, got %d", MaxJobEvents, len(j.Events)))
			}
			for _, e := range j.Events {
				if !review.ValidID(e.ReviewID) {
					bad = append(bad, fmt.Sprintf("events: review_id %.30q is not a Trustpilot id", e.ReviewID))
					break
				}
			}
		default:
			bad = append(bad, fmt.Sprintf("pass: must be %q, %q, %q, %q or empty, got %q", PassAside, PassDeep, PassEvents, PassDeletions, j.Pass))
		}
	case TypeReplyRetry:
		if !review.ValidID(j.ReviewID) {
			bad = append(bad, "review_id: must be a 24-character hex Trustpilot id")
		}
		if j.TicketID <= 0 {
			bad = append(bad, "ticket_id: required")
		}
		if j.MessageID < 0 {
			bad = append(bad, "message_id: must not be negative")
		}
	case TypeReplySweep:
	default:
		bad = append(bad, fmt.Sprintf("type: must be %q, %q or %q, got %q", TypeSync, TypeReplyRetry, TypeReplySweep, j.Type))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrMalformed, strings.Join(bad, "; "))
	}
	return nil
}

// SweepJob builds the reply sweep job of the helpdesk account connID is on.
func SweepJob(connID string) Job {
	return Job{V: Version, Type: TypeReplySweep, ConnectionID: connID}
}

// SyncJob builds a sync job.
func SyncJob(connID string, kind review.Kind) Job {
	return Job{V: Version, Type: TypeSync, ConnectionID: connID, Kind: kind}
}
