// Command webhook is the HelpdeskWebhookFunction behind POST /helpdesk/events.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

func main() {
	cfg := config.MustLoadFunction("HelpdeskWebhookFunction")
	log := config.Logger(os.Stdout, cfg.LogLevel, "webhook")
	aws := app.AWS(context.Background())
	h := &webhook.Handler{
		SecretID:  cfg.WebhookSecretARN,
		Secrets:   secrets.New(secretsmanager.NewFromConfig(aws), cfg.SecretPrefix),
		Processor: &reply.Service{},
		Log:       log,
	}
	lambda.Start(h.Handle)
}
