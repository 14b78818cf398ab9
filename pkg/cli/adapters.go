package cli

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/queue"
)

// SQSQueue is the Queue the CLI uses in production.
type SQSQueue struct {
	Client *sqs.Client
	URL    string
}

// Send enqueues jobs.
func (q SQSQueue) Send(ctx context.Context, jobs []queue.Job, delay time.Duration) error {
	return queue.New(q.Client, q.URL).Send(ctx, jobs, delay)
}

// Depths reports the queue's and the DLQ's depth.
func (q SQSQueue) Depths(ctx context.Context) (queued, inFlight, dead int, err error) {
	if queued, inFlight, err = queue.Depth(ctx, q.Client, q.URL); err != nil {
		return
	}
	dlq, err := queue.DeadLetterURL(ctx, q.Client, q.URL)
	if err != nil {
		return
	}
	dead, _, err = queue.Depth(ctx, q.Client, dlq)
	return
}

// Redrive moves dead letters back.
func (q SQSQueue) Redrive(ctx context.Context) (int, error) {
	dlq, err := queue.DeadLetterURL(ctx, q.Client, q.URL)
	if err != nil {
		return 0, err
	}
	return queue.Redrive(ctx, q.Client, dlq, q.URL)
}
