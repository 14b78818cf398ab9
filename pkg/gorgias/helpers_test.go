package gorgias_test

import (
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
)

// startSim starts a simulator for one test.
func startSim(t testing.TB, cfg gorgiassim.Config) *gorgiassim.Server {
	t.Helper()
	if cfg.SendDelay == 0 {
		cfg.SendDelay = 5 * time.Millisecond
	}
	if cfg.DeliveryRetryDelay == 0 {
		cfg.DeliveryRetryDelay = 10 * time.Millisecond
	}
	sim, err := gorgiassim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// account returns the simulator's first account as a client account.
func account(sim *gorgiassim.Server) gorgias.Account {
	a := sim.Accounts()[0]
	return gorgias.Account{BaseURL: sim.URL(), Email: a.Email, APIKey: a.APIKey}
}

// fastOptions keeps retries quick and the limiter out of the way unless a test sets one.
func fastOptions() gorgias.Options {
	return gorgias.Options{
		Limiter:     gorgias.NewLimiter(10000, time.Second),
		Backoff:     backoff.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		Timeout:     5 * time.Second,
		MaxAttempts: 4,
	}
}

func newClient(t testing.TB, sim *gorgiassim.Server, opt gorgias.Options) *gorgias.Client {
	t.Helper()
	c, err := gorgias.New(account(sim), opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
