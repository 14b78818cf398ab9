package synce2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/pkg/connect"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
)

// Issue 14, connect by logging into Trustpilot, through the real webhook bootstrap: the CLI's
// link redirects to the simulator's login with a signed state; the login sends the browser back
// with a code; the callback stores the business user's refresh token and says what it
// connected; the same callback again (replayed), a forged state and an expired one are 400 and
// store nothing.
func TestConnectByLoggingIntoTrustpilot(t *testing.T) {
	s := start(t, devstack.Options{}, 0, 0)
	ctx := context.Background()
	c := s.conns[0]
	base := strings.TrimSuffix(s.WebhookURL, "/helpdesk/events")
	out := strings.Fields(s.cliWith(t, func(o *cliOpts) { o.apiURL = base }, "connection", "login", c.ID))
	if len(out) == 0 || !strings.HasPrefix(out[0], base+"/connect/trustpilot?connection=") || !strings.Contains(strings.Join(out, " "), base+"/connect/trustpilot/callback") {
		t.Fatalf("connection login printed %q", out)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		r, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		return r, string(b)
	}
	r, _ := get(out[0])
	login, err := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(login.String(), s.TP.URL()) || login.Query().Get("client_id") != c.Trustpilot.APIKey ||
		login.Query().Get("redirect_uri") != base+"/connect/trustpilot/callback" || login.Query().Get("state") == "" {
		t.Fatalf("start: %d → %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r, body := get(login.String()); r.StatusCode != 200 || !strings.Contains(body, "<form") {
		t.Fatalf("login page: %d %s", r.StatusCode, body)
	}
	form := url.Values{}
	for k := range login.Query() {
		form.Set(k, login.Query().Get(k))
	}
	form.Set("email", "agent0@shop0.example")
	form.Set("password", "agent-password")
	lr, err := browser.PostForm(s.TP.URL()+login.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	lr.Body.Close()
	callback := lr.Header.Get("Location")
	if lr.StatusCode != http.StatusFound || !strings.HasPrefix(callback, base+"/connect/trustpilot/callback?") {
		t.Fatalf("after the login: %d → %s", lr.StatusCode, callback)
	}
	// Read afresh each time: a secrets manager caches what it read for minutes.
	creds := func() (connection.Secrets, error) {
		return secrets.New(secretsmanager.NewFromConfig(s.AWS.AWS), s.SecretPrefix).Connection(ctx, c.ID)
	}
	before, err := creds()
	if err != nil || before.TrustpilotRefreshTok != "" {
		t.Fatalf("a refresh token before the login: %v", err)
	}
	if r, body := get(callback); r.StatusCode != 200 || !strings.Contains(body, "Connected") || !strings.Contains(body, c.ID) {
		t.Fatalf("callback: %d %s", r.StatusCode, body)
	}
	after, err := creds()
	if err != nil || after.TrustpilotRefreshTok == "" || after.TrustpilotAPIKey != before.TrustpilotAPIKey {
		t.Fatalf("after the callback: refresh token stored %v (%v)", after.TrustpilotRefreshTok != "", err)
	}
	// The connection syncs with the login's tokens.
	s.tick(t, 2*time.Minute)
	if rec, err := s.Store.GetConnection(ctx, c.ID); err != nil || rec.NeedsReauth {
		t.Fatalf("after the login the connection needs re-authorising: %v %v", rec.ReauthReason, err)
	}
	stored := after.TrustpilotRefreshTok
	// Replayed, forged, expired: 400, nothing stored.
	svc := &connect.Service{Secrets: s.Secrets, KeyID: s.AWS.Stack.Secrets["WebhookSecret"]}
	expired, err := svc.Sign(ctx, c.ID, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(callback)
	forged := strings.Replace(cb.Query().Get("state"), ".", ".x", 1)
	for name, state := range map[string]string{"replayed": cb.Query().Get("state"), "forged": forged, "expired": expired, "none": ""} {
		q := url.Values{"code": {cb.Query().Get("code")}, "state": {state}}
		if r, body := get(base + "/connect/trustpilot/callback?" + q.Encode()); r.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Nothing was stored") {
			t.Errorf("%s state: %d %s", name, r.StatusCode, body)
		}
	}
	if now, _ := creds(); now.TrustpilotRefreshTok != stored {
		t.Error("a refused callback changed the stored refresh token")
	}
	if r, _ := get(base + "/connect/trustpilot?connection=no-such-connection"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("login for an unknown connection: %d", r.StatusCode)
	}
}
