package trustpilot

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/token"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// Token endpoint paths (reference §1.2). One URL serves every grant; refresh has its own.
const (
	accessTokenPath  = "/v1/oauth/oauth-business-users-for-applications/accesstoken"
	refreshTokenPath = "/v1/oauth/oauth-business-users-for-applications/refresh"
)

// Credentials are a connection's Trustpilot application credentials.
type Credentials struct {
	APIKey         string // the application's API key (client_id)
	APISecret      string // the application's secret (client_secret)
	BusinessUnitID string // the business unit the connection reads and replies for
	BusinessUserID string // the business user replies are posted as (not the unit id: that gives 403)
	// RefreshToken is set only for connections made through the login flow; it starts the
	// refresh_token chain. Empty => the client_credentials grant.
	RefreshToken string
}

// String keeps secrets out of logs and error messages even when a Credentials is printed whole.
func (c Credentials) String() string {
	return fmt.Sprintf("trustpilot.Credentials{BusinessUnitID:%s BusinessUserID:%s APIKey:%s APISecret:%s RefreshToken:%s}",
		c.BusinessUnitID, c.BusinessUserID, token.Mask(c.APIKey), token.Mask(c.APISecret), token.Mask(c.RefreshToken))
}

// GoString covers %#v, which does not use String.
func (c Credentials) GoString() string { return c.String() }

// LogValue covers slog, which does not use String for structs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Token is the cached OAuth token record (pkg/token), redacted when printed.
type Token = token.Token

// TokenStore shares tokens across Lambda instances (the DynamoDB store implements it), so a cold
// start reuses the connection's token instead of requesting one early. ok is false when none
// is stored.
type TokenStore interface {
	LoadToken(ctx context.Context, connectionID string) (tok Token, ok bool, err error)
	SaveToken(ctx context.Context, connectionID string, tok Token) error
}

// TokenLocker lets one Lambda instance at a time refresh a connection's token (the DynamoDB
// store implements it with a lease). With rotating refresh tokens a second, concurrent refresh
// would spend the token the first one just rotated, Trustpilot would answer invalid_grant, and
// the connection would look as if it needed re-authorising.
type TokenLocker interface {
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// refreshLease bounds how long a crashed refresher blocks the others; refreshPoll is how often
// a waiting instance looks for the winner's token.
const (
	refreshLease = 45 * time.Second
	refreshPoll  = 200 * time.Millisecond
)

// ErrReauth is matched (errors.Is) by a ReauthError.
var ErrReauth = errors.New("trustpilot: the connection must be re-authorised")

// ReauthError says Trustpilot refused the connection's credentials or refresh token: no retry can
// help, a human must reconnect the account or fix the key/secret. It is wrapped in an errs.Reauth.
type ReauthError struct {
	ConnectionID string
	Grant        string // "client_credentials" or "refresh_token"
	Status       int
	Err          error // the API error, without secrets
}

func (e *ReauthError) Error() string {
	return fmt.Sprintf("trustpilot: connection %q must be re-authorised (%s grant refused with %d): %v",
		e.ConnectionID, e.Grant, e.Status, e.Err)
}

func (e *ReauthError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrReauth) true.
func (e *ReauthError) Is(target error) bool { return target == ErrReauth }

// tokenSource is the process-wide state of one connection's token. sem is a one-slot semaphore
// rather than a mutex so that waiting callers still honour their context.
type tokenSource struct {
	sem chan struct{}
	mu  sync.Mutex
	tok Token

	ownerOnce sync.Once
	ownerID   string
	unsaved   bool // tok holds a rotated refresh token the store does not have yet
}

// owner names this token source (one per process and connection) in refresh leases; callers
// in one process already share one fetch through sem.
func (ts *tokenSource) owner() string {
	ts.ownerOnce.Do(func() {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		ts.ownerID = "trustpilot-" + hex.EncodeToString(b)
	})
	return ts.ownerID
}

type tokenRegistry struct {
	mu sync.Mutex
	m  map[string]*tokenSource
}

// sharedTokens is the in-process cache: every Client of a connection in one Lambda instance
// shares one token and one in-flight fetch.
var sharedTokens = &tokenRegistry{m: map[string]*tokenSource{}}

func (r *tokenRegistry) get(key string) *tokenSource {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts, ok := r.m[key]
	if !ok {
		ts = &tokenSource{sem: make(chan struct{}, 1)}
		r.m[key] = ts
	}
	return ts
}

func (ts *tokenSource) cached() Token {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.tok
}

func (ts *tokenSource) set(t Token) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.tok = t
}

// accessToken returns a usable access token. stale, when not empty, is a token the API just
// refused with 401: it is replaced even though its expiry has not come.
func (c *Client) accessToken(ctx context.Context, stale string) (string, error) {
	now := c.now()
	if t := c.tokens.cached(); t.ValidAt(now, c.cfg.TokenMargin) && t.AccessToken != stale {
		c.tokens.mu.Lock()
		unsaved := c.tokens.unsaved
		c.tokens.mu.Unlock()
		if unsaved && t.RefreshToken != "" {
			if err := c.saveToken(ctx, t); err != nil {
				return "", errs.E(errs.Transient, "trustpilot.token", fmt.Errorf("saving rotated refresh token: %w", err))
			}
		}
		return t.AccessToken, nil
	}
	select {
	case c.tokens.sem <- struct{}{}:
	case <-ctx.Done():
		return "", errs.E(errs.Transient, "trustpilot.token", ctx.Err())
	}
	defer func() { <-c.tokens.sem }()

	// Whoever held the slot may have fetched the token we were waiting for.
	now = c.now()
	cur := c.tokens.cached()
	if cur.ValidAt(now, c.cfg.TokenMargin) && cur.AccessToken != stale {
		return cur.AccessToken, nil
	}
	// Another Lambda instance may have fetched one: using it avoids an early request (429).
	if st, ok := c.loadStored(ctx); ok {
		if st.ValidAt(now, c.cfg.TokenMargin) && st.AccessToken != stale {
			c.tokens.set(st)
			return st.AccessToken, nil
		}
		if st.RefreshToken != "" && (cur.RefreshToken == "" || st.ExpiresAt.After(cur.ExpiresAt)) {
			cur.RefreshToken = st.RefreshToken
		}
	}
	if locker, ok := c.cfg.Tokens.(TokenLocker); ok {
		release, st, won, err := c.lockRefresh(ctx, locker, stale)
		if err != nil {
			return "", err
		}
		if !won {
			c.tokens.set(st)
			return st.AccessToken, nil
		}
		defer release()
		// The winner before us may have stored its token between our look and our lease.
		if st, ok := c.loadStored(ctx); ok {
			if st.ValidAt(c.now(), c.cfg.TokenMargin) && st.AccessToken != stale {
				c.tokens.set(st)
				return st.AccessToken, nil
			}
			if st.RefreshToken != "" {
				cur.RefreshToken = st.RefreshToken
			}
		}
	}
	// The lease outlives the fetch: no second instance starts with the same refresh token while
	// this one may still be using it.
	fctx, fcancel := context.WithTimeout(ctx, refreshLease-10*time.Second)
	tok, err := c.fetchToken(fctx, cur.RefreshToken)
	fcancel()
	if err != nil {
		// Refresh tokens rotate and token requests are rate limited: when another instance won a
		// race against us, its result is in the store and is the right answer.
		if st, ok := c.loadStored(ctx); ok && st.ValidAt(c.now(), c.cfg.TokenMargin) && st.AccessToken != stale {
			c.tokens.set(st)
			return st.AccessToken, nil
		}
		return "", err
	}
	c.tokens.set(tok)
	if err := c.saveToken(ctx, tok); err != nil && tok.RefreshToken != "" {
		// Losing a rotated refresh token forces a re-authorisation later; fail the call so the
		// next one saves it (the token is kept in memory, marked unsaved), rather than carry on
		// with the newest refresh token in this process only.
		return "", errs.E(errs.Transient, "trustpilot.token", fmt.Errorf("saving rotated refresh token: %w", err))
	}
	return tok.AccessToken, nil
}

// lockRefresh takes the connection's refresh lease. won is false when another instance refreshed
// meanwhile: st is its token. With the lease held, release gives it back.
func (c *Client) lockRefresh(ctx context.Context, locker TokenLocker, stale string) (release func(), st Token, won bool, err error) {
	name := "trustpilot-token#" + c.cfg.ConnectionID
	for {
		ok, err := locker.AcquireLease(ctx, name, c.tokens.owner(), refreshLease)
		if err != nil {
			// Refreshing without the lease could spend a refresh token another instance is
			// rotating: wait for the store instead (the caller retries).
			return nil, Token{}, false, errs.E(errs.Transient, "trustpilot.token", fmt.Errorf("token refresh lease: %w", err))
		}
		if ok {
			return func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
				defer cancel()
				_ = locker.ReleaseLease(rctx, name, c.tokens.owner())
			}, Token{}, true, nil
		}
		select {
		case <-ctx.Done():
			return nil, Token{}, false, errs.E(errs.Transient, "trustpilot.token", fmt.Errorf("waiting for another instance's token refresh: %w", ctx.Err()))
		case <-time.After(refreshPoll):
		}
		if t, ok := c.loadStored(ctx); ok && t.ValidAt(c.now(), c.cfg.TokenMargin) && t.AccessToken != stale {
			return nil, t, false, nil
		}
	}
}

// saveToken persists tok even when the caller's context is ending (the old refresh token is
// spent); a failure leaves the token marked unsaved, and the next call saves it first.
func (c *Client) saveToken(ctx context.Context, tok Token) error {
	if c.cfg.Tokens == nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := c.cfg.Tokens.SaveToken(sctx, c.cfg.ConnectionID, tok)
	c.tokens.mu.Lock()
	c.tokens.unsaved = err != nil
	c.tokens.mu.Unlock()
	if err != nil {
		c.log.Warn("trustpilot: saving token failed", "err", err)
	}
	return err
}

func (c *Client) loadStored(ctx context.Context) (Token, bool) {
	if c.cfg.Tokens == nil {
		return Token{}, false
	}
	t, ok, err := c.cfg.Tokens.LoadToken(ctx, c.cfg.ConnectionID)
	if err != nil {
		c.log.Warn("trustpilot: loading token failed", "err", err)
		return Token{}, false
	}
	return t, ok
}

// fetchToken asks the token endpoint for a new token, by refresh token when the connection has
// one (login flow) and by client_credentials otherwise.
func (c *Client) fetchToken(ctx context.Context, refresh string) (Token, error) {
	const op = "trustpilot.token"
	form := url.Values{}
	grant, path := "client_credentials", accessTokenPath
	if refresh == "" {
		refresh = c.cfg.Credentials.RefreshToken
	}
	if refresh != "" {
		grant, path = "refresh_token", refreshTokenPath
		form.Set("refresh_token", refresh)
	}
	form.Set("grant_type", grant)
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
		[]byte(c.cfg.Credentials.APIKey+":"+c.cfg.Credentials.APISecret)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	issued := c.now()
	body, err := c.call(ctx, request{
		op: op, method: http.MethodPost, path: path, body: []byte(form.Encode()), header: h,
		// A token request changes nothing that a repeat would duplicate, but a 429 here means
		// "too early": repeating it only spends the budget.
		retry: retryNot429,
	})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnauthorized) {
			c.log.Error("trustpilot: token request refused, connection needs re-authorisation",
				"grant", grant, "status", ae.Status, "correlation_id", ae.CorrelationID)
			return Token{}, errs.E(errs.Reauth, op, &ReauthError{
				ConnectionID: c.cfg.ConnectionID, Grant: grant, Status: ae.Status, Err: ae})
		}
		return Token{}, err
	}
	tok, err := ParseTokenResponse(body, issued)
	if err != nil {
		return Token{}, errs.E(errs.Invalid, op, err)
	}
	if tok.RefreshToken == "" {
		// Not every refresh answer repeats the refresh token; the one we hold is still the newest.
		tok.RefreshToken = refresh
	}
	c.log.Debug("trustpilot: token fetched", "grant", grant, "expires_at", tok.ExpiresAt)
	return tok, nil
}

// tokenResponse is the token endpoint's JSON. expires_in is documented as a string but numbers
// are tolerated (reference §7.2).
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
}

// maxTokenLifetime bounds a nonsense expires_in so an expiry never overflows and a token is not
// trusted for years.
const maxTokenLifetime = 366 * 24 * time.Hour

// ParseTokenResponse reads the token endpoint's answer; issued is when the request was sent, so
// the expiry errs on the early side.
func ParseTokenResponse(body []byte, issued time.Time) (Token, error) {
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Token{}, fmt.Errorf("token response: %w", err)
	}
	if r.AccessToken == "" {
		return Token{}, errors.New("token response: access_token missing")
	}
	secs, err := parseExpiresIn(r.ExpiresIn)
	if err != nil {
		return Token{}, fmt.Errorf("token response: %w", err)
	}
	return Token{
		AccessToken:  r.AccessToken,
		RefreshToken: r.RefreshToken,
		ExpiresAt:    issued.Add(time.Duration(secs * float64(time.Second))),
	}, nil
}

func parseExpiresIn(raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, errors.New("expires_in missing")
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, fmt.Errorf("expires_in: %w", err)
		}
		s = strings.TrimSpace(str)
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("expires_in %.20q is not a number", s)
	}
	if secs <= 0 || secs > maxTokenLifetime.Seconds() {
		return 0, fmt.Errorf("expires_in %v out of range", secs)
	}
	return secs, nil
}

// ExchangeCode turns the code Trustpilot's login page gave back (the authorization-code grant,
// reference §1.2) into tokens for this client's connection: the access token is kept where
// every instance finds it (the token store), so nobody asks for another one too early; the
// refresh token is returned for the caller to store with the credentials. redirectURI must be
// the one the login was started with. A refused code is errs.Invalid.
func (c *Client) ExchangeCode(ctx context.Context, code, redirectURI string) (Token, error) {
	const op = "trustpilot.ExchangeCode"
	if strings.TrimSpace(code) == "" || redirectURI == "" {
		return Token{}, errs.E(errs.Invalid, op, errors.New("a code and the redirect URI are required"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.cfg.Credentials.APIKey+":"+c.cfg.Credentials.APISecret)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	issued := c.now()
	body, err := c.call(ctx, request{op: op, method: http.MethodPost, path: accessTokenPath, body: []byte(form.Encode()), header: h, retry: retryNot429})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnauthorized) {
			// A used, expired or foreign code, or the app's key refused: nothing to retry.
			return Token{}, errs.E(errs.Invalid, op, fmt.Errorf("the login's code was refused by Trustpilot (%d)", ae.Status))
		}
		return Token{}, err
	}
	tok, err := ParseTokenResponse(body, issued)
	if err != nil {
		return Token{}, errs.E(errs.Invalid, op, err)
	}
	if tok.RefreshToken == "" {
		return Token{}, errs.E(errs.Invalid, op, errors.New("the answer to the code holds no refresh token"))
	}
	c.tokens.set(tok)
	if c.cfg.Tokens != nil {
		if err := c.saveToken(ctx, tok); err != nil {
			return Token{}, err
		}
	}
	return tok, nil
}
