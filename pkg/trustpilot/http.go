package trustpilot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
)

// retryRule says which transient failures a request may repeat by itself.
type retryRule int

const (
	// retryTransient: repeating the request cannot duplicate anything (reads, and writes whose
	// duplicate the caller detects, like the one-per-review reply).
	retryTransient retryRule = iota
	// retryOnly429: a repeat after an unknown outcome (5xx, reset) could duplicate the effect
	// (a conversation comment); only a 429, which the server refused before acting, is repeated.
	retryOnly429
	// retryNot429: the token endpoint answers 429 when asked too early; repeating spends budget.
	retryNot429
)

type request struct {
	op     string
	method string
	path   string // path and query, relative to the base URL
	body   []byte
	header http.Header
	auth   bool // send the bearer token and the API key
	retry  retryRule
	// uncertain, when set, is made true once an attempt was sent and got no usable answer (a
	// transport or read error, a timeout, a 5xx): the server may have applied it.
	uncertain *bool
}

// ErrResponseTooLarge is wrapped when a response exceeds Config.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("trustpilot: response too large")

// ErrBudgetExhausted is wrapped (as transient) when the connection's call budget has no slot
// within Config.BudgetMaxWait or the caller's deadline.
var ErrBudgetExhausted = errors.New("trustpilot: call budget exhausted")

// call performs req with the retries its rule allows and returns the 2xx body. Every error is
// classified with pkg/errs under req.op.
func (c *Client) call(ctx context.Context, req request) ([]byte, error) {
	var (
		stale     string // the token a 401 refused
		refreshed bool
		lastErr   error
	)
	for attempt := 0; ; attempt++ {
		if err := c.budget.wait(ctx, c.cfg.BudgetMaxWait); err != nil {
			return nil, errs.E(errs.Transient, req.op, err)
		}
		if err := c.shared.wait(ctx, c.cfg.BudgetMaxWait); err != nil {
			return nil, errs.E(errs.Transient, req.op, err)
		}
		var token string
		if req.auth {
			t, err := c.accessToken(ctx, stale)
			if err != nil {
				return nil, err
			}
			token = t
		}
		start := time.Now()
		status, header, body, err := c.attempt(ctx, req, token)
		metrics.Add(metrics.TrustpilotCalls, 1)
		if status == http.StatusTooManyRequests {
			metrics.Add(metrics.Throttled, 1)
		}
		if req.uncertain != nil && (err != nil || (status >= 500 && status != http.StatusNotImplemented)) {
			*req.uncertain = true
		}
		c.log.Debug("trustpilot: call", "op", req.op, "method", req.method, "path", pathOnly(req.path),
			"status", status, "attempt", attempt+1, "duration", time.Since(start), "err", err)
		if err == nil && status/100 == 2 {
			return body, nil
		}
		if err == nil && status == http.StatusUnauthorized && req.auth && !refreshed {
			// An access token can die before its expiry (revoked, rotated elsewhere): replace it
			// once and repeat the call once.
			refreshed, stale = true, token
			continue
		}
		kind := errs.Transient
		retryable := true
		if err == nil {
			ae := newAPIError(status, header, body)
			err = ae
			kind = kindForStatus(status)
			switch req.retry {
			case retryOnly429:
				retryable = status == http.StatusTooManyRequests
			case retryNot429:
				retryable = status != http.StatusTooManyRequests
			}
			if ae.CorrelationID != "" {
				c.log.Warn("trustpilot: call failed", "op", req.op, "status", status,
					"error_code", ae.ErrorCode, "correlation_id", ae.CorrelationID)
			}
		} else {
			if errors.Is(err, ErrResponseTooLarge) {
				kind = errs.Invalid
			}
			if req.retry == retryOnly429 {
				retryable = false
			}
		}
		lastErr = errs.E(kind, req.op, err)
		if kind != errs.Transient || !retryable || attempt+1 >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return nil, lastErr
		}
		delay := c.cfg.Backoff.Delay(attempt)
		if header != nil {
			if d, ok := backoff.RetryAfter(header, time.Now(), c.cfg.MaxRetryAfter); ok {
				// backoff.RetryAfter lets NaN/huge values through as negative durations.
				delay = max(d, 0)
			}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			// Sleeping past the deadline only to be cancelled wastes the Lambda's time: hand the
			// transient error back so the job is retried later.
			return nil, lastErr
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, lastErr
		}
	}
}

// attempt performs one HTTP exchange bounded by the per-call timeout and the size limit.
// A non-nil error means no complete response was read.
func (c *Client) attempt(ctx context.Context, req request, token string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, c.base.String()+req.path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "pilotdesk")
	if req.auth {
		// Reference §7.1: send both the bearer token and the API key on private calls.
		hr.Header.Set("Authorization", "Bearer "+token)
		hr.Header.Set("apikey", c.cfg.Credentials.APIKey)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return 0, nil, nil, scrubURLError(err)
	}
	defer resp.Body.Close()
	limit := c.cfg.MaxResponseBytes
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("reading %d response: %w", resp.StatusCode, err)
	}
	if int64(len(b)) > limit {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%w: %d response exceeds %d bytes", ErrResponseTooLarge, resp.StatusCode, limit)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// scrubURLError keeps the operation and cause of a transport error but drops the URL's query,
// which may echo values from a server-sent next-page link.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		path := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			path = u.Path
		}
		return fmt.Errorf("%s %s: %w", ue.Op, path, ue.Err)
	}
	return err
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// kindForStatus is the one place HTTP statuses become error kinds.
func kindForStatus(status int) errs.Kind {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return errs.Transient
	case status == http.StatusNotImplemented:
		return errs.Invalid // 501: Trustpilot does not offer this call; a retry cannot change that
	case status >= 500:
		return errs.Transient
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return errs.Permission
	case status == http.StatusNotFound || status == http.StatusGone:
		return errs.NotExist
	case status == http.StatusConflict:
		return errs.Conflict
	}
	return errs.Invalid
}
