// The body of `make dev`: it starts the whole system locally (lab/devstack),
// seeds two Trustpilot business units that share one helpdesk account, installs the helpdesk
// webhook the way `pilotdesk helpdesk install-webhook` does, then keeps the system busy — the
// scheduler ticking, the worker polling the queue, new reviews arriving, an agent replying on
// tickets — and prints a short plain-text summary until its context ends.

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/cli"
	pdconfig "github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// The one helpdesk account both connections write to.
const (
	HelpdeskAccount = "shop"
	helpdeskEmail   = "api@shop.test"
	helpdeskKey     = "sim-api-key" // the simulator's, not a real credential
)

// Options configures a run. Zero values get the defaults of `make dev`.
type Options struct {
	Duration       time.Duration // stop this long after the stack is up and seeded; 0: when ctx ends
	Tick           time.Duration // scheduler interval (default 15s)
	Reviews        int           // generated reviews per business unit, ⅔ service ⅓ product (default 40; <0: none)
	ReplyEvery     time.Duration // a simulated agent reply this often (default 20s; <0: none)
	NewReviewEvery time.Duration // a new review on Trustpilot this often (default 10s; <0: none)
	Refresh        time.Duration // summary sampling interval (default 2s)
	Heartbeat      time.Duration // print the summary at least this often even if unchanged (default 30s)
	Workers        int           // concurrent worker instances (default 1)
	HelpdeskRate   string        // helpdesk allowance per account, "<calls>/<window>" (default Gorgias' own, defaultHelpdeskRate)
	Seed           int64         // review generation and reply choice (0: from the clock)
	Name           string        // stack name (default "pilotdesk-local")
	RepoRoot       string        // default: found from the working directory

	Out     io.Writer // the summary (default os.Stdout)
	Log     io.Writer // functions', RIE's and this package's log lines (default: discarded)
	LogPath string    // where Log goes, to print it
}

// defaultHelpdeskRate is Gorgias' documented allowance, in the HELPDESK_RATE_LIMIT form.
var defaultHelpdeskRate = fmt.Sprintf("%d/%s", gorgias.DefaultCalls, gorgias.DefaultWindow)

func (o *Options) defaults() {
	if o.Tick <= 0 {
		o.Tick = 15 * time.Second
	}
	if o.Reviews == 0 {
		o.Reviews = 40
	}
	o.Reviews = max(o.Reviews, 0) // negative: only the hand-written fixture
	if o.ReplyEvery == 0 {
		o.ReplyEvery = 20 * time.Second
	}
	if o.NewReviewEvery == 0 {
		o.NewReviewEvery = 10 * time.Second
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.HelpdeskRate == "" {
		o.HelpdeskRate = defaultHelpdeskRate
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Report is what a finished run leaves: the last summary, and where the stack was, so a test
// can check nothing still answers there.
type Report struct {
	Summary   Summary
	Endpoints []string // base URLs of moto, both simulators and the gateway
	BuildDir  string   // where the bootstraps were built (removed at the end)
}

// ConnSummary is one connection's line of the summary.
type ConnSummary struct {
	ID             string
	ServiceReviews int // on the Trustpilot simulator
	ProductReviews int
	Tickets        int // in the helpdesk simulator
	RepliesAsked   int // simulated agent replies written on its tickets
	RepliesPosted  int // reviews with a reply (service) or a business comment (product) on Trustpilot
	RepliesHeld    int // agent replies the public-reply guard held (each then rewritten by the agent)
}

// Summary is one sample of the running system.
type Summary struct {
	Elapsed     time.Duration
	Conns       []ConnSummary
	Waiting     int // sync queue: visible + delayed
	InFlight    int
	DeadLetters int
	Helpdesk    gorgiassim.Stats // the shared helpdesk account
	Ticks       int              // scheduler invocations
	TickErrors  int
	Jobs        int // messages the worker received
	JobsFailed  int // returned as batch item failures (retried later)
	Webhooks    int // webhook deliveries finished OK
	WebhookFail int // webhook deliveries given up
	Errors      int // errors of the local loops (details in the log)
}

// conn is one seeded connection and the reviews this run put on its business unit.
type conn struct {
	c       connection.Connection
	service map[string]bool
	product map[string]bool
	asked   int
}

type runner struct {
	opt   Options
	st    *devstack.Stack
	start time.Time
	log   *slog.Logger

	mu       sync.Mutex
	rng      *mrand.Rand
	conns    []*conn
	replied  map[int64]bool // tickets the simulated agent already answered
	rewrote  map[int64]bool // held replies the simulated agent already wrote again
	ticks    int
	tickErrs int
	jobs     int
	failed   int
	errs     int
}

// Run starts the stack, seeds it, and keeps it busy until ctx ends or opt.Duration passes;
// then it stops everything it started. Reaching the end is not an error.
func Run(ctx context.Context, opt Options) (rep Report, err error) {
	opt.defaults()
	calls, window, err := pdconfig.ParseRate(opt.HelpdeskRate)
	if err != nil {
		return rep, err
	}
	buildDir, err := os.MkdirTemp("", "pilotdesk-dev-build-")
	if err != nil {
		return rep, err
	}
	rep.BuildDir = buildDir
	defer os.RemoveAll(buildDir)

	r := &runner{opt: opt, rng: mrand.New(mrand.NewPCG(uint64(opt.Seed), 0x9e3779b97f4a7c15)), replied: map[int64]bool{}, rewrote: map[int64]bool{},
		log: slog.New(slog.NewJSONHandler(opt.Log, nil)).With("component", "pilotdesk-dev")}
	fmt.Fprintf(opt.Out, "pilotdesk-dev: building the functions and starting moto, the simulators and the runtime emulator…\n")
	st, err := devstack.Start(ctx, devstack.Options{
		Name: opt.Name, RepoRoot: opt.RepoRoot, Log: opt.Log, Workers: opt.Workers, BuildDir: buildDir,
		Env:      map[string]string{pdconfig.EnvHelpdeskRate: opt.HelpdeskRate},
		Helpdesk: gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{{ID: HelpdeskAccount, Email: helpdeskEmail, APIKey: helpdeskKey}}, RateCalls: calls, RateWindow: window},
	})
	if err != nil {
		if ctx.Err() != nil {
			return rep, nil // interrupted while starting: devstack stopped what it had started
		}
		return rep, fmt.Errorf("start the local stack: %w", err)
	}
	r.st = st
	rep.Endpoints = []string{st.AWS.Moto.Endpoint, st.TP.URL(), st.HD.URL(), st.Gateway.URL}
	defer st.Stop()

	if err := r.seed(ctx); err != nil {
		if ctx.Err() != nil {
			return rep, nil
		}
		return rep, fmt.Errorf("seed: %w", err)
	}
	if err := r.installWebhook(ctx, calls, window); err != nil {
		if ctx.Err() != nil {
			return rep, nil
		}
		return rep, fmt.Errorf("install the helpdesk webhook: %w", err)
	}
	r.banner()

	worker, _, err := st.Runtime.FunctionWithEvent("SQS")
	if err != nil {
		return rep, err
	}

	// The run's length counts from here: building and starting take what they take (longer
	// on a fresh or busy machine), an interrupt still ends them.
	if opt.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Duration)
		defer cancel()
	}
	// From here on nothing returns early: every loop ends with ctx, before the stack stops.
	r.start = time.Now()
	var wg sync.WaitGroup
	loop := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	loop(func() {
		st.Runtime.RunSchedule(ctx, opt.Tick, func(out []byte, err error) {
			if err != nil && ctx.Err() != nil {
				return // cut short by the end of the run
			}
			r.mu.Lock()
			r.ticks++
			if err != nil {
				r.tickErrs++
			}
			r.mu.Unlock()
			if err != nil {
				r.log.Error("scheduler tick failed", "err", err, "output", string(out))
			}
		})
	})
	for _, in := range st.Runtime.Replicas[worker.ID] {
		loop(func() { st.Runtime.RunQueue(ctx, in, r.onPoll(ctx)) })
	}
	if opt.NewReviewEvery > 0 {
		loop(func() { every(ctx, opt.NewReviewEvery, r.newReview) })
	}
	if opt.ReplyEvery > 0 {
		loop(func() { every(ctx, opt.ReplyEvery, r.agentReply) })
	}
	loop(func() { r.summaries(ctx) })
	<-ctx.Done()
	wg.Wait()

	// The last sample, while moto still answers.
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep.Summary = r.sample(fctx)
	fmt.Fprintln(opt.Out, "pilotdesk-dev: stopping; final summary:")
	r.print(rep.Summary)
	return rep, nil
}

func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

func (r *runner) onPoll(ctx context.Context) func(localrun.PollResult) {
	return func(res localrun.PollResult) {
		r.mu.Lock()
		r.jobs += res.Received
		r.failed += res.Failed
		if res.Err != nil && ctx.Err() == nil {
			r.errs++
		}
		r.mu.Unlock()
		if res.Err != nil && ctx.Err() == nil {
			r.log.Error("worker poll", "err", res.Err, "received", res.Received, "failed", res.Failed)
		}
	}
}

func (r *runner) fail(what string, err error) {
	r.mu.Lock()
	r.errs++
	r.mu.Unlock()
	r.log.Error(what, "err", err)
}

// seed loads the simulator's hand-written fixture (two business units with their credentials
// and the review shapes that break naive clients) and generated service and product reviews
// for both units, and stores one connection per unit on the shared helpdesk account.
func (r *runner) seed(ctx context.Context) error {
	fx := trustpilotsim.DefaultFixture()
	if len(fx.BusinessUnits) < 2 {
		return errors.New("the simulator's default fixture has fewer than two business units")
	}
	if err := r.st.TP.Load(fx); err != nil {
		return err
	}
	now := time.Now()
	nProduct := r.opt.Reviews / 3
	for i, u := range fx.BusinessUnits[:2] {
		g := trustpilotsim.Generate(u.ID, r.opt.Reviews-nProduct, nProduct, now.AddDate(0, -1, 0), now.Add(-time.Hour), r.opt.Seed+int64(i))
		if err := r.st.TP.Load(g); err != nil {
			return err
		}
		id, _, _ := strings.Cut(u.Name, ".")
		c := &conn{service: map[string]bool{}, product: map[string]bool{}, c: connection.Connection{
			ID:       id,
			Helpdesk: connection.Helpdesk{URL: r.st.HD.URL(), Email: helpdeskEmail, APIKey: helpdeskKey},
			Trustpilot: connection.Trustpilot{BusinessUnitID: u.ID, BusinessUserID: u.BusinessUsers[0].ID,
				APIKey: u.APIKey, APISecret: u.APISecret, CallsPerYear: new(int64)},
			// Unlimited: the dev flow polls every tick (a tier's allowance would space the polls by minutes).
			ReviewKinds:    []review.Kind{review.Service, review.Product},
			Tags:           []string{id},
			AnonymousEmail: "reviews@" + u.Name,
		}}
		for _, f := range []trustpilotsim.Fixture{fx, g} {
			for _, rv := range f.ServiceReviews {
				if rv.BusinessUnit.ID == u.ID {
					c.service[rv.ID] = true
				}
			}
			for _, rv := range f.ProductReviews {
				if rv.BusinessUnitID == u.ID {
					c.product[rv.ID] = true
				}
			}
		}
		if err := r.st.PutConnection(ctx, c.c); err != nil {
			return fmt.Errorf("connection %s: %w", id, err)
		}
		r.conns = append(r.conns, c)
	}
	return nil
}

// installWebhook runs `pilotdesk helpdesk install-webhook` in process, with the real CLI and
// connector. Both connections share the helpdesk account, so one integration serves both.
func (r *runner) installWebhook(ctx context.Context, calls int, window time.Duration) error {
	var out, errOut bytes.Buffer
	c := &cli.CLI{
		Store: r.st.Store, Secrets: r.st.Secrets, Queue: r.st.Queue,
		Check: &connector.Factory{Secrets: r.st.Secrets, Tokens: r.st.Store, Ledger: r.st.Store, Slots: r.st.Store, TrustpilotURL: r.st.TP.URL(),
			HelpdeskRate: connector.RateLimit{Calls: calls, Window: window}, Log: r.log},
		WebhookSecretARN: r.st.AWS.Stack.Secrets["WebhookSecret"],
		Out:              &out, Err: &errOut, Now: time.Now,
	}
	if err := c.Run(ctx, []string{"helpdesk", "install-webhook", r.conns[0].c.ID, "--url", r.st.WebhookURL}); err != nil {
		return fmt.Errorf("%w %s", err, strings.TrimSpace(errOut.String()))
	}
	fmt.Fprint(r.opt.Out, "pilotdesk-dev: "+out.String())
	return nil
}

// banner prints where everything is, and the environment `go run ./cmd/pilotdesk` needs to
// inspect this stack from another terminal. It prints the webhook secret's ARN, never the secret.
func (r *runner) banner() {
	st, w := r.st, r.opt.Out
	fmt.Fprintf(w, "pilotdesk-dev: running (Ctrl-C to stop)\n")
	fmt.Fprintf(w, "  Trustpilot simulator  %s  (control API under /_sim/)\n", st.TP.URL())
	fmt.Fprintf(w, "  helpdesk simulator    %s  (account %q; control API under /_sim/)\n", st.HD.URL(), HelpdeskAccount)
	fmt.Fprintf(w, "  webhook (local API Gateway)  POST %s\n", st.WebhookURL)
	fmt.Fprintf(w, "  moto (DynamoDB, SQS, Secrets Manager)  %s\n", st.AWS.Moto.Endpoint)
	if r.opt.LogPath != "" {
		fmt.Fprintf(w, "  function logs         %s\n", r.opt.LogPath)
	}
	ids := make([]string, len(r.conns))
	for i, c := range r.conns {
		ids[i] = fmt.Sprintf("%s (business unit %s, %d service + %d product reviews)", c.c.ID, c.c.Trustpilot.BusinessUnitID, len(c.service), len(c.product))
	}
	fmt.Fprintf(w, "  connections           %s\n", strings.Join(ids, "; "))
	fmt.Fprintf(w, "  every %s a scheduler tick", r.opt.Tick)
	if r.opt.NewReviewEvery > 0 {
		fmt.Fprintf(w, ", every %s a new review", r.opt.NewReviewEvery)
	}
	if r.opt.ReplyEvery > 0 {
		fmt.Fprintf(w, ", every %s an agent reply", r.opt.ReplyEvery)
	}
	fmt.Fprintf(w, "; helpdesk limit %s per account\n", r.opt.HelpdeskRate)
	fmt.Fprintf(w, "In another terminal (moto's fixed dummy AWS credentials):\n")
	fmt.Fprintf(w, "  export AWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n", st.AWS.Moto.Endpoint, localaws.Region)
	fmt.Fprintf(w, "  export %s=%s %s=%s\n", pdconfig.EnvTableName, st.Store.Table(), pdconfig.EnvQueueURL, st.QueueURL)
	fmt.Fprintf(w, "  export %s=%s %s=%s\n", pdconfig.EnvSecretPrefix, st.SecretPrefix, pdconfig.EnvWebhookSecretARN, st.AWS.Stack.Secrets["WebhookSecret"])
	fmt.Fprintf(w, "  export %s=%s %s=%s\n", pdconfig.EnvTrustpilotAPI, st.TP.URL(), pdconfig.EnvHelpdeskRate, r.opt.HelpdeskRate)
	fmt.Fprintf(w, "  go run ./cmd/pilotdesk status\n")
}

// newReview puts a fresh review, created now, on a random business unit: mostly service
// reviews (synced incrementally), now and then a product review (found by the full scan).
func (r *runner) newReview() {
	r.mu.Lock()
	c := r.conns[r.rng.IntN(len(r.conns))]
	product := r.rng.IntN(4) == 0
	seed := r.rng.Int64()
	r.mu.Unlock()
	now := time.Now().UTC()
	unit := c.c.Trustpilot.BusinessUnitID
	var err error
	id := newID()
	if product {
		rv := trustpilotsim.Generate(unit, 0, 1, now, now, seed).ProductReviews[0]
		rv.ID, rv.CreatedAt = id, now.Format("2006-01-02T15:04:05.000Z")
		err = r.st.TP.PutProductReview(rv)
	} else {
		rv := trustpilotsim.Generate(unit, 1, 0, now, now, seed).ServiceReviews[0]
		rv.ID, rv.CreatedAt, rv.UpdatedAt, rv.CompanyReply = id, now.Format("2006-01-02T15:04:05.000Z"), nil, nil
		err = r.st.TP.PutServiceReview(rv)
	}
	if err != nil {
		r.fail("new review", err)
		return
	}
	r.mu.Lock()
	if product {
		c.product[id] = true
	} else {
		c.service[id] = true
	}
	r.mu.Unlock()
	r.log.Info("new review on Trustpilot", "connection_id", c.c.ID, "review_id", id, "product", product)
}

// newID is a fresh Trustpilot-style id (24 lowercase hex).
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// agentReply writes a public agent reply on a random review ticket not answered yet; the
// helpdesk simulator fires its webhook into the local runtime, which posts it to Trustpilot.
func (r *runner) agentReply() {
	type cand struct {
		id int64
		c  *conn
	}
	var cands []cand
	tickets := r.st.HD.Tickets(HelpdeskAccount)
	// A reply the guard held first: the agent writes it again without the phone number.
	for _, t := range tickets {
		r.mu.Lock()
		again := heldOn(t) && !r.rewrote[t.ID]
		r.rewrote[t.ID] = r.rewrote[t.ID] || again
		r.mu.Unlock()
		if again {
			if _, err := r.st.HD.AgentReply(gorgiassim.AgentReply{TicketID: t.ID, BodyText: "Hi, thank you for taking the time to review us. " +
				"We have passed your feedback on to the team; reply to this email and we will look into it."}); err != nil {
				r.fail("agent reply", err)
			}
			return
		}
	}
	r.mu.Lock()
	for _, t := range tickets {
		if c := r.connOf(t.ExternalID); c != nil && !r.replied[t.ID] {
			cands = append(cands, cand{t.ID, c})
		}
	}
	if len(cands) == 0 {
		r.mu.Unlock()
		return
	}
	pick := cands[r.rng.IntN(len(cands))]
	r.replied[pick.id] = true
	pick.c.asked++
	r.mu.Unlock()
	text := fmt.Sprintf("Hi, thank you for taking the time to review us. We have passed your feedback on to the team. — %s support", pick.c.c.ID)
	if pick.c.asked%4 == 2 { // now and then a phone number in the signature: the guard holds it
		text = fmt.Sprintf("Hi, thank you for taking the time to review us. Call me on 020 7946 0958 and I will sort it out. — %s support", pick.c.c.ID)
	}
	if _, err := r.st.HD.AgentReply(gorgiassim.AgentReply{TicketID: pick.id, BodyText: text}); err != nil {
		r.fail("agent reply", err)
		return
	}
	r.log.Info("simulated agent reply", "connection_id", pick.c.c.ID, "ticket_id", pick.id)
}

// heldOn reports whether the public-reply guard held a reply on the ticket (its note says so).
func heldOn(t gorgiassim.Ticket) bool {
	for _, m := range t.Messages {
		if strings.HasPrefix(m.BodyText, "Pilotdesk: this reply was NOT posted to Trustpilot. It contains") {
			return true
		}
	}
	return false
}

// connOf maps a ticket's external_id to the connection whose review it is; r.mu is held.
func (r *runner) connOf(externalID string) *conn {
	id, ok := link.ReviewIDOf(externalID)
	if !ok {
		return nil
	}
	for _, c := range r.conns {
		if c.service[id] || c.product[id] {
			return c
		}
	}
	return nil
}

// sample reads the simulators and the queues.
func (r *runner) sample(ctx context.Context) Summary {
	s := Summary{Elapsed: time.Since(r.start).Round(time.Second), Helpdesk: r.st.HD.Stats(HelpdeskAccount)}
	tickets := r.st.HD.Tickets(HelpdeskAccount)
	replies := r.st.TP.Replies("")
	for _, d := range r.st.HD.Deliveries() {
		switch {
		case d.OK:
			s.Webhooks++
		case d.Done:
			s.WebhookFail++
		}
	}
	r.mu.Lock()
	byConn := map[*conn]int{}
	for _, t := range tickets {
		if c := r.connOf(t.ExternalID); c != nil {
			byConn[c]++
		}
	}
	type snap struct {
		c       *conn
		product []string
	}
	snaps := make([]snap, len(r.conns))
	for i, c := range r.conns {
		cs := ConnSummary{ID: c.c.ID, ServiceReviews: len(c.service), ProductReviews: len(c.product), Tickets: byConn[c], RepliesAsked: c.asked}
		for _, t := range tickets {
			if r.connOf(t.ExternalID) == c && heldOn(t) {
				cs.RepliesHeld++
			}
		}
		repliedTo := map[string]bool{}
		for _, rp := range replies {
			if c.service[rp.ReviewID] {
				repliedTo[rp.ReviewID] = true
			}
		}
		cs.RepliesPosted = len(repliedTo)
		s.Conns = append(s.Conns, cs)
		snaps[i].c = c
		for id := range c.product {
			snaps[i].product = append(snaps[i].product, id)
		}
	}
	s.Ticks, s.TickErrors, s.Jobs, s.JobsFailed, s.Errors = r.ticks, r.tickErrs, r.jobs, r.failed, r.errs
	r.mu.Unlock()
	for i, sn := range snaps { // product replies are conversation comments by a business user
		for _, id := range sn.product {
			pr, ok := r.st.TP.ProductReview(id)
			if !ok || pr.ConversationID == nil {
				continue
			}
			for _, cm := range r.st.TP.Comments(*pr.ConversationID) {
				if cm.Author.Type == "businessUser" {
					s.Conns[i].RepliesPosted++
					break
				}
			}
		}
	}
	var err error
	if s.Waiting, s.InFlight, err = r.st.Depth(ctx); err == nil {
		s.DeadLetters, err = r.st.DeadLetters(ctx)
	}
	if err != nil && ctx.Err() == nil {
		r.fail("queue depth", err)
	}
	return s
}

// summaries samples every Refresh and prints when something changed (or every Heartbeat), so
// the output stays readable in a terminal and in a CI log.
func (r *runner) summaries(ctx context.Context) {
	var last string
	var lastAt time.Time
	t := time.NewTicker(r.opt.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := r.sample(ctx)
		if ctx.Err() != nil {
			return
		}
		key := s.key()
		if key == last && time.Since(lastAt) < r.opt.Heartbeat {
			continue
		}
		last, lastAt = key, time.Now()
		r.print(s)
	}
}

// key is the summary without the clock and the bucket level, to see whether anything moved.
func (s Summary) key() string {
	s.Elapsed, s.Helpdesk.Level = 0, 0
	s.Helpdesk.ByEndpoint, s.Helpdesk.ByStatus = nil, nil
	return fmt.Sprintf("%+v", s)
}

func (r *runner) print(s Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	Format(r.opt.Out, s)
}

// Format writes a summary as plain lines: one per connection, one for the shared parts.
func Format(w io.Writer, s Summary) {
	at := fmt.Sprintf("[%s +%s]", time.Now().Format("15:04:05"), fmtDur(s.Elapsed))
	width := 0
	for _, c := range s.Conns {
		width = max(width, len(c.ID))
	}
	for _, c := range s.Conns {
		fmt.Fprintf(w, "%s %-*s  reviews on Trustpilot %4d (%d service, %d product)  tickets %4d  replies to Trustpilot %d of %d agent replies (%d held by the guard, then rewritten)\n",
			at, width, c.ID, c.ServiceReviews+c.ProductReviews, c.ServiceReviews, c.ProductReviews, c.Tickets, c.RepliesPosted, c.RepliesAsked, c.RepliesHeld)
	}
	hd := s.Helpdesk
	fmt.Fprintf(w, "%s queue %d waiting, %d in flight, DLQ %d | helpdesk %d calls, %d × 429 (%d over the limit), peak %d/%d per %s | scheduler ticks %d | worker jobs %d (%d retried) | webhooks %d ok, %d failed",
		at, s.Waiting, s.InFlight, s.DeadLetters, hd.Requests, hd.Served429, hd.Throttled, hd.MaxInWindow, hd.RateCalls, hd.RateWindow,
		s.Ticks, s.Jobs, s.JobsFailed, s.Webhooks, s.WebhookFail)
	if n := s.TickErrors + s.Errors; n > 0 {
		fmt.Fprintf(w, " | %d errors (see the log)", n)
	}
	fmt.Fprintln(w)
}

func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
