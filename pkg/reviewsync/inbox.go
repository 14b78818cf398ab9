package reviewsync

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// Connections reads stored connections.
type Connections interface {
	GetConnection(ctx context.Context, id string) (connection.Record, error)
}

// Inbox receives a connection's Trustpilot webhook batches (Trustpilot does not sign them): it
// checks the URL's secret against the connection's, and queues the batch for the worker, one
// job per batch (per MaxJobEvents events). Nothing else is trusted from the body.
type Inbox struct {
	Connections Connections
	Queue       Enqueuer
	Log         *slog.Logger
}

// ErrNotAccepted is the answer to an unknown connection or a wrong secret alike, so that a
// caller cannot learn which connections exist.
var ErrNotAccepted = errors.New("unknown connection or wrong webhook key")

// Receive authenticates and queues evs; it returns how many events were queued.
func (in *Inbox) Receive(ctx context.Context, connID, secret string, evs []trustpilot.Event) (int, error) {
	const op = "reviewsync.Receive"
	rec, err := in.Connections.GetConnection(ctx, connID)
	if errs.Is(err, errs.NotExist) || (err == nil && (rec.Deleted || !rec.Connection.WebhookSecretOK(secret))) {
		return 0, errs.E(errs.Permission, op, ErrNotAccepted)
	}
	if err != nil {
		return 0, err
	}
	log := in.Log.With("connection_id", connID)
	if rec.Connection.Disabled || !rec.Connection.Kinds(review.Service) {
		log.Info("Trustpilot webhook for a disabled connection, or one without service reviews; ignored", "events", len(evs))
		return 0, nil
	}
	var jobs []queue.Job
	for start := 0; start < len(evs); start += queue.MaxJobEvents {
		j := queue.SyncJob(connID, review.Service)
		j.Pass = queue.PassEvents
		for _, e := range evs[start:min(start+queue.MaxJobEvents, len(evs))] {
			qe := queue.Event{ReviewID: e.ReviewID, Name: e.Name}
			if !e.CreatedAt.IsZero() {
				qe.CreatedAt = e.CreatedAt.UTC().Format(time.RFC3339Nano)
			}
			j.Events = append(j.Events, qe)
		}
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	if err := in.Queue.Send(ctx, jobs, 0); err != nil {
		return 0, err
	}
	log.Info("Trustpilot webhook batch queued", "events", len(evs), "jobs", len(jobs))
	return len(evs), nil
}
