// Package connector builds a connection's concrete API clients (Trustpilot and helpdesk) from
// its stored record and its credentials in the secret store, so the worker, the webhook and the
// CLI open connections the same way. It imports no use case: pkg/app adapts its clients to the
// use cases' interfaces.
package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// Secrets reads a connection's credentials.
type Secrets interface {
	Connection(ctx context.Context, connID string) (connection.Secrets, error)
}

// Factory opens connections.
type Factory struct {
	Secrets       Secrets
	Tokens        trustpilot.TokenStore // shared token cache (the store)
	Ledger        trustpilot.CallLedger // Trustpilot calls counted across instances (the store); nil: per process
	TrustpilotURL string
	HelpdeskRate  RateLimit
	// Slots schedules each helpdesk account's calls across every instance (the store); with it
	// every process may use the whole allowance (HelpdeskRate.Share is ignored).
	Slots gorgias.Slots
	// TrustpilotRate is Trustpilot's rate limit per API key (zero: the client's default, 833
	// per 5 minutes), counted in Ledger when set.
	TrustpilotRate TrustpilotRate
	// TrustpilotAttempts bounds attempts per Trustpilot call (0: the client's default). The
	// webhook uses 1: it must answer fast, and the queue retries instead.
	TrustpilotAttempts int
	HTTPClient         *http.Client
	Log                *slog.Logger
}

// Clients are one connection's API clients.
type Clients struct {
	Connection connection.Connection // with secrets
	Trustpilot *trustpilot.Client
	Helpdesk   *gorgias.Client
}

// Open reads the connection's credentials and builds its clients.
func (f *Factory) Open(ctx context.Context, c connection.Connection) (*Clients, error) {
	sec, err := f.Secrets.Connection(ctx, c.ID)
	if errs.Is(err, errs.NotExist) {
		// No credentials stored: a human must put the connection again.
		return nil, errs.E(errs.Reauth, "connector.Open", fmt.Errorf("connection %s has no stored credentials: run `pilotdesk connection put`", c.ID))
	}
	if err != nil {
		return nil, err
	}
	return f.OpenWith(c.WithSecrets(sec))
}

// OpenWith builds the clients of a connection that carries its credentials (a connection not
// saved yet: `connection new` checks them before writing anything).
func (f *Factory) OpenWith(full connection.Connection) (*Clients, error) {
	tp, err := f.trustpilotClient(full)
	if err != nil {
		return nil, err
	}
	hd, err := f.helpdeskClient(full)
	if err != nil {
		return nil, err
	}
	return &Clients{Connection: full, Trustpilot: tp, Helpdesk: hd}, nil
}

func (f *Factory) trustpilotClient(full connection.Connection) (*trustpilot.Client, error) {
	tp, err := trustpilot.New(trustpilot.Config{
		BaseURL:      f.TrustpilotURL,
		ConnectionID: full.ID,
		Credentials: trustpilot.Credentials{
			APIKey: full.Trustpilot.APIKey, APISecret: full.Trustpilot.APISecret, RefreshToken: full.Trustpilot.RefreshToken,
			BusinessUnitID: full.Trustpilot.BusinessUnitID, BusinessUserID: full.Trustpilot.BusinessUserID,
		},
		Tokens:       f.Tokens,
		Ledger:       f.Ledger,
		BudgetCalls:  f.TrustpilotRate.Calls,
		BudgetWindow: f.TrustpilotRate.Window,
		MaxAttempts:  f.TrustpilotAttempts,
		HTTPClient:   f.HTTPClient,
		Logger:       f.Log.With("connection_id", full.ID),
	})
	if err != nil {
		return nil, fmt.Errorf("connection %s: trustpilot client: %w", full.ID, err)
	}
	return tp, nil
}

func (f *Factory) helpdeskClient(full connection.Connection) (*gorgias.Client, error) {
	acct := gorgias.Account{BaseURL: full.Helpdesk.URL, Email: full.Helpdesk.Email, APIKey: full.Helpdesk.APIKey}
	rate := f.HelpdeskRate
	if f.Slots != nil {
		rate.Share = 1 // the shared schedule keeps the account's limit: any process may use all of it
	}
	calls, window := rate.orDefault()
	hd, err := gorgias.New(acct, gorgias.Options{
		HTTPClient: f.HTTPClient,
		Logger:     f.Log.With("connection_id", full.ID),
		Limiter:    gorgias.SharedLimiterWith(acct, calls, window),
		Slots:      f.Slots, SlotCalls: calls, SlotWindow: window,
	})
	if err != nil {
		return nil, fmt.Errorf("connection %s: helpdesk client: %w", full.ID, err)
	}
	return hd, nil
}

// TrustpilotRate is a Trustpilot rate limit: Calls per Window.
type TrustpilotRate struct {
	Calls  int
	Window time.Duration
}

// RateLimit is the helpdesk's call allowance per account, and the share of it this function
// may use: the worker and the webhook run in different processes, so each keeps to its share
// and together they stay under the account's limit.
type RateLimit struct {
	Calls  int
	Window time.Duration
	Share  float64 // 0 < Share <= 1; 0 means all of it
}

// Shares of the helpdesk allowance: sync takes most; replies are few but must not wait.
const (
	WorkerShare  = 0.75
	WebhookShare = 0.25
)

func (r RateLimit) orDefault() (int, time.Duration) {
	calls, window := r.Calls, r.Window
	if calls <= 0 || window <= 0 {
		calls, window = gorgias.DefaultCalls, gorgias.DefaultWindow
	}
	if r.Share > 0 && r.Share < 1 {
		calls = max(1, int(float64(calls)*r.Share))
	}
	return calls, window
}

// CheckTrustpilot fetches a token and makes one cheap call with the stored credentials.
func (f *Factory) CheckTrustpilot(ctx context.Context, c connection.Connection) error {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return err
	}
	return cl.Trustpilot.Check(ctx)
}

// TrustpilotReplyAuthors is CheckTrustpilot that also says which business users wrote the
// latest replies on Trustpilot (trustpilot.Client.ReplyAuthors).
func (f *Factory) TrustpilotReplyAuthors(ctx context.Context, c connection.Connection) ([]string, error) {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	return cl.Trustpilot.ReplyAuthors(ctx)
}

// CheckHelpdesk makes one cheap authenticated helpdesk call with the stored credentials.
func (f *Factory) CheckHelpdesk(ctx context.Context, c connection.Connection) error {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return err
	}
	_, _, err = cl.Helpdesk.ListIntegrations(ctx, "")
	return err
}

// CheckHelpdeskWith checks helpdesk credentials the connection carries, before they are saved.
func (f *Factory) CheckHelpdeskWith(ctx context.Context, full connection.Connection) error {
	hd, err := f.helpdeskClient(full)
	if err != nil {
		return err
	}
	_, _, err = hd.ListIntegrations(ctx, "")
	return err
}

// CheckTrustpilotWith checks Trustpilot credentials and business unit the connection carries.
func (f *Factory) CheckTrustpilotWith(ctx context.Context, full connection.Connection) error {
	cl, err := f.OpenWith(full)
	if err != nil {
		return err
	}
	return cl.Trustpilot.Check(ctx)
}

// FindBusinessUnit finds a domain's Trustpilot business unit with the connection's API key.
func (f *Factory) FindBusinessUnit(ctx context.Context, full connection.Connection, domain string) (trustpilot.BusinessUnit, error) {
	if full.Trustpilot.BusinessUnitID == "" {
		// The public find call needs only the API key; the client wants a unit to be built.
		full.Trustpilot.BusinessUnitID = "000000000000000000000000"
	}
	tp, err := f.trustpilotClient(full)
	if err != nil {
		return trustpilot.BusinessUnit{}, err
	}
	return tp.FindBusinessUnit(ctx, domain)
}

// ExchangeCode turns a Trustpilot login's code into the connection's refresh token (the access
// token goes to the shared token store).
func (f *Factory) ExchangeCode(ctx context.Context, c connection.Connection, code, redirectURI string) (string, error) {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return "", err
	}
	tok, err := cl.Trustpilot.ExchangeCode(ctx, code, redirectURI)
	return tok.RefreshToken, err
}

// HelpdeskIntegrations lists the integrations of the connection's helpdesk account (the
// credentials' check, and what doctor looks for).
func (f *Factory) HelpdeskIntegrations(ctx context.Context, c connection.Connection) ([]gorgias.Integration, error) {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	return cl.Helpdesk.AllIntegrations(ctx)
}

// EnsureIntegration makes the connection's helpdesk account hold the HTTP integration in
// (created, updated or unchanged; see gorgias.EnsureHTTPIntegration).
func (f *Factory) EnsureIntegration(ctx context.Context, c connection.Connection, in gorgias.NewHTTPIntegration) (gorgias.Integration, string, error) {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return gorgias.Integration{}, "", err
	}
	return cl.Helpdesk.EnsureHTTPIntegration(ctx, in)
}

// EnsureWidget makes the account hold the sidebar widget bound to the integration.
func (f *Factory) EnsureWidget(ctx context.Context, c connection.Connection, integrationID int64, template json.RawMessage) (gorgias.Widget, string, error) {
	cl, err := f.Open(ctx, c)
	if err != nil {
		return gorgias.Widget{}, "", err
	}
	return cl.Helpdesk.EnsureWidget(ctx, integrationID, template)
}
