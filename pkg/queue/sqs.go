package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// Queue sends jobs to the sync-jobs queue.
type Queue struct {
	c   *sqs.Client
	url string
	now func() time.Time
}

// New returns a queue adapter for url.
func New(c *sqs.Client, url string) *Queue { return &Queue{c: c, url: url, now: time.Now} }

// URL is the queue's URL.
func (q *Queue) URL() string { return q.url }

// Send enqueues jobs, 10 per SendMessageBatch call, retrying entries SQS reports as failed.
// delay postpones delivery (reply retries back off this way); 0 for none.
func (q *Queue) Send(ctx context.Context, jobs []Job, delay time.Duration) error {
	const op = "queue.Send"
	for start := 0; start < len(jobs); start += 10 {
		batch := jobs[start:min(start+10, len(jobs))]
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(batch))
		for i, j := range batch {
			if j.V == 0 {
				j.V = Version
			}
			if j.EnqueuedAt.IsZero() {
				j.EnqueuedAt = q.now().UTC()
			}
			if err := j.Validate(); err != nil {
				return errs.E(errs.Invalid, op, err)
			}
			b, err := json.Marshal(j)
			if err != nil {
				return err
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(b)),
				DelaySeconds: int32(min(delay, 15*time.Minute) / time.Second),
			})
		}
		for attempt := 0; len(entries) > 0; attempt++ {
			out, err := q.c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
			if err != nil {
				return errs.E(errs.Transient, op, err)
			}
			if len(out.Failed) == 0 {
				break
			}
			if attempt >= 4 {
				return errs.E(errs.Transient, op, fmt.Errorf("%d messages not accepted: %s", len(out.Failed), aws.ToString(out.Failed[0].Message)))
			}
			failed := map[string]bool{}
			for _, f := range out.Failed {
				if f.SenderFault {
					return errs.E(errs.Invalid, op, fmt.Errorf("message rejected: %s", aws.ToString(f.Message)))
				}
				failed[aws.ToString(f.Id)] = true
			}
			var retry []types.SendMessageBatchRequestEntry
			for _, e := range entries {
				if failed[aws.ToString(e.Id)] {
					retry = append(retry, e)
				}
			}
			entries = retry
			time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
		}
	}
	return nil
}

// ChangeVisibility makes a received message visible again after d (SQS caps it at 12 hours).
func (q *Queue) ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error {
	_, err := q.c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(min(d, 12*time.Hour) / time.Second),
	})
	if err != nil {
		return errs.E(errs.Transient, "queue.ChangeVisibility", err)
	}
	return nil
}

// Depths reports the queue's waiting messages (visible, and delayed ones such as backed-off
// retries), its messages in flight, and the messages in its dead-letter queue.
func (q *Queue) Depths(ctx context.Context) (waiting, inFlight, dead int, err error) {
	if waiting, inFlight, err = depth(ctx, q.c, q.url); err != nil {
		return 0, 0, 0, err
	}
	dlq, err := q.DeadLetterURL(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	dead, _, err = depth(ctx, q.c, dlq)
	return waiting, inFlight, dead, err
}

// Redrive moves every message of the dead-letter queue back to the queue and reports how many
// moved. Each message is deleted from the DLQ only after it was sent.
func (q *Queue) Redrive(ctx context.Context) (int, error) {
	dlq, err := q.DeadLetterURL(ctx)
	if err != nil {
		return 0, err
	}
	return redrive(ctx, q.c, dlq, q.url)
}

// depth returns the approximate number of waiting messages of a queue (visible, and delayed)
// and of messages in flight.
func depth(ctx context.Context, c *sqs.Client, url string) (waiting, inFlight int, err error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return 0, 0, errs.E(errs.Transient, "queue.Depth", err)
	}
	n := func(a types.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(a)]); return v }
	return n(types.QueueAttributeNameApproximateNumberOfMessages) + n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
		n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible), nil
}

// DeadLetterURL finds the queue's DLQ from its RedrivePolicy.
func (q *Queue) DeadLetterURL(ctx context.Context) (string, error) {
	c := q.c
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return "", errs.E(errs.Transient, "queue.DeadLetterURL", err)
	}
	var rp struct {
		Target string `json:"deadLetterTargetArn"`
	}
	if err := json.Unmarshal([]byte(out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]), &rp); err != nil || rp.Target == "" {
		return "", errors.New("queue has no dead-letter queue")
	}
	parts := strings.Split(rp.Target, ":") // arn:aws:sqs:region:account:name
	if len(parts) < 6 {
		return "", fmt.Errorf("bad dead-letter ARN %q", rp.Target)
	}
	u, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return "", errs.E(errs.Transient, "queue.DeadLetterURL", err)
	}
	return aws.ToString(u.QueueUrl), nil
}

func redrive(ctx context.Context, c *sqs.Client, dlqURL, targetURL string) (int, error) {
	moved := 0
	for {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60})
		if err != nil {
			return moved, errs.E(errs.Transient, "queue.Redrive", err)
		}
		if len(out.Messages) == 0 {
			return moved, nil
		}
		for _, m := range out.Messages {
			if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(targetURL), MessageBody: m.Body}); err != nil {
				return moved, errs.E(errs.Transient, "queue.Redrive", err)
			}
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlqURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return moved, errs.E(errs.Transient, "queue.Redrive", err)
			}
			moved++
		}
	}
}
