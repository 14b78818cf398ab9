package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
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

func syncJob(conn string) string {
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
		rec("ok", syncJob("fine")), rec("poison", "{"), rec("transient", syncJob("transient")), rec("gone", syncJob("gone")),
		rec("broken", syncJob("broken")), rec("unknown", syncJob("unknown")),
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
	want := []string{"broken", "poison", "retry-unconfigured", "transient", "unknown"}
	slices.Sort(got) // SQS reads the failures as a set
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
	resp, _ := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec("a", syncJob("late"))}})
	if len(resp.BatchItemFailures) != 0 || len(q.sent) != 1 || q.sent[0].ConnectionID != "late" {
		t.Fatalf("failures %v requeued %v", resp.BatchItemFailures, q.sent)
	}
}

type recordedVisibility struct {
	mu     sync.Mutex
	delays map[string]time.Duration // by receipt handle
}

func (v *recordedVisibility) ChangeVisibility(_ context.Context, handle string, d time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.delays[handle] = d
	return nil
}

// A transient failure waits the job retry policy's step for its receive count (equal jitter:
// between half the step and the step); a job that can never succeed is released at once.
func TestRedeliveryBackoffFollowsTheJobRetryPolicy(t *testing.T) {
	t.Parallel()
	retry := backoff.JobRetry(10 * time.Second)
	vis := &recordedVisibility{delays: map[string]time.Duration{}}
	h := worker.New(fakeSync{"transient": errs.E(errs.Transient, "tp", errors.New("503")), "broken": errs.E(errs.Permission, "tp", errors.New("403"))},
		nil, nil, &fakeQueue{}, vis, retry, slog.New(slog.DiscardHandler))
	var recs []events.SQSMessage
	for _, n := range []int{1, 2, 3, 8} {
		r := rec(fmt.Sprintf("t%d", n), syncJob("transient"))
		r.ReceiptHandle = r.MessageId
		r.Attributes = map[string]string{"ApproximateReceiveCount": strconv.Itoa(n)}
		recs = append(recs, r)
	}
	broken := rec("broken", syncJob("broken"))
	broken.ReceiptHandle = "broken"
	recs = append(recs, broken)
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != len(recs) {
		t.Fatalf("failures %+v err %v", resp.BatchItemFailures, err)
	}
	for n, ceil := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 8: backoff.JobCap} {
		d := vis.delays[fmt.Sprintf("t%d", n)]
		if d < ceil/2 || d > ceil {
			t.Errorf("receive %d: retry in %v, want within [%v, %v]", n, d, ceil/2, ceil)
		}
	}
	if d, ok := vis.delays["broken"]; !ok || d != 0 {
		t.Errorf("permanent failure released after %v (recorded %v), want at once", d, ok)
	}
}

// ran records the jobs a Handler ran, in order.
type ran struct {
	mu   sync.Mutex
	jobs []string
}

func (r *ran) add(s string) { r.mu.Lock(); r.jobs = append(r.jobs, s); r.mu.Unlock() }

func (r *ran) Sync(_ context.Context, j queue.Job) error { r.add("sync " + j.ConnectionID); return nil }
func (r *ran) RetryReply(_ context.Context, j queue.Job) error {
	r.add("reply " + j.ReviewID)
	return nil
}
func (r *ran) SweepReplies(_ context.Context, j queue.Job) error {
	r.add("sweep " + j.ConnectionID)
	return nil
}

// A reply check that SQS batched after a sync runs before it (a backfill's sync can take the
// rest of the invocation), then the sweep, then the syncs in their order.
func TestRepliesRunBeforeSyncsInABatch(t *testing.T) {
	t.Parallel()
	r := &ran{}
	h := &worker.Handler{Sync: r, Replies: r, Sweeps: r, Queue: &fakeQueue{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	reply := func(review string) string {
		return `{"v":1,"type":"reply-retry","connection_id":"a","review_id":"` + review + `","ticket_id":1,"message_id":2}`
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		rec("1", syncJob("backfill")), rec("2", `{"v":1,"type":"reply-sweep","connection_id":"a"}`),
		rec("3", reply("5f3c2b1a0e9d8c7b6a5f4e3d")), rec("4", syncJob("other")), rec("5", reply("6f3c2b1a0e9d8c7b6a5f4e3d")),
	}}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp, err)
	}
	want := []string{"reply 5f3c2b1a0e9d8c7b6a5f4e3d", "reply 6f3c2b1a0e9d8c7b6a5f4e3d", "sweep a", "sync backfill", "sync other"}
	if !slices.Equal(r.jobs, want) {
		t.Fatalf("ran %q, want %q", r.jobs, want)
	}
}
