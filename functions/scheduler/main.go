// Command scheduler is the SchedulerFunction: on every EventBridge tick it enqueues one sync
// job per enabled connection and review kind.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/config"
)

func main() {
	app.TuneGC(os.Getenv)
	cfg := config.MustLoadFunction("SchedulerFunction")
	lambda.Start(app.Metered("scheduler", os.Stdout, app.Scheduler(app.NewAdapters(app.AWS(context.Background()), cfg), cfg, app.Logger(os.Stdout, cfg, "scheduler"))))
}
