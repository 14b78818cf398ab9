// Package trustpilot is Pilotdesk's client for the Trustpilot Business API: it reads a business
// unit's private service and product reviews, normalised into review.Review, and posts the one
// reply Pilotdesk is allowed to make. It owns everything that makes talking to Trustpilot safe to
// run unattended on Lambda: token reuse across instances (Trustpilot answers 429 to early token
// requests), a per-connection call budget, bounded retries, timeouts and response sizes, and
// errors classified with pkg/errs so callers only decide "retry", "skip" or "re-authorise".
//
// The API facts and the decisions for its unverified points are in
// shared/reference/trustpilot-api.md; the §7 decisions are implemented here and in
// lab/trustpilotsim, which tests run against.
package trustpilot

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/loopback"
)

// DefaultBaseURL is Trustpilot's API host.
const DefaultBaseURL = "https://api.trustpilot.com"

// Defaults for Config's knobs.
const (
	DefaultCallTimeout      = 30 * time.Second
	DefaultMaxResponseBytes = 8 << 20 // a page of 100 reviews of 10k characters is ~2 MiB
	DefaultMaxAttempts      = 4
	DefaultTokenMargin      = time.Hour // reference §7.2: reuse the token until an hour before expiry
	DefaultBudgetCalls      = 833       // reference §5.1: at most 833 calls per 5 minutes
	DefaultBudgetWindow     = 5 * time.Minute
	DefaultBudgetMaxWait    = 30 * time.Second
	MaxRetryDelay           = 60 * time.Second // reference §7.6: backoff and Retry-After are capped at 60 s
)

// DefaultBackoff is the retry policy when Config.Backoff is zero.
var DefaultBackoff = backoff.Policy{Base: time.Second, Cap: MaxRetryDelay}

// Config configures a Client. Only ConnectionID and the credentials are required.
type Config struct {
	BaseURL      string // default DefaultBaseURL
	ConnectionID string // names the connection in caches, the budget and the TokenStore
	Credentials  Credentials
	Tokens       TokenStore   // shares tokens across Lambda instances; nil => in-process cache only
	HTTPClient   *http.Client // nil => a client without its own timeout (CallTimeout bounds calls)
	Logger       *slog.Logger // nil => discard

	CallTimeout      time.Duration  // per HTTP attempt, body read included; default DefaultCallTimeout
	MaxResponseBytes int64          // larger bodies are an error; default DefaultMaxResponseBytes
	MaxAttempts      int            // attempts per call for transient failures; default DefaultMaxAttempts
	Backoff          backoff.Policy // delay between attempts without Retry-After; default DefaultBackoff
	MaxRetryAfter    time.Duration  // Retry-After is honoured up to this; default MaxRetryDelay
	TokenMargin      time.Duration  // a token counts as expired this long before its expiry; default DefaultTokenMargin

	// Budget keeps the connection under Trustpilot's rate limit. It is shared by every Client of
	// the same connection in this process (a Lambda instance); BudgetMaxWait bounds how long a
	// call waits for a slot before failing as transient, so a sync job can stop and continue
	// later instead of sleeping through its deadline.
	BudgetCalls   int           // default DefaultBudgetCalls; negative disables the budget
	BudgetWindow  time.Duration // default DefaultBudgetWindow
	BudgetMaxWait time.Duration // default DefaultBudgetMaxWait
	// Ledger, when set, counts the budget across every instance and function instead of per
	// process: the API key's calls (all its connections together) in DynamoDB.
	Ledger CallLedger

	// Now is the clock used for token expiry; nil => time.Now. Tests move it forward.
	Now func() time.Time
}

// Client talks to the Trustpilot API for one connection (one business unit). It is safe for
// concurrent use.
type Client struct {
	base   *url.URL
	cfg    Config
	http   *http.Client
	log    *slog.Logger
	now    func() time.Time
	tokens *tokenSource
	budget *budget
	shared *sharedBudget
}

// New checks cfg and builds a Client. It makes no network call; Check does.
func New(cfg Config) (*Client, error) {
	cfg.BaseURL = cmp.Or(cfg.BaseURL, DefaultBaseURL)
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("trustpilot: invalid BaseURL %q", cfg.BaseURL)
	}
	if base.Scheme == "http" && !loopback.Host(base.Hostname()) {
		// Tokens and secrets travel in headers: plain http only towards a local simulator.
		return nil, fmt.Errorf("trustpilot: BaseURL %q must be https", cfg.BaseURL)
	}
	var missing []string
	if cfg.ConnectionID == "" {
		missing = append(missing, "ConnectionID")
	}
	if cfg.Credentials.APIKey == "" {
		missing = append(missing, "Credentials.APIKey")
	}
	if cfg.Credentials.APISecret == "" {
		missing = append(missing, "Credentials.APISecret")
	}
	if cfg.Credentials.BusinessUnitID == "" {
		missing = append(missing, "Credentials.BusinessUnitID")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("trustpilot: missing %s", strings.Join(missing, ", "))
	}
	if !validPathID(cfg.Credentials.BusinessUnitID) {
		return nil, errors.New("trustpilot: Credentials.BusinessUnitID is not a valid id")
	}
	cfg.CallTimeout = cmp.Or(cfg.CallTimeout, DefaultCallTimeout)
	cfg.MaxResponseBytes = cmp.Or(cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	cfg.MaxAttempts = max(cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts), 1)
	if cfg.Backoff == (backoff.Policy{}) {
		cfg.Backoff = DefaultBackoff
	}
	cfg.Backoff.Cap = min(cmp.Or(cfg.Backoff.Cap, MaxRetryDelay), MaxRetryDelay)
	cfg.MaxRetryAfter = min(cmp.Or(cfg.MaxRetryAfter, MaxRetryDelay), MaxRetryDelay)
	cfg.TokenMargin = cmp.Or(cfg.TokenMargin, DefaultTokenMargin)
	cfg.BudgetCalls = cmp.Or(cfg.BudgetCalls, DefaultBudgetCalls)
	cfg.BudgetWindow = cmp.Or(cfg.BudgetWindow, DefaultBudgetWindow)
	cfg.BudgetMaxWait = cmp.Or(cfg.BudgetMaxWait, DefaultBudgetMaxWait)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("connection", cfg.ConnectionID)
	c := &Client{base: base, cfg: cfg, http: hc, log: log, now: cfg.Now}
	key := base.String() + "\x00" + cfg.ConnectionID
	c.tokens = sharedTokens.get(key)
	switch {
	case cfg.BudgetCalls > 0 && cfg.Ledger != nil:
		c.shared = sharedBudgetFor(cfg.Ledger, LedgerKey(cfg.Credentials.APIKey), cfg.BudgetCalls, cfg.BudgetWindow)
	case cfg.BudgetCalls > 0:
		c.budget = sharedBudgets.get(key, cfg.BudgetCalls, cfg.BudgetWindow)
	}
	return c, nil
}

// BusinessUnitID is the business unit this client reads and replies for.
func (c *Client) BusinessUnitID() string { return c.cfg.Credentials.BusinessUnitID }

// validPathID accepts ids that are safe to put in a URL path. Trustpilot ids are 24 hex, but the
// client does not reject other shapes it did not make (the simulator and future ids may differ);
// it only refuses what would change the path.
func validPathID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
