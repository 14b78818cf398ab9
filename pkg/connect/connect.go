// Package connect is the use case behind "connect by logging into Trustpilot": the HTTP API
// sends the operator to Trustpilot's login with a signed, expiring state naming the
// connection; Trustpilot sends the browser back with a code, which is exchanged for the
// business user's tokens; the refresh token is stored with the connection's credentials.
package connect

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// StateTTL is how long a login may take from the redirect to the callback.
const StateTTL = 10 * time.Minute

// Store reads connections and spends a state once.
type Store interface {
	GetConnection(ctx context.Context, id string) (connection.Record, error)
	SetReauth(ctx context.Context, id string, needs bool, reason string) error
	MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Secrets holds the connections' credentials and the stack's signing secret.
type Secrets interface {
	Connection(ctx context.Context, connID string) (connection.Secrets, error)
	PutConnection(ctx context.Context, connID string, s connection.Secrets) error
	Value(ctx context.Context, id string) (string, error)
}

// Exchanger turns a login's code into the business user's refresh token for a connection
// (the Trustpilot client; it keeps the access token for the other instances).
type Exchanger interface {
	ExchangeCode(ctx context.Context, c connection.Connection, code, redirectURI string) (refreshToken string, err error)
}

// Service runs the two steps.
type Service struct {
	Store    Store
	Secrets  Secrets
	Exchange Exchanger
	AuthURL  string // Trustpilot's login page (TRUSTPILOT_AUTH_URL)
	KeyID    string // the secret that signs states (the webhook secret)
	Now      func() time.Time
}

// Errors of a callback that cannot connect; all are errs.Invalid (a 400).
var (
	ErrBadState = errors.New("the login link is not valid (forged or damaged): start again with `pilotdesk connection login`")
	ErrExpired  = errors.New("the login link expired: start again with `pilotdesk connection login`")
	ErrReplayed = errors.New("this login was already used: start again with `pilotdesk connection login`")
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start returns where to send the operator's browser: Trustpilot's login for the connection's
// app, coming back to redirectURI with a state naming the connection.
func (s *Service) Start(ctx context.Context, connID, redirectURI string) (string, error) {
	const op = "connect.Start"
	rec, err := s.Store.GetConnection(ctx, connID)
	if errs.Is(err, errs.NotExist) {
		return "", errs.E(errs.Invalid, op, fmt.Errorf("no connection %q: put it first (`pilotdesk connection put`)", connID))
	}
	if err != nil {
		return "", err
	}
	sec, err := s.Secrets.Connection(ctx, rec.Connection.ID)
	if err != nil {
		return "", err
	}
	if sec.TrustpilotAPIKey == "" {
		return "", errs.E(errs.Invalid, op, fmt.Errorf("connection %q has no Trustpilot API key", connID))
	}
	state, err := s.sign(ctx, rec.Connection.ID, s.now().Add(StateTTL))
	if err != nil {
		return "", err
	}
	q := url.Values{"client_id": {sec.TrustpilotAPIKey}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "state": {state}}
	return strings.TrimSuffix(s.AuthURL, "/") + "?" + q.Encode(), nil
}

// Result is what a callback connected.
type Result struct {
	ConnectionID   string
	BusinessUnitID string
}

// Callback checks state (signed by this stack, not expired, not used before), exchanges the
// code and stores the refresh token with the connection's credentials; the connection is
// active again if it needed re-authorising. Nothing is stored when any step fails.
func (s *Service) Callback(ctx context.Context, code, state, redirectURI string) (Result, error) {
	const op = "connect.Callback"
	connID, nonce, err := s.verify(ctx, state)
	if err != nil {
		return Result{}, errs.E(errs.Invalid, op, err)
	}
	if strings.TrimSpace(code) == "" {
		return Result{}, errs.E(errs.Invalid, op, errors.New("no code came back from the Trustpilot login (was it cancelled?)"))
	}
	first, err := s.Store.MarkOnce(ctx, "connect-state#"+nonce, 2*StateTTL)
	if err != nil {
		return Result{}, err
	}
	if !first {
		return Result{}, errs.E(errs.Invalid, op, ErrReplayed)
	}
	rec, err := s.Store.GetConnection(ctx, connID)
	if err != nil {
		return Result{}, err
	}
	refresh, err := s.Exchange.ExchangeCode(ctx, rec.Connection, code, redirectURI)
	if err != nil {
		return Result{}, err
	}
	sec, err := s.Secrets.Connection(ctx, connID)
	if err != nil {
		return Result{}, err
	}
	sec.TrustpilotRefreshTok = refresh
	if err := s.Secrets.PutConnection(ctx, connID, sec); err != nil {
		return Result{}, err
	}
	if rec.NeedsReauth {
		if err := s.Store.SetReauth(ctx, connID, false, ""); err != nil {
			return Result{}, err
		}
	}
	return Result{ConnectionID: connID, BusinessUnitID: rec.Connection.Trustpilot.BusinessUnitID}, nil
}

// A state is "<connection>.<expiry unix>.<nonce>" in base64url, a dot, and its HMAC-SHA256
// under the stack's secret.
func (s *Service) sign(ctx context.Context, connID string, exp time.Time) (string, error) {
	key, err := s.Secrets.Value(ctx, s.KeyID)
	if err != nil {
		return "", err
	}
	var n [12]byte
	if _, err := rand.Read(n[:]); err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte(connID + "\n" + strconv.FormatInt(exp.Unix(), 10) + "\n" + hex.EncodeToString(n[:])))
	return payload + "." + mac(key, payload), nil
}

func (s *Service) verify(ctx context.Context, state string) (connID, nonce string, err error) {
	payload, sig, ok := strings.Cut(state, ".")
	if !ok || payload == "" || len(state) > 1024 {
		return "", "", ErrBadState
	}
	key, err := s.Secrets.Value(ctx, s.KeyID)
	if err != nil {
		return "", "", err
	}
	if !hmac.Equal([]byte(sig), []byte(mac(key, payload))) {
		return "", "", ErrBadState
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", "", ErrBadState
	}
	parts := strings.Split(string(raw), "\n")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", "", ErrBadState
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", "", ErrBadState
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return "", "", ErrExpired
	}
	return parts[0], parts[2], nil
}

func mac(key, payload string) string {
	h := hmac.New(sha256.New, []byte("pilotdesk-connect-state\x00"+key))
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Sign is the state for connID expiring at exp (tests forge expired ones with it).
func (s *Service) Sign(ctx context.Context, connID string, exp time.Time) (string, error) {
	return s.sign(ctx, connID, exp)
}
