package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

var env *localaws.Env

func TestMain(m *testing.M) {
	var err error
	env, err = localaws.Start(context.Background(), "queue-test", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "queue tests need moto:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"sync", `{"v":1,"type":"sync","connection_id":"a","kind":"service"}`, ""},
		{"sync with resume and unknown field", `{"v":1,"type":"sync","connection_id":"a","kind":"product","resume":"7","future":true}`, ""},
		{"reply retry", `{"v":1,"type":"reply-retry","connection_id":"a","review_id":"5f3c2b1a0e9d8c7b6a5f4e3d","ticket_id":1,"message_id":2}`, ""},
		{"not json", `hello`, "not a JSON job"},
		{"wrong version", `{"v":2,"type":"sync","connection_id":"a","kind":"service"}`, "v: unsupported version 2"},
		{"no connection", `{"v":1,"type":"sync","kind":"service"}`, "connection_id: required"},
		{"bad kind", `{"v":1,"type":"sync","connection_id":"a","kind":"x"}`, "kind: must be"},
		{"bad type", `{"v":1,"type":"nap","connection_id":"a"}`, "type: must be"},
		{"reply without ids", `{"v":1,"type":"reply-retry","connection_id":"a"}`, "review_id"},
		{"too big", `{"v":1,"type":"sync","connection_id":"` + strings.Repeat("a", 20000) + `","kind":"service"}`, "over the"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := queue.Parse([]byte(tc.body))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, queue.ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want ErrMalformed containing %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"sync","connection_id":"a","kind":"service"}`))
	f.Add([]byte(`{"v":1,"type":"reply-retry","connection_id":"a","review_id":"5f3c2b1a0e9d8c7b6a5f4e3d","ticket_id":1,"message_id":2}`))
	f.Add([]byte(`{"v":1,"since":"2020-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := queue.Parse(b)
		if err != nil {
			if !errors.Is(err, queue.ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		if err := j.Validate(); err != nil {
			t.Fatalf("parsed job does not validate: %v", err)
		}
	})
}

func TestSendBatchesAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	c := sqs.NewFromConfig(env.AWS)
	url := env.Stack.QueueURLs["SyncJobsQueue"]
	q := queue.New(c, url)

	var jobs []queue.Job
	for i := range 23 {
		jobs = append(jobs, queue.SyncJob(fmt.Sprintf("conn-%02d", i), review.Service))
	}
	if err := q.Send(ctx, jobs, 0); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []queue.Job{{Type: "sync"}}, 0); err == nil {
		t.Fatal("Send accepted an invalid job")
	}
	got := map[string]bool{}
	for len(got) < 23 {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("only %d of 23 jobs arrived", len(got))
		}
		for _, m := range out.Messages {
			j, err := queue.Parse([]byte(*m.Body))
			if err != nil {
				t.Fatal(err)
			}
			if j.EnqueuedAt.IsZero() || j.V != queue.Version {
				t.Fatalf("job not stamped: %+v", j)
			}
			got[j.ConnectionID] = true
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A message that fails maxReceiveCount (5, from template.yaml) times lands in the DLQ.
	if err := q.Send(ctx, []queue.Job{queue.SyncJob("poison", review.Product)}, 0); err != nil {
		t.Fatal(err)
	}
	receives := 0
	for attempt := 0; attempt < 20; attempt++ {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		receives++
		// The worker failed it: make it visible again at once instead of after 30 minutes.
		// The next receive long-polls, so it waits for the message to be visible again.
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	if receives != 5 {
		t.Fatalf("message received %d times before leaving the queue, want 5", receives)
	}
	dlq, err := q.DeadLetterURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dlq != env.Stack.QueueURLs["SyncJobsDLQ"] {
		t.Fatalf("DeadLetterURL %s, want %s", dlq, env.Stack.QueueURLs["SyncJobsDLQ"])
	}
	if waiting, inFlight, dead, err := q.Depths(ctx); err != nil || waiting != 0 || inFlight != 0 || dead != 1 {
		t.Fatalf("depths: %d waiting, %d in flight, %d dead (%v), want 0, 0, 1", waiting, inFlight, dead, err)
	}
	moved, err := q.Redrive(ctx)
	if err != nil || moved != 1 {
		t.Fatalf("redrive moved %d (%v)", moved, err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1, WaitTimeSeconds: 2})
	if err != nil || len(out.Messages) != 1 || !strings.Contains(*out.Messages[0].Body, "poison") {
		t.Fatalf("redriven message not back: %+v %v", out.Messages, err)
	}
}
