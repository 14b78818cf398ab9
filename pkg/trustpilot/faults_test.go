package trustpilot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

const listPath = "/v1/private/business-units/*/reviews"

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   trustpilotsim.Fault
		kind    errs.Kind // errs.Other: success
		calls   int       // list calls; 0: not checked (the transport may retry a dropped GET itself)
		minTime time.Duration
	}{
		{"429 with Retry-After", trustpilotsim.Fault{Status: 429, RetryAfter: "1", Times: 1}, errs.Other, 2, time.Second},
		{"429 without Retry-After", trustpilotsim.Fault{Status: 429, Times: 2}, errs.Other, 3, 0},
		{"500 then success", trustpilotsim.Fault{Status: 500, Times: 2}, errs.Other, 3, 0},
		{"503 then success", trustpilotsim.Fault{Status: 503, Times: 3}, errs.Other, 4, 0},
		{"503 for good", trustpilotsim.Fault{Status: 503}, errs.Transient, 4, 0},
		{"429 for good", trustpilotsim.Fault{Status: 429}, errs.Transient, 4, 0},
		{"404 not retried", trustpilotsim.Fault{Status: 404}, errs.NotExist, 1, 0},
		{"403 not retried", trustpilotsim.Fault{Status: 403}, errs.Permission, 1, 0},
		{"400 not retried", trustpilotsim.Fault{Status: 400}, errs.Invalid, 1, 0},
		{"415 not retried", trustpilotsim.Fault{Status: 415}, errs.Invalid, 1, 0},
		{"501 not retried", trustpilotsim.Fault{Status: 501}, errs.Invalid, 1, 0},
		{"truncated body then success", trustpilotsim.Fault{Truncate: true, Times: 1}, errs.Other, 2, 0},
		{"truncated for good", trustpilotsim.Fault{Truncate: true}, errs.Transient, 4, 0},
		{"dropped then success", trustpilotsim.Fault{Drop: true, Times: 1}, errs.Other, 0, 0},
		{"dropped for good", trustpilotsim.Fault{Drop: true}, errs.Transient, 0, 0},
		{"slow answer", trustpilotsim.Fault{Delay: trustpilotsim.Duration(100 * time.Millisecond), Times: 1}, errs.Other, 1, 100 * time.Millisecond},
		{"slower than the call timeout", trustpilotsim.Fault{Delay: trustpilotsim.Duration(5 * time.Second), Times: 1}, errs.Other, 2, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, trustpilotsim.Options{})
			tt.fault.Path = listPath
			e.sim.AddFault(tt.fault)
			c := e.client(t, func(c *Config) { c.CallTimeout = 200 * time.Millisecond })
			start := time.Now()
			_, err := c.ListServiceReviews(context.Background(), time.Time{}, "")
			took := time.Since(start)
			if got := errs.KindOf(err); got != tt.kind {
				t.Fatalf("err = %v (%s), want %s", err, got, tt.kind)
			}
			if n := e.sim.Calls("list_service_reviews"); tt.calls != 0 && n != tt.calls {
				t.Errorf("list calls = %d, want %d", n, tt.calls)
			}
			if took < tt.minTime {
				t.Errorf("took %s, want at least %s", took, tt.minTime)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineReturnsAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	e.sim.AddFault(trustpilotsim.Fault{Path: listPath, Status: 429, RetryAfter: "30"})
	c := e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.ListServiceReviews(ctx, time.Time{}, "")
	if errs.KindOf(err) != errs.Transient || time.Since(start) > time.Second {
		t.Errorf("err = %v after %s; want a prompt transient error", err, time.Since(start))
	}
}

func TestResponseSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	c := e.client(t, func(c *Config) { c.MaxResponseBytes = 4096 }) // the seed has a 10k-character review
	_, err := c.ListServiceReviews(context.Background(), time.Time{}, "")
	if !errors.Is(err, ErrResponseTooLarge) || errs.KindOf(err) != errs.Invalid {
		t.Fatalf("err = %v, want invalid ErrResponseTooLarge", err)
	}
	if n := e.sim.Calls("list_service_reviews"); n != 1 {
		t.Errorf("list calls = %d, want 1 (a too-large answer will not shrink)", n)
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("waits for a slot", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		c := e.client(t, func(c *Config) { c.BudgetCalls = 3; c.BudgetWindow = 300 * time.Millisecond })
		start := time.Now()
		for range 4 { // 1 token call + 4 list calls = 5 calls > 3 per window
			if err := c.Check(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Errorf("5 calls with a budget of 3 per 300ms took %s", took)
		}
	})
	t.Run("gives up beyond the wait", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		c := e.client(t, func(c *Config) {
			c.BudgetCalls = 2
			c.BudgetWindow = time.Minute
			c.BudgetMaxWait = 10 * time.Millisecond
		})
		if err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
		err := c.Check(ctx)
		if !errors.Is(err, ErrBudgetExhausted) || errs.KindOf(err) != errs.Transient {
			t.Fatalf("err = %v, want transient ErrBudgetExhausted", err)
		}
		if n := e.sim.Calls("list_service_reviews"); n != 1 {
			t.Errorf("list calls = %d, want 1", n)
		}
	})
	t.Run("shared by clients of one connection", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, trustpilotsim.Options{})
		mod := func(c *Config) { c.BudgetCalls = 2; c.BudgetWindow = time.Minute; c.BudgetMaxWait = time.Millisecond }
		if err := e.client(t, mod).Check(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.client(t, mod).Check(ctx); !errors.Is(err, ErrBudgetExhausted) {
			t.Fatalf("second client: err = %v, want ErrBudgetExhausted", err)
		}
	})
}

func TestErrorTextKeepsIDsAndHidesSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	e.sim.AddFault(trustpilotsim.Fault{Path: listPath, Status: 400})
	store := newMemStore()
	c := e.client(t, func(c *Config) { c.Tokens = store })
	err := c.Check(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.CorrelationID == "" || ae.ErrorCode != "400" {
		t.Fatalf("err = %v, want an APIError with correlation id and code", err)
	}
	msg := err.Error()
	for _, want := range []string{"correlationId=" + ae.CorrelationID, "errorCode=400", "trustpilot.Check"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, secret := range []string{acmeCreds.APISecret, acmeCreds.APIKey, store.get(t.Name()).AccessToken} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
}
