// Command worker is the SyncWorkerFunction: it runs the jobs of the sync-jobs queue (syncs,
// backfill continuations, reply retries) with partial batch failures.
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
	cfg := config.MustLoadFunction("SyncWorkerFunction")
	h := app.Worker(app.NewAdapters(app.AWS(context.Background()), cfg), cfg, app.Logger(os.Stdout, cfg, "worker"))
	lambda.Start(app.Metered("worker", os.Stdout, h.Handle))
}
