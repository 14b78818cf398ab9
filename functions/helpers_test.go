package functions_test

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/queue"
)

func queueDepthRaw(ctx context.Context, q *sqs.Client, url string) (int, int, error) {
	return queue.Depth(ctx, q, url)
}
