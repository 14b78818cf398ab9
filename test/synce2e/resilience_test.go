package synce2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/cli"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// The scenarios of issue 11: sync that never stalls and never duplicates, whatever the helpdesk
// and Trustpilot do.

// cli runs the operator CLI against the stack and returns what it printed.
func (s *system) cli(t testing.TB, args ...string) string {
	t.Helper()
	return s.cliWith(t, nil, args...)
}

type cliOpts struct {
	apiURL string
	tpRate connector.TrustpilotRate // zero: Trustpilot's own
}

func (s *system) cliWith(t testing.TB, edit func(*cliOpts), args ...string) string {
	t.Helper()
	var o cliOpts
	if edit != nil {
		edit(&o)
	}
	var out, errOut bytes.Buffer
	// The real CLI's wiring: its Trustpilot calls counted in the stack's call ledger.
	c := &cli.CLI{Store: s.Store, Secrets: s.Secrets, Queue: s.Queue, APIURL: o.apiURL, Out: &out, Err: &errOut,
		Check: &connector.Factory{Secrets: s.Secrets, Tokens: s.Store, Ledger: s.Store, TrustpilotURL: s.TP.URL(), TrustpilotRate: o.tpRate,
			HelpdeskRate: connector.RateLimit{Calls: 40, Window: 20 * time.Second, Share: 1}, Log: slog.New(slog.DiscardHandler)},
		WebhookSecretARN: s.AWS.Stack.Secrets["WebhookSecret"], TrustpilotWindow: o.tpRate.Window}
	if err := c.Run(context.Background(), args); err != nil {
		t.Fatalf("pilotdesk %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// onlyService keeps the scenario's service reviews and clears the product ones, so counts are
// about what the scenario changes.
func (s *system) serviceOnly(t *testing.T) {
	t.Helper()
	for i := range s.conns {
		s.conns[i].ReviewKinds = []review.Kind{review.Service}
		if err := s.PutConnection(context.Background(), s.conns[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// 1. The helpdesk commits a create 25 s after the client lost its answer and hides it from
// look-ups for 20 s more: the review waits on look-ups spread over the uncertain window and
// ends with exactly one ticket.
func TestLateCommitMakesNoSecondTicket(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 6, 0)
	s.serviceOnly(t)
	want := s.expected(t, 6, 0)
	f := s.hdFault(gorgiassim.Fault{Method: "POST", Path: "/api/tickets", Drop: true, CommitAfter: 25 * time.Second, HiddenFor: 20 * time.Second, Times: 1})
	s.tick(t, 5*time.Minute)
	s.exactlyOnce(t, want)
	for _, x := range s.HD.Faults() {
		if x.ID == f {
			t.Fatalf("fault %+v not used up", x)
		}
	}
	out := s.output()
	if !strings.Contains(out, "earlier create not found yet") {
		t.Fatalf("no look-up found the hidden ticket missing: the test did not test the window\n%s", tail(out, 3000))
	}
	if strings.Count(out, "ticket from an earlier attempt recovered") != 1 {
		t.Fatalf("the late ticket was not recovered by its external id\n%s", tail(out, 3000))
	}
}

// 2. One review's create always fails: every other review has its ticket within two runs, the
// failed one is listed by `status` with its error, and `sync ID --retry-failed` retries it.
func TestOneFailingReviewDoesNotStallTheOthers(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{Env: map[string]string{"SET_ASIDE_RETRY": "20m", "UNCERTAIN_WINDOW": "60s"}}, 10, 0)
	s.serviceOnly(t)
	want := s.expected(t, 10, 0)
	var bad string
	for id, e := range want {
		if e.stars >= 1 && (bad == "" || id < bad) {
			bad = id
		}
	}
	s.hdFault(gorgiassim.Fault{Method: "POST", Path: "/api/tickets", BodyContains: link.ExternalID(bad), Status: 500})
	s.tick(t, 5*time.Minute)
	s.tick(t, 5*time.Minute)
	byReview := map[string]bool{}
	for _, tk := range s.HD.Tickets(s.account) {
		id, _ := link.ReviewIDOf(tk.ExternalID)
		byReview[id] = true
	}
	if len(byReview) != len(want)-1 || byReview[bad] {
		t.Fatalf("%d tickets after two runs, want %d (all but %s)", len(byReview), len(want)-1, bad)
	}
	status := s.cli(t, "status")
	if !strings.Contains(status, bad) || !strings.Contains(status, "500") {
		t.Fatalf("status does not list the failing review with its error:\n%s", status)
	}
	conn := s.conns[want[bad].conn].ID
	l, err := s.Store.GetLink(context.Background(), conn, bad)
	if err != nil || !l.SetAside() || l.Failures < 1 {
		t.Fatalf("failing review's record: %+v %v", l, err)
	}
	// Retried later: by the operator here (the automatic retry is 20 min away in this stack).
	s.cli(t, "sync", conn, "--retry-failed")
	if _, err := s.Drain(context.Background(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	again, err := s.Store.GetLink(context.Background(), conn, bad)
	if err != nil || again.Failures != 1 || !again.SetAside() {
		t.Fatalf("after the forced retry: %+v %v (a fresh budget, failed once more)", again, err)
	}
	s.HD.ClearFaults()
	s.cli(t, "sync", conn, "--retry-failed", "--review", bad)
	if _, err := s.Drain(context.Background(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.exactlyOnce(t, want)
	if status := s.cli(t, "status", conn); !strings.Contains(status, "set aside: none") {
		t.Fatalf("status after the review was linked:\n%s", status)
	}
}

// 3. Product perPage silently capped at 20 and relative next-page hrefs on service reviews:
// every review is synced.
func TestPagingVariantsSyncEveryReview(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 250, 90)
	want := s.expected(t, 250, 90)
	for _, u := range s.units {
		if err := s.TP.SetSwitches(u, trustpilotsim.Switches{PerPageCap: 20, Links: trustpilotsim.LinksRelative}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, u := range s.units {
			_ = s.TP.SetSwitches(u, trustpilotsim.Switches{})
		}
	})
	s.tick(t, 5*time.Minute)
	s.exactlyOnce(t, want)
}

// 4. A review that appears after the first sync with a createdAt 10 days old (held in
// moderation): the incremental pass cannot see it; the deep pass gives it its ticket.
func TestLateReviewFoundByTheDeepPass(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 0, 0)
	s.serviceOnly(t)
	// Recent reviews, so the cursor's overlap reaches days, not months, back.
	for i, u := range s.units {
		fx := trustpilotsim.Generate(u, 5, 0, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), int64(40+i))
		if err := s.TP.Load(fx); err != nil {
			t.Fatal(err)
		}
		s.fixtures[i] = fx
	}
	want := s.expected(t, 10, 0)
	s.tick(t, 5*time.Minute) // first sync; the deep pass is not due before one
	s.exactlyOnce(t, want)

	old := time.Now().Add(-10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	late := s.fixtures[0].ServiceReviews[0]
	late.ID, late.CreatedAt, late.UpdatedAt, late.Stars = "5f1a2b3c4d5e6f7a8b9c0d1e", old, nil, 4
	if err := s.TP.PutServiceReview(late); err != nil {
		t.Fatal(err)
	}
	want[late.ID] = expected{kind: review.Service, stars: 4}

	// The incremental pass alone reads from its cursor minus the 72 h overlap: not 10 days back.
	if err := s.Queue.Send(context.Background(), []queue.Job{queue.SyncJob(s.conns[0].ID, review.Service)}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Drain(context.Background(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := len(s.HD.Tickets(s.account)); n != len(want)-1 {
		t.Fatalf("%d tickets after the incremental pass, want %d: it should not reach 10 days back", n, len(want)-1)
	}
	s.tick(t, 5*time.Minute) // the scheduler sees the deep pass due
	s.exactlyOnce(t, want)
	if !strings.Contains(s.output(), `"pass":"deep"`) {
		t.Fatalf("no deep pass in the output\n%s", tail(s.output(), 2000))
	}
}

// 5. Retry-After: 60 on helpdesk calls near the worker's deadline: every call and wait ends
// inside the invocation; the RIE counts no timeout; every review still gets its ticket.
func TestLongRetryAfterNeverReachesTheTimeout(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{WorkerTimeout: 20 * time.Second, QueueVisibility: 25 * time.Second}, 20, 10)
	want := s.expected(t, 20, 10)
	worker := s.Runtime.Functions["SyncWorkerFunction"]
	before := worker.Timeouts()
	// Let the run get going, then answer a burst of calls with 429 and Retry-After: 60.
	s.hdFault(gorgiassim.Fault{Path: "/api/**", Status: 429, RetryAfter: 60, Latency: 2 * time.Second, Times: 1})
	s.tick(t, 8*time.Minute)
	s.exactlyOnce(t, want)
	if n := worker.Timeouts() - before; n != 0 {
		t.Fatalf("%d worker invocations ran into the Lambda timeout", n)
	}
	if !strings.Contains(s.output(), "continuing from the checkpoint") && !strings.Contains(s.output(), "continuation enqueued") {
		t.Fatalf("the run never handed its time back\n%s", tail(s.output(), 3000))
	}
}

// 6. Two reviews of one customer 1 s apart while the helpdesk applies customer-data writes 5 s
// after its 202: both entries end in the customer's sidebar data.
func TestDelayedCustomerDataKeepsBothEntries(t *testing.T) {
	t.Parallel() // with the scenarios of other stacks; one at a time on a stack
	s := start(t, devstack.Options{}, 0, 0)
	s.serviceOnly(t)
	s.conns[0].Helpdesk.CustomerData = true // the opt-in write of the reviews into customer data
	if err := s.PutConnection(context.Background(), s.conns[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.HD.SetSwitches(s.account, gorgiassim.Switches{CustomerDataApplyDelay: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	email := "twice@example.com"
	at := time.Now().Add(-2 * time.Hour)
	var ids []string
	for i, id := range []string{"5f2a2b3c4d5e6f7a8b9c0d01", "5f2a2b3c4d5e6f7a8b9c0d02"} {
		rv := trustpilotsim.ServiceReview{ID: id, Stars: 2 + i, Title: ptr("review " + id), Text: ptr("text"), Language: "en",
			CreatedAt: at.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339), ReferralEmail: &email,
			Consumer: trustpilotsim.Consumer{ID: "5f3a2b3c4d5e6f7a8b9c0d01", DisplayName: ptr("Twice")}, BusinessUnit: trustpilotsim.BusinessUnitRef{ID: s.units[0]}}
		if err := s.TP.PutServiceReview(rv); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	s.tick(t, 5*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.HD.WaitPending(ctx); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, cu := range s.HD.Customers(s.account) {
		if !strings.EqualFold(cu.Email, email) {
			continue
		}
		found = true
		var data map[string]json.RawMessage
		if err := json.Unmarshal(cu.Data, &data); err != nil {
			t.Fatal(err)
		}
		d, err := gorgias.DecodeReviewData(data[gorgias.DataKey])
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, e := range d.Reviews {
			got[e.ReviewID] = true
		}
		if !got[ids[0]] || !got[ids[1]] {
			t.Fatalf("customer data after delayed writes has %v, want both %v", got, ids)
		}
	}
	if !found {
		t.Fatal("no customer for the reviewer's email")
	}
}

func ptr[T any](v T) *T { return &v }
