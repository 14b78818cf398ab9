// Command scheduler is the SchedulerFunction: on every EventBridge tick it enqueues one sync
// job per enabled connection and review kind.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

func main() {
	cfg := config.MustLoadFunction("SchedulerFunction")
	log := config.Logger(os.Stdout, cfg.LogLevel, "scheduler")
	aws := app.AWS(context.Background())
	s := &scheduler.Scheduler{
		Connections: store.New(dynamodb.NewFromConfig(aws), cfg.TableName),
		Queue:       queue.New(sqs.NewFromConfig(aws), cfg.QueueURL),
		Log:         log,
	}
	lambda.Start(func(ctx context.Context, _ events.CloudWatchEvent) (scheduler.Result, error) { return s.Run(ctx) })
}
