package synce2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

var initRe = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// BenchmarkSync syncs 200 reviews (100 service, 100 product; two connections on one helpdesk
// account) through the real worker against a helpdesk simulator rate-limited like Gorgias but
// ten times faster (40 calls per 2 s instead of 20 s), and reports: helpdesk calls per review,
// reviews per second, how close the busiest window came to the ceiling, the worker's CPU per
// review, SQS messages received and worker invocations per 100 reviews, and the cold start
// (init duration) RIE reported. The "no-slot-waits" run is the same sync with the helpdesk's
// allowance lifted, so the worker never sleeps for a call slot.
//
// worker-cpu-ms/review is the worker bootstrap's whole CPU time over the run (the scheduler's
// nanosecond count of every thread, /proc/<pid>/task/*/schedstat) divided by the tickets: every
// job of the tick, the reply sweep and the Lambda runtime loop included. Per new review the
// worker makes one helpdesk call, an eighth of a DynamoDB transaction (a group's confirms with
// the next group's claims) and a quarter of a slot reservation; the rest is per page or per job.
// wakes/review counts how often a thread of the worker was put back on a CPU after waiting.
// worker-sysmon-cpu-ms/review is the part of the CPU figure that is the Go runtime's monitor
// thread (sysmon, localrun.MonitorSchedStat) and worker-sysmon-wakes/review its share of the
// wake-ups: the runtime wakes it when work starts after a wait and it polls every 20 µs until
// the process waits again, so it costs in proportion to the bursts of work between round trips,
// not to the work itself.
// On this machine (a small VM) a wait is not free: each loopback round trip costs the waiting
// side some 0.1-0.4 ms of CPU time however little it does (BenchmarkRoundTripFloor measures
// it against moto), which is most of the figure; a Lambda talking to DynamoDB over the network
// pays less per wait. To see where the CPU goes, build the bootstraps with
// GOTAGS=pilotdesk_pprof (profiles and AWS call counts under $TMPDIR/pilotdesk-pprof, see
// pkg/app/profile_pprof.go).
func BenchmarkSync(b *testing.B) {
	for _, c := range []struct {
		name  string
		calls int
	}{{"gorgias-rate", 40}, {"no-slot-waits", 4000}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				benchSync(b, c.calls)
			}
		})
	}
}

func benchSync(b *testing.B, calls int) {
	s := startB(b, devstack.Options{Name: "bench-sync", Env: map[string]string{"HELPDESK_RATE_LIMIT": strconv.Itoa(calls) + "/2s"},
		Helpdesk: gorgiassim.Config{RateCalls: calls, RateWindow: 2 * time.Second}}, 100, 100)
	defer s.Stop()
	worker := s.Runtime.Functions["SyncWorkerFunction"]
	cpu0, wakes0 := worker.SchedStat()
	mon0, monWakes0 := worker.MonitorSchedStat()
	start := time.Now()
	if _, err := s.Runtime.Tick(context.Background()); err != nil {
		b.Fatal(err)
	}
	_, inv0 := worker.Stats()
	drained, err := s.Drain(context.Background(), 10*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	cpu1, wakes1 := worker.SchedStat()
	mon1, monWakes1 := worker.MonitorSchedStat()
	_, inv1 := worker.Stats()
	st := s.HD.Stats(s.account)
	n := len(s.HD.Tickets(s.account))
	if n != 200 {
		b.Fatalf("%d tickets, want 200", n)
	}
	b.ReportMetric(float64(st.Requests)/float64(n), "helpdesk-calls/review")
	b.ReportMetric(float64(n)/took.Seconds(), "reviews/s")
	b.ReportMetric(100*float64(st.MaxInWindow)/float64(st.RateCalls), "%-of-ceiling-peak")
	b.ReportMetric(float64(st.Throttled), "throttled-429s")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(n), "worker-cpu-ms/review")
	b.ReportMetric(float64(wakes1-wakes0)/float64(n), "worker-wakes/review")
	b.ReportMetric(float64((mon1-mon0).Microseconds())/1000/float64(n), "worker-sysmon-cpu-ms/review")
	b.ReportMetric(float64(monWakes1-monWakes0)/float64(n), "worker-sysmon-wakes/review")
	b.ReportMetric(100*float64(drained.Received)/float64(n), "sqs-messages/100-reviews")
	b.ReportMetric(100*float64(inv1-inv0)/float64(n), "worker-invocations/100-reviews")
	var inits []float64
	for _, m := range initRe.FindAllStringSubmatch(s.log.String(), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		inits = append(inits, v)
	}
	if len(inits) > 0 {
		b.ReportMetric(slices.Max(inits), "cold-start-init-ms-max")
	}
}

// BenchmarkRoundTripFloor is what waiting for an answer costs a client that does nothing else,
// on this machine. "bare-http": keep-alive HTTP requests to moto with no SDK, no signing, no
// JSON work (a ListTables moto answers in a few milliseconds). "sdk-getitem": one GetItem on
// the stack's table through the AWS SDK, configured as the functions configure it (signing,
// retries, endpoint rules, the answer's checksum). "sleep-2ms": a goroutine sleeping 2 ms, the
// cost of one wake-up from idle and nothing else. Compare the worker's CPU per review with the
// round trips it makes per review: a review costs at least one helpdesk round trip and a share
// of a DynamoDB call, whatever the worker does with them.
func BenchmarkRoundTripFloor(b *testing.B) {
	s := startB(b, devstack.Options{Name: "bench-floor"}, 1, 0)
	defer s.Stop()
	endpoint := s.AWS.Moto.Endpoint
	client := &http.Client{}
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(s.AWS.AWS)
	key := map[string]types.AttributeValue{store.AttrPK: &types.AttributeValueMemberS{Value: "floor"}, store.AttrSK: &types.AttributeValueMemberS{Value: "floor"}}
	for _, c := range []struct {
		name string
		once func() error
	}{
		{"bare-http", func() error {
			req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader("{}"))
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("moto: %s", resp.Status)
			}
			return nil
		}},
		{"sdk-getitem", func() error {
			_, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.AWS.TableName()), Key: key})
			return err
		}},
		{"sleep-2ms", func() error {
			time.Sleep(2 * time.Millisecond)
			return nil
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 300
			if err := c.once(); err != nil { // the connection is open before the count starts
				b.Fatal(err)
			}
			for range b.N {
				cpu0, wakes0 := selfSchedStat()
				start := time.Now()
				for range n {
					if err := c.once(); err != nil {
						b.Fatal(err)
					}
				}
				cpu1, wakes1 := selfSchedStat()
				cpu := cpu1 - cpu0
				b.ReportMetric(float64(cpu.Microseconds())/n, "client-cpu-us/call")
				b.ReportMetric(float64(wakes1-wakes0)/n, "client-wakes/call")
				b.ReportMetric(float64(cpu.Microseconds())/float64(max(wakes1-wakes0, 1)), "client-cpu-us/wake")
				b.ReportMetric(float64(time.Since(start).Microseconds())/n/1000, "ms/call")
			}
		})
	}
}

// selfSchedStat is this process's on-CPU time and wake-ups over all its threads, as
// localrun.Function.SchedStat counts a bootstrap's.
func selfSchedStat() (time.Duration, int64) {
	return localrun.SchedStat(strconv.Itoa(os.Getpid()))
}

// BenchmarkBackfillAtGorgiasRate is the backfill of issue 11's measurement, scaled down: 150
// service reviews through a worker whose Lambda timeout is 15 s, against a helpdesk simulator
// with Gorgias' own allowance (40 calls per 20 s). It reports how many invocations ran into
// the timeout (the measurement found 32 of 147), the average and peak share of the ceiling
// used, the 429s the helpdesk answered, and reviews per minute.
func BenchmarkBackfillAtGorgiasRate(b *testing.B) {
	for range b.N {
		s := startB(b, devstack.Options{Name: "bench-backfill", WorkerTimeout: 15 * time.Second, QueueVisibility: 20 * time.Second,
			Env:      map[string]string{"HELPDESK_RATE_LIMIT": "40/20s"},
			Helpdesk: gorgiassim.Config{RateCalls: 40, RateWindow: 20 * time.Second}}, 150, 0)
		for i := range s.conns {
			s.conns[i].ReviewKinds = []review.Kind{review.Service}
			if err := s.PutConnection(context.Background(), s.conns[i]); err != nil {
				b.Fatal(err)
			}
		}
		worker := s.Runtime.Functions["SyncWorkerFunction"]
		start := time.Now()
		if _, err := s.Runtime.Tick(context.Background()); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Drain(context.Background(), 20*time.Minute); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		st := s.HD.Stats(s.account)
		if n := len(s.HD.Tickets(s.account)); n != 150 {
			b.Fatalf("%d tickets, want 150", n)
		}
		_, invokes := worker.Stats()
		ceiling := took.Seconds() / st.RateWindow.Seconds() * float64(st.RateCalls)
		b.ReportMetric(float64(invokes), "worker-invocations")
		b.ReportMetric(float64(worker.Timeouts()), "invocations-at-timeout")
		b.ReportMetric(100*float64(st.Requests)/ceiling, "%-of-ceiling-avg")
		b.ReportMetric(float64(st.Served429), "throttled-429s")
		b.ReportMetric(100*float64(st.MaxInWindow)/float64(st.RateCalls), "%-of-ceiling-peak")
		b.ReportMetric(150/took.Minutes(), "reviews/min@40per20s")
		s.Stop()
	}
}

// BenchmarkSidebar measures the sidebar integration's answer through the local API gateway and
// the real webhook bootstrap (RIE), after a sync of 100 reviews: p50 and p99 of 300 calls for
// reviewers with an email, the anonymous customer among them, and the helpdesk calls they made
// (none).
func BenchmarkSidebar(b *testing.B) {
	for range b.N {
		s := startB(b, devstack.Options{Name: "bench-sidebar"}, 100, 0)
		ctx := context.Background()
		if _, err := s.Runtime.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Drain(ctx, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
		secret, err := s.Secrets.Value(ctx, s.AWS.Stack.Secrets["WebhookSecret"])
		if err != nil {
			b.Fatal(err)
		}
		var emails []string
		for _, r := range s.fixtures[0].ServiceReviews {
			if r.ReferralEmail != nil {
				emails = append(emails, *r.ReferralEmail)
			}
		}
		emails = append(emails, s.conns[0].AnonymousEmail)
		before := s.HD.Stats(s.account).Requests
		base := strings.TrimSuffix(s.WebhookURL, "/helpdesk/events") + "/helpdesk/sidebar"
		var took []time.Duration
		for i := range 300 {
			q := url.Values{"account": {s.conns[0].HelpdeskAccountKey()}, "email": {emails[i%len(emails)]}, "ticket": {"1"}}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"?"+q.Encode(), nil)
			req.Header.Set("X-Pilotdesk-Secret", secret)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took = append(took, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("sidebar: %d", resp.StatusCode)
			}
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "sidebar-p50-ms")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "sidebar-p99-ms")
		b.ReportMetric(float64(s.HD.Stats(s.account).Requests-before), "helpdesk-calls")
		s.Stop()
	}
}
