package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/connect"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/sidebar"
	"github.com/pilotdesk/pilotdesk/pkg/store"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
	"github.com/pilotdesk/pilotdesk/pkg/worker"
)

// Adapters are the deployment's AWS-backed adapters, built once per process.
type Adapters struct {
	Store   *store.Store
	Queue   *queue.Queue
	Secrets *secrets.Manager
}

// NewAdapters builds the adapters from the SDK configuration and the function's environment.
func NewAdapters(aws aws.Config, cfg config.Config) Adapters {
	return Adapters{
		Store:   store.New(dynamodb.NewFromConfig(aws), cfg.TableName),
		Queue:   queue.New(sqs.NewFromConfig(aws), cfg.QueueURL),
		Secrets: secrets.New(secretsmanager.NewFromConfig(aws), cfg.SecretPrefix),
	}
}

// Factory opens connections with the deployment's Trustpilot URL and helpdesk allowance;
// share is the part of the allowance this function keeps (connector.WorkerShare, ...).
func (a Adapters) Factory(cfg config.Config, share float64, log *slog.Logger) *connector.Factory {
	return &connector.Factory{
		Secrets: a.Secrets, Tokens: a.Store, Ledger: a.Store, Slots: a.Store, TrustpilotURL: cfg.TrustpilotAPIURL, Log: log,
		HelpdeskRate:   connector.RateLimit{Calls: cfg.HelpdeskCalls, Window: cfg.HelpdeskWindow, Share: share},
		TrustpilotRate: connector.TrustpilotRate{Calls: cfg.TrustpilotCalls, Window: cfg.TrustpilotWindow},
	}
}

// SyncOpener adapts a connector to the sync use case's Opener.
func SyncOpener(f *connector.Factory) reviewsync.Opener {
	return reviewsync.OpenerFunc(func(ctx context.Context, c connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		cl, err := f.Open(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		return cl.Trustpilot, cl.Helpdesk, nil
	})
}

// ReplyOpener adapts a connector to the reply use case's Opener.
func ReplyOpener(f *connector.Factory) reply.Opener {
	return reply.OpenerFunc(func(ctx context.Context, c connection.Connection) (reply.Helpdesk, reply.Trustpilot, error) {
		cl, err := f.Open(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		// An agent's reply goes before any sync on the account's shared schedule.
		return cl.Helpdesk.WithPriority(gorgias.Urgent), cl.Trustpilot, nil
	})
}

// JobRetry is the deployment's one retry policy for queued work (SYNC_RETRY_DELAY): the
// worker's redeliveries and the reply retries of the webhook and the worker alike.
func JobRetry(cfg config.Config) backoff.Policy { return backoff.JobRetry(cfg.RetryDelay) }

// Scheduler builds the SchedulerFunction's handler: one run of the use case per tick.
func Scheduler(a Adapters, cfg config.Config, log *slog.Logger) func(context.Context, events.CloudWatchEvent) (scheduler.Result, error) {
	s := &scheduler.Scheduler{Connections: a.Store, Queue: a.Queue, Log: log, DeepEvery: cfg.DeepPass}
	return func(ctx context.Context, ev events.CloudWatchEvent) (scheduler.Result, error) {
		// The schedule's own time paces the polls (so a replayed day of ticks paces like a day).
		if ev.Time.IsZero() {
			return s.Run(ctx)
		}
		return s.RunAt(ctx, ev.Time)
	}
}

// Worker builds the SyncWorkerFunction's handler: sync jobs and reply retries.
func Worker(a Adapters, cfg config.Config, log *slog.Logger) *worker.Handler {
	owner := InstanceID("worker") // this instance, in claims and leases
	f := a.Factory(cfg, connector.WorkerShare, log)
	syncer := reviewsync.New(a.Store, SyncOpener(f), a.Queue, log, owner, reviewsync.Config{
		LeaseRetry: cfg.RetryDelay, RetryBase: cfg.SetAsideRetry, UncertainWindow: cfg.UncertainWindow,
		LookupEvery: cfg.UncertainWindow / 3,
	})
	replies := reply.New(a.Store, ReplyOpener(f), a.Queue, log, owner, reply.Config{Retry: JobRetry(cfg), CommentRecheck: cfg.CommentRecheck})
	return worker.New(syncer, replies, replies, a.Queue, a.Queue, JobRetry(cfg), log)
}

// Webhook builds the HelpdeskWebhookFunction's handler. Trustpilot gets one attempt and
// reply.WebhookPostTimeout inside a delivery; anything slower is queued for the worker.
func Webhook(a Adapters, cfg config.Config, log *slog.Logger) *webhook.Handler {
	f := a.Factory(cfg, connector.WebhookShare, log)
	f.TrustpilotAttempts = 1
	replies := reply.New(a.Store, ReplyOpener(f), a.Queue, log, InstanceID("webhook"),
		reply.Config{Retry: JobRetry(cfg), PostTimeout: reply.WebhookPostTimeout, HelpdeskWait: reply.WebhookHelpdeskWait,
			CommentRecheck: cfg.CommentRecheck})
	inbox := &reviewsync.Inbox{Connections: a.Store, Queue: a.Queue, Log: log}
	return &webhook.Handler{SecretID: cfg.WebhookSecretARN, Secrets: a.Secrets, Processor: replies, Trustpilot: inbox,
		Sidebar: &sidebar.Service{Store: a.Store},
		Connect: &connect.Service{Store: a.Store, Secrets: a.Secrets, Exchange: f, AuthURL: cfg.TrustpilotAuth, KeyID: cfg.WebhookSecretARN},
		Log:     log}
}

// Logger is the function's JSON logger on w.
func Logger(w io.Writer, cfg config.Config, function string) *slog.Logger {
	return config.Logger(w, cfg.LogLevel, function)
}

// Metered writes the metrics an invocation counted as one embedded-metric-format line on w
// when it ends (CloudWatch Logs turns it into metrics of the function).
func Metered[T, R any](function string, w io.Writer, fn func(context.Context, T) (R, error)) func(context.Context, T) (R, error) {
	return func(ctx context.Context, in T) (R, error) {
		defer metrics.Flush(w, function)
		return fn(ctx, in)
	}
}
