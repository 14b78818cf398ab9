// Package functions_test builds the three bootstraps with the Makefile's SAM build targets and
// invokes each under the Lambda Runtime Interface Emulator with the sample events in events/,
// against moto, the way `sam local invoke` would.
package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

const eventSecret = "local-dev-webhook-secret-0123456789abcdef"

var (
	env    *localaws.Env
	rt     *localrun.Runtime
	rieLog = &localrun.LogBuffer{}
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke tests:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx := context.Background()
	var err error
	env, err = localaws.Start(ctx, "invoke-test", nil)
	if err != nil {
		return 1, err
	}
	defer env.Stop()
	sm := secretsmanager.NewFromConfig(env.AWS)
	for _, arn := range env.Stack.Secrets {
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(eventSecret)}); err != nil {
			return 1, err
		}
	}
	st := store.New(dynamodb.NewFromConfig(env.AWS), env.TableName())
	c := connection.Connection{ID: "acme-uk", Helpdesk: connection.Helpdesk{URL: "https://acme.gorgias.com", Email: "ops@acme.com"},
		Trustpilot:     connection.Trustpilot{BusinessUnitID: "5f0c00000000000000000001", BusinessUserID: "5f0d00000000000000000001"},
		AnonymousEmail: "reviews@acme.com"}
	c.Trustpilot.WebhookHash = connection.WebhookHash("local-dev-trustpilot-key-0123456789abcdef0123456789abcdef") // the key in events/trustpilot-*.json
	c.ApplyDefaults()
	if err := st.PutConnection(ctx, c); err != nil {
		return 1, err
	}
	root, _ := filepath.Abs("..")
	rt, err = localrun.Start(ctx, env, localrun.Options{RepoRoot: root, Log: rieLog})
	if err != nil {
		return 1, err
	}
	defer rt.Stop()
	return m.Run(), nil
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invoke(t *testing.T, fn string, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := rt.Functions[fn].Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("%s: %v\nRIE log:\n%s", fn, err, tail(rieLog.String(), 3000))
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestSchedulerEnqueuesOneJobPerKind(t *testing.T) {
	ctx := context.Background()
	// Whatever ran before (another scheduler invocation marks both kinds queued for an hour; the
	// worker test marks the connection as needing re-authorising), start from a connection that
	// is due and not queued.
	st := store.New(dynamodb.NewFromConfig(env.AWS), env.TableName())
	if err := st.SetReauth(ctx, "acme-uk", false, ""); err != nil {
		t.Fatal(err)
	}
	for _, k := range []review.Kind{review.Service, review.Product} {
		if err := st.ClearQueued(ctx, "acme-uk", k); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.ClearQueued(ctx, cursor.SweepID("acme.gorgias.com"), cursor.SweepKind); err != nil {
		t.Fatal(err)
	}
	q := queue.New(sqs.NewFromConfig(env.AWS), env.Stack.QueueURLs["SyncJobsQueue"])
	before, _, _, err := q.Depths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := invoke(t, "SchedulerFunction", readEvent(t, "schedule.json"))
	var res struct {
		Enqueued int `json:"enqueued"`
		Sweeps   int `json:"sweeps"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Enqueued != 3 || res.Sweeps != 1 {
		t.Fatalf("scheduler answered %s (%v); want 3 jobs (service + product of acme-uk, and its helpdesk account's reply sweep)", out, err)
	}
	after, _, _, err := q.Depths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after-before != 3 {
		t.Fatalf("queue grew by %d, want 3", after-before)
	}
}

func TestWorkerBatchItemFailures(t *testing.T) {
	tests := []struct {
		event      string
		wantFailed []string
	}{
		// Malformed jobs fail (they reach the DLQ); the job of a deleted connection is dropped.
		{"sqs-malformed-job.json", []string{"6f1c1a8e-0002-4c1e-9a57-1b2f3c4d5e02", "6f1c1a8e-0003-4c1e-9a57-1b2f3c4d5e03"}},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			out := invoke(t, "SyncWorkerFunction", readEvent(t, tc.event))
			var resp events.SQSEventResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("not an SQSEventResponse: %s", out)
			}
			var got []string
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.wantFailed, ",") {
				t.Fatalf("batchItemFailures = %v, want %v\nlog:\n%s", got, tc.wantFailed, tail(rieLog.String(), 2000))
			}
		})
	}
}

func TestWebhookStatuses(t *testing.T) {
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = 'a'
	}
	var tooLarge events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(readEvent(t, "helpdesk-message-created.json"), &tooLarge); err != nil {
		t.Fatal(err)
	}
	tooLarge.Body = `{"pad":"` + string(big) + `"}`
	tooLargeEv, _ := json.Marshal(tooLarge)

	tests := []struct {
		name    string
		payload []byte
		status  int
		message string
	}{
		{"agent reply on an unknown ticket", readEvent(t, "helpdesk-message-created.json"), 200, "no Pilotdesk link"},
		{"base64 body", readEvent(t, "helpdesk-base64.json"), 200, "no Pilotdesk link"},
		{"wrong secret", readEvent(t, "helpdesk-bad-secret.json"), 401, "X-Pilotdesk-Secret"},
		{"no secret", readEvent(t, "helpdesk-no-secret.json"), 401, "X-Pilotdesk-Secret"},
		{"malformed JSON", readEvent(t, "helpdesk-malformed.json"), 400, "JSON"},
		{"missing ticket_id", readEvent(t, "helpdesk-missing-field.json"), 400, "ticket_id"},
		{"template rendered without message.*", readEvent(t, "helpdesk-no-message-vars.json"), 200, "no Pilotdesk link"},
		{"agent's internal note (a held reply's override when the ticket has one)", readEvent(t, "helpdesk-internal-note.json"), 200, "no Pilotdesk link"},
		{"GET", readEvent(t, "helpdesk-wrong-method.json"), 405, "POST"},
		{"2 MiB body", tooLargeEv, 413, "1 MiB"},
		{"Trustpilot webhook batch", readEvent(t, "trustpilot-review-created.json"), 200, "1 event(s) queued"},
		{"Trustpilot webhook, wrong key", readEvent(t, "trustpilot-bad-key.json"), 401, "wrong webhook key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := invoke(t, "HelpdeskWebhookFunction", tc.payload)
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("not an API Gateway response: %s", out)
			}
			if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.message) {
				t.Fatalf("got %d %s, want %d containing %q", resp.StatusCode, resp.Body, tc.status, tc.message)
			}
			if resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("content type %q", resp.Headers["Content-Type"])
			}
		})
	}
}

// A valid job whose connection has no stored credentials marks the connection as needing
// re-authorising (the scheduler then skips it and `pilotdesk status` shows it) instead of
// failing forever.
func TestWorkerMarksConnectionWithoutCredentials(t *testing.T) {
	ctx := context.Background()
	st := store.New(dynamodb.NewFromConfig(env.AWS), env.TableName())
	if err := st.SetReauth(ctx, "acme-uk", false, ""); err != nil {
		t.Fatal(err)
	}
	// Leave the connection as the other tests expect it, whatever the outcome.
	t.Cleanup(func() {
		if err := st.SetReauth(context.Background(), "acme-uk", false, ""); err != nil {
			t.Error(err)
		}
	})
	out := invoke(t, "SyncWorkerFunction", readEvent(t, "sqs-sync-job.json"))
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("answer %s (%v)", out, err)
	}
	rec, err := st.GetConnection(ctx, "acme-uk")
	if err != nil || !rec.NeedsReauth || !strings.Contains(rec.ReauthReason, "no stored credentials") {
		t.Fatalf("connection after the job: %+v %v", rec, err)
	}
}

var initRe = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// TestReportInitDurations logs the cold-start figures RIE reports (for the closing note and
// `make bench`), and fails unless every instance started so far reported one: it invokes each
// function itself (an instance initialises on its first invocation), so the verdict does not
// depend on which tests ran before.
func TestReportInitDurations(t *testing.T) {
	sample := map[string]string{
		"SchedulerFunction": "schedule.json", "SyncWorkerFunction": "sqs-malformed-job.json",
		"HelpdeskWebhookFunction": "helpdesk-bad-secret.json"}
	instances := 0
	for id, fn := range rt.Functions {
		ev, ok := sample[id]
		if !ok {
			t.Fatalf("no event for %s", id)
		}
		invoke(t, id, readEvent(t, ev))
		inits, _ := fn.Stats()
		instances += inits
	}
	m := initRe.FindAllStringSubmatch(rieLog.String(), -1)
	if len(m) != instances {
		t.Fatalf("RIE reported %d init durations for %d started instances of %d functions", len(m), instances, len(rt.Functions))
	}
	for _, x := range m {
		t.Logf("init duration: %s ms", x[1])
	}
}
