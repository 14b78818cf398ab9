package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/worker"
)

type fakeSync map[string]error // by connection id

func (f fakeSync) Sync(_ context.Context, j queue.Job) error { return f[j.ConnectionID] }

type fakeQueue struct{ sent []queue.Job }

func (f *fakeQueue) Send(_ context.Context, jobs []queue.Job, _ time.Duration) error {
	f.sent = append(f.sent, jobs...)
	return nil
}

func rec(id, body string) events.SQSMessage { return events.SQSMessage{MessageId: id, Body: body} }

func sync(conn string) string {
	return `{"v":1,"type":"sync","connection_id":"` + conn + `","kind":"service"}`
}

func TestBatchItemFailures(t *testing.T) {
	t.Parallel()
	h := &worker.Handler{
		Sync: fakeSync{
			"transient": errs.E(errs.Transient, "tp", errors.New("503")),
			"gone":      errs.E(errs.NotExist, "store", errors.New("connection gone")),
			"broken":    errs.E(errs.Permission, "tp", errors.New("403")),
			"unknown":   errors.New("unclassified"),
		},
		Queue: &fakeQueue{},
		Log:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		rec("ok", sync("fine")), rec("poison", "{"), rec("transient", sync("transient")), rec("gone", sync("gone")),
		rec("broken", sync("broken")), rec("unknown", sync("unknown")),
		rec("retry-unconfigured", `{"v":1,"type":"reply-retry","connection_id":"a","review_id":"5f3c2b1a0e9d8c7b6a5f4e3d","ticket_id":1,"message_id":2}`),
	}}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	want := []string{"poison", "transient", "broken", "unknown", "retry-unconfigured"}
	if !slices.Equal(got, want) {
		t.Fatalf("failures %v, want %v", got, want)
	}
}

func TestRequeueWhenNoTimeLeft(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	h := &worker.Handler{Sync: fakeSync{}, Queue: q, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), MinTime: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, _ := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec("a", sync("late"))}})
	if len(resp.BatchItemFailures) != 0 || len(q.sent) != 1 || q.sent[0].ConnectionID != "late" {
		t.Fatalf("failures %v requeued %v", resp.BatchItemFailures, q.sent)
	}
}
