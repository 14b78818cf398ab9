package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
)

// Build builds every function of the template with the Makefile's build-<LogicalId> targets
// (what `sam build` runs), for this machine's architecture, into outDir/<LogicalId>/bootstrap.
func Build(ctx context.Context, repoRoot, outDir string, t *samtemplate.Template, log io.Writer) (map[string]string, error) {
	if log == nil {
		log = io.Discard
	}
	out := map[string]string{}
	for _, f := range t.Functions() {
		dir := filepath.Join(outDir, f.LogicalID)
		cmd := exec.CommandContext(ctx, "make", "-s", "-C", repoRoot, "build-"+f.LogicalID,
			"ARTIFACTS_DIR="+dir, "GOARCH="+runtime.GOARCH)
		cmd.Stdout, cmd.Stderr = log, log
		if b, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output(); err == nil {
			cmd.Env = append(os.Environ(), "GOCACHE="+strings.TrimSpace(string(b)))
		}
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("make build-%s: %w", f.LogicalID, err)
		}
		out[f.LogicalID] = filepath.Join(dir, "bootstrap")
	}
	return out, nil
}

// Options configures a local runtime.
type Options struct {
	RepoRoot   string
	BuildDir   string                       // where bootstraps are built (a temp dir if empty)
	Bootstraps map[string]string            // prebuilt bootstraps by logical id (skips Build)
	Env        map[string]string            // extra/override environment for every function
	FuncEnv    map[string]map[string]string // per-function overrides, by logical id
	Timeouts   map[string]time.Duration     // override of a function's Timeout, by logical id
	Replicas   map[string]int               // extra instances of a function (concurrent Lambdas)
	Log        io.Writer                    // functions' and RIE's output
}

// Runtime is the whole local deployment: the stack on moto and one RIE per function.
type Runtime struct {
	Env       *localaws.Env
	Template  *samtemplate.Template
	Functions map[string]*Function
	Replicas  map[string][]*Function // every instance, Functions[id] first
	Timeouts  map[string]time.Duration
	sqs       *sqs.Client
	log       io.Writer
	// OnReceive, when set, sees every batch the event-source mapping received before the
	// worker is invoked (tests use it to duplicate deliveries, as SQS may).
	OnReceive func(ctx context.Context, queueURL string, msgs []sqstypes.Message)
	tempDir   string // the build directory this runtime made, removed by Stop
}

// Start builds (unless prebuilt) and starts every function of the template against env.
func Start(ctx context.Context, env *localaws.Env, opt Options) (*Runtime, error) {
	t := env.Stack.Template
	rie, err := RIEPath(opt.RepoRoot)
	if err != nil {
		return nil, err
	}
	boots := opt.Bootstraps
	tempDir := ""
	if boots == nil {
		dir := opt.BuildDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "pilotdesk-build-"); err != nil {
				return nil, err
			}
			tempDir = dir
		}
		if boots, err = Build(ctx, opt.RepoRoot, dir, t, opt.Log); err != nil {
			if tempDir != "" {
				_ = os.RemoveAll(tempDir)
			}
			return nil, err
		}
	}
	r := &Runtime{Env: env, Template: t, Functions: map[string]*Function{}, Replicas: map[string][]*Function{}, Timeouts: map[string]time.Duration{},
		sqs: sqs.NewFromConfig(env.AWS), log: opt.Log, tempDir: tempDir}
	for _, f := range t.Functions() {
		fenv, err := env.Stack.Resolver.Environment(f)
		if err != nil {
			r.Stop()
			return nil, err
		}
		for k, v := range env.Moto.Env() {
			fenv[k] = v
		}
		timeout := time.Duration(f.Timeout) * time.Second
		if d, ok := opt.Timeouts[f.LogicalID]; ok {
			timeout = d
		}
		r.Timeouts[f.LogicalID] = timeout
		fenv["AWS_LAMBDA_FUNCTION_NAME"] = env.Stack.Name + "-" + f.LogicalID
		fenv["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(int(timeout / time.Second))
		fenv["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(f.MemorySize)
		for k, v := range opt.Env {
			fenv[k] = v
		}
		for k, v := range opt.FuncEnv[f.LogicalID] {
			fenv[k] = v
		}
		boot, ok := boots[f.LogicalID]
		if !ok {
			r.Stop()
			return nil, fmt.Errorf("no bootstrap for %s", f.LogicalID)
		}
		for i := 0; i < 1+opt.Replicas[f.LogicalID]; i++ {
			fn, err := StartFunction(f.LogicalID, rie, boot, fenv, opt.Log)
			if err != nil {
				r.Stop()
				return nil, err
			}
			if i == 0 {
				r.Functions[f.LogicalID] = fn
			}
			r.Replicas[f.LogicalID] = append(r.Replicas[f.LogicalID], fn)
		}
	}
	return r, nil
}

// Stop stops every function instance and removes a build directory it made.
func (r *Runtime) Stop() {
	for _, fs := range r.Replicas {
		for _, f := range fs {
			f.Stop()
		}
	}
	if r.tempDir != "" {
		_ = os.RemoveAll(r.tempDir)
	}
}

// FunctionWithEvent returns the function that has an event of the given SAM type.
func (r *Runtime) FunctionWithEvent(typ string) (*Function, samtemplate.Event, error) {
	for _, f := range r.Template.Functions() {
		for _, ev := range f.Events {
			if ev.Type == typ {
				return r.Functions[f.LogicalID], ev, nil
			}
		}
	}
	return nil, samtemplate.Event{}, fmt.Errorf("no function with a %s event", typ)
}

// ScheduledEvent is the EventBridge event a schedule rule sends.
func ScheduledEvent(now time.Time) []byte {
	ev := map[string]any{
		"version": "0", "id": fmt.Sprintf("local-%d", now.UnixNano()), "detail-type": "Scheduled Event",
		"source": "aws.events", "account": localaws.AccountID, "time": now.UTC().Format(time.RFC3339),
		"region": localaws.Region, "resources": []string{"arn:aws:events:us-east-1:123456789012:rule/pilotdesk-local-tick"},
		"detail": map[string]any{},
	}
	b, _ := json.Marshal(ev)
	return b
}

// Tick invokes the scheduled function once, as its EventBridge rule does.
func (r *Runtime) Tick(ctx context.Context) ([]byte, error) { return r.TickAt(ctx, time.Now()) }

// TickAt invokes the scheduled function with an event of time at: a simulated day of ticks
// runs in seconds, paced as the real one would be.
func (r *Runtime) TickAt(ctx context.Context, at time.Time) ([]byte, error) {
	fn, _, err := r.FunctionWithEvent("Schedule")
	if err != nil {
		return nil, err
	}
	return fn.Invoke(ctx, ScheduledEvent(at))
}

// PollResult reports one event-source-mapping poll.
type PollResult struct {
	Received int
	Deleted  int
	Failed   int // reported in batchItemFailures (or the whole batch on a function error)
	Err      error
}

// PollOnce does what the SQS event-source mapping does once: receive up to BatchSize messages,
// invoke the worker with them, delete the ones that succeeded and leave the failed ones to
// reappear after the visibility timeout. wait is the long-poll time.
func (r *Runtime) PollOnce(ctx context.Context, wait time.Duration) PollResult {
	return r.PollOnceOn(ctx, nil, wait)
}

// PollOnceOn is PollOnce with a given instance of the worker (nil: the first).
func (r *Runtime) PollOnceOn(ctx context.Context, instance *Function, wait time.Duration) PollResult {
	fn, ev, err := r.FunctionWithEvent("SQS")
	if err != nil {
		return PollResult{Err: err}
	}
	if instance != nil {
		fn = instance
	}
	batch := 10
	if b, ok := ev.Properties["BatchSize"].(int); ok && b > 0 {
		batch = min(b, 10)
	}
	queueURL, err := r.Env.Stack.Resolver.Resolve(ev.Properties["Queue"])
	if err != nil {
		return PollResult{Err: err}
	}
	if strings.HasPrefix(queueURL, "arn:") {
		for id, arn := range r.Env.Stack.QueueARNs {
			if arn == queueURL {
				queueURL = r.Env.Stack.QueueURLs[id]
			}
		}
	}
	out, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: int32(batch), WaitTimeSeconds: int32(wait / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return PollResult{Err: err}
	}
	if len(out.Messages) == 0 {
		return PollResult{}
	}
	if r.OnReceive != nil {
		r.OnReceive(ctx, queueURL, out.Messages)
	}
	arn := ""
	for id, u := range r.Env.Stack.QueueURLs {
		if u == queueURL {
			arn = r.Env.Stack.QueueARNs[id]
		}
	}
	sqsEv := events.SQSEvent{}
	for _, m := range out.Messages {
		sqsEv.Records = append(sqsEv.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes, EventSource: "aws:sqs",
			EventSourceARN: arn, AWSRegion: localaws.Region,
		})
	}
	payload, _ := json.Marshal(sqsEv)
	res := PollResult{Received: len(out.Messages)}
	body, err := fn.Invoke(ctx, payload)
	failed := map[string]bool{}
	if err != nil {
		// A function error (or a crash) fails the whole batch: nothing is deleted.
		res.Failed, res.Err = len(out.Messages), err
		return res
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		res.Failed, res.Err = len(out.Messages), fmt.Errorf("worker result is not an SQSEventResponse: %w", err)
		return res
	}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range out.Messages {
		if failed[aws.ToString(m.MessageId)] {
			res.Failed++
			continue
		}
		if _, err := r.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			res.Err = err
			continue
		}
		res.Deleted++
	}
	return res
}

// RunQueue runs the event-source mapping on one worker instance until ctx ends, calling report
// after each poll that received something. Run it once per instance for concurrent workers.
func (r *Runtime) RunQueue(ctx context.Context, instance *Function, report func(PollResult)) {
	for ctx.Err() == nil {
		res := r.PollOnceOn(ctx, instance, time.Second)
		if report != nil && (res.Received > 0 || res.Err != nil) {
			report(res)
		}
		if res.Err != nil && res.Received == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// RunSchedule invokes the scheduler every interval until ctx ends.
func (r *Runtime) RunSchedule(ctx context.Context, interval time.Duration, report func([]byte, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		out, err := r.Tick(ctx)
		if report != nil {
			report(out, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
