// Package synce2e runs review sync end to end: the real bootstraps under the Lambda runtime
// emulator, moto, and both simulators, asserting exact counts in the helpdesk simulator.
//
// A stack is heavy (moto, one emulator per function, the simulators), so the package starts one
// per set of options, on first use, and TestMain stops them all; the bootstraps are built once,
// into one directory every stack shares. Each scenario on a stack is isolated by its own names:
// its own helpdesk account, Trustpilot business units and connections (derived from the test's
// name, so they do not depend on which tests ran before), faults scoped to it and cleared after
// it, its connections deleted after it so later scheduler ticks leave them alone, and its log
// assertions on the output captured since it began.
package synce2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// system is one scenario on a started stack: two connections sharing one helpdesk account.
type system struct {
	*devstack.Stack
	log      *localrun.LogBuffer // the stack's whole output
	mark     int                 // where this scenario's output begins in log
	account  string              // the scenario's helpdesk account
	units    []string
	conns    []connection.Connection
	fixtures []trustpilotsim.Fixture
}

// output is what the functions printed since the scenario began.
func (s *system) output() string { return s.log.String()[s.mark:] }

// hdFault adds a helpdesk fault that only the scenario's account meets.
func (s *system) hdFault(f gorgiassim.Fault) int {
	f.Account = s.account
	return s.HD.AddFault(f)
}

const helpdeskRate = "40/2s"

// shared is one started stack, for every scenario with the same options.
type shared struct {
	once sync.Once
	st   *devstack.Stack
	log  *localrun.LogBuffer
	err  error
	// use is held by the scenario running on the stack: scenarios of one stack run one at a
	// time (they share its queue and logs), scenarios of different stacks in parallel.
	use sync.Mutex
}

// startMu serialises stack starts: they build into one shared directory.
var startMu sync.Mutex

var (
	mu       sync.Mutex
	stacks   = map[string]*shared{} // by options
	runs     = map[string]int{}     // scenarios started, by test name (-count reruns them)
	buildDir string                 // the bootstraps, built once for every stack
)

func TestMain(m *testing.M) {
	// PILOTDESK_BUILD_DIR keeps the bootstraps after the run (with GO_LDFLAGS= they keep their
	// symbols, which perf needs to name a profile's functions).
	dir, keep := os.Getenv("PILOTDESK_BUILD_DIR"), true
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "synce2e-build-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		keep = false
	}
	buildDir = dir
	code := m.Run()
	mu.Lock()
	for _, sh := range stacks {
		if sh.st != nil {
			sh.st.Stop()
		}
	}
	mu.Unlock()
	if !keep {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// withDefaults fills in the options every stack of the package has, so that equal stacks get
// one key.
func withDefaults(opt devstack.Options) devstack.Options {
	env := map[string]string{"HELPDESK_RATE_LIMIT": helpdeskRate}
	for k, v := range opt.Env {
		env[k] = v
	}
	opt.Env = env
	if opt.Helpdesk.RateCalls == 0 {
		opt.Helpdesk.RateCalls, opt.Helpdesk.RateWindow = 40, 2*time.Second
	}
	opt.BuildDir = buildDir
	return opt
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// stack returns the running stack for opt, starting it on first use.
func stack(t testing.TB, opt devstack.Options) (*devstack.Stack, *localrun.LogBuffer) {
	t.Helper()
	if opt.Log != nil || opt.Name != "" {
		t.Fatal("a shared stack has its own name and log")
	}
	opt = withDefaults(opt)
	key := fmt.Sprintf("%+v", opt) // maps print sorted
	mu.Lock()
	sh, ok := stacks[key]
	if !ok {
		sh = &shared{log: &localrun.LogBuffer{}}
		stacks[key] = sh
	}
	mu.Unlock()
	sh.once.Do(func() {
		startMu.Lock()
		defer startMu.Unlock()
		opt.Name = fmt.Sprintf("synce2e-%08x", uint32(hash(key)))
		opt.Log = sh.log
		if sh.st, sh.err = devstack.Start(context.Background(), opt); sh.err != nil {
			sh.err = fmt.Errorf("%w\n%s", sh.err, tail(sh.log.String(), 4000))
		}
	})
	if sh.err != nil {
		t.Fatalf("start: %v", sh.err)
	}
	sh.use.Lock()
	t.Cleanup(sh.use.Unlock) // registered first, so it runs after the scenario's own cleanup
	return sh.st, sh.log
}

// start opens a scenario on the package's stack for opt, with nService and nProduct reviews
// split over its two connections.
func start(t *testing.T, opt devstack.Options, nService, nProduct int) *system {
	t.Helper()
	st, lb := stack(t, opt)
	return open(t, st, lb, true, nService, nProduct)
}

// startB starts a stack of the benchmark's (or test's) own (a cold start is measured, or the
// table must hold only this scenario), stopped by the caller; only the build is shared.
func startB(b testing.TB, opt devstack.Options, nService, nProduct int) *system {
	b.Helper()
	lb := &localrun.LogBuffer{}
	opt = withDefaults(opt)
	opt.Log = lb
	st, err := devstack.Start(context.Background(), opt)
	if err != nil {
		b.Fatalf("start: %v\n%s", err, lb.String())
	}
	return open(b, st, lb, false, nService, nProduct)
}

// open sets up a scenario's names, fixtures and connections on st. On a shared stack, what the
// scenario leaves behind (its connections, faults, hooks) is removed when it ends.
func open(t testing.TB, st *devstack.Stack, lb *localrun.LogBuffer, isShared bool, nService, nProduct int) *system {
	t.Helper()
	ctx := context.Background()
	mu.Lock()
	run := runs[t.Name()]
	runs[t.Name()]++
	mu.Unlock()
	if isShared {
		// A scenario that failed may have left jobs behind; its connections are gone, so they
		// are dropped. Nothing of it may run inside this one.
		if waiting, inFlight, err := st.Depth(ctx); err != nil {
			t.Fatal(err)
		} else if waiting+inFlight > 0 {
			if _, err := st.Drain(ctx, 5*time.Minute); err != nil {
				t.Fatalf("draining what an earlier scenario left: %v", err)
			}
		}
	}
	id := fmt.Sprintf("%08x%02x", uint32(hash(t.Name())), run)
	s := &system{Stack: st, log: lb, mark: lb.Len(), account: "acme-" + id}
	hdEmail, hdKey := "api@"+s.account+".test", "sim-api-key-"+id
	if err := st.HD.AddAccount(gorgiassim.AccountConfig{ID: s.account, Email: hdEmail, APIKey: hdKey}); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Now().Add(-time.Hour)
	for i := 0; i < 2; i++ {
		unit := fmt.Sprintf("5f0c%s%010x", id, i+1)
		fx := trustpilotsim.Generate(unit, nService/2, nProduct/2, from, to, int64(i+1))
		key, secret := fmt.Sprintf("tp-key-%s-%d", id, i), fmt.Sprintf("tp-secret-%s-%d", id, i)
		user := fmt.Sprintf("5f0d%s%010x", id, i+1)
		fx.BusinessUnits = []trustpilotsim.BusinessUnit{{ID: unit, Name: fmt.Sprintf("shop%d.example", i), DisplayName: fmt.Sprintf("Shop %d", i),
			APIKey: key, APISecret: secret, BusinessUsers: []trustpilotsim.BusinessUser{{ID: user, Name: "Agent", Email: fmt.Sprintf("agent%d@shop%d.example", i, i), Password: "agent-password"}}}}
		if err := st.TP.Load(fx); err != nil {
			t.Fatal(err)
		}
		s.units = append(s.units, unit)
		s.fixtures = append(s.fixtures, fx)
		c := connection.Connection{
			ID:       fmt.Sprintf("%s-shop-%d", id, i),
			Helpdesk: connection.Helpdesk{URL: st.HD.URL(), Email: hdEmail, APIKey: hdKey},
			// Unlimited: every tick polls, as the scenarios tick seconds apart (pacing has its own).
			Trustpilot:     connection.Trustpilot{BusinessUnitID: unit, BusinessUserID: user, APIKey: key, APISecret: secret, CallsPerYear: new(int64)},
			ReviewKinds:    []review.Kind{review.Service, review.Product},
			Tags:           []string{fmt.Sprintf("shop-%d", i)},
			AnonymousEmail: fmt.Sprintf("reviews@shop%d.example", i),
		}
		if err := st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		s.conns = append(s.conns, c)
	}
	if isShared {
		t.Cleanup(func() {
			st.Runtime.OnReceive = nil
			st.HD.ClearFaults()
			st.TP.ClearFaults()
			for _, c := range s.conns {
				if err := st.Store.DeleteConnection(context.Background(), c.ID, false); err != nil && !errs.Is(err, errs.NotExist) {
					t.Errorf("delete connection %s: %v", c.ID, err)
				}
			}
		})
	}
	return s
}

// tick runs the scheduler once and drains the queue.
func (s *system) tick(t *testing.T, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	if out, err := s.Runtime.Tick(ctx); err != nil {
		t.Fatalf("scheduler: %v %s", err, out)
	}
	if _, err := s.Drain(ctx, timeout); err != nil {
		t.Fatalf("drain: %v\n%s", err, tail(s.output(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
