// Command scheduler is the SchedulerFunction: on every EventBridge tick it enqueues one sync
// job per enabled connection and review kind.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
)

func main() {
	cfg := config.MustLoadFunction("SchedulerFunction")
	s := app.Scheduler(app.NewAdapters(app.AWS(context.Background()), cfg), app.Logger(os.Stdout, cfg, "scheduler"))
	lambda.Start(func(ctx context.Context, _ events.CloudWatchEvent) (scheduler.Result, error) { return s.Run(ctx) })
}
