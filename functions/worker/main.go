// Command worker is the SyncWorkerFunction: it runs the jobs of the sync-jobs queue (syncs,
// backfill continuations, reply retries) with partial batch failures.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/worker"
)

func main() {
	cfg := config.MustLoadFunction("SyncWorkerFunction")
	log := config.Logger(os.Stdout, cfg.LogLevel, "worker")
	aws := app.AWS(context.Background())
	h := &worker.Handler{
		Queue:   queue.New(sqs.NewFromConfig(aws), cfg.QueueURL),
		Log:     log,
		MinTime: 5 * time.Second,
	}
	lambda.Start(h.Handle)
}
