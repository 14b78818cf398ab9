// Package devstack starts the whole system on this machine, the way the end-to-end tests and
// `make dev` need it: moto with the template's stack, the Trustpilot and helpdesk simulators,
// the three functions under the Lambda runtime emulator, and the local API Gateway in front
// of the webhook. Everything binds to 127.0.0.1 and is stopped by PID.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/cli"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

// Options configures a stack.
type Options struct {
	Name     string    // stack name (resource names); default "pilotdesk-local"
	RepoRoot string    // default: found from the working directory
	Log      io.Writer // functions' and RIE's output; nil discards
	// WorkerTimeout overrides the worker's Lambda timeout (the template's is 300 s).
	WorkerTimeout time.Duration
	// Workers is how many concurrent worker instances run (default 1).
	Workers int
	// Webhooks is how many instances of the HTTP function serve concurrent requests (default 1).
	Webhooks int
	// QueueVisibility overrides the sync queue's visibility timeout (template: 1800 s), so a
	// crashed worker's message comes back within a test; 0 keeps the template's.
	QueueVisibility time.Duration
	// Env is extra environment for every function (LOG_LEVEL, HELPDESK_RATE_LIMIT, ...).
	Env map[string]string
	// BuildDir is where the bootstraps are built (default: a new temp dir, removed by Stop), so
	// a caller can remove what it built.
	BuildDir   string
	Helpdesk   gorgiassim.Config
	Trustpilot trustpilotsim.Options
}

// Stack is the running system.
type Stack struct {
	AWS      *localaws.Env
	Runtime  *localrun.Runtime
	Gateway  *localrun.Gateway
	TP       *trustpilotsim.Sim
	HD       *gorgiassim.Server
	Store    *store.Store
	Secrets  *secrets.Manager
	Queue    *queue.Queue
	SQS      *sqs.Client
	QueueURL string
	DLQURL   string
	// WebhookURL is the local API Gateway's POST /helpdesk/events.
	WebhookURL    string
	WebhookSecret string
	SecretPrefix  string
}

// Start starts everything; on error, whatever started is stopped.
func Start(ctx context.Context, opt Options) (s *Stack, err error) {
	if opt.Name == "" {
		opt.Name = "pilotdesk-local"
	}
	if opt.RepoRoot == "" {
		p, err := samtemplate.Find(".")
		if err != nil {
			return nil, err
		}
		opt.RepoRoot = filepath.Dir(p)
	}
	s = &Stack{}
	started := s // the error returns below set s to nil
	defer func() {
		if err != nil {
			started.Stop()
		}
	}()
	if s.AWS, err = localaws.Start(ctx, opt.Name, nil); err != nil {
		return nil, err
	}
	s.SQS = sqs.NewFromConfig(s.AWS.AWS)
	s.QueueURL = s.AWS.Stack.QueueURLs["SyncJobsQueue"]
	s.DLQURL = s.AWS.Stack.QueueURLs["SyncJobsDLQ"]
	if s.QueueURL == "" || s.DLQURL == "" {
		return nil, errors.New("template has no SyncJobsQueue / SyncJobsDLQ")
	}
	if opt.QueueVisibility > 0 {
		if _, err = s.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(s.QueueURL),
			Attributes: map[string]string{string(sqstypes.QueueAttributeNameVisibilityTimeout): fmt.Sprint(int(opt.QueueVisibility / time.Second))}}); err != nil {
			return nil, err
		}
	}
	s.Store = store.New(dynamodb.NewFromConfig(s.AWS.AWS), s.AWS.TableName())
	s.Queue = queue.New(s.SQS, s.QueueURL)

	s.TP = trustpilotsim.New(opt.Trustpilot)
	tpURL, err := s.TP.Start()
	if err != nil {
		return nil, err
	}
	if s.HD, err = gorgiassim.New(opt.Helpdesk); err != nil {
		return nil, err
	}
	if _, err = s.HD.Start(); err != nil {
		return nil, err
	}

	fenv := map[string]string{config.EnvTrustpilotAPI: tpURL, config.EnvTrustpilotAuth: tpURL + trustpilotsim.LoginPath,
		config.EnvRetryDelay: "1s", config.EnvCommentRecheck: "3s"}
	for k, v := range opt.Env {
		fenv[k] = v
	}
	timeouts := map[string]time.Duration{}
	if opt.WorkerTimeout > 0 {
		timeouts["SyncWorkerFunction"] = opt.WorkerTimeout
	}
	replicas := map[string]int{}
	if opt.Workers > 1 {
		replicas["SyncWorkerFunction"] = opt.Workers - 1
	}
	if opt.Webhooks > 1 {
		replicas["HelpdeskWebhookFunction"] = opt.Webhooks - 1
	}
	if s.Runtime, err = localrun.Start(ctx, s.AWS, localrun.Options{RepoRoot: opt.RepoRoot, BuildDir: opt.BuildDir, Env: fenv, Timeouts: timeouts, Replicas: replicas, Log: opt.Log}); err != nil {
		return nil, err
	}
	if s.Gateway, err = s.Runtime.StartGateway(0); err != nil {
		return nil, err
	}
	s.WebhookURL = s.Gateway.URL + "/helpdesk/events"

	s.SecretPrefix, err = s.AWS.Stack.Resolver.Resolve(s.envValue("SyncWorkerFunction", config.EnvSecretPrefix))
	if err != nil {
		return nil, err
	}
	s.Secrets = secrets.New(secretsmanager.NewFromConfig(s.AWS.AWS), s.SecretPrefix)
	if s.WebhookSecret, err = s.Secrets.Value(ctx, s.AWS.Stack.Secrets["WebhookSecret"]); err != nil {
		return nil, err
	}
	// The outputs `sam deploy` would show, as a CloudFormation stack of the stand-in: the CLI
	// finds this stack with --stack like a deployed one.
	if err := localaws.RegisterOutputs(ctx, s.AWS.AWS, s.AWS.Stack.Name, s.Outputs()); err != nil {
		return nil, fmt.Errorf("registering the stack's outputs: %w", err)
	}
	return s, nil
}

// Outputs are the stack's CloudFormation outputs, by key, as template.yaml declares them.
func (s *Stack) Outputs() map[string]string {
	return map[string]string{
		"TableName": s.AWS.TableName(), "QueueUrl": s.QueueURL, "DeadLetterQueueUrl": s.DLQURL,
		"CredentialsSecretPrefix": s.SecretPrefix, "WebhookSecretArn": s.AWS.Stack.Secrets["WebhookSecret"],
		"WebhookUrl": s.WebhookURL, "ApiUrl": s.Gateway.URL,
	}
}

func (s *Stack) envValue(fn, name string) any {
	f, _ := s.AWS.Stack.Template.Function(fn)
	return f.Environment[name]
}

// Stop stops everything that was started.
func (s *Stack) Stop() {
	if s.Gateway != nil {
		_ = s.Gateway.Close()
	}
	if s.Runtime != nil {
		s.Runtime.Stop()
	}
	if s.HD != nil {
		_ = s.HD.Close()
	}
	if s.TP != nil {
		_ = s.TP.Close()
	}
	if s.AWS != nil {
		s.AWS.Stop()
	}
}

// PutConnection stores a connection as `pilotdesk connection put` does: credentials in the
// secret store, the rest in the table.
func (s *Stack) PutConnection(ctx context.Context, c connection.Connection) error {
	c.ApplyDefaults()
	return cli.SaveConnection(ctx, s.Store, s.Secrets, c)
}

// Depth returns the sync queue's waiting (visible + delayed) and in-flight counts.
func (s *Stack) Depth(ctx context.Context) (waiting, inFlight int, err error) {
	waiting, inFlight, _, err = s.Queue.Depths(ctx)
	return waiting, inFlight, err
}

// DeadLetters returns the DLQ's depth.
func (s *Stack) DeadLetters(ctx context.Context) (int, error) {
	_, _, dead, err := s.Queue.Depths(ctx)
	return dead, err
}

// Drain runs the worker(s) as the SQS event-source mapping would until the queue is empty
// (nothing waiting, nothing in flight) or timeout passes. It returns the polls' totals.
func (s *Stack) Drain(ctx context.Context, timeout time.Duration) (localrun.PollResult, error) {
	return s.DrainPolling(ctx, timeout, time.Second)
}

// DrainPolling is Drain with the receive's long-poll wait (0: short polls, for many quick
// drains in a row). Each worker instance polls on its own, as the mapping's pollers do: one
// busy with a long sync never holds back another's next receive (a reply check queued
// meanwhile is run by an idle instance, not after the sync). A poll is never cut off: a receive
// abandoned mid-way would leave its messages in flight, unseen, for the visibility timeout.
func (s *Stack) DrainPolling(ctx context.Context, timeout, wait time.Duration) (localrun.PollResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu       sync.Mutex
		total    localrun.PollResult
		depthErr error
	)
	for {
		var empty atomic.Bool // an instance saw the queue empty: the others end after their poll
		var wg sync.WaitGroup
		for _, in := range s.Runtime.Replicas["SyncWorkerFunction"] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !empty.Load() && ctx.Err() == nil {
					r := s.Runtime.PollOnceOn(ctx, in, wait)
					waiting, inFlight, err := s.Depth(ctx)
					mu.Lock()
					total.Received += r.Received
					total.Deleted += r.Deleted
					total.Failed += r.Failed
					if r.Err != nil && total.Err == nil {
						total.Err = r.Err
					}
					if err != nil && depthErr == nil && ctx.Err() == nil {
						depthErr = err // (past the timeout, the message below says more)
					}
					mu.Unlock()
					switch {
					case err != nil || (waiting == 0 && inFlight == 0):
						empty.Store(true)
					case r.Received == 0 && (r.Err != nil || wait < 100*time.Millisecond):
						// Nothing for this instance while another works: a short poll (or a failing
						// one) is not repeated in a tight loop against the queue.
						time.Sleep(100 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		if depthErr != nil {
			return total, depthErr
		}
		// What the last polls ran may have queued more (a continuation): drain that too.
		waiting, inFlight, err := s.Depth(context.WithoutCancel(ctx))
		if err != nil {
			return total, err
		}
		if waiting == 0 && inFlight == 0 {
			return total, nil
		}
		if ctx.Err() != nil {
			return total, fmt.Errorf("queue not drained in %s: %d waiting, %d in flight", timeout, waiting, inFlight)
		}
	}
}
