// Command worker is the SyncWorkerFunction: it runs the jobs of the sync-jobs queue (syncs,
// backfill continuations, reply retries) with partial batch failures.
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
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/store"
	"github.com/pilotdesk/pilotdesk/pkg/worker"
)

func main() {
	cfg := config.MustLoadFunction("SyncWorkerFunction")
	log := config.Logger(os.Stdout, cfg.LogLevel, "worker")
	aws := app.AWS(context.Background())
	owner := app.InstanceID("worker") // this instance, in claims and leases
	st := store.New(dynamodb.NewFromConfig(aws), cfg.TableName)
	q := queue.New(sqs.NewFromConfig(aws), cfg.QueueURL)
	factory := &connector.Factory{
		Secrets:       secrets.New(secretsmanager.NewFromConfig(aws), cfg.SecretPrefix),
		Tokens:        st,
		TrustpilotURL: cfg.TrustpilotAPIURL,
		HelpdeskRate:  connector.RateLimit{Calls: cfg.HelpdeskCalls, Window: cfg.HelpdeskWindow, Share: connector.WorkerShare},
		Log:           log,
	}
	syncer := &reviewsync.Syncer{
		Store:  st,
		Open:   reviewsync.OpenerFunc(factory.OpenForSync),
		Queue:  q,
		Log:    log,
		Owner:  owner,
		Config: reviewsync.Config{LeaseRetry: cfg.RetryDelay},
	}
	replies := &reply.Service{Store: st, Open: reply.OpenerFunc(factory.OpenForReplies), Queue: q, Log: log, Owner: owner,
		Retry: backoff.Policy{Base: cfg.RetryDelay, Cap: 15 * time.Minute}}
	h := &worker.Handler{Sync: syncer, Replies: replies, Queue: q, Log: log, MinTime: 5 * time.Second,
		Visibility: q, RetryDelay: cfg.RetryDelay}
	lambda.Start(h.Handle)
}
