package trustpilot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/backoff"
)

// The seed fixture's units and users (lab/trustpilotsim/testdata/seed.json).
const (
	acmeUnit   = "5f0c0000000000000000a001"
	globexUnit = "5f0c0000000000000000b002"
	acmeUser   = "5f0d0000000000000000c001"
	globexUser = "5f0d0000000000000000d001"
)

var acmeCreds = Credentials{APIKey: "acme-key", APISecret: "acme-secret", BusinessUnitID: acmeUnit, BusinessUserID: acmeUser}

// clock is a settable clock shared by the simulator and the client under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memStore is the TokenStore of these tests; it counts saves.
type memStore struct {
	mu    sync.Mutex
	toks  map[string]Token
	saves int
}

var _ TokenStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{toks: map[string]Token{}} }

func (m *memStore) LoadToken(_ context.Context, id string) (Token, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.toks[id]
	return t, ok, nil
}

func (m *memStore) SaveToken(_ context.Context, id string, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.toks[id] = t
	m.saves++
	return nil
}

func (m *memStore) get(id string) Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.toks[id]
}

type env struct {
	sim   *trustpilotsim.Sim
	url   string
	clock *clock
}

// newEnv starts a simulator seeded with the default fixture plus gen, with a settable clock.
func newEnv(t testing.TB, opts trustpilotsim.Options, gen ...trustpilotsim.Fixture) *env {
	t.Helper()
	c := newClock()
	opts.Now = c.Now
	s := trustpilotsim.New(opts)
	if err := s.Load(trustpilotsim.DefaultFixture()); err != nil {
		t.Fatal(err)
	}
	for _, f := range gen {
		if err := s.Load(f); err != nil {
			t.Fatal(err)
		}
	}
	url, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &env{sim: s, url: url, clock: c}
}

// client builds a client for the env with fast retries; mod adjusts the config.
func (e *env) client(t testing.TB, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL:      e.url,
		ConnectionID: t.Name(),
		Credentials:  acmeCreds,
		Backoff:      backoff.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		CallTimeout:  5 * time.Second,
		Now:          e.clock.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// isolate gives c its own in-process token cache, as if it ran in another Lambda instance.
func isolate(c *Client) *Client {
	c.tokens = &tokenSource{sem: make(chan struct{}, 1)}
	return c
}
