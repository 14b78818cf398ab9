// Package synce2e runs review sync end to end: the real bootstraps under the Lambda runtime
// emulator, moto, and both simulators, asserting exact counts in the helpdesk simulator.
package synce2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// system is one started stack with two connections sharing one helpdesk account.
type system struct {
	*devstack.Stack
	log      *logBuf
	conns    []connection.Connection
	fixtures []trustpilotsim.Fixture
}

const (
	hdEmail = "api@acme.test"
	hdKey   = "sim-api-key"
)

func unitID(i int) string { return fmt.Sprintf("5f0c%020x", i+1) }
func userID(i int) string { return fmt.Sprintf("5f0d%020x", i+1) }

func start(t *testing.T, opt devstack.Options, nService, nProduct int) *system {
	t.Helper()
	return startTB(t, opt, nService, nProduct)
}

func startB(b *testing.B, opt devstack.Options, nService, nProduct int) *system {
	b.Helper()
	return startTB(b, opt, nService, nProduct)
}

func startTB(t testing.TB, opt devstack.Options, nService, nProduct int) *system {
	t.Helper()
	ctx := context.Background()
	lb := &logBuf{}
	opt.Log = lb
	if opt.Name == "" {
		opt.Name = strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	}
	if opt.Env == nil {
		opt.Env = map[string]string{}
	}
	if _, ok := opt.Env["HELPDESK_RATE_LIMIT"]; !ok {
		opt.Env["HELPDESK_RATE_LIMIT"] = "40/2s"
	}
	if opt.Helpdesk.RateCalls == 0 {
		opt.Helpdesk.RateCalls, opt.Helpdesk.RateWindow = 40, 2*time.Second
	}
	opt.Helpdesk.Accounts = []gorgiassim.AccountConfig{{ID: "acme", Email: hdEmail, APIKey: hdKey}}
	st, err := devstack.Start(ctx, opt)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, lb.String())
	}
	t.Cleanup(st.Stop)
	s := &system{Stack: st, log: lb}
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Now().Add(-time.Hour)
	for i := 0; i < 2; i++ {
		fx := trustpilotsim.Generate(unitID(i), nService/2, nProduct/2, from, to, int64(i+1))
		fx.BusinessUnits = []trustpilotsim.BusinessUnit{{ID: unitID(i), Name: fmt.Sprintf("shop%d.example", i), DisplayName: fmt.Sprintf("Shop %d", i),
			APIKey: fmt.Sprintf("tp-key-%d", i), APISecret: fmt.Sprintf("tp-secret-%d", i),
			BusinessUsers: []trustpilotsim.BusinessUser{{ID: userID(i), Name: "Agent"}}}}
		if err := st.TP.Load(fx); err != nil {
			t.Fatal(err)
		}
		s.fixtures = append(s.fixtures, fx)
		c := connection.Connection{
			ID:             fmt.Sprintf("shop-%d", i),
			Helpdesk:       connection.Helpdesk{URL: st.HD.URL(), Email: hdEmail, APIKey: hdKey},
			Trustpilot:     connection.Trustpilot{BusinessUnitID: unitID(i), BusinessUserID: userID(i), APIKey: fmt.Sprintf("tp-key-%d", i), APISecret: fmt.Sprintf("tp-secret-%d", i)},
			ReviewKinds:    []review.Kind{review.Service, review.Product},
			Tags:           []string{fmt.Sprintf("shop-%d", i)},
			AnonymousEmail: fmt.Sprintf("reviews@shop%d.example", i),
		}
		if err := st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		s.conns = append(s.conns, c)
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
		t.Fatalf("drain: %v\n%s", err, tail(s.log.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
