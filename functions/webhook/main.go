// Command webhook is the HelpdeskWebhookFunction behind POST /helpdesk/events: it forwards the
// agent's first public reply on a review ticket to Trustpilot.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/app"
	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/store"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

func main() {
	cfg := config.MustLoadFunction("HelpdeskWebhookFunction")
	log := config.Logger(os.Stdout, cfg.LogLevel, "webhook")
	aws := app.AWS(context.Background())
	st := store.New(dynamodb.NewFromConfig(aws), cfg.TableName)
	sec := secrets.New(secretsmanager.NewFromConfig(aws), cfg.SecretPrefix)
	factory := &connector.Factory{
		Secrets: sec, Tokens: st, TrustpilotURL: cfg.TrustpilotAPIURL, TrustpilotAttempts: 1,
		HelpdeskRate: connector.RateLimit{Calls: cfg.HelpdeskCalls, Window: cfg.HelpdeskWindow, Share: connector.WebhookShare}, Log: log,
	}
	h := &webhook.Handler{
		SecretID: cfg.WebhookSecretARN,
		Secrets:  sec,
		Processor: &reply.Service{
			Store: st, Open: reply.OpenerFunc(factory.OpenForReplies), Queue: queue.New(sqs.NewFromConfig(aws), cfg.QueueURL),
			Log: log, Owner: app.InstanceID("webhook"), Retry: backoff.Policy{Base: cfg.RetryDelay, Cap: 15 * time.Minute},
			// Answer the helpdesk well within its delivery timeout even when Trustpilot hangs:
			// a slower post is queued for the worker instead.
			PostTimeout: 6 * time.Second,
		},
		Log: log,
	}
	lambda.Start(h.Handle)
}
