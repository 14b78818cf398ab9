// Package config reads the functions' environment (DESIGN §4) and builds the JSON logger, so
// that every function and the CLI fail the same way on a missing variable.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/backoff"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// Names of the environment variables.
const (
	EnvTableName        = "TABLE_NAME"
	EnvQueueURL         = "QUEUE_URL"
	EnvWebhookSecretARN = "WEBHOOK_SECRET_ARN"
	EnvTrustpilotAPI    = "TRUSTPILOT_API_URL"
	EnvTrustpilotAuth   = "TRUSTPILOT_AUTH_URL"
	EnvLogLevel         = "LOG_LEVEL"
	EnvSecretPrefix     = "CREDENTIALS_SECRET_PREFIX"
	EnvHelpdeskRate     = "HELPDESK_RATE_LIMIT"    // "<calls>/<window>", e.g. "40/20s"
	EnvRetryDelay       = "SYNC_RETRY_DELAY"       // first delay before a failed job is tried again
	EnvCommentRecheck   = "COMMENT_RECHECK_WINDOW" // after an uncertain product comment, only look for it this long
	EnvDeepPass         = "DEEP_PASS_INTERVAL"     // how often the deep pass runs; "off" disables it
	EnvSetAsideRetry    = "SET_ASIDE_RETRY"        // a set-aside review's first wait (doubling, at most 6 h)
	EnvUncertainWindow  = "UNCERTAIN_WINDOW"       // after a create with a lost answer, look for its ticket this long
	EnvTrustpilotRate   = "TRUSTPILOT_RATE_LIMIT"  // "<calls>/<window>" per API key across instances, default 833/5m
)

// Defaults.
const (
	DefaultTrustpilotAPI  = "https://api.trustpilot.com"
	DefaultTrustpilotAuth = "https://authenticate.trustpilot.com"
	DefaultSecretPrefix   = "pilotdesk/local/connections/"
)

// Required lists, per function (by its logical id in template.yaml), the variables it cannot
// start without. The template test checks the template sets them, and sets no others than Known.
var Required = map[string][]string{
	"SchedulerFunction":       {EnvTableName, EnvQueueURL},
	"SyncWorkerFunction":      {EnvTableName, EnvQueueURL},
	"HelpdeskWebhookFunction": {EnvTableName, EnvQueueURL, EnvWebhookSecretARN},
}

// Known is every variable this package reads.
var Known = []string{EnvTableName, EnvQueueURL, EnvWebhookSecretARN, EnvTrustpilotAPI, EnvTrustpilotAuth, EnvLogLevel, EnvSecretPrefix, EnvHelpdeskRate, EnvRetryDelay, EnvCommentRecheck, EnvDeepPass, EnvSetAsideRetry, EnvUncertainWindow, EnvTrustpilotRate}

// Runtime lists the variables the template may set for the Go runtime rather than for this
// package (the worker's GOMAXPROCS).
var Runtime = []string{"GOMAXPROCS"}

// MustLoadFunction is MustLoad with the function's required variables.
func MustLoadFunction(logicalID string) Config { return MustLoad(Required[logicalID]...) }

// Config is the environment a function runs with.
type Config struct {
	TableName        string
	QueueURL         string
	WebhookSecretARN string
	TrustpilotAPIURL string
	TrustpilotAuth   string
	SecretPrefix     string
	LogLevel         slog.Level
	// HelpdeskCalls per HelpdeskWindow is the helpdesk's allowance per account (Gorgias: 40
	// per 20 s with an API key; Enterprise accounts get a shorter window).
	HelpdeskCalls  int
	HelpdeskWindow time.Duration
	// TrustpilotCalls per TrustpilotWindow is Trustpilot's rate limit per API key (833 per
	// 5 minutes, reference §5.1), counted across every instance in the table. Its hourly limit
	// (10 000) follows: twelve 5-minute windows hold at most 9 996.
	TrustpilotCalls  int
	TrustpilotWindow time.Duration
	// RetryDelay is the first delay before a job that failed transiently (or waits for another
	// worker) runs again; it doubles per receive.
	RetryDelay time.Duration
	// CommentRecheck is how long after a product-review comment whose outcome is unknown (the
	// answer was lost) Pilotdesk only looks for it instead of posting again: Trustpilot may show
	// a committed comment late, and a second comment cannot be taken back. 0: the default.
	CommentRecheck time.Duration
	// DeepPass is how often each connection's deep pass runs (0: the default, daily; negative:
	// off).
	DeepPass time.Duration
	// SetAsideRetry is a set-aside review's first wait (0: the default, 30 s).
	SetAsideRetry time.Duration
	// UncertainWindow is how long the ticket of a create whose answer was lost is looked for
	// before the review is created again (0: the default, 90 s).
	UncertainWindow time.Duration
}

// Load reads the environment with getenv (os.Getenv in production). required names the
// variables this caller cannot run without; a missing one is an error naming it.
func Load(getenv func(string) string, required ...string) (Config, error) {
	var missing []string
	for _, name := range required {
		if strings.TrimSpace(getenv(name)) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("missing required environment variable(s): %s", strings.Join(missing, ", "))
	}
	c := Config{
		TableName:        getenv(EnvTableName),
		QueueURL:         getenv(EnvQueueURL),
		WebhookSecretARN: getenv(EnvWebhookSecretARN),
		TrustpilotAPIURL: or(getenv(EnvTrustpilotAPI), DefaultTrustpilotAPI),
		TrustpilotAuth:   or(getenv(EnvTrustpilotAuth), DefaultTrustpilotAuth),
		SecretPrefix:     or(getenv(EnvSecretPrefix), DefaultSecretPrefix),
	}
	lvl, err := ParseLevel(getenv(EnvLogLevel))
	if err != nil {
		return Config{}, err
	}
	c.LogLevel = lvl
	c.HelpdeskCalls, c.HelpdeskWindow = gorgias.DefaultCalls, gorgias.DefaultWindow
	if v := getenv(EnvHelpdeskRate); strings.TrimSpace(v) != "" {
		if c.HelpdeskCalls, c.HelpdeskWindow, err = ParseRate(v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvHelpdeskRate, err)
		}
	}
	c.TrustpilotCalls, c.TrustpilotWindow = trustpilot.DefaultBudgetCalls, trustpilot.DefaultBudgetWindow
	if v := getenv(EnvTrustpilotRate); strings.TrimSpace(v) != "" {
		if c.TrustpilotCalls, c.TrustpilotWindow, err = ParseRate(v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvTrustpilotRate, err)
		}
	}
	if v := getenv(EnvCommentRecheck); strings.TrimSpace(v) != "" {
		if c.CommentRecheck, err = time.ParseDuration(v); err != nil || c.CommentRecheck <= 0 {
			return Config{}, fmt.Errorf("%s: %q is not a positive duration like 10m", EnvCommentRecheck, v)
		}
	}
	if v := strings.TrimSpace(getenv(EnvDeepPass)); v == "off" {
		c.DeepPass = -1
	} else if v != "" {
		if c.DeepPass, err = time.ParseDuration(v); err != nil || c.DeepPass <= 0 {
			return Config{}, fmt.Errorf("%s: %q is not a positive duration like 24h, or off", EnvDeepPass, v)
		}
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{EnvSetAsideRetry, &c.SetAsideRetry}, {EnvUncertainWindow, &c.UncertainWindow}} {
		if v := strings.TrimSpace(getenv(d.name)); v != "" {
			if *d.to, err = time.ParseDuration(v); err != nil || *d.to <= 0 {
				return Config{}, fmt.Errorf("%s: %q is not a positive duration like 30s", d.name, v)
			}
		}
	}
	if c.RetryDelay, err = time.ParseDuration(or(getenv(EnvRetryDelay), backoff.DefaultJobBase.String())); err != nil || c.RetryDelay <= 0 {
		return Config{}, fmt.Errorf("%s: %q is not a positive duration like 30s", EnvRetryDelay, getenv(EnvRetryDelay))
	}
	return c, nil
}

// ParseRate parses "<calls>/<duration>", e.g. "40/20s".
func ParseRate(s string) (int, time.Duration, error) {
	n, d, ok := strings.Cut(strings.TrimSpace(s), "/")
	calls, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(d)
	if !ok || err1 != nil || err2 != nil || calls <= 0 || window <= 0 {
		return 0, 0, fmt.Errorf("%q is not <calls>/<window> like 40/20s", s)
	}
	return calls, window, nil
}

// MustLoad is Load for a function's main: on error it prints the message and exits 1, which
// Lambda reports as an init failure naming the variable.
func MustLoad(required ...string) Config {
	c, err := Load(os.Getenv, required...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pilotdesk:", err)
		os.Exit(1)
	}
	return c
}

// ParseLevel parses LOG_LEVEL; empty means info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%s: unknown level %q (want debug, info, warn or error)", EnvLogLevel, s)
}

// Logger returns the JSON logger every component logs through.
func Logger(w io.Writer, level slog.Level, function string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("function", function)
}

func or(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
