package trustpilot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// Two Lambda instances (their own in-process caches, one shared store) find the token expired
// at the same moment. Refresh tokens rotate, so a second refresh with the spent token would be
// refused as invalid_grant and look like a connection needing re-authorisation: the store's
// lease lets one refresh while the other waits for its token.
func TestConcurrentRefreshNeverLooksLikeReauth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{TokenLifetime: time.Hour, RefreshWindow: time.Minute})
	rt0, err := e.sim.IssueRefreshToken(acmeUnit)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New().WithClock(time.Now) // leases on the wall clock; tokens on the sim's
	var _ TokenLocker = st
	creds := acmeCreds
	creds.RefreshToken = rt0
	ctx := context.Background()
	for round := range 5 {
		var clients []*Client
		for range 4 {
			clients = append(clients, isolate(e.client(t, func(c *Config) { c.Credentials = creds; c.Tokens = st; c.TokenMargin = time.Minute })))
		}
		start := make(chan struct{})
		errc := make(chan error, len(clients))
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				<-start
				errc <- c.Check(ctx)
			})
		}
		close(start)
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		e.clock.Advance(2 * time.Hour) // every cached token expires before the next round
	}
	if n := e.sim.Calls("refresh"); n != 5 {
		t.Errorf("refresh calls = %d, want one per round (5)", n)
	}
}
