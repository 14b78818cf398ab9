// Package operatore2e runs what an operator does, with the real CLI binary against the whole
// local system (moto with the stack's outputs registered as a CloudFormation stack, the
// simulators, the three bootstraps under the Lambda Runtime Interface Emulator).
package operatore2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
	"github.com/pilotdesk/pilotdesk/lab/terminal"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

var update = flag.Bool("update", false, "rewrite README.md's first-hour section from this run")

var (
	repoRoot string
	cliBin   string
)

func TestMain(m *testing.M) {
	flag.Parse()
	p, err := samtemplate.Find(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(p)
	dir, err := os.MkdirTemp("", "operatore2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cliBin = filepath.Join(dir, "pilotdesk")
	if out, err := exec.Command("go", "build", "-o", cliBin, filepath.Join(repoRoot, "cmd", "pilotdesk")).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the CLI: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// shop is one shop's accounts on the simulators: a Gorgias account and a Trustpilot business
// unit found by its domain.
type shop struct {
	account, email, key string
	unit                trustpilotsim.BusinessUnit
}

// system is the local deployment, named "pilotdesk" like samconfig.toml's stack.
type system struct {
	*devstack.Stack
	log  *localrun.LogBuffer
	shop shop
}

func start(t *testing.T, name string) *system {
	t.Helper()
	sh := shop{account: "acme", email: "ops@acme-shop.com", key: "gorgias-api-key-acme-0001",
		unit: trustpilotsim.BusinessUnit{ID: "5f0c0000000000000000ac01", Name: "acme-shop.com", DisplayName: "Acme Shop",
			APIKey: "tp-api-key-acme-0001", APISecret: "tp-api-secret-acme-0001",
			BusinessUsers: []trustpilotsim.BusinessUser{{ID: "5f0d0000000000000000ac01", Name: "Anna", Email: "anna@acme-shop.com"}}}}
	lb := &localrun.LogBuffer{}
	st, err := devstack.Start(context.Background(), devstack.Options{Name: name, Log: lb,
		Helpdesk: gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{{ID: sh.account, Email: sh.email, APIKey: sh.key}}}})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, lb.String())
	}
	t.Cleanup(st.Stop)
	if err := st.TP.AddBusinessUnit(sh.unit); err != nil {
		t.Fatal(err)
	}
	// The queue's event-source mapping, as Lambda runs it: the worker takes jobs as they come.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Runtime.RunQueue(ctx, st.Runtime.Functions["SyncWorkerFunction"], nil)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &system{Stack: st, log: lb, shop: sh}
}

// cliEnv is the operator's shell: AWS credentials and endpoint (moto's), the Trustpilot API of
// the simulator, and none of the variables that would stand in for the stack's outputs.
func (s *system) cliEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TABLE_NAME", "QUEUE_URL", "DLQ_URL", "WEBHOOK_SECRET_ARN", "CREDENTIALS_SECRET_PREFIX", "API_URL", "PILOTDESK_STACK":
			continue
		}
		env = append(env, kv)
	}
	for k, v := range s.AWS.Moto.Env() {
		env = append(env, k+"="+v)
	}
	return append(env, "TRUSTPILOT_API_URL="+s.TP.URL())
}

// cli runs the CLI from the repository's root (where samconfig.toml names the stack).
func (s *system) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(cliBin, args...)
	cmd.Dir, cmd.Env = repoRoot, s.cliEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// settle waits until the helpdesk holds n tickets and the queue is empty.
func (s *system) settle(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d tickets and an empty queue", n), func() bool {
		waiting, inFlight, err := s.Depth(context.Background())
		return err == nil && waiting+inFlight == 0 && len(s.HD.Tickets(s.shop.account)) == n
	})
}

// putConnection writes the shop's connection document (its Trustpilot secret given, the
// fields of extra on top) to a file and runs `connection put -f` on it, then each of more.
func (s *system) putConnection(t *testing.T, secret string, extra map[string]any, more ...[]string) {
	t.Helper()
	u := s.shop.unit
	doc := map[string]any{"id": "acme-uk",
		"helpdesk":        map[string]any{"type": "gorgias", "url": s.HD.URL(), "email": s.shop.email, "api_key": s.shop.key},
		"trustpilot":      map[string]any{"business_unit_id": u.ID, "business_user_id": u.BusinessUsers[0].ID, "api_key": u.APIKey, "api_secret": secret},
		"anonymous_email": "reviews@" + u.Name,
	}
	maps.Copy(doc, extra)
	b, _ := json.Marshal(doc)
	file := filepath.Join(t.TempDir(), "acme-uk.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range append([][]string{{"connection", "put", "-f", file}}, more...) {
		if out, err := s.cli(t, args...); err != nil {
			t.Fatalf("pilotdesk %s: %v\n%s", strings.Join(args, " "), err, out)
		} else if strings.Contains(out, secret) || strings.Contains(out, s.shop.key) {
			t.Fatalf("pilotdesk %s printed a secret:\n%s", strings.Join(args, " "), out)
		}
	}
}

// note waits up to a minute for the ticket's internal note that starts with prefix.
func (s *system) note(t *testing.T, ticketID int64, prefix string) string {
	t.Helper()
	var note string
	waitFor(t, time.Minute, fmt.Sprintf("a note %q on ticket %d", prefix, ticketID), func() bool {
		tk, _ := s.HD.Ticket(ticketID)
		for _, m := range tk.Messages {
			if strings.HasPrefix(m.BodyText, prefix) {
				note = m.BodyText
				return true
			}
		}
		return false
	})
	return note
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("no %s within %s", what, d)
		}
	}
}

// step is one step of the walkthrough: what the operator does, and what they see.
type step struct {
	say     string // Markdown
	command string // shown after "$ "; "" for none
	output  string
}

// The first hour of a shop with Pilotdesk, as README tells it: every command's output below is
// this run's, with the deployment's addresses in place of the local ones. The run proves the
// walkthrough works (connection new in a pseudo-terminal ends with a working connection: a
// review becomes a ticket and the agent's reply reaches Trustpilot), and README's section must
// be what it printed (go test ./test/operatore2e -run TestFirstHour -update rewrites it).
func TestFirstHour(t *testing.T) {
	ctx := context.Background()
	s := start(t, "pilotdesk")
	u := s.shop.unit
	from := time.Now().Add(-72 * time.Hour)
	fx := trustpilotsim.Generate(u.ID, 3, 0, from, from.Add(48*time.Hour), 7)
	for i := range fx.ServiceReviews {
		fx.ServiceReviews[i].ID = fmt.Sprintf("65a1000000000000000000%02d", i+1)
		fx.ServiceReviews[i].CompanyReply = nil
		if err := s.TP.PutServiceReview(fx.ServiceReviews[i]); err != nil {
			t.Fatal(err)
		}
	}
	var steps []step
	run := func(say string, args ...string) string {
		t.Helper()
		out, err := s.cli(t, args...)
		if err != nil && args[0] != "doctor" {
			t.Fatalf("pilotdesk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		steps = append(steps, step{say: say, command: "./pilotdesk " + strings.Join(args, " "), output: out})
		return out
	}

	out := run("The CLI reads the stack `samconfig.toml` names (or `--stack NAME`) and its outputs; nothing to export. Before any connection, `doctor` says what is left to do:", "doctor")
	if !strings.Contains(out, "OK    stack") || !strings.Contains(out, "FAIL  connections") {
		t.Fatalf("doctor before any connection:\n%s", out)
	}

	// connection new, typed by a person.
	cmd := exec.Command(cliBin, "connection", "new")
	cmd.Dir, cmd.Env = repoRoot, s.cliEnv()
	term := terminal.Start(t, cmd)
	for _, qa := range [][2]string{
		{"Connection id", "acme-uk"}, {"Gorgias URL", s.HD.URL()}, {"Gorgias REST API user", s.shop.email},
		{"Gorgias REST API key (not shown)", s.shop.key}, {"Trustpilot API key", u.APIKey},
		{"Trustpilot API secret (not shown)", u.APISecret}, {"domain on Trustpilot", u.Name},
		{"business user id", u.BusinessUsers[0].ID}, {"Review kinds", ""}, {"at least how many stars", ""},
		{"reviews without an email", ""},
	} {
		term.Expect(qa[0])
		term.Send(qa[1])
	}
	if err := term.Wait(); err != nil {
		t.Fatalf("connection new: %v\n%s", err, term.Transcript())
	}
	out = term.Transcript()
	for _, secret := range []string{s.shop.key, u.APISecret} {
		if strings.Contains(out, secret) {
			t.Fatalf("the terminal showed a secret:\n%s", out)
		}
	}
	steps = append(steps, step{say: "`connection new` asks for each value (the keys are read without echo and never printed), checks the Gorgias and Trustpilot credentials at once, finds the business unit from the shop's domain, saves the connection and installs the helpdesk integrations:",
		command: "./pilotdesk connection new", output: out})
	webhook := regexp.MustCompile(`\S+/trustpilot/events\?connection=acme-uk&key=[0-9a-f]{64}`).FindString(out)
	if webhook == "" {
		t.Fatalf("no Trustpilot webhook URL printed:\n%s", out)
	}
	if got := len(s.HD.Integrations(s.shop.account)); got != 2 {
		t.Fatalf("%d helpdesk integrations installed, want 2", got)
	}
	// The operator pastes the URL into Trustpilot Business.
	if err := s.TP.SetWebhookURL(u.ID, webhook); err != nil {
		t.Fatal(err)
	}

	// The schedule's first tick: the first sync.
	if _, err := s.Runtime.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	s.settle(t, 3)
	out = run("Within five minutes (the schedule's `rate(5 minutes)`) the first sync has made a ticket of every review:", "status")
	if !strings.Contains(out, "acme-uk") {
		t.Fatalf("status:\n%s", out)
	}

	// A new review; Trustpilot calls the webhook.
	rv := trustpilotsim.Generate(u.ID, 1, 0, time.Now(), time.Now(), 11).ServiceReviews[0]
	rv.ID, rv.CompanyReply, rv.Stars, rv.Language = "65a100000000000000000004", nil, 2, "en"
	title, text := "Parcel a week late", "Ordered a lamp for my mother's birthday, it came a week after the date I was promised."
	rv.Title, rv.Text = &title, &text
	rv.CreatedAt = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	if err := s.TP.PutServiceReview(rv); err != nil {
		t.Fatal(err)
	}
	tookStart := time.Now()
	for _, d := range s.TP.FlushWebhooks(ctx, false) {
		if d.Status != 200 {
			t.Fatalf("Trustpilot's webhook call: %+v", d)
		}
	}
	var ticket gorgiassim.Ticket
	waitFor(t, time.Minute, "ticket for the webhook's review", func() bool {
		for _, tk := range s.HD.Tickets(s.shop.account) {
			if tk.ExternalID == "trustpilot:"+rv.ID {
				ticket = tk
				return true
			}
		}
		return false
	})
	took := time.Since(tookStart)
	steps = append(steps, step{say: fmt.Sprintf("A customer writes a new review. Trustpilot calls the webhook and the ticket is there %.1f s later:", took.Seconds()),
		output: ticketSummary(ticket)})

	// The agent answers in Gorgias: first with a phone number, which the guard holds.
	_, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: ticket.ID, BodyText: "Hello, we are sorry the parcel came late. Call me on 020 7946 0958 and I will send a new one. Anna, Acme Shop"})
	if err != nil {
		t.Fatal(err)
	}
	heldNote := s.note(t, ticket.ID, "Pilotdesk: this reply was NOT posted")
	if len(s.TP.Replies(rv.ID)) != 0 {
		t.Fatal("a held reply reached Trustpilot")
	}
	steps = append(steps, step{say: "The agent answers the ticket in Gorgias as usual. The first answer gives a phone number: a reply under a review is public, and a review keeps one, so the public-reply guard holds it and tells the agent why:",
		output: "Gorgias, internal note: " + heldNote + "\n"})

	// The agent answers again, without the number.
	if _, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: ticket.ID, BodyText: "Hello, we are sorry the parcel came late. We have sent a new one today, and it will arrive tomorrow. Anna, Acme Shop"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "reply on Trustpilot", func() bool { return len(s.TP.Replies(rv.ID)) == 1 })
	note := s.note(t, ticket.ID, "Pilotdesk: this reply was posted")
	reply := s.TP.Replies(rv.ID)[0]
	steps = append(steps, step{say: "The agent sends a new answer. Pilotdesk posts it under the review and leaves an internal note on the ticket:",
		output: fmt.Sprintf("Trustpilot, under the review: %q\nGorgias, internal note: %s\n", reply.Message, note)})

	out = run("`report` gives the response figures from the table (`--since DATE`, `--csv` for a spreadsheet):", "report")
	if !strings.Contains(out, "acme-uk") || !strings.Contains(out, "25%") || !strings.HasSuffix(strings.TrimSpace(out), "1") {
		t.Fatalf("report: 4 reviews, 1 replied, 1 held:\n%s", out)
	}
	out = run("And `doctor` checks everything at once (exit status 0: nothing failed):", "doctor", "acme-uk")
	if strings.Contains(out, "FAIL") {
		t.Fatalf("doctor after the first hour:\n%s", out)
	}

	section := render(steps, map[string]string{
		s.Gateway.URL: "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
		s.HD.URL():    "https://acme-shop.gorgias.com",
	})
	readme := filepath.Join(repoRoot, "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(b), beginMark)
	_, after, ok2 := strings.Cut(rest, endMark)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no %s … %s section", beginMark, endMark)
	}
	if *update {
		if err := os.WriteFile(readme, []byte(before+beginMark+"\n"+section+endMark+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, want := stable(section), stable(strings.TrimPrefix(rest[:strings.Index(rest, endMark)], "\n")); got != want {
		t.Fatalf("README.md's first-hour section is not what this run printed; rerun with -update.\n--- this run:\n%s", section)
	}
}

const (
	beginMark = "<!-- first-hour: written by test/operatore2e (go test ./test/operatore2e -run TestFirstHour -update) -->"
	endMark   = "<!-- first-hour end -->"
)

func ticketSummary(t gorgiassim.Ticket) string {
	return fmt.Sprintf("Gorgias, new ticket #%d: %s\n  priority %s, language %s, status %s\n  tags: %s\n", t.ID, t.Subject, t.Priority, t.Language, t.Status, strings.Join(t.Tags, ", "))
}

var (
	webhookKey = regexp.MustCompile(`key=[0-9a-f]{64}`)
	trailingWS = regexp.MustCompile(`[ \t]+\n`)
)

// render writes the steps as Markdown, with the deployment's addresses for the local ones.
func render(steps []step, addresses map[string]string) string {
	var b strings.Builder
	for _, st := range steps {
		out := st.output
		locals := slices.Collect(maps.Keys(addresses))
		slices.SortFunc(locals, func(a, b string) int { return len(b) - len(a) }) // a port may prefix another
		for _, local := range locals {
			out = strings.ReplaceAll(out, local, addresses[local])
		}
		out = webhookKey.ReplaceAllString(out, "key=<64 hex digits>")
		out = trailingWS.ReplaceAllString(strings.TrimRight(out, "\n")+"\n", "\n")
		fmt.Fprintf(&b, "%s\n\n```console\n", st.say)
		if st.command != "" {
			fmt.Fprintf(&b, "$ %s\n", st.command)
		}
		fmt.Fprintf(&b, "%s```\n\n", out)
	}
	return b.String()
}

// volatile are the parts of a run that differ each time: durations, times, dates.
var volatile = regexp.MustCompile(`\d+(\.\d+)?\s?(ms|s|m|h)\b|\d{4}-\d\d-\d\dT[0-9:.]+Z?|\d{4}-\d\d-\d\d|\d\d:\d\d(:\d\d)?`)

var digits = regexp.MustCompile(`\d+`)

// stable is a section without what differs between runs (counts and projections depend on the
// time of day, ids on the order of events): the words must match, the numbers may differ, and
// so may the padding of the table columns that hold them.
func stable(s string) string {
	return spaces.ReplaceAllString(digits.ReplaceAllString(volatile.ReplaceAllString(s, "#"), "#"), " ")
}

var spaces = regexp.MustCompile(`[ \t]+`)
