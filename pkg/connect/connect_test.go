package connect_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connect"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

type fakeSecrets struct{ conn connection.Secrets }

func (f *fakeSecrets) Connection(context.Context, string) (connection.Secrets, error) {
	return f.conn, nil
}
func (f *fakeSecrets) PutConnection(_ context.Context, _ string, s connection.Secrets) error {
	f.conn = s
	return nil
}
func (f *fakeSecrets) Value(context.Context, string) (string, error) { return "signing-key", nil }

type fakeExchange struct{ calls int }

func (f *fakeExchange) ExchangeCode(_ context.Context, _ connection.Connection, code, _ string) (string, error) {
	f.calls++
	if code != "good" {
		return "", errs.E(errs.Invalid, "x", errors.New("refused"))
	}
	return "refresh-1", nil
}

func rig(t testing.TB) (*connect.Service, *fakeSecrets, *fakeExchange) {
	t.Helper()
	st := memstore.New()
	c := connection.Connection{ID: "c1", Helpdesk: connection.Helpdesk{URL: "https://acme.gorgias.com", Email: "o@acme.com"},
		Trustpilot:     connection.Trustpilot{BusinessUnitID: "5f0c00000000000000000001", BusinessUserID: "5f0d00000000000000000001"},
		AnonymousEmail: "r@acme.com"}
	c.ApplyDefaults()
	if err := st.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	sec := &fakeSecrets{conn: connection.Secrets{TrustpilotAPIKey: "app-key", TrustpilotAPISecret: "s"}}
	ex := &fakeExchange{}
	return &connect.Service{Store: st, Secrets: sec, Exchange: ex, AuthURL: "https://auth.example", KeyID: "k"}, sec, ex
}

func TestLoginStateIsSignedExpiringAndSingleUse(t *testing.T) {
	t.Parallel()
	s, sec, ex := rig(t)
	ctx := context.Background()
	to, err := s.Start(ctx, "c1", "https://api.example/connect/trustpilot/callback")
	if err != nil || !strings.HasPrefix(to, "https://auth.example?") || !strings.Contains(to, "client_id=app-key") || !strings.Contains(to, "response_type=code") {
		t.Fatalf("start: %s %v", to, err)
	}
	state, _ := s.Sign(ctx, "c1", time.Now().Add(time.Minute))
	if _, err := s.Callback(ctx, "bad", state, "r"); !errs.Is(err, errs.Invalid) || sec.conn.TrustpilotRefreshTok != "" {
		t.Fatalf("a refused code: %v, stored %q", err, sec.conn.TrustpilotRefreshTok)
	}
	state, _ = s.Sign(ctx, "c1", time.Now().Add(time.Minute))
	if res, err := s.Callback(ctx, "good", state, "r"); err != nil || res.ConnectionID != "c1" || sec.conn.TrustpilotRefreshTok != "refresh-1" || sec.conn.TrustpilotAPIKey != "app-key" {
		t.Fatalf("callback: %+v %v %+v", res, err, sec.conn)
	}
	calls := ex.calls
	expired, _ := s.Sign(ctx, "c1", time.Now().Add(-time.Second))
	for name, st := range map[string]string{"replayed": state, "expired": expired, "forged": state[:len(state)-2] + "AA", "empty": "", "no signature": "abc"} {
		if _, err := s.Callback(ctx, "good", st, "r"); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want errs.Invalid", name, err)
		}
	}
	if ex.calls != calls {
		t.Fatal("a refused state reached Trustpilot")
	}
	if _, err := s.Start(ctx, "nope", "r"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown connection: %v", err)
	}
}

// FuzzCallbackState: the state comes back through anyone's browser; no input panics, and no
// state this stack did not sign (the fuzzer cannot forge the HMAC) reaches the code exchange.
func FuzzCallbackState(f *testing.F) {
	s, _, ex := rig(f)
	f.Add("YzEKMTc5NjE4NDE3NQphMzdkYzU0NmE4Y2I5ZDZmOWYyNTBlNzY.AAyM-cpoPGbLgf3lIteG_AqxFp0UjnW1grtHpJy3p1A") // a real state, its signature changed
	f.Add("abc.def")
	f.Add(strings.Repeat(".", 40))
	f.Fuzz(func(t *testing.T, state string) {
		before := ex.calls
		_, err := s.Callback(context.Background(), "bad", state, "r")
		if err == nil {
			t.Fatalf("state %q accepted with a bad code", state)
		}
		if ex.calls != before {
			t.Fatalf("state %q (not signed here) reached the exchange", state)
		}
	})
}
