package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
)

type fakeConns []connection.Record

func (f fakeConns) ListConnections(context.Context) ([]connection.Record, error) { return f, nil }

// MarkQueued reports the "pending" connection's service job as still queued.
func (f fakeConns) MarkQueued(_ context.Context, id string, k review.Kind, _ time.Duration) (bool, error) {
	return !(id == "pending" && k == review.Service), nil
}

type fakeQueue struct{ jobs []queue.Job }

func (f *fakeQueue) Send(_ context.Context, jobs []queue.Job, _ time.Duration) error {
	f.jobs = append(f.jobs, jobs...)
	return nil
}

func rec(id string, kinds []review.Kind, reauth, disabled bool) connection.Record {
	return connection.Record{Connection: connection.Connection{ID: id, ReviewKinds: kinds, Disabled: disabled}, NeedsReauth: reauth, ReauthReason: "refresh rejected"}
}

func TestRun(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	s := &scheduler.Scheduler{
		Connections: fakeConns{
			rec("both", []review.Kind{review.Service, review.Product}, false, false),
			rec("service-only", []review.Kind{review.Service}, false, false),
			rec("needs-reauth", []review.Kind{review.Service}, true, false),
			rec("off", []review.Kind{review.Product}, false, true),
			rec("pending", []review.Kind{review.Service}, false, false),
		},
		Queue: q, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Enqueued != 3 || len(q.jobs) != 3 || len(res.Skipped) != 2 || res.Pending != 1 {
		t.Fatalf("result %+v jobs %+v", res, q.jobs)
	}
	seen := map[string]bool{}
	for _, j := range q.jobs {
		if err := j.Validate(); err != nil {
			t.Fatal(err)
		}
		seen[j.ConnectionID+"/"+string(j.Kind)] = true
	}
	for _, k := range []string{"both/service", "both/product", "service-only/service"} {
		if !seen[k] {
			t.Fatalf("missing job %s in %v", k, seen)
		}
	}
}
