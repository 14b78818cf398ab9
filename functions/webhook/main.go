// Command webhook is the HelpdeskWebhookFunction behind POST /helpdesk/events: it forwards the
// agent's first public reply on a review ticket to Trustpilot.
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
	cfg := config.MustLoadFunction("HelpdeskWebhookFunction")
	h := app.Webhook(app.NewAdapters(app.AWS(context.Background()), cfg), cfg, app.Logger(os.Stdout, cfg, "webhook"))
	lambda.Start(app.Metered("webhook", os.Stdout, h.Handle))
}
