// Package gorgias is Pilotdesk's client for the Gorgias helpdesk REST API: it creates a ticket for
// a review, finds it again by external_id after a crash, tags it, posts internal notes, reads the
// agent's messages, merges Pilotdesk's part of a customer's custom data, installs the HTTP
// integration that calls Pilotdesk's webhook, and parses that webhook's body.
//
// It owns what makes calling Gorgias safe to run unattended: a per-account rate limiter shared by
// every connection of the account in the process, Retry-After and call-limit headers, capped
// backoff with jitter, per-attempt timeouts and response-size limits, recovery of creates whose
// outcome is unknown, and errors classified with pkg/errs near the call that saw them.
//
// API facts and the decisions taken for unverified points are in
// shared/reference/gorgias-api.md (§9); lab/gorgiassim simulates the same API for tests.
package gorgias

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/loopback"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
)

// Defaults for Options' knobs.
const (
	DefaultTimeout          = 20 * time.Second
	DefaultMaxResponseBytes = 8 << 20 // a ticket with many long messages stays far below
	DefaultMaxAttempts      = 4
	MaxRetryAfter           = 60 * time.Second // reference §9.6: Retry-After is honoured up to 60 s
)

// DefaultBackoff is the retry policy when Options.Backoff is zero.
var DefaultBackoff = backoff.Policy{Base: 500 * time.Millisecond, Cap: 30 * time.Second}

// ErrPastDeadline marks a call given up because its next attempt would start after the caller's
// deadline (a Retry-After longer than the time left): nothing is wrong with the request.
var ErrPastDeadline = errors.New("gorgias: the next attempt would start after the caller's deadline")

// WaitError is ErrPastDeadline with when the call could start (a Retry-After, the account's
// next call slot): a caller continuing later waits until then instead of trying at once.
type WaitError struct {
	Until time.Time
	Err   error
}

func (e *WaitError) Error() string {
	msg := fmt.Sprintf("%v (possible in %s)", ErrPastDeadline, time.Until(e.Until).Round(time.Millisecond))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap gives ErrPastDeadline and the underlying error.
func (e *WaitError) Unwrap() []error { return []error{ErrPastDeadline, e.Err} }

// ErrUncertain marks a failed create whose request may nevertheless have been applied by Gorgias
// (a 5xx, a timeout or a reset after the request was sent). The client already looks such
// creates up before retrying where it can; callers that see it must look up before creating again.
var ErrUncertain = errors.New("gorgias: outcome unknown, the request may have been applied")

// Account is one Gorgias helpdesk account as a connection stores it.
type Account struct {
	BaseURL string // https://<subdomain>.gorgias.com; http only for loopback hosts (tests, local run)
	Email   string // the API user's email: the Basic-auth user name
	APIKey  string // the REST API key: the Basic-auth password; never logged
}

// String leaves the API key out so an Account printed by mistake leaks nothing.
func (a Account) String() string { return fmt.Sprintf("gorgias(%s %s)", a.BaseURL, a.Email) }

// GoString keeps %#v from printing the key.
func (a Account) GoString() string { return a.String() }

// LogValue keeps the key out of structured logs.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", a.BaseURL), slog.String("email", a.Email))
}

// canonicalBaseURL validates BaseURL and returns it as scheme://host[:port].
func canonicalBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("base URL is not a URL")
	}
	if u.User != nil {
		return "", fmt.Errorf("base URL must not carry credentials")
	}
	if u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("base URL %q has no host", u.Redacted())
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
	case scheme == "http" && loopback.Host(u.Hostname()):
	default:
		return "", fmt.Errorf("base URL %q must use https (http only for loopback hosts)", u.Redacted())
	}
	p := strings.TrimSuffix(u.Path, "/")
	if p != "" && p != "/api" {
		return "", fmt.Errorf("base URL %q must have no path", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base URL %q must have no query or fragment", u.Redacted())
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}

// Validate checks the account without calling Gorgias. Errors never contain the key.
func (a Account) Validate() error {
	if _, err := canonicalBaseURL(a.BaseURL); err != nil {
		return errs.E(errs.Invalid, "gorgias.Account", err)
	}
	if strings.TrimSpace(a.Email) == "" {
		return errs.E(errs.Invalid, "gorgias.Account", errors.New("email is required"))
	}
	if a.APIKey == "" {
		return errs.E(errs.Invalid, "gorgias.Account", errors.New("api key is required"))
	}
	return nil
}

// Options tunes a Client. The zero value is production-ready.
type Options struct {
	HTTPClient       *http.Client   // nil => a dedicated client; redirects are never followed
	Logger           *slog.Logger   // nil => discard
	Limiter          *Limiter       // nil => SharedLimiter(acct)
	Timeout          time.Duration  // per attempt, body read included; default DefaultTimeout
	MaxResponseBytes int64          // larger bodies are an error; default DefaultMaxResponseBytes
	MaxAttempts      int            // attempts per call for transient failures; default DefaultMaxAttempts
	Backoff          backoff.Policy // delay between attempts without Retry-After; default DefaultBackoff
	// Slots, when set, schedules the account's calls across every instance and function (the
	// store): SlotCalls per SlotWindow (default the documented limit), in Priority order.
	Slots      Slots
	SlotCalls  int
	SlotWindow time.Duration
	Priority   Priority
}

// Client calls one Gorgias account. It is safe for concurrent use.
type Client struct {
	base        string
	email       string
	auth        string // the Authorization header value; never logged
	hc          *http.Client
	log         *slog.Logger
	lim         *Limiter
	timeout     time.Duration
	maxBody     int64
	maxAttempts int
	backoff     backoff.Policy
	sched       *sharedSchedule // nil: this process's limiter alone
	prio        Priority
}

// New builds a client for acct.
func New(acct Account, opt Options) (*Client, error) {
	if err := acct.Validate(); err != nil {
		return nil, err
	}
	base, _ := canonicalBaseURL(acct.BaseURL)
	var hc http.Client
	if opt.HTTPClient != nil {
		hc = *opt.HTTPClient
	}
	// A redirect would turn a PUT into a GET (net/http does that for 301) and send the
	// Authorization header elsewhere; Gorgias answers 301 for merged customers, which we classify.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{
		base:        base,
		email:       acct.Email,
		auth:        "Basic " + base64.StdEncoding.EncodeToString([]byte(acct.Email+":"+acct.APIKey)),
		hc:          &hc,
		log:         cmp.Or(opt.Logger, slog.New(slog.DiscardHandler)),
		lim:         opt.Limiter,
		timeout:     cmp.Or(opt.Timeout, DefaultTimeout),
		maxBody:     cmp.Or(opt.MaxResponseBytes, DefaultMaxResponseBytes),
		maxAttempts: cmp.Or(opt.MaxAttempts, DefaultMaxAttempts),
		backoff:     opt.Backoff,
	}
	if c.lim == nil {
		c.lim = SharedLimiter(acct)
	}
	if opt.Slots != nil {
		c.sched = scheduleFor(opt.Slots, AccountKey(base), cmp.Or(opt.SlotCalls, DefaultCalls), cmp.Or(opt.SlotWindow, DefaultWindow))
		c.prio = opt.Priority
	}
	if c.backoff == (backoff.Policy{}) {
		c.backoff = DefaultBackoff
	}
	return c, nil
}

// WithPriority is a client of the same account whose calls have priority p on the shared
// schedule.
func (c *Client) WithPriority(p Priority) *Client {
	cp := *c
	cp.prio = p
	return &cp
}

// AccountKey names a helpdesk account in the shared schedule: its host.
func AccountKey(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return strings.ToLower(u.Host)
	}
	return strings.ToLower(base)
}

// BaseURL is the account's canonical base URL.
func (c *Client) BaseURL() string { return c.base }

// Limiter is the limiter the client waits on.
func (c *Client) Limiter() *Limiter { return c.lim }

// call is one API operation.
type call struct {
	op         string
	method     string
	path       string
	query      url.Values
	body       any  // JSON-encoded once
	out        any  // decoded from a 2xx body when non-nil
	idempotent bool // safe to resend after an unknown outcome
}

// attemptResult is what one HTTP attempt learnt besides its error.
type attemptResult struct {
	status int
	header http.Header
	sent   bool // the request may have reached Gorgias
}

// do runs c with retries. Transient failures are retried when resending is safe: always after a
// 429 or a connection that was never made, otherwise only for idempotent calls. A non-idempotent
// call whose outcome is unknown fails with ErrUncertain in its chain.
func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return errs.E(errs.Invalid, cl.op, fmt.Errorf("encoding request: %w", err))
		}
	}
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		res, err := c.once(ctx, cl, u, payload)
		if err == nil {
			return nil
		}
		if !errs.Is(err, errs.Transient) {
			return err
		}
		if ctx.Err() != nil {
			return c.finalErr(cl, res, err)
		}
		var wait time.Duration
		switch {
		case res.status == http.StatusTooManyRequests:
			d, ok := backoff.RetryAfter(res.header, time.Now(), MaxRetryAfter)
			if !ok {
				d = c.backoff.Delay(attempt)
			}
			// Everyone on this account must wait, not just this caller (and every instance).
			c.lim.PauseFor(d)
			if c.sched != nil {
				_ = c.sched.slots.PushSlots(context.WithoutCancel(ctx), c.sched.account, time.Now().Add(d))
			}
			wait = d
		case !res.sent || cl.idempotent:
			if d, ok := backoff.RetryAfter(res.header, time.Now(), MaxRetryAfter); ok {
				wait = d
			} else {
				wait = c.backoff.Delay(attempt)
			}
		default:
			return c.finalErr(cl, res, err)
		}
		if attempt+1 >= c.maxAttempts {
			return c.finalErr(cl, res, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting past the caller's deadline helps no one: give the time back now, saying
			// so, so that the caller can continue later instead of counting a failure.
			return errs.E(errs.Transient, cl.op, &WaitError{Until: time.Now().Add(wait), Err: c.finalErr(cl, res, err)})
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "gorgias call retried",
			slog.String("op", cl.op), slog.Int("attempt", attempt+1), slog.Int("status", res.status),
			slog.Duration("wait", wait), slog.String("error", err.Error()))
		if err := sleep(ctx, wait); err != nil {
			return c.finalErr(cl, res, err)
		}
	}
}

// finalErr marks an unknown outcome of a non-idempotent call so callers know to look up.
func (c *Client) finalErr(cl call, res attemptResult, err error) error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return errs.E(errs.Transient, cl.op, err) // the caller's context ended while waiting
	}
	if !cl.idempotent && res.sent && res.status != http.StatusTooManyRequests && e.Kind == errs.Transient {
		return errs.E(errs.Transient, cl.op, fmt.Errorf("%w: %w", ErrUncertain, e.Err))
	}
	return err
}

// once makes one attempt. Its error is classified.
func (c *Client) once(ctx context.Context, cl call, u string, payload []byte) (attemptResult, error) {
	if c.sched != nil {
		if err := c.sched.wait(ctx, c.prio); err != nil {
			return attemptResult{}, errs.E(errs.Transient, cl.op, fmt.Errorf("waiting for a call slot: %w", err))
		}
	}
	release, err := c.lim.Wait(ctx)
	if err != nil {
		return attemptResult{}, errs.E(errs.Transient, cl.op, fmt.Errorf("waiting for the rate limiter: %w", err))
	}
	// The slot is held until the response is read, so the limiter's window starts after Gorgias
	// counted the call, whatever the network latency.
	defer release()
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, u, body)
	if err != nil {
		return attemptResult{}, errs.E(errs.Invalid, cl.op, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "pilotdesk-gorgias/1")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		sent := !neverConnected(err)
		c.log.LogAttrs(ctx, slog.LevelDebug, "gorgias call failed", slog.String("op", cl.op),
			slog.String("method", cl.method), slog.String("path", cl.path), slog.Duration("took", time.Since(start)))
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("no answer within %s: %w", c.timeout, err)
		}
		return attemptResult{sent: sent}, errs.E(errs.Transient, cl.op, err)
	}
	defer resp.Body.Close()
	res := attemptResult{status: resp.StatusCode, header: resp.Header, sent: true}
	metrics.Add(metrics.HelpdeskCalls, 1)
	if resp.StatusCode == http.StatusTooManyRequests {
		metrics.Add(metrics.Throttled, 1)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	c.lim.Observe(resp.Header)
	if c.sched != nil {
		if used, limit, ok := ParseCallLimit(resp.Header.Get(CallLimitHeader)); ok {
			c.sched.observe(used, limit)
		}
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "gorgias call", slog.String("op", cl.op),
		slog.String("method", cl.method), slog.String("path", cl.path), slog.Int("status", resp.StatusCode),
		slog.String("call_limit", resp.Header.Get(CallLimitHeader)), slog.Duration("took", time.Since(start)))
	if err != nil {
		return res, errs.E(errs.Transient, cl.op, fmt.Errorf("reading the response: %w", err))
	}
	if int64(len(data)) > c.maxBody {
		return res, errs.E(errs.Invalid, cl.op, fmt.Errorf("response larger than %d bytes", c.maxBody))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if cl.out == nil {
			return res, nil
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return res, errs.E(errs.Invalid, cl.op, fmt.Errorf("status %d with an empty body", resp.StatusCode))
		}
		if err := decode(data, cl.out); err != nil {
			return res, errs.E(errs.Invalid, cl.op, fmt.Errorf("decoding the response: %w", err))
		}
		return res, nil
	}
	apiErr := parseAPIError(resp.StatusCode, data)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		apiErr.Location = resp.Header.Get("Location")
	}
	return res, errs.E(kindForStatus(resp.StatusCode), cl.op, apiErr)
}

// decode reads an answer into out, the fields a fieldDecoder wants only when it is one.
func decode(data []byte, out any) error {
	if d, ok := out.(fieldDecoder); ok {
		return d.decodeFields(data)
	}
	return json.Unmarshal(data, out)
}

// kindForStatus maps an HTTP status to what a caller should do about it.
func kindForStatus(status int) errs.Kind {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout,
		status == http.StatusTooEarly, status >= 500:
		return errs.Transient
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return errs.Permission
	case status == http.StatusNotFound, status == http.StatusGone:
		return errs.NotExist
	case status == http.StatusMovedPermanently: // a merged customer: the id is gone for good
		return errs.NotExist
	case status == http.StatusConflict:
		return errs.Conflict
	}
	return errs.Invalid
}

// neverConnected reports errors that prove the request never reached a server.
func neverConnected(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// idPath builds an API path from a format and ids, so ids are never user-controlled strings.
func idPath(format string, ids ...int64) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = strconv.FormatInt(id, 10)
	}
	return fmt.Sprintf(format, args...)
}
