package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
)

// TestRun runs `make dev` for a short while with a fast tick and reply interval: tickets appear
// for both connections, agent replies reach the Trustpilot simulator, and when it ends nothing
// it started is left running or listening.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto, both simulators and the functions under the runtime emulator")
	}
	logPath := filepath.Join(t.TempDir(), "dev.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	out := &localrun.LogBuffer{}
	started := time.Now()
	rep, err := Run(context.Background(), Options{
		Duration: 25 * time.Second, Tick: 3 * time.Second, Reviews: 12, ReplyEvery: 2 * time.Second,
		NewReviewEvery: 3 * time.Second, Refresh: time.Second, HelpdeskRate: "40/2s", Seed: 42,
		Name: "pilotdesk-devrun-test", Out: out, Log: logFile, LogPath: logPath,
	})
	t.Logf("ran %s; output:\n%s", time.Since(started).Round(time.Millisecond), out.String())
	if err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("Run: %v\nlog tail:\n%s", err, tail(string(b), 4000))
	}

	s := rep.Summary
	if len(s.Conns) != 2 {
		t.Fatalf("%d connections in the summary, want 2", len(s.Conns))
	}
	posted, held := 0, 0
	for _, c := range s.Conns {
		if c.Tickets == 0 {
			t.Errorf("connection %s: no tickets created", c.ID)
		}
		if c.Tickets > c.ServiceReviews+c.ProductReviews {
			t.Errorf("connection %s: %d tickets for %d reviews", c.ID, c.Tickets, c.ServiceReviews+c.ProductReviews)
		}
		posted += c.RepliesPosted
		held += c.RepliesHeld
	}
	if held == 0 {
		t.Errorf("no simulated reply was held by the guard (every fourth has a phone number): %+v", s)
	}
	if posted == 0 {
		t.Errorf("no agent reply reached the Trustpilot simulator (summary %+v)", s)
	}
	if s.Ticks < 2 || s.Jobs == 0 {
		t.Errorf("scheduler ticked %d times, worker received %d jobs", s.Ticks, s.Jobs)
	}
	for _, want := range []string{"WEBHOOK_SECRET_ARN=arn:aws:secretsmanager:", "TABLE_NAME=", "QUEUE_URL=", "AWS_ENDPOINT_URL=", "CREDENTIALS_SECRET_PREFIX=", logPath, "final summary"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Nothing left running: no process of this run, nothing listening where it was, no build.
	if len(rep.Endpoints) != 4 {
		t.Fatalf("endpoints %v", rep.Endpoints)
	}
	for _, e := range rep.Endpoints {
		u, err := url.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", e)
		}
	}
	if _, err := os.Stat(rep.BuildDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("build dir %s still there (%v)", rep.BuildDir, err)
	}
	motoPort := "-p " + rep.Endpoints[0][strings.LastIndex(rep.Endpoints[0], ":")+1:]
	for _, p := range processes(t) {
		if strings.Contains(p, rep.BuildDir) || (strings.Contains(p, "moto.server") && strings.HasSuffix(p, motoPort)) {
			t.Errorf("still running: %s", p)
		}
	}
}

// processes lists every process' command line (Linux /proc).
func processes(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(dirs) == 0 {
		t.Fatal("no /proc: the leak check needs Linux's process list")
	}
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || len(b) == 0 {
			continue // gone meanwhile, or a kernel thread
		}
		out = append(out, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestFormat(t *testing.T) {
	t.Parallel()
	s := Summary{
		Elapsed: 83 * time.Second,
		Conns: []ConnSummary{
			{ID: "acme", ServiceReviews: 30, ProductReviews: 12, Tickets: 40, RepliesAsked: 3, RepliesPosted: 2, RepliesHeld: 1},
			{ID: "globex", ServiceReviews: 28, ProductReviews: 13, Tickets: 41},
		},
		Waiting: 1, InFlight: 2, DeadLetters: 0, Ticks: 5, Jobs: 20, Webhooks: 7,
		Helpdesk: gorgiassim.Stats{Requests: 120, Served429: 3, Throttled: 1, MaxInWindow: 40, RateCalls: 40, RateWindow: 20 * time.Second},
	}
	var b bytes.Buffer
	Format(&b, s)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one per connection and one shared:\n%s", len(lines), b.String())
	}
	for i, want := range []string{
		"+1m23s] acme    reviews on Trustpilot   42 (30 service, 12 product)  tickets   40  replies to Trustpilot 2 of 3 agent replies (1 held by the guard, then rewritten)",
		"globex  reviews on Trustpilot   41 (28 service, 13 product)  tickets   41  replies to Trustpilot 0 of 0 agent replies (0 held by the guard, then rewritten)",
		"queue 1 waiting, 2 in flight, DLQ 0 | helpdesk 120 calls, 3 × 429 (1 over the limit), peak 40/40 per 20s",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d\n got %s\nwant …%s…", i, lines[i], want)
		}
	}
}
