package cli_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/cli"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/secrets"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

// The helpdesk account every connection of these tests writes to.
const (
	hdAccount = "acme"
	hdEmail   = "ops@acme.test"
	hdKey     = "GORGIAS-KEY-s3cr3t-0001"
	// secretPrefix keeps this package's credentials apart from other packages' in a shared moto.
	secretPrefix = "pilotdesk/cli-test/connections/"
)

var (
	env      *localaws.Env
	st       *store.Store
	sec      *secrets.Manager
	sqsc     *sqs.Client
	queueURL string
	dlqURL   string
	tp       *trustpilotsim.Sim
	hd       *gorgiassim.Server
	checker  *connector.Factory
	webhook  string // the webhook secret's ARN
	units    atomic.Int64

	// secretValues are every secret these tests hand the CLI; no output may contain one.
	secretMu     sync.Mutex
	secretValues = []string{hdKey}
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	ctx := context.Background()
	var err error
	if env, err = localaws.Start(ctx, "cli-test", nil); err != nil {
		return 0, fmt.Errorf("need moto: %w", err)
	}
	defer env.Stop()
	st = store.New(dynamodb.NewFromConfig(env.AWS), env.TableName())
	sec = secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix)
	sqsc = sqs.NewFromConfig(env.AWS)
	queueURL, dlqURL = env.Stack.QueueURLs["SyncJobsQueue"], env.Stack.QueueURLs["SyncJobsDLQ"]
	webhook = env.Stack.Secrets["WebhookSecret"]
	v, err := sec.Value(ctx, webhook)
	if err != nil || v == "" {
		return 0, fmt.Errorf("webhook secret %q: %v", webhook, err)
	}
	addSecret(v)

	tp = trustpilotsim.New(trustpilotsim.Options{})
	if _, err := tp.Start(); err != nil {
		return 0, err
	}
	defer tp.Close()
	hd, err = gorgiassim.New(gorgiassim.Config{
		Accounts: []gorgiassim.AccountConfig{{ID: hdAccount, Email: hdEmail, APIKey: hdKey}},
		// The checks below make a few calls each, all in parallel.
		RateCalls: 10000, RateWindow: time.Second, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return 0, err
	}
	if _, err := hd.Start(); err != nil {
		return 0, err
	}
	defer hd.Close()
	checker = &connector.Factory{Secrets: sec, Tokens: st, TrustpilotURL: tp.URL(), TrustpilotAttempts: 1,
		HelpdeskRate: connector.RateLimit{Calls: 10000, Window: time.Second}, Log: slog.New(slog.DiscardHandler)}
	code := m.Run()
	// After every test: no item of the table holds a secret any test used. (Nothing to scan
	// when no test ran: `go test -run '^$' -bench .`.)
	ran := commandsRan.Load()
	if leaks, err := tableSecrets(ctx); ran && (err != nil || len(leaks) > 0) {
		fmt.Fprintf(os.Stderr, "table scan: %v; secrets in the table: %q\n", err, leaks)
		code = 1
	}
	return code, nil
}

func tableSecrets(ctx context.Context) ([]string, error) {
	p := dynamodb.NewScanPaginator(dynamodb.NewFromConfig(env.AWS), &dynamodb.ScanInput{TableName: aws.String(env.TableName())})
	items := 0
	var leaks []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			items++
			dump := fmt.Sprintf("%#v", it)
			secretMu.Lock()
			for _, v := range secretValues {
				if strings.Contains(dump, v) {
					leaks = append(leaks, v)
				}
			}
			secretMu.Unlock()
		}
	}
	if items == 0 {
		return nil, errors.New("the table is empty: the scan saw nothing")
	}
	return leaks, nil
}

func addSecret(s ...string) {
	secretMu.Lock()
	defer secretMu.Unlock()
	secretValues = append(secretValues, s...)
}

// unit is a Trustpilot business unit of the simulator with its own credentials: units never
// share credentials, so one test's token never serves another's.
type unit struct{ id, user, key, secret string }

func newUnit(t *testing.T) unit {
	t.Helper()
	n := units.Add(1)
	u := unit{
		id: fmt.Sprintf("%024x", 0xa00000+n), user: fmt.Sprintf("%024x", 0xb00000+n),
		key: fmt.Sprintf("TP-KEY-s3cr3t-%04d", n), secret: fmt.Sprintf("TP-SECRET-s3cr3t-%04d", n),
	}
	addSecret(u.key, u.secret)
	err := tp.AddBusinessUnit(trustpilotsim.BusinessUnit{
		ID: u.id, Name: fmt.Sprintf("shop%d.example", n), DisplayName: "Shop", APIKey: u.key, APISecret: u.secret,
		BusinessUsers: []trustpilotsim.BusinessUser{{ID: u.user, Name: "Ops", Email: fmt.Sprintf("ops%d@shop.example", n)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// doc is a connection document for u on the helpdesk simulator; edit changes it before it is
// encoded.
func doc(id string, u unit, edit func(m map[string]any)) map[string]any {
	m := map[string]any{
		"id":       id,
		"helpdesk": map[string]any{"type": "gorgias", "url": hd.URL(), "email": hdEmail, "api_key": hdKey},
		"trustpilot": map[string]any{"business_unit_id": u.id, "business_user_id": u.user,
			"api_key": u.key, "api_secret": u.secret},
		"review_kinds":    []string{"service", "product"},
		"min_stars":       1,
		"tags":            []string{"uk-shop"},
		"anonymous_email": "reviews@shop.example",
		"reply":           map[string]any{"service": "first", "product": "first"},
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func writeDoc(t *testing.T, v any) string {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "connection.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	out, err string
	runErr   error
}

func (r result) all() string {
	s := r.out + r.err
	if r.runErr != nil {
		s += r.runErr.Error()
	}
	return s
}

// run runs one command line through the real adapters and fails the test if any output (or
// the error) contains a secret.
func run(t *testing.T, args ...string) result { return runWith(t, nil, args...) }

// commandsRan tells TestMain whether any command ran (none do under -run '^$' -bench .).
var commandsRan atomic.Bool

func runWith(t *testing.T, edit func(*cli.CLI), args ...string) result {
	commandsRan.Store(true)
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli.CLI{Store: st, Secrets: sec, Queue: queue.New(sqsc, queueURL), Check: checker,
		WebhookSecretARN: webhook, Out: &out, Err: &errOut}
	if edit != nil {
		edit(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := result{runErr: c.Run(ctx, args)}
	r.out, r.err = out.String(), errOut.String()
	noSecrets(t, strings.Join(args, " "), r.all())
	return r
}

func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	secretMu.Lock()
	defer secretMu.Unlock()
	for _, v := range secretValues {
		if strings.Contains(s, v) {
			t.Errorf("%s: output holds the secret %q:\n%s", what, v, s)
		}
	}
}

// put stores a connection through the CLI.
func put(t *testing.T, m map[string]any) {
	t.Helper()
	if r := run(t, "connection", "put", "-f", writeDoc(t, m)); r.runErr != nil {
		t.Fatalf("put: %v\n%s", r.runErr, r.err)
	}
}

func wantRunErr(t *testing.T, r result, want string) {
	t.Helper()
	switch {
	case want == "" && r.runErr != nil:
		t.Fatalf("unexpected error %v\nstdout: %s\nstderr: %s", r.runErr, r.out, r.err)
	case want == "usage":
		if !errors.Is(r.runErr, cli.ErrUsage) || !strings.Contains(r.err, "usage: pilotdesk") {
			t.Fatalf("error %v (stderr %q), want ErrUsage with the usage text", r.runErr, r.err)
		}
	case want != "" && (r.runErr == nil || !strings.Contains(r.runErr.Error(), want)):
		t.Fatalf("error %v, want one containing %q", r.runErr, want)
	}
	if want != "usage" && errors.Is(r.runErr, cli.ErrUsage) {
		t.Fatalf("unexpected usage error")
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"no arguments", nil},
		{"unknown command", []string{"frobnicate"}},
		{"connection alone", []string{"connection"}},
		{"unknown connection subcommand", []string{"connection", "rename", "a"}},
		{"put without -f", []string{"connection", "put"}},
		{"put with two files", []string{"connection", "put", "-f", "a.json", "b.json"}},
		{"put unknown flag", []string{"connection", "put", "--file", "a.json"}},
		{"show without id", []string{"connection", "show"}},
		{"show two ids", []string{"connection", "show", "a", "b"}},
		{"show flag as id", []string{"connection", "show", "--all"}},
		{"check without id", []string{"connection", "check"}},
		{"delete without id", []string{"connection", "delete"}},
		{"delete two ids", []string{"connection", "delete", "a", "b"}},
		{"delete unknown flag", []string{"connection", "delete", "a", "--force"}},
		{"sync without id", []string{"sync"}},
		{"sync two ids", []string{"sync", "a", "b"}},
		{"sync unknown flag", []string{"sync", "a", "--from", "2024-01-01"}},
		{"sync flag without value", []string{"sync", "a", "--kind"}},
		{"status two ids", []string{"status", "a", "b"}},
		{"dlq alone", []string{"dlq"}},
		{"dlq unknown", []string{"dlq", "purge"}},
		{"dlq redrive extra", []string{"dlq", "redrive", "now"}},
		{"helpdesk alone", []string{"helpdesk"}},
		{"install-webhook without url", []string{"helpdesk", "install-webhook", "a"}},
		{"install-webhook empty url", []string{"helpdesk", "install-webhook", "a", "--url", ""}},
		{"install-webhook without id", []string{"helpdesk", "install-webhook", "--url", "https://x.example/hook"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.args...)
			wantRunErr(t, r, "usage")
			if r.out != "" {
				t.Fatalf("stdout %q on a usage error", r.out)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		t.Parallel()
		for _, h := range []string{"help", "-h", "--help"} {
			r := run(t, h)
			if r.runErr != nil || !strings.Contains(r.out, "usage: pilotdesk") {
				t.Fatalf("%s: %v %q", h, r.runErr, r.out)
			}
		}
	})
}

func TestConnectionPut(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	tests := []struct {
		name    string
		id      string
		doc     any    // a map (encoded) or raw text
		stdin   bool   // -f - instead of a file
		wantErr string // "" for success
		fields  []string
	}{
		{name: "valid", id: "put-valid", doc: doc("put-valid", u, nil)},
		{name: "valid from stdin", id: "put-stdin", doc: doc("put-stdin", u, nil), stdin: true},
		{name: "defaults", id: "put-defaults", doc: doc("put-defaults", u, func(m map[string]any) {
			delete(m, "review_kinds")
			delete(m, "min_stars")
			delete(m, "reply")
			delete(m, "tags")
		})},
		{name: "every bad field named", id: "put-BAD", wantErr: "invalid connection",
			doc: doc("put-BAD", u, func(m map[string]any) {
				m["helpdesk"] = map[string]any{"type": "zendesk", "url": "http://acme.gorgias.com", "email": "nobody", "api_key": ""}
				m["trustpilot"] = map[string]any{"business_unit_id": "XYZ", "business_user_id": u.user, "api_key": u.key}
				m["review_kinds"] = []string{"service", "video", "service"}
				m["min_stars"] = 7
				m["tags"] = []string{"a,b"}
				m["anonymous_email"] = "Reviews <reviews@shop.example>"
				m["reply"] = map[string]any{"service": "all", "product": "first"}
			}),
			fields: []string{"id:", "helpdesk.type:", "helpdesk.url:", "helpdesk.email:", "helpdesk.api_key:", "trustpilot.business_unit_id:",
				"trustpilot.api_secret:", "review_kinds[1]:", "review_kinds[2]:", "min_stars:", "tags[0]:", "anonymous_email:", "reply.service:"}},
		{name: "business user is the unit", id: "put-same-ids", wantErr: "trustpilot.business_user_id",
			doc: doc("put-same-ids", u, func(m map[string]any) {
				m["trustpilot"].(map[string]any)["business_user_id"] = u.id
			})},
		{name: "unknown field refused", id: "put-typo", wantErr: `unknown field "apikey"`,
			doc: doc("put-typo", u, func(m map[string]any) {
				m["helpdesk"].(map[string]any)["apikey"] = hdKey
			})},
		{name: "unknown top-level field refused", id: "put-typo2", wantErr: `unknown field "min_star"`,
			doc: doc("put-typo2", u, func(m map[string]any) { m["min_star"] = 3 })},
		{name: "not json", id: "put-notjson", doc: "id: put-notjson", wantErr: "invalid connection document"},
		{name: "trailing data", id: "put-trailing", wantErr: "trailing data",
			doc: `{"id":"put-trailing"} {"id":"again"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var r result
			if tc.stdin {
				b, _ := json.Marshal(tc.doc)
				r = runWith(t, func(c *cli.CLI) { c.In = bytes.NewReader(b) }, "connection", "put", "-f", "-")
			} else {
				r = run(t, "connection", "put", "-f", writeDoc(t, tc.doc))
			}
			wantRunErr(t, r, tc.wantErr)
			for _, f := range tc.fields {
				if !strings.Contains(r.runErr.Error(), f) {
					t.Errorf("error does not name %s: %v", f, r.runErr)
				}
			}
			_, getErr := st.GetConnection(ctx, tc.id)
			_, secErr := secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix).Connection(ctx, tc.id)
			if tc.wantErr != "" {
				if !errs.Is(getErr, errs.NotExist) || !errs.Is(secErr, errs.NotExist) {
					t.Fatalf("a refused document was stored: %v / %v", getErr, secErr)
				}
				return
			}
			if want := "connection " + tc.id + " saved"; !strings.Contains(r.out, want) {
				t.Fatalf("stdout %q, want %q", r.out, want)
			}
			rec, err := st.GetConnection(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			c := rec.Connection
			if c.Helpdesk.APIKey != "" || c.Trustpilot.APIKey != "" || c.Trustpilot.APISecret != "" {
				t.Fatalf("the table holds credentials: %+v", c)
			}
			if c.Helpdesk.URL != hd.URL() || c.Trustpilot.BusinessUnitID != u.id || c.MinStars != 1 ||
				!slices.Equal(c.ReviewKinds, []review.Kind{review.Service, review.Product}) || c.Reply.Service != connection.ReplyFirst {
				t.Fatalf("stored %+v", c)
			}
			s, err := secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix).Connection(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.TrustpilotWebhook) != 64 || c.Trustpilot.WebhookHash != connection.WebhookHash(s.TrustpilotWebhook) {
				t.Fatalf("webhook key %d characters, table hash %q", len(s.TrustpilotWebhook), c.Trustpilot.WebhookHash)
			}
			addSecret(s.TrustpilotWebhook)
			s.TrustpilotWebhook = ""
			if want := (connection.Secrets{HelpdeskAPIKey: hdKey, TrustpilotAPIKey: u.key, TrustpilotAPISecret: u.secret}); s != want {
				t.Fatalf("secret store holds %+v", s)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		r := run(t, "connection", "put", "-f", filepath.Join(t.TempDir(), "nope.json"))
		wantRunErr(t, r, "no such file")
	})
	t.Run("update replaces document and credentials", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		u2 := newUnit(t)
		put(t, doc("put-update", u, nil))
		if err := st.SetReauth(ctx, "put-update", true, "key revoked"); err != nil {
			t.Fatal(err)
		}
		put(t, doc("put-update", u2, func(m map[string]any) { m["min_stars"] = 3 }))
		rec, err := st.GetConnection(ctx, "put-update")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Connection.MinStars != 3 || rec.Connection.Trustpilot.BusinessUnitID != u2.id || rec.NeedsReauth {
			t.Fatalf("after update: %+v", rec)
		}
		s, err := secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix).Connection(ctx, "put-update")
		if err != nil || s.TrustpilotAPISecret != u2.secret {
			t.Fatalf("credentials not replaced: %v", err)
		}
	})
}

func TestListAndShow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUnit(t)
	put(t, doc("show-active", u, nil))
	put(t, doc("show-reauth", u, func(m map[string]any) {
		m["review_kinds"] = []string{"product"}
		m["min_stars"] = 2
	}))
	if err := st.SetReauth(ctx, "show-reauth", true, "client_credentials grant refused"); err != nil {
		t.Fatal(err)
	}

	t.Run("list", func(t *testing.T) {
		r := run(t, "connection", "list")
		wantRunErr(t, r, "")
		rows := table(r.out)
		if len(rows) == 0 || !slices.Equal(rows[0], []string{"ID", "HELPDESK", "BUSINESS UNIT", "KINDS", "MIN STARS", "STATE"}) {
			t.Fatalf("header: %q", r.out)
		}
		want := map[string][]string{
			"show-active": {"show-active", hd.URL(), u.id, "service,product", "1", "active"},
			"show-reauth": {"show-reauth", hd.URL(), u.id, "product", "2", "needs re-authorising"},
		}
		for _, row := range rows[1:] {
			if w, ok := want[row[0]]; ok {
				if !slices.Equal(row, w) {
					t.Errorf("row %q, want %q", row, w)
				}
				delete(want, row[0])
			}
		}
		if len(want) > 0 {
			t.Fatalf("list misses %v:\n%s", want, r.out)
		}
	})

	tests := []struct {
		name, id  string
		state     string
		reason    string
		wantKinds []review.Kind
	}{
		{"active", "show-active", "active", "", []review.Kind{review.Service, review.Product}},
		{"needs reauth", "show-reauth", "needs re-authorising", "client_credentials grant refused", []review.Kind{review.Product}},
	}
	for _, tc := range tests {
		t.Run("show "+tc.name, func(t *testing.T) {
			r := run(t, "connection", "show", tc.id)
			wantRunErr(t, r, "")
			var got struct {
				connection.Connection
				State        string `json:"state"`
				ReauthReason string `json:"reauth_reason"`
			}
			if err := json.Unmarshal([]byte(r.out), &got); err != nil {
				t.Fatalf("show is not JSON: %v\n%s", err, r.out)
			}
			const mask = "********"
			if got.Helpdesk.APIKey != mask || got.Trustpilot.APIKey != mask || got.Trustpilot.APISecret != mask || got.Trustpilot.RefreshToken != "" {
				t.Fatalf("secrets not masked (set ones as %s, unset ones empty): %+v", mask, got.Connection)
			}
			if got.ID != tc.id || got.State != tc.state || got.ReauthReason != tc.reason || !slices.Equal(got.ReviewKinds, tc.wantKinds) ||
				got.Trustpilot.BusinessUserID != u.user || got.Helpdesk.Email != hdEmail {
				t.Fatalf("show %s: %+v", tc.id, got)
			}
		})
	}
	t.Run("show unknown", func(t *testing.T) {
		r := run(t, "connection", "show", "no-such-connection")
		if !errs.Is(r.runErr, errs.NotExist) {
			t.Fatalf("error %v, want NotExist", r.runErr)
		}
	})
	t.Run("show without credentials", func(t *testing.T) {
		bare, _ := connection.Connection{ID: "show-bare", Helpdesk: connection.Helpdesk{URL: hd.URL(), Email: hdEmail},
			Trustpilot: connection.Trustpilot{BusinessUnitID: u.id, BusinessUserID: u.user}, AnonymousEmail: "r@shop.example"}.SplitSecrets()
		bare.ApplyDefaults()
		if err := st.PutConnection(ctx, bare); err != nil {
			t.Fatal(err)
		}
		r := run(t, "connection", "show", "show-bare")
		wantRunErr(t, r, "")
		if strings.Contains(r.out, "********") {
			t.Fatalf("unset secrets shown as set:\n%s", r.out)
		}
	})
}

// table splits tabwriter output into rows of cells (cells are two or more spaces apart).
func table(s string) [][]string {
	var rows [][]string
	sep := regexp.MustCompile(`\s{2,}`)
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		rows = append(rows, sep.Split(line, -1))
	}
	return rows
}

func TestConnectionCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(m map[string]any, u unit)
		reauth    bool
		wantTP    string // "ok" or "FAIL"
		wantHD    string
		wantErr   string
		wantState bool // NeedsReauth after the check
	}{
		{name: "ok", wantTP: "ok", wantHD: "ok"},
		{name: "wrong trustpilot secret", wantTP: "FAIL", wantHD: "ok", wantErr: "connection check failed",
			edit: func(m map[string]any, u unit) {
				m["trustpilot"].(map[string]any)["api_secret"] = "TP-WRONG-s3cr3t-" + u.id
				addSecret("TP-WRONG-s3cr3t-" + u.id)
			}},
		{name: "wrong helpdesk key", wantTP: "ok", wantHD: "FAIL", wantErr: "connection check failed",
			edit: func(m map[string]any, u unit) {
				m["helpdesk"].(map[string]any)["api_key"] = "GORGIAS-WRONG-s3cr3t-" + u.id
				addSecret("GORGIAS-WRONG-s3cr3t-" + u.id)
			}},
		{name: "needs reauth becomes active", reauth: true, wantTP: "ok", wantHD: "ok"},
		{name: "needs reauth with wrong secret stays", reauth: true, wantTP: "FAIL", wantHD: "ok", wantErr: "connection check failed", wantState: true,
			edit: func(m map[string]any, u unit) {
				m["trustpilot"].(map[string]any)["api_secret"] = "TP-WRONG2-s3cr3t-" + u.id
				addSecret("TP-WRONG2-s3cr3t-" + u.id)
			}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			u := newUnit(t)
			id := fmt.Sprintf("check-%d", i)
			put(t, doc(id, u, func(m map[string]any) {
				if tc.edit != nil {
					tc.edit(m, u)
				}
			}))
			if tc.reauth {
				if err := st.SetReauth(ctx, id, true, "refused"); err != nil {
					t.Fatal(err)
				}
			}
			r := run(t, "connection", "check", id)
			wantRunErr(t, r, tc.wantErr)
			if !regexp.MustCompile(`(?m)^Trustpilot\s+`+tc.wantTP+`\b`).MatchString(r.out) ||
				!regexp.MustCompile(`(?m)^helpdesk\s+`+tc.wantHD+`\b`).MatchString(r.out) {
				t.Fatalf("stdout:\n%s\nwant Trustpilot %s, helpdesk %s", r.out, tc.wantTP, tc.wantHD)
			}
			rec, err := st.GetConnection(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.NeedsReauth != tc.wantState {
				t.Fatalf("NeedsReauth %v after the check, want %v", rec.NeedsReauth, tc.wantState)
			}
			if back := strings.Contains(r.out, "credentials work again"); back != (tc.reauth && !tc.wantState) {
				t.Fatalf("stdout:\n%s", r.out)
			}
		})
	}
	t.Run("no stored credentials", func(t *testing.T) {
		t.Parallel()
		u := newUnit(t)
		bare, _ := connection.Connection{ID: "check-bare", Helpdesk: connection.Helpdesk{URL: hd.URL(), Email: hdEmail},
			Trustpilot: connection.Trustpilot{BusinessUnitID: u.id, BusinessUserID: u.user}, AnonymousEmail: "r@shop.example"}.SplitSecrets()
		bare.ApplyDefaults()
		if err := st.PutConnection(context.Background(), bare); err != nil {
			t.Fatal(err)
		}
		r := run(t, "connection", "check", "check-bare")
		wantRunErr(t, r, "connection check failed")
		if strings.Count(r.out, "FAIL") != 2 || !strings.Contains(r.out, "pilotdesk connection put") {
			t.Fatalf("stdout:\n%s", r.out)
		}
	})
	t.Run("unknown connection", func(t *testing.T) {
		t.Parallel()
		if r := run(t, "connection", "check", "no-such-connection"); !errs.Is(r.runErr, errs.NotExist) {
			t.Fatalf("error %v, want NotExist", r.runErr)
		}
	})
}

func TestConnectionDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		purge bool
	}{
		{"keeps links and credentials", false},
		{"purge", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			u := newUnit(t)
			id := "delete-" + strings.ReplaceAll(tc.name, " ", "-")
			put(t, doc(id, u, nil))
			const reviewID = "0123456789abcdef01234567"
			if _, err := st.ClaimReview(ctx, id, reviewID, review.Service, "cli-test", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveCheckpoint(ctx, id, review.Service, cursor.Checkpoint{Seen: 1}); err != nil {
				t.Fatal(err)
			}
			args := []string{"connection", "delete", id}
			if tc.purge {
				args = []string{"connection", "delete", "--purge", id}
			}
			r := run(t, args...)
			wantRunErr(t, r, "")
			if !strings.Contains(r.out, "connection "+id+" deleted") {
				t.Fatalf("stdout %q", r.out)
			}
			if _, err := st.GetConnection(ctx, id); !errs.Is(err, errs.NotExist) {
				t.Fatalf("GetConnection after delete: %v", err)
			}
			list := run(t, "connection", "list")
			if strings.Contains(list.out, id) {
				t.Fatalf("deleted connection listed:\n%s", list.out)
			}
			if r := run(t, "connection", "show", id); !errs.Is(r.runErr, errs.NotExist) {
				t.Fatalf("show after delete: %v", r.runErr)
			}
			if cur, err := st.GetCursor(ctx, id, review.Service); err != nil || cur.ReviewSeen != 0 {
				t.Fatalf("cursor survived the delete: %+v %v", cur, err)
			}
			_, linkErr := st.GetLink(ctx, id, reviewID)
			tomb, tombErr := st.GetConnectionForReplies(ctx, id)
			_, secErr := secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix).Connection(ctx, id)
			if tc.purge {
				if !errs.Is(linkErr, errs.NotExist) || !errs.Is(tombErr, errs.NotExist) || !errs.Is(secErr, errs.NotExist) {
					t.Fatalf("purge left link %v / tombstone %v / credentials %v", linkErr, tombErr, secErr)
				}
				return
			}
			if linkErr != nil || tombErr != nil || !tomb.Deleted || secErr != nil {
				t.Fatalf("delete without purge: link %v, tombstone %+v %v, credentials %v", linkErr, tomb, tombErr, secErr)
			}
			// Deleting again is refused; purging the tombstone is not.
			if r := run(t, "connection", "delete", id); !errs.Is(r.runErr, errs.NotExist) {
				t.Fatalf("second delete: %v", r.runErr)
			}
			wantRunErr(t, run(t, "connection", "delete", id, "--purge"), "")
			if _, err := st.GetLink(ctx, id, reviewID); !errs.Is(err, errs.NotExist) {
				t.Fatalf("link after purge of the tombstone: %v", err)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		if r := run(t, "connection", "delete", "no-such-connection"); !errs.Is(r.runErr, errs.NotExist) {
			t.Fatalf("error %v, want NotExist", r.runErr)
		}
		if r := run(t, "connection", "delete", "--purge", "no-such-connection"); !errs.Is(r.runErr, errs.NotExist) {
			t.Fatalf("purge: error %v, want NotExist", r.runErr)
		}
	})
	// A sync of the connection running (it holds the helpdesk account's lease for it): the
	// delete says it waits, waits until the sync gives the lease up, then purges.
	t.Run("waits for the connection's sync", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		u := newUnit(t)
		const id = "delete-waits-for-sync"
		put(t, doc(id, u, nil))
		rec, err := st.GetConnection(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		acct := rec.Connection.HelpdeskAccountKey()
		if ok, err := st.AcquireLeaseFor(ctx, acct, "worker-of-"+id, id, time.Minute); err != nil || !ok {
			t.Fatalf("AcquireLeaseFor: %v %v", ok, err)
		}
		done := make(chan result, 1)
		go func() { done <- run(t, "connection", "delete", "--purge", id) }()
		select {
		case r := <-done:
			t.Fatalf("the delete did not wait for the sync: %q %v", r.out, r.runErr)
		case <-time.After(time.Second):
		}
		if err := st.ReleaseLease(ctx, acct, "worker-of-"+id); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			wantRunErr(t, r, "")
			if !strings.Contains(r.out, "a sync of connection "+id+" is running: waiting for it to stop") || !strings.Contains(r.out, "deleted with its links and credentials") {
				t.Fatalf("stdout %q", r.out)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the delete still waits after the sync gave the lease up")
		}
		if _, err := st.GetConnectionForReplies(ctx, id); !errs.Is(err, errs.NotExist) {
			t.Fatalf("record after the purge: %v", err)
		}
	})
	// A purge whose store part ended but whose credentials stayed (their delete failed): purging
	// again removes them, then the connection is gone.
	t.Run("purge again after the credentials stayed", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		u := newUnit(t)
		const id = "delete-purge-credentials-stayed"
		put(t, doc(id, u, nil))
		sec := secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix)
		if _, err := sec.Connection(ctx, id); err != nil {
			t.Fatalf("credentials before: %v", err)
		}
		if err := st.DeleteConnection(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		r := run(t, "connection", "delete", "--purge", id)
		wantRunErr(t, r, "")
		if !strings.Contains(r.out, "credentials are deleted now") {
			t.Fatalf("stdout %q", r.out)
		}
		fresh := secrets.New(secretsmanager.NewFromConfig(env.AWS), secretPrefix) // sec caches what it read
		if _, err := fresh.Connection(ctx, id); !errs.Is(err, errs.NotExist) {
			t.Fatalf("credentials after the second purge: %v", err)
		}
		if r := run(t, "connection", "delete", "--purge", id); !errs.Is(r.runErr, errs.NotExist) {
			t.Fatalf("third purge: error %v, want NotExist", r.runErr)
		}
	})
}

func TestStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUnit(t)
	for _, id := range []string{"status-busy", "status-idle"} { // counters add up: start from none (-count=N)
		if err := st.DeleteConnection(ctx, id, true); err != nil && !errs.Is(err, errs.NotExist) {
			t.Fatal(err)
		}
	}
	put(t, doc("status-busy", u, nil))
	put(t, doc("status-idle", u, func(m map[string]any) { m["review_kinds"] = []string{"service"} }))
	if err := st.SetReauth(ctx, "status-idle", true, "refused"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	clocked := st.WithClock(func() time.Time { return at })
	for _, cp := range []struct {
		kind review.Kind
		cp   cursor.Checkpoint
	}{
		{review.Service, cursor.Checkpoint{Since: at.Add(-time.Hour), Seen: 10, Created: 4, Errors: 1, LastError: "ticket 7: 422"}},
		{review.Service, cursor.Checkpoint{Seen: 2, Created: 1}},
		{review.Product, cursor.Checkpoint{Resume: "page-7", Seen: 100, Created: 100}},
	} {
		if err := clocked.SaveCheckpoint(ctx, "status-busy", cp.kind, cp.cp); err != nil {
			t.Fatal(err)
		}
	}
	header := []string{"CONNECTION", "KIND", "STATE", "LAST SYNC", "REVIEWS SEEN", "TICKETS", "ERRORS", "BACKFILL", "LAST ERROR"}
	rows := map[string][]string{
		"status-busy service": {"status-busy", "service", "active", "2024-05-01 12:00:00Z", "12", "5", "1", "-", "ticket 7: 422"},
		"status-busy product": {"status-busy", "product", "active", "2024-05-01 12:00:00Z", "100", "100", "0", "in progress at page-7"},
		"status-idle service": {"status-idle", "service", "needs re-authorising", "never", "0", "0", "0", "-"},
	}
	tests := []struct {
		name string
		args []string
		want []string // keys of rows
	}{
		{"one connection", []string{"status", "status-busy"}, []string{"status-busy service", "status-busy product"}},
		{"one service-only connection", []string{"status", "status-idle"}, []string{"status-idle service"}},
		{"all", []string{"status"}, []string{"status-busy product", "status-busy service", "status-idle service"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tc.args...)
			wantRunErr(t, r, "")
			got := table(r.out)
			if len(got) == 0 || !slices.Equal(got[0], header) {
				t.Fatalf("header:\n%s", r.out)
			}
			var mine []string
			for _, row := range got[1:] {
				if !strings.HasPrefix(row[0], "status-") {
					continue
				}
				key := row[0] + " " + row[1]
				if !slices.Equal(row, rows[key]) {
					t.Errorf("row %q, want %q", row, rows[key])
				}
				mine = append(mine, key)
			}
			slices.Sort(mine)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(mine, want) {
				t.Fatalf("rows %q, want %q:\n%s", mine, want, r.out)
			}
			if !regexp.MustCompile(`(?m)^queue: \d+ waiting, \d+ in flight; dead-letter queue: \d+`).MatchString(r.out) {
				t.Fatalf("no queue line:\n%s", r.out)
			}
		})
	}
	t.Run("unknown connection", func(t *testing.T) {
		t.Parallel()
		if r := run(t, "status", "no-such-connection"); !errs.Is(r.runErr, errs.NotExist) {
			t.Fatalf("error %v, want NotExist", r.runErr)
		}
	})
}

func TestInstallWebhook(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	put(t, doc("hook", u, nil))
	secret, err := sec.Value(context.Background(), webhook)
	if err != nil {
		t.Fatal(err)
	}
	// The simulator outlives one run of the test (-count=N): every run installs to new URLs.
	n := units.Load()
	hook := func(u string) string { return fmt.Sprintf("%s-%d", u, n) }
	tests := []struct {
		name    string
		args    []string
		hookURL string // the reply integration's URL
		edit    func(*cli.CLI)
		wantErr string // "" when the integration must be created
	}{
		{name: "id then url", args: []string{"hook", "--url", hook("https://hooks.example/one") + "/helpdesk/events"}, hookURL: hook("https://hooks.example/one") + "/helpdesk/events"},
		{name: "url then id", args: []string{"--url=" + hook("http://127.0.0.1:9/two"), "hook"}, hookURL: hook("http://127.0.0.1:9/two") + "/helpdesk/events"},
		{name: "plain http refused", args: []string{"hook", "--url", hook("http://hooks.example/three")}, hookURL: hook("http://hooks.example/three") + "/helpdesk/events", wantErr: "plain http"},
		{name: "unknown connection", args: []string{"nope", "--url", hook("https://hooks.example/four")}, hookURL: hook("https://hooks.example/four") + "/helpdesk/events", wantErr: "not found"},
		{name: "no webhook secret ARN", args: []string{"hook", "--url", hook("https://hooks.example/five")}, hookURL: hook("https://hooks.example/five") + "/helpdesk/events",
			wantErr: "WEBHOOK_SECRET_ARN", edit: func(c *cli.CLI) { c.WebhookSecretARN = "" }},
		{name: "missing url", args: []string{"hook"}, wantErr: "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runWith(t, tc.edit, append([]string{"helpdesk", "install-webhook"}, tc.args...)...)
			wantRunErr(t, r, tc.wantErr)
			var found []gorgiassim.Integration
			for _, it := range hd.Integrations(hdAccount) {
				if it.HTTP.URL == tc.hookURL {
					found = append(found, it)
				}
			}
			if tc.wantErr != "" {
				if len(found) > 0 {
					t.Fatalf("integration created on failure: %+v", found)
				}
				return
			}
			if len(found) != 1 {
				t.Fatalf("%d integrations to %s, want 1", len(found), tc.hookURL)
			}
			it := found[0]
			if !strings.Contains(r.out, fmt.Sprintf("(id %d)", it.ID)) {
				t.Fatalf("stdout %q does not name integration %d", r.out, it.ID)
			}
			if it.Type != "http" || it.HTTP.Method != "POST" || it.HTTP.RequestContentType != "application/json" {
				t.Fatalf("integration %+v", it)
			}
			if want := map[string]bool{gorgias.EventMessageCreated: true}; !reflect.DeepEqual(it.HTTP.Triggers, want) {
				t.Fatalf("triggers %v, want %v", it.HTTP.Triggers, want)
			}
			if want := map[string]string{"X-Pilotdesk-Secret": secret}; !reflect.DeepEqual(it.HTTP.Headers, want) {
				t.Fatalf("headers hold %d entries; want only X-Pilotdesk-Secret with the webhook secret", len(it.HTTP.Headers))
			}
			var form map[string]string
			if err := json.Unmarshal(it.HTTP.Form, &form); err != nil {
				t.Fatalf("form: %v: %s", err, it.HTTP.Form)
			}
			if !reflect.DeepEqual(form, gorgias.WebhookForm()) {
				t.Fatalf("form %v, want %v", form, gorgias.WebhookForm())
			}
			// The sidebar integration beside it, from the same base URL, and its widget.
			base := strings.TrimSuffix(tc.hookURL, "/helpdesk/events")
			var side []gorgiassim.Integration
			for _, it := range hd.Integrations(hdAccount) {
				if strings.HasPrefix(it.HTTP.URL, base+"/helpdesk/sidebar?") {
					side = append(side, it)
				}
			}
			if len(side) != 1 || side[0].HTTP.Method != "GET" || !side[0].HTTP.Triggers["ticket-created"] || !side[0].HTTP.Triggers["ticket-updated"] ||
				!strings.Contains(side[0].HTTP.URL, "email={{ticket.customer.email}}&ticket={{ticket.id}}") || side[0].HTTP.Headers["X-Pilotdesk-Secret"] != secret {
				t.Fatalf("sidebar integrations %+v", side)
			}
			widgets := 0
			for _, w := range hd.Widgets(hdAccount) {
				if w.IntegrationID != nil && *w.IntegrationID == side[0].ID {
					widgets++
				}
			}
			if widgets != 1 {
				t.Fatalf("%d widgets bound to the sidebar integration, want 1", widgets)
			}
			// Installing again changes nothing.
			again := runWith(t, tc.edit, append([]string{"helpdesk", "install-webhook"}, tc.args...)...)
			wantRunErr(t, again, "")
			if n := strings.Count(again.out, "unchanged"); n != 3 || len(hd.Integrations(hdAccount)) == 0 {
				t.Fatalf("second install: %q, want three unchanged", again.out)
			}
			for _, it := range hd.Integrations(hdAccount) {
				if it.ID != side[0].ID && strings.HasPrefix(it.HTTP.URL, base+"/helpdesk/sidebar?") {
					t.Fatalf("a second sidebar integration: %+v", it)
				}
			}
		})
	}
}

// The queue tests share the sync-jobs queue and its DLQ: they run one at a time, and before the
// parallel tests (which only read the queue's depths).

func drain(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	var bodies []string
	for {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func jobsOnQueue(t *testing.T) []queue.Job {
	t.Helper()
	var jobs []queue.Job
	for _, b := range drain(t, queueURL) {
		j, err := queue.Parse([]byte(b))
		if err != nil {
			t.Fatalf("job %s: %v", b, err)
		}
		j.EnqueuedAt = time.Time{}
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b queue.Job) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
	return jobs
}

func TestSync(t *testing.T) {
	u := newUnit(t)
	put(t, doc("sync-both", u, nil))
	put(t, doc("sync-service", u, func(m map[string]any) { m["review_kinds"] = []string{"service"} }))
	put(t, doc("sync-reauth", u, func(m map[string]any) { m["review_kinds"] = []string{"product"} }))
	if err := st.SetReauth(context.Background(), "sync-reauth", true, "refused"); err != nil {
		t.Fatal(err)
	}
	drain(t, queueURL)

	job := func(id string, k review.Kind, since string) queue.Job {
		j := queue.SyncJob(id, k)
		if since != "" {
			s, err := time.Parse(time.RFC3339, since)
			if err != nil {
				t.Fatal(err)
			}
			j.Since = &s
		}
		return j
	}
	tests := []struct {
		name    string
		args    []string
		want    []queue.Job // sorted by kind: product before service
		out     []string
		stderr  string
		wantErr string
	}{
		{name: "every kind", args: []string{"sync-both"},
			want: []queue.Job{job("sync-both", review.Product, ""), job("sync-both", review.Service, "")},
			out:  []string{"enqueued sync of service reviews for sync-both", "enqueued sync of product reviews for sync-both"}},
		{name: "the connection's kinds only", args: []string{"sync-service"},
			want: []queue.Job{job("sync-service", review.Service, "")}},
		{name: "kind product", args: []string{"sync-both", "--kind", "product"},
			want: []queue.Job{job("sync-both", review.Product, "")}},
		{name: "flag before id", args: []string{"--kind=service", "sync-both"},
			want: []queue.Job{job("sync-both", review.Service, "")}},
		{name: "backfill from a date", args: []string{"sync-both", "--since", "2024-01-31"},
			want: []queue.Job{job("sync-both", review.Product, "2024-01-31T00:00:00Z"), job("sync-both", review.Service, "2024-01-31T00:00:00Z")},
			out:  []string{"enqueued backfill from 2024-01-31 of service reviews for sync-both", "enqueued full scan of product reviews for sync-both"}},
		{name: "backfill from an RFC 3339 time", args: []string{"sync-both", "--kind", "service", "--since", "2024-01-31T10:00:00+02:00"},
			want: []queue.Job{job("sync-both", review.Service, "2024-01-31T08:00:00Z")}},
		{name: "needs reauth warns", args: []string{"sync-reauth"}, want: []queue.Job{job("sync-reauth", review.Product, "")},
			stderr: "warning: connection sync-reauth is needs re-authorising: the worker skips its jobs"},
		{name: "bad kind", args: []string{"sync-both", "--kind", "video"}, wantErr: `--kind "video"`},
		{name: "kind the connection does not sync", args: []string{"sync-service", "--kind", "product"},
			wantErr: "connection sync-service does not sync product reviews"},
		{name: "bad date", args: []string{"sync-both", "--since", "31/01/2024"}, wantErr: "--since"},
		{name: "impossible date", args: []string{"sync-both", "--since", "2024-02-30"}, wantErr: "--since"},
		{name: "unknown connection", args: []string{"no-such-connection"}, wantErr: "not found"},
		{name: "no id", args: []string{"--kind", "service"}, wantErr: "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"sync"}, tc.args...)...)
			wantRunErr(t, r, tc.wantErr)
			got := jobsOnQueue(t)
			if len(got) != len(tc.want) {
				t.Fatalf("%d jobs on the queue, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tc.want[i]) {
					t.Errorf("job %d: %+v since %v, want %+v since %v", i, got[i], got[i].Since, tc.want[i], tc.want[i].Since)
				}
			}
			for _, o := range tc.out {
				if !strings.Contains(r.out, o) {
					t.Errorf("stdout %q lacks %q", r.out, o)
				}
			}
			if !strings.Contains(r.err, tc.stderr) || (tc.stderr == "" && tc.wantErr == "" && r.err != "") {
				t.Errorf("stderr %q, want %q", r.err, tc.stderr)
			}
		})
	}
}

func TestDeadLetters(t *testing.T) {
	ctx := context.Background()
	drain(t, queueURL)
	drain(t, dlqURL)
	body := `{"v":1,"type":"sync","connection_id":"dead-one","kind":"service"}`
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		args []string
		out  string
	}{
		{"status shows the dead letter", []string{"status"}, "queue: 0 waiting, 0 in flight; dead-letter queue: 1 (inspect the worker's logs, then `pilotdesk dlq redrive`)\n"},
		{"redrive", []string{"dlq", "redrive"}, "moved 1 dead letters back to the queue\n"},
		{"status after the redrive", []string{"status"}, "queue: 1 waiting, 0 in flight; dead-letter queue: 0\n"},
		{"redrive with nothing dead", []string{"dlq", "redrive"}, "moved 0 dead letters back to the queue\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := run(t, s.args...)
			wantRunErr(t, r, "")
			if !strings.HasSuffix(r.out, s.out) {
				t.Fatalf("stdout:\n%s\nwant it to end with %q", r.out, s.out)
			}
		})
	}
	if got := drain(t, queueURL); !slices.Equal(got, []string{body}) {
		t.Fatalf("queue holds %q, want the dead letter %q", got, body)
	}
	if got := drain(t, dlqURL); len(got) != 0 {
		t.Fatalf("DLQ still holds %q", got)
	}
}

// A connection's Trustpilot webhook URL: made when the connection is saved, the same after it
// is saved again, printed with the stack's base, and only its hash in the table (the scan
// after all tests checks the key never reaches it).
func TestTrustpilotWebhookURL(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	id := fmt.Sprintf("cli-tpwh-%d", units.Add(1))
	put(t, doc(id, u, nil))
	base := "https://abc.execute-api.eu-west-1.amazonaws.com"
	r := runWith(t, func(c *cli.CLI) { c.APIURL = base }, "trustpilot", "webhook-url", id)
	wantRunErr(t, r, "")
	line := strings.Fields(r.out)
	if len(line) == 0 || !strings.HasPrefix(line[0], base+"/trustpilot/events?connection="+id+"&key=") ||
		!strings.Contains(r.out, "service-review-created") || !strings.Contains(r.out, "service-review-deleted") {
		t.Fatalf("webhook-url printed %q", r.out)
	}
	parsed, err := url.Parse(line[0])
	if err != nil {
		t.Fatal(err)
	}
	key := parsed.Query().Get("key")
	// Printing the key is this command's job; from now on no other output or table item may
	// hold it.
	defer addSecret(key)
	if len(key) < 64 {
		t.Fatalf("key %d characters long, want 256 bits", len(key))
	}
	rec, err := st.GetConnection(context.Background(), id)
	if err != nil || !rec.Connection.WebhookSecretOK(key) || rec.Connection.WebhookSecretOK(key+"x") {
		t.Fatalf("stored connection does not check the key: %v", err)
	}

	put(t, doc(id, u, func(m map[string]any) { m["min_stars"] = 3 }))
	again := runWith(t, func(c *cli.CLI) { c.APIURL = base }, "trustpilot", "webhook-url", id, "--base", base+"/")
	if strings.Fields(again.out)[0] != line[0] {
		t.Fatalf("saving the connection again changed its webhook URL:\n%s\n%s", line[0], again.out)
	}
	wantRunErr(t, run(t, "trustpilot", "webhook-url", id), "--base")
	wantRunErr(t, run(t, "trustpilot", "webhook-url", id, "--base", "http://example.com"), "https")
	wantRunErr(t, run(t, "trustpilot", "webhook-url"), "usage")
}

// status shows each connection's Trustpilot calls against its allowance, from the shared
// ledger, flags a projected overrun, and when each kind is polled next.
func TestStatusShowsTheTrustpilotAllowance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUnit(t)
	id := fmt.Sprintf("tpbudget-%d", units.Add(1))
	put(t, doc(id, u, func(m map[string]any) {
		m["trustpilot"].(map[string]any)["calls_per_year"] = 1000
	}))
	rec, err := st.GetConnection(ctx, id)
	if err != nil || rec.Connection.Trustpilot.LedgerKey == "" || strings.Contains(rec.Connection.Trustpilot.LedgerKey, u.key) {
		t.Fatalf("ledger key %q (%v)", rec.Connection.Trustpilot.LedgerKey, err)
	}
	for range 3 {
		if ok, _, err := st.TakeCalls(ctx, rec.Connection.Trustpilot.LedgerKey, 4, 833, 5*time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if err := st.MarkScheduled(ctx, id, review.Product, time.Now()); err != nil {
		t.Fatal(err)
	}
	r := run(t, "status", id)
	wantRunErr(t, r, "")
	var line string
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, id+" ") && strings.Contains(l, "every") {
			line = l
		}
	}
	f := strings.Fields(line)
	if len(f) < 6 || f[1] != "12" || f[2] != "12" || !strings.Contains(line, "1000 — PROJECTED TO OVERRUN") ||
		!strings.Contains(line, "service now") || strings.Contains(line, "product now") {
		t.Fatalf("allowance line %q in:\n%s", line, r.out)
	}
}

// doctor: a connection that never synced and has no integrations fails with the fixes named;
// once the integrations are installed they pass; --json carries the same findings.
func TestDoctor(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	id := fmt.Sprintf("doc-%d", units.Load())
	put(t, doc(id, u, nil))
	base := fmt.Sprintf("https://doctor-%d.example", units.Load())
	withBase := func(c *cli.CLI) { c.APIURL = base }
	r := runWith(t, withBase, "doctor", id)
	if !errors.Is(r.runErr, cli.ErrDoctor) {
		t.Fatalf("doctor: %v\n%s", r.runErr, r.out)
	}
	for _, want := range []string{
		"OK    " + id + ": Trustpilot", "OK    " + id + ": helpdesk",
		"FAIL  " + id + ": reply integration", "install-webhook " + id,
		"FAIL  " + id + ": last service sync", "WARN  " + id + ": Trustpilot webhook",
	} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("doctor output lacks %q:\n%s", want, r.out)
		}
	}
	wantRunErr(t, runWith(t, withBase, "helpdesk", "install-webhook", id, "--url", base+"/helpdesk/events"), "")
	r = runWith(t, withBase, "doctor", id, "--json")
	var findings []cli.Finding
	if err := json.Unmarshal([]byte(r.out), &findings); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r.out)
	}
	got := map[string]string{}
	for _, f := range findings {
		if f.Connection == id {
			got[f.Check] = f.Status
		}
	}
	if got["reply integration"] != cli.OK || got["sidebar integration"] != cli.OK || got["last service sync"] != cli.FAIL {
		t.Fatalf("findings after the install: %v", got)
	}
	if strings.Contains(r.out, u.secret) || strings.Contains(r.out, u.key) {
		t.Fatal("doctor printed a credential")
	}
	// status --json: the same connection as JSON.
	r = run(t, "status", id, "--json")
	var st cli.StatusJSON
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || len(st.Connections) != 1 || st.Connections[0].ID != id || len(st.Connections[0].Kinds) != 2 {
		t.Fatalf("status --json: %v\n%s", err, r.out)
	}
}

// connection new with --yes: every value from the flags, the business unit found from the
// domain, nothing asked; a value missing is named; wrong helpdesk credentials save nothing.
func TestConnectionNewScripted(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	n := units.Load()
	id := fmt.Sprintf("new-%d", n)
	args := func(hdKey string, extra ...string) []string {
		return append([]string{"connection", "new", "--yes", "--id", id, "--helpdesk-url", hd.URL(), "--helpdesk-email", hdEmail,
			"--helpdesk-key", hdKey, "--trustpilot-key", u.key, "--trustpilot-secret", u.secret, "--domain", fmt.Sprintf("shop%d.example", n),
			"--business-user", u.user}, extra...)
	}
	if r := run(t, args("wrong-key")...); r.runErr == nil || !strings.Contains(r.out, "helpdesk: FAIL") {
		t.Fatalf("wrong helpdesk key: %v\n%s", r.runErr, r.out)
	}
	if r := run(t, "connection", "show", id); r.runErr == nil {
		t.Fatal("a refused setup saved the connection")
	}
	if r := run(t, "connection", "new", "--yes", "--id", id); r.runErr == nil || !strings.Contains(r.runErr.Error(), "--helpdesk-url") {
		t.Fatalf("a missing flag with --yes: %v", r.runErr)
	}
	r := run(t, args(hdKey, "--kinds", "service", "--min-stars", "3")...)
	wantRunErr(t, r, "")
	if !strings.Contains(r.out, "business unit Shop ("+u.id+")") || !strings.Contains(r.out, "connection "+id+" saved") {
		t.Fatalf("output:\n%s", r.out)
	}
	got, err := st.GetConnection(context.Background(), id)
	if err != nil || got.Connection.Trustpilot.BusinessUnitID != u.id || got.Connection.MinStars != 3 || len(got.Connection.ReviewKinds) != 1 ||
		got.Connection.AnonymousEmail != fmt.Sprintf("reviews@shop%d.example", n) {
		t.Fatalf("saved %+v %v", got.Connection, err)
	}
	if strings.Contains(r.out, u.secret) || strings.Contains(r.out, hdKey) {
		t.Fatal("connection new printed a credential")
	}
}

// An account that has the reply integration under its older name (before names carried the
// stack's base URL) gets it updated and renamed: never a second integration for one URL.
func TestInstallWebhookUpgradesTheOlderName(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	id := fmt.Sprintf("legacy-%d", units.Load())
	put(t, doc(id, u, nil))
	base := fmt.Sprintf("https://legacy-%d.example", units.Load())
	cl, err := gorgias.New(gorgias.Account{BaseURL: hd.URL(), Email: hdEmail, APIKey: hdKey}, gorgias.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateHTTPIntegration(context.Background(), gorgias.NewHTTPIntegration{Name: "Pilotdesk: replies to Trustpilot",
		URL: base + "/helpdesk/events", Secret: "old-secret"}); err != nil {
		t.Fatal(err)
	}
	wantRunErr(t, run(t, "helpdesk", "install-webhook", id, "--url", base+"/helpdesk/events"), "")
	var same []gorgiassim.Integration
	for _, it := range hd.Integrations(hdAccount) {
		if it.HTTP.URL == base+"/helpdesk/events" {
			same = append(same, it)
		}
	}
	if len(same) != 1 || same[0].Name != "Pilotdesk: replies to Trustpilot · "+base {
		t.Fatalf("integrations to the reply URL after the upgrade: %+v", same)
	}
}

// doctor's business-user line: Trustpilot has no call that checks the id, so the evidence is
// who wrote the latest replies — none yet, another user, or this one.
func TestDoctorChecksTheBusinessUser(t *testing.T) {
	t.Parallel()
	u := newUnit(t)
	id := fmt.Sprintf("doc-user-%d", units.Load())
	put(t, doc(id, u, nil))
	businessUser := func() cli.Finding {
		t.Helper()
		r := run(t, "doctor", id, "--json")
		var findings []cli.Finding
		if err := json.Unmarshal([]byte(r.out), &findings); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r.out)
		}
		for _, f := range findings {
			if f.Connection == id && f.Check == "business user" {
				return f
			}
		}
		t.Fatalf("no business user finding:\n%s", r.out)
		return cli.Finding{}
	}
	if f := businessUser(); f.Status != cli.OK || !strings.Contains(f.Detail, "no reply on the latest reviews") {
		t.Fatalf("no reply yet: %+v", f)
	}
	now := time.Now().UTC()
	replied := func(author string, seed int64) {
		t.Helper()
		rv := trustpilotsim.Generate(u.id, 1, 0, now, now, seed).ServiceReviews[0]
		rv.ID = fmt.Sprintf("%024x", 0xc00000+seed)
		rv.CompanyReply = &trustpilotsim.CompanyReply{Text: "Thanks", AuthorBusinessUserID: author, CreatedAt: now.Format(time.RFC3339)}
		if err := tp.PutServiceReview(rv); err != nil {
			t.Fatal(err)
		}
	}
	other := fmt.Sprintf("%024x", 0xd00000+units.Load())
	replied(other, units.Load()*10)
	if f := businessUser(); f.Status != cli.WARN || !strings.Contains(f.Detail, other) || !strings.Contains(f.Fix, "Settings → Users") {
		t.Fatalf("replies by another user only: %+v", f)
	}
	replied(u.user, units.Load()*10+1)
	if f := businessUser(); f.Status != cli.OK || !strings.Contains(f.Detail, "accepted") {
		t.Fatalf("a reply by the connection's user: %+v", f)
	}
}

// report reads the connection's links from the table: the figures match what was seeded, the
// --since filter and --csv apply, a bad date is named.
func TestReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := newUnit(t)
	id := fmt.Sprintf("report-%d", units.Load())
	put(t, doc(id, u, nil))
	now := time.Now().UTC().Truncate(time.Second)
	seed := func(n int, kind review.Kind, stars int, created time.Time, replyAfter time.Duration, held int) {
		t.Helper()
		rid := fmt.Sprintf("%016x%08x", units.Load(), n)
		if c, err := st.ClaimReview(ctx, id, rid, kind, "w", time.Minute); err != nil || c.Status != link.ClaimGranted {
			t.Fatal(c.Status, err)
		}
		if err := st.ConfirmLink(ctx, link.Confirm{ConnectionID: id, ReviewID: rid, Owner: "w", Account: "a", TicketID: int64(100000*units.Load()) + int64(n),
			Stars: stars, ReviewCreatedAt: created}); err != nil {
			t.Fatal(err)
		}
		for h := range held {
			if _, err := st.ClaimReply(ctx, id, rid, int64(h+1), "w", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := st.HoldReply(ctx, id, rid, int64(h+1), "held: a phone number"); err != nil {
				t.Fatal(err)
			}
		}
		if replyAfter > 0 {
			if _, err := st.ClaimReply(ctx, id, rid, 99, "w", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishReply(ctx, id, rid, 99, link.ReplyPosted, "posted"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Reply times are measured against the store's clock (now): creations are set back.
	seed(1, review.Service, 1, now.Add(-3*time.Hour), 1, 1)
	seed(2, review.Service, 1, now.Add(-5*time.Hour), 1, 0)
	seed(3, review.Service, 4, now.Add(-24*time.Hour), 0, 0)
	seed(4, review.Product, 5, now.AddDate(0, -3, 0), 1, 0)
	r := run(t, "report", id, "--csv")
	wantRunErr(t, r, "")
	recs, err := csv.NewReader(strings.NewReader(r.out)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("report --csv: %v\n%s", err, r.out)
	}
	svc := recs[1]
	if strings.Join(svc[:11], ",") != id+","+u.id+",service,3,2,0,0,1,0,2,0.6667" || svc[13] != "1" {
		t.Fatalf("service row %v", svc)
	}
	if med, _ := strconv.Atoi(svc[11]); med < 3*3600 || med > 3*3600+60 {
		t.Fatalf("median time to reply %ss, want 3 h", svc[11])
	}
	if p90, _ := strconv.Atoi(svc[12]); p90 < 5*3600 || p90 > 5*3600+60 {
		t.Fatalf("p90 time to reply %ss, want 5 h", svc[12])
	}
	r = run(t, "report", id, "--since", now.AddDate(0, 0, -7).Format("2006-01-02"))
	wantRunErr(t, r, "")
	if !strings.Contains(r.out, "service") || strings.Contains(r.out, "product") || !strings.Contains(r.out, "67%") {
		t.Fatalf("report --since a week ago:\n%s", r.out)
	}
	wantRunErr(t, run(t, "report", id, "--since", "last tuesday"), "--since")
}
