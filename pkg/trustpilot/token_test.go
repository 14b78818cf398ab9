package trustpilot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

func TestTokenSharedThroughStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	store := newMemStore()
	ctx := context.Background()
	a := isolate(e.client(t, func(c *Config) { c.Tokens = store }))
	b := isolate(e.client(t, func(c *Config) { c.Tokens = store }))
	if err := a.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls("token"); n != 1 {
		t.Errorf("token calls = %d, want 1 (second instance reuses the stored token)", n)
	}
	// Without the store, another instance asks early and Trustpilot refuses: why the store exists.
	c := isolate(e.client(t))
	err := c.Check(ctx)
	if errs.KindOf(err) != errs.Transient || StatusOf(err) != 429 {
		t.Errorf("instance without store: err = %v, want transient 429", err)
	}
	if n := e.sim.Calls("token"); n != 2 {
		t.Errorf("token calls = %d, want 2 (an early token request is not repeated)", n)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	// Slow token answers widen the window in which callers pile up.
	e.sim.AddFault(trustpilotsim.Fault{Path: accessTokenPath, Delay: trustpilotsim.Duration(100 * time.Millisecond)})
	var wg sync.WaitGroup
	errc := make(chan error, 20)
	for range 20 {
		c := e.client(t) // same connection: one process-wide token
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- c.Check(context.Background())
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.Calls("token"); n != 1 {
		t.Errorf("token calls = %d, want 1", n)
	}
}

func TestTokenNotRefreshedEarly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{TokenLifetime: 2 * time.Hour, RefreshWindow: 10 * time.Minute})
	c := e.client(t, func(c *Config) { c.TokenMargin = 10 * time.Minute })
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		tokens  int
	}{
		{0, 1},
		{time.Hour, 1},           // 1h left: the same token
		{49 * time.Minute, 1},    // 11m left: still outside the margin
		{2 * time.Minute, 2},     // 9m left: inside the margin, and the server accepts the request
		{110*time.Minute - 1, 2}, // the new token has just over 10m left
		{3 * time.Hour, 3},       // long expired
		{0, 3},                   // and the newest one is reused
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		if err := c.Check(ctx); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if n := e.sim.Calls("token"); n != s.tokens {
			t.Fatalf("step %d: token calls = %d, want %d", i, n, s.tokens)
		}
	}
}

func TestRefreshTokenRotationPersisted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{TokenLifetime: time.Hour, RefreshWindow: time.Minute})
	rt0, err := e.sim.IssueRefreshToken(acmeUnit)
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	creds := acmeCreds
	creds.RefreshToken = rt0
	mk := func() *Client {
		return isolate(e.client(t, func(c *Config) { c.Credentials = creds; c.Tokens = store; c.TokenMargin = time.Minute }))
	}
	ctx := context.Background()
	seen := map[string]bool{rt0: true}
	for i := range 3 {
		// A fresh instance each round: the chain must continue from the store, not from rt0.
		if err := mk().Check(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		rt := store.get(t.Name()).RefreshToken
		if rt == "" || seen[rt] {
			t.Fatalf("round %d: stored refresh token not rotated", i)
		}
		seen[rt] = true
		e.clock.Advance(2 * time.Hour)
	}
	if n := e.sim.Calls("refresh"); n != 3 {
		t.Errorf("refresh calls = %d, want 3", n)
	}
	if n := e.sim.Calls("token"); n != 0 {
		t.Errorf("client_credentials calls = %d, want 0 for a login-flow connection", n)
	}
}

func TestTokenRefusedMeansReauth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	tests := []struct {
		name  string
		creds Credentials
		grant string
	}{
		{"spent refresh token", Credentials{APIKey: "acme-key", APISecret: "acme-secret", BusinessUnitID: acmeUnit, RefreshToken: "spent-refresh-token"}, "refresh_token"},
		{"wrong secret", Credentials{APIKey: "acme-key", APISecret: "not-the-secret", BusinessUnitID: acmeUnit}, "client_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := e.client(t, func(c *Config) { c.Credentials = tt.creds })
			err := c.Check(context.Background())
			if !errs.Is(err, errs.Reauth) || !errors.Is(err, ErrReauth) {
				t.Fatalf("err = %v, want errs.Reauth wrapping ErrReauth", err)
			}
			var re *ReauthError
			if !errors.As(err, &re) || re.Grant != tt.grant || re.ConnectionID != t.Name() {
				t.Fatalf("ReauthError = %+v", re)
			}
			for _, secret := range []string{tt.creds.APISecret, tt.creds.RefreshToken} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestUnauthorizedRefreshesOnceAndRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("revoked token", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		c := e.client(t)
		if err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
		e.sim.RevokeTokens(acmeUnit)
		if err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
		if tok, calls := e.sim.Calls("token"), e.sim.Calls("list_service_reviews"); tok != 2 || calls != 3 {
			t.Errorf("token calls = %d, list calls = %d; want 2 and 3", tok, calls)
		}
	})
	t.Run("401 again is permanent", func(t *testing.T) {
		t.Parallel()
		// The window equals the lifetime so the simulator never calls the re-request early: the
		// injected 401 stands for a token the server has forgotten.
		e := newEnv(t, trustpilotsim.Options{TokenLifetime: time.Hour, RefreshWindow: time.Hour})
		e.sim.AddFault(trustpilotsim.Fault{Path: "/v1/private/**", Status: 401})
		c := e.client(t, func(c *Config) { c.TokenMargin = time.Minute })
		err := c.Check(ctx)
		if errs.KindOf(err) != errs.Permission || StatusOf(err) != 401 {
			t.Fatalf("err = %v, want permission 401", err)
		}
		if tok, calls := e.sim.Calls("token"), e.sim.Calls("list_service_reviews"); tok != 2 || calls != 2 {
			t.Errorf("token calls = %d, list calls = %d; want 2 and 2", tok, calls)
		}
	})
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	creds := Credentials{APIKey: "key-123", APISecret: "secret-456", BusinessUnitID: acmeUnit, RefreshToken: "rt-789"}
	tok := Token{AccessToken: "at-abc", RefreshToken: "rt-def", ExpiresAt: time.Now()}
	for _, s := range []string{
		fmt.Sprint(creds), fmt.Sprintf("%+v", creds), fmt.Sprintf("%#v", creds),
		fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", []any{creds, tok}),
	} {
		for _, secret := range []string{"key-123", "secret-456", "rt-789", "at-abc", "rt-def"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %q", s, secret)
			}
		}
	}
}

func TestParseTokenResponse(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, body string
		want       time.Duration
		wantErr    bool
	}{
		{"string expires_in", `{"access_token":"a","refresh_token":"r","expires_in":"359999"}`, 359999 * time.Second, false},
		{"number expires_in", `{"access_token":"a","expires_in":3600}`, time.Hour, false},
		{"padded string", `{"access_token":"a","expires_in":" 60 "}`, time.Minute, false},
		{"missing expires_in", `{"access_token":"a"}`, 0, true},
		{"null expires_in", `{"access_token":"a","expires_in":null}`, 0, true},
		{"zero", `{"access_token":"a","expires_in":"0"}`, 0, true},
		{"negative", `{"access_token":"a","expires_in":-5}`, 0, true},
		{"NaN", `{"access_token":"a","expires_in":"NaN"}`, 0, true},
		{"huge", `{"access_token":"a","expires_in":"1e300"}`, 0, true},
		{"no access token", `{"expires_in":"60"}`, 0, true},
		{"not json", `<html>`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseTokenResponse([]byte(tt.body), issued)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && tok.ExpiresAt.Sub(issued) != tt.want {
				t.Errorf("lifetime = %s, want %s", tok.ExpiresAt.Sub(issued), tt.want)
			}
		})
	}
}
