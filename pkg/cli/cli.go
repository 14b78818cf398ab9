// Package cli is the operator CLI (`pilotdesk`): connections, syncs and backfills, status,
// dead letters, and the helpdesk webhook installer. It reads the same environment as the
// functions. Secrets are never printed.
package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/loopback"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
	"github.com/pilotdesk/pilotdesk/pkg/sidebar"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

// Store is what the CLI needs from the table.
type Store interface {
	PutConnection(ctx context.Context, c connection.Connection) error
	GetConnection(ctx context.Context, id string) (connection.Record, error)
	GetConnectionForReplies(ctx context.Context, id string) (connection.Record, error)
	ListConnections(ctx context.Context) ([]connection.Record, error)
	DeleteConnection(ctx context.Context, id string, purge bool) error
	SetReauth(ctx context.Context, id string, needs bool, reason string) error
	GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error)
	ListSetAside(ctx context.Context, connID string) ([]link.Link, error)
	ListLinks(ctx context.Context, connID string) ([]link.Link, error)
	RetrySetAside(ctx context.Context, connID, reviewID string) error
	CallCounts(ctx context.Context, key string, window time.Duration, days int) (int, []int, error)
	OtherCallDays(ctx context.Context, key string, days int) ([]int, error)
	// LeaseHolder tells which connection's sync holds a helpdesk account's lease, and until when.
	LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, held bool, err error)
}

// Secrets stores connection credentials.
type Secrets interface {
	PutConnection(ctx context.Context, connID string, s connection.Secrets) error
	Connection(ctx context.Context, connID string) (connection.Secrets, error)
	DeleteConnection(ctx context.Context, connID string) error
	Value(ctx context.Context, id string) (string, error)
}

// Queue is the sync-jobs queue and its dead letters.
type Queue interface {
	Send(ctx context.Context, jobs []queue.Job, delay time.Duration) error
	Depths(ctx context.Context) (queued, inFlight, dead int, err error)
	Redrive(ctx context.Context) (int, error)
}

// Checker calls the connection's APIs with its stored credentials.
type Checker interface {
	CheckTrustpilot(ctx context.Context, c connection.Connection) error
	// TrustpilotReplyAuthors checks like CheckTrustpilot and names the business users who
	// wrote the latest replies on Trustpilot.
	TrustpilotReplyAuthors(ctx context.Context, c connection.Connection) ([]string, error)
	CheckHelpdesk(ctx context.Context, c connection.Connection) error
	EnsureIntegration(ctx context.Context, c connection.Connection, in gorgias.NewHTTPIntegration) (gorgias.Integration, string, error)
	HelpdeskIntegrations(ctx context.Context, c connection.Connection) ([]gorgias.Integration, error)
	// Checks of credentials a connection carries before it is saved (connection new).
	CheckHelpdeskWith(ctx context.Context, c connection.Connection) error
	CheckTrustpilotWith(ctx context.Context, c connection.Connection) error
	FindBusinessUnit(ctx context.Context, c connection.Connection, domain string) (trustpilot.BusinessUnit, error)
	EnsureWidget(ctx context.Context, c connection.Connection, integrationID int64, template json.RawMessage) (gorgias.Widget, string, error)
}

// CLI runs commands.
type CLI struct {
	Store            Store
	Secrets          Secrets
	Queue            Queue
	Check            Checker
	WebhookSecretARN string
	APIURL           string        // the stack's HTTP API base (API_URL): the default of --base
	TrustpilotWindow time.Duration // the Trustpilot rate window status counts calls over (0: 5 minutes)
	In               io.Reader     // `connection put -f -` reads it; nil means os.Stdin
	Out, Err         io.Writer
	Now              func() time.Time
}

const usage = `usage: pilotdesk <command>

  connection new [flags] [--yes]  guided setup: asks (or takes flags) for the helpdesk and
                                  Trustpilot credentials, checks them, finds the business unit
                                  from the domain, saves, installs the helpdesk integrations
  connection put -f FILE          create or update a connection from its JSON document
  connection list                 list connections (secrets masked)
  connection show ID              show one connection (secrets masked)
  connection check ID             call Trustpilot and the helpdesk with the stored credentials
  connection login ID [--base URL]  print the link that connects ID by logging into Trustpilot
  connection delete ID [--purge]  remove a connection (links stay unless --purge)
  sync ID [--kind K] [--since DATE]  enqueue a sync now, or a backfill from DATE (YYYY-MM-DD)
  sync ID --deep [--kind K]       enqueue the deep pass now (the last 30 days of service reviews)
  sync ID --retry-failed [--review R]  retry the set-aside reviews now (every one, or review R)
  status [ID] [--json]            last sync, reviews synced, backfill progress, errors, DLQ depth,
                                  and the reviews set aside with their errors
  doctor [ID] [--json]            one line per check (stack, credentials, integrations, syncs,
                                  webhook, allowance, dead letters), OK / FAIL with the fix;
                                  exits non-zero when a check fails
  report [ID] [--since DATE] [--csv]  reviews by stars, share replied, median and p90 time to
                                  reply, replies held by the guard, per business unit and kind
  dlq redrive                     move dead letters back to the queue
  helpdesk install-webhook ID --url URL   install the helpdesk integrations (replies, sidebar) and
                                  the sidebar widget; running it again changes nothing
  trustpilot webhook-url ID [--base URL]  print the URL to paste into Trustpilot's webhooks

the stack: --stack NAME (any command), else PILOTDESK_STACK, else stack_name in ./samconfig.toml;
its outputs give TABLE_NAME, QUEUE_URL, CREDENTIALS_SECRET_PREFIX, WEBHOOK_SECRET_ARN and API_URL,
and those variables win when set. The AWS SDK's own variables (AWS_REGION, AWS_PROFILE) apply.
`

// ErrUsage is returned for a bad command line.
var ErrUsage = errors.New("usage")

// Run runs one command line.
func (c *CLI) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	switch args[0] {
	case "connection":
		if len(args) < 2 {
			break
		}
		switch args[1] {
		case "put":
			return c.put(ctx, args[2:])
		case "list":
			return c.list(ctx)
		case "show":
			return c.withID(args[2:], func(id string) error { return c.show(ctx, id) })
		case "check":
			return c.withID(args[2:], func(id string) error { return c.check(ctx, id) })
		case "login":
			return c.login(ctx, args[2:])
		case "new":
			return c.newConnection(ctx, args[2:])
		case "delete":
			return c.delete(ctx, args[2:])
		}
	case "sync":
		return c.sync(ctx, args[1:])
	case "status":
		return c.status(ctx, args[1:])
	case "doctor":
		return c.doctor(ctx, args[1:])
	case "report":
		return c.report(ctx, args[1:])
	case "dlq":
		if len(args) == 2 && args[1] == "redrive" {
			n, err := c.Queue.Redrive(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "moved %d dead letters back to the queue\n", n)
			return nil
		}
	case "helpdesk":
		if len(args) >= 2 && args[1] == "install-webhook" {
			return c.installWebhook(ctx, args[2:])
		}
	case "trustpilot":
		if len(args) >= 2 && args[1] == "webhook-url" {
			return c.trustpilotWebhookURL(ctx, args[2:])
		}
	case "help", "-h", "--help":
		fmt.Fprint(c.Out, usage)
		return nil
	}
	fmt.Fprint(c.Err, usage)
	return ErrUsage
}

func (c *CLI) withID(args []string, f func(string) error) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	return f(args[0])
}

// interleaved lets flags follow positional arguments (`sync acme --kind service`).
func interleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *CLI) put(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("connection put", flag.ContinueOnError)
	fs.SetOutput(c.Err)
	file := fs.String("f", "", "connection JSON document (- for stdin)")
	// A second file would be silently ignored: refuse it.
	if pos, err := interleaved(fs, args); err != nil || *file == "" || len(pos) != 0 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	var b []byte
	var err error
	if *file == "-" {
		in := c.In
		if in == nil {
			in = os.Stdin
		}
		b, err = io.ReadAll(io.LimitReader(in, 1<<20))
	} else {
		b, err = os.ReadFile(*file)
	}
	if err != nil {
		return err
	}
	conn, err := connection.Parse(b)
	if err != nil {
		return err
	}
	if err := SaveConnection(ctx, c.Store, c.Secrets, conn); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "connection %s saved (credentials stored in the secret store)\n", conn.ID)
	return nil
}

// ConnectionWriter stores a connection without its secrets.
type ConnectionWriter interface {
	PutConnection(ctx context.Context, c connection.Connection) error
}

// SecretWriter stores a connection's credentials.
type SecretWriter interface {
	PutConnection(ctx context.Context, connID string, s connection.Secrets) error
	Connection(ctx context.Context, connID string) (connection.Secrets, error)
}

// SaveConnection is the one way a connection is written (the CLI's `connection put`, the dev
// stack, tests): validated, credentials to the secret store first (a connection row without
// credentials would make the worker fail), then the row without them.
func SaveConnection(ctx context.Context, st ConnectionWriter, sec SecretWriter, conn connection.Connection) error {
	if err := conn.Validate(); err != nil {
		return err
	}
	if conn.Trustpilot.WebhookSecret == "" {
		// Saving a connection again must not change its Trustpilot webhook URL.
		old, err := sec.Connection(ctx, conn.ID)
		switch {
		case err == nil && old.TrustpilotWebhook != "":
			conn.Trustpilot.WebhookSecret = old.TrustpilotWebhook
		case err == nil || errs.Is(err, errs.NotExist):
			if conn.Trustpilot.WebhookSecret, err = connection.NewWebhookSecret(); err != nil {
				return err
			}
		default:
			return err
		}
	}
	bare, secrets := conn.SplitSecrets()
	bare.Trustpilot.LedgerKey = trustpilot.LedgerKey(conn.Trustpilot.APIKey)
	if err := sec.PutConnection(ctx, conn.ID, secrets); err != nil {
		return err
	}
	return st.PutConnection(ctx, bare)
}

func (c *CLI) list(ctx context.Context) error {
	recs, err := c.Store.ListConnections(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHELPDESK\tBUSINESS UNIT\tKINDS\tMIN STARS\tSTATE")
	for _, r := range recs {
		kinds := make([]string, len(r.Connection.ReviewKinds))
		for i, k := range r.Connection.ReviewKinds {
			kinds[i] = string(k)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Connection.ID, r.Connection.Helpdesk.URL, r.Connection.Trustpilot.BusinessUnitID,
			strings.Join(kinds, ","), r.Connection.MinStars, state(r))
	}
	return tw.Flush()
}

func state(r connection.Record) string {
	switch {
	case r.Connection.Disabled:
		return "disabled"
	case r.NeedsReauth:
		return "needs re-authorising"
	}
	return "active"
}

func (c *CLI) show(ctx context.Context, id string) error {
	r, err := c.Store.GetConnection(ctx, id)
	if err != nil {
		return err
	}
	sec, err := c.Secrets.Connection(ctx, id)
	if err != nil && !errs.Is(err, errs.NotExist) {
		return err
	}
	masked := r.Connection.WithSecrets(sec).Masked()
	out := struct {
		connection.Connection
		State        string `json:"state"`
		ReauthReason string `json:"reauth_reason,omitempty"`
	}{masked, state(r), r.ReauthReason}
	enc := json.NewEncoder(c.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (c *CLI) check(ctx context.Context, id string) error {
	r, err := c.Store.GetConnection(ctx, id)
	if err != nil {
		return err
	}
	failed := false
	for _, chk := range []struct {
		name string
		f    func(context.Context, connection.Connection) error
	}{{"Trustpilot", c.Check.CheckTrustpilot}, {"helpdesk", c.Check.CheckHelpdesk}} {
		if err := chk.f(ctx, r.Connection); err != nil {
			failed = true
			fmt.Fprintf(c.Out, "%-10s FAIL  %v\n", chk.name, err)
			continue
		}
		fmt.Fprintf(c.Out, "%-10s ok\n", chk.name)
	}
	if failed {
		return errors.New("connection check failed")
	}
	if r.NeedsReauth {
		// The credentials work again: let the scheduler pick the connection up.
		if err := c.Store.SetReauth(ctx, id, false, ""); err != nil {
			return err
		}
		fmt.Fprintln(c.Out, "credentials work again: the connection is active")
	}
	return nil
}

func (c *CLI) delete(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("connection delete", flag.ContinueOnError)
	fs.SetOutput(c.Err)
	purge := fs.Bool("purge", false, "also delete the review↔ticket links (replies on existing tickets stop working)")
	pos, err := interleaved(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	if rec, err := c.Store.GetConnectionForReplies(ctx, pos[0]); err == nil {
		// The delete waits for a sync of the connection still running.
		holder, until, held, err := c.Store.LeaseHolder(ctx, rec.Connection.HelpdeskAccountKey())
		if err == nil && held && (holder == "" || holder == pos[0]) {
			fmt.Fprintf(c.Out, "a sync of connection %s is running: waiting for it to stop (it looks every 10 s, after the call it is in; its lease ends %s at the latest)\n", pos[0], until.UTC().Format(time.RFC3339))
		}
	}
	if err := c.Store.DeleteConnection(ctx, pos[0], *purge); err != nil {
		if *purge && errs.Is(err, errs.NotExist) {
			// The store's part may be done while the credentials stayed (a purge whose last step
			// failed): purging again removes them.
			_, serr := c.Secrets.Connection(ctx, pos[0])
			if serr == nil {
				if serr := c.Secrets.DeleteConnection(ctx, pos[0]); serr != nil {
					return serr
				}
				fmt.Fprintf(c.Out, "connection %s was already deleted with its links; its credentials are deleted now\n", pos[0])
				return nil
			}
			if !errs.Is(serr, errs.NotExist) {
				return serr
			}
		}
		return err
	}
	if *purge {
		if err := c.Secrets.DeleteConnection(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.Out, "connection %s deleted with its links and credentials\n", pos[0])
		return nil
	}
	// Credentials stay while links do: replies on existing tickets still reach Trustpilot.
	fmt.Fprintf(c.Out, "connection %s deleted; its links and credentials stay for replies on existing tickets (use --purge to remove them)\n", pos[0])
	return nil
}

func (c *CLI) sync(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(c.Err)
	kind := fs.String("kind", "", "service or product (default: every kind the connection syncs)")
	since := fs.String("since", "", "backfill from this date (YYYY-MM-DD or RFC 3339)")
	deep := fs.Bool("deep", false, "run the deep pass (the last 30 days of service reviews) now")
	retry := fs.Bool("retry-failed", false, "retry the connection's set-aside reviews now, given-up ones included")
	only := fs.String("review", "", "with --retry-failed: only this review")
	pos, err := interleaved(fs, args)
	if err != nil || len(pos) != 1 || (*retry && (*since != "" || *deep)) || (*deep && *since != "") || (*only != "" && !*retry) {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	r, err := c.Store.GetConnection(ctx, pos[0])
	if err != nil {
		return err
	}
	var from *time.Time
	if *since != "" {
		t, err := parseDate(*since)
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		from = &t
	}
	if *kind != "" && !review.Kind(*kind).Valid() {
		return fmt.Errorf("--kind %q: want service or product", *kind)
	}
	if *kind != "" && !r.Connection.Kinds(review.Kind(*kind)) {
		// The worker skips jobs of a kind the connection does not sync: say so now.
		return fmt.Errorf("--kind %s: connection %s does not sync %s reviews (review_kinds in its document)", *kind, r.Connection.ID, *kind)
	}
	if *retry {
		return c.retryFailed(ctx, r.Connection, review.Kind(*kind), *only)
	}
	var jobs []queue.Job
	for _, k := range []review.Kind{review.Service, review.Product} {
		if (*kind == "" && r.Connection.Kinds(k)) || *kind == string(k) {
			j := queue.SyncJob(r.Connection.ID, k)
			j.Since = from
			if *deep {
				j.Pass = queue.PassDeep
			}
			jobs = append(jobs, j)
		}
	}
	if err := c.Queue.Send(ctx, jobs, 0); err != nil {
		return err
	}
	for _, j := range jobs {
		what := "sync"
		if j.Pass == queue.PassDeep {
			what = "deep pass"
		}
		if j.Since != nil {
			what = "backfill from " + j.Since.Format("2006-01-02")
			if j.Kind == review.Product {
				what = "full scan" // product reviews have no date filter: every page is read
			}
		}
		fmt.Fprintf(c.Out, "enqueued %s of %s reviews for %s\n", what, j.Kind, j.ConnectionID)
	}
	if r.NeedsReauth || r.Connection.Disabled {
		// The worker skips these jobs until the connection is active again.
		fmt.Fprintf(c.Err, "warning: connection %s is %s: the worker skips its jobs until it is active (`pilotdesk connection check %s`)\n", r.Connection.ID, state(r), r.Connection.ID)
	}
	return nil
}

// retryFailed makes the connection's set-aside reviews (of kind, or every kind; only one when
// reviewID is set) due now with a fresh attempt budget, and queues the set-aside pass.
func (c *CLI) retryFailed(ctx context.Context, conn connection.Connection, kind review.Kind, reviewID string) error {
	list, err := c.Store.ListSetAside(ctx, conn.ID)
	if err != nil {
		return err
	}
	kinds := map[review.Kind]bool{}
	n := 0
	for _, l := range list {
		if (kind != "" && l.Kind != kind) || (reviewID != "" && l.ReviewID != reviewID) || l.State != link.StateFailed {
			continue
		}
		if err := c.Store.RetrySetAside(ctx, conn.ID, l.ReviewID); err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
		kinds[l.Kind] = true
		n++
	}
	if reviewID != "" && n == 0 {
		return errs.E(errs.NotExist, "cli.sync", fmt.Errorf("review %s is not set aside on connection %s (`pilotdesk status %s` lists them)", reviewID, conn.ID, conn.ID))
	}
	var jobs []queue.Job
	for _, k := range []review.Kind{review.Service, review.Product} {
		if kinds[k] {
			j := queue.SyncJob(conn.ID, k)
			j.Pass = queue.PassAside
			jobs = append(jobs, j)
		}
	}
	if len(jobs) > 0 {
		if err := c.Queue.Send(ctx, jobs, 0); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.Out, "%d set-aside review(s) of %s queued for a retry now\n", n, conn.ID)
	return nil
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date like 2024-01-31", s)
}

// records is the connection named in args, or every connection, by id.
func (c *CLI) records(ctx context.Context, args []string) ([]connection.Record, error) {
	var recs []connection.Record
	if len(args) == 1 {
		r, err := c.Store.GetConnection(ctx, args[0])
		if err != nil {
			return nil, err
		}
		recs = []connection.Record{r}
	} else {
		var err error
		if recs, err = c.Store.ListConnections(ctx); err != nil {
			return nil, err
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Connection.ID < recs[j].Connection.ID })
	return recs, nil
}

func (c *CLI) status(ctx context.Context, args []string) error {
	asJSON, args := jsonFlag(args)
	if len(args) > 1 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	recs, err := c.records(ctx, args)
	if err != nil {
		return err
	}
	if asJSON {
		return c.statusJSON(ctx, recs)
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tKIND\tSTATE\tLAST SYNC\tREVIEWS SEEN\tTICKETS\tERRORS\tBACKFILL\tLAST ERROR")
	for _, r := range recs {
		for _, k := range r.Connection.ReviewKinds {
			cur, err := c.Store.GetCursor(ctx, r.Connection.ID, k)
			if err != nil {
				return err
			}
			last := "never"
			if !cur.LastRunAt.IsZero() {
				last = cur.LastRunAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			backfill := "-"
			if cur.Resume != "" {
				backfill = "in progress at " + shorten(cur.Resume, 40)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Connection.ID, k, state(r), last, cur.ReviewSeen, cur.Tickets, cur.Errors,
				backfill, shorten(cur.LastError, 80))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := c.allowance(ctx, recs); err != nil {
		return err
	}
	if err := c.setAside(ctx, recs); err != nil {
		return err
	}
	queued, inFlight, dead, err := c.Queue.Depths(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "\nqueue: %d waiting, %d in flight; dead-letter queue: %d", queued, inFlight, dead)
	if dead > 0 {
		fmt.Fprint(c.Out, " (inspect the worker's logs, then `pilotdesk dlq redrive`)")
	}
	fmt.Fprintln(c.Out)
	return nil
}

// allowance shows each connection's Trustpilot calls against its yearly allowance (the call
// ledger), and when each kind is polled next by the scheduler's pace.
func (c *CLI) allowance(ctx context.Context, recs []connection.Record) error {
	now := c.now()
	fmt.Fprintln(c.Out)
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	window := cmp.Or(c.TrustpilotWindow, trustpilot.DefaultBudgetWindow)
	fmt.Fprintf(tw, "CONNECTION\tTRUSTPILOT CALLS %s\tTODAY (UTC)\tYESTERDAY\tPROJECTED / YEAR\tALLOWANCE\tNEXT POLL\n", perWindow(window))
	all, err := c.Store.ListConnections(ctx)
	if err != nil {
		return err
	}
	sharing := scheduler.Sharing(all)
	for _, r := range recs {
		conn := r.Connection
		o, err := scheduler.PaceOf(ctx, c.Store, conn, sharing[conn.Trustpilot.LedgerKey], now)
		if err != nil {
			return err
		}
		var next []string
		for _, k := range conn.ReviewKinds {
			every := o.Service
			if k == review.Product {
				every = o.Product
			}
			at := "now"
			if s := o.Cursors[k].ScheduledAt; !s.IsZero() && s.Add(every).After(now) {
				at = s.Add(every).UTC().Format("15:04Z")
			}
			next = append(next, fmt.Sprintf("%s %s (every %s)", k, at, every.Round(time.Minute)))
		}
		recent, days := 0, []int{0, 0}
		if conn.Trustpilot.LedgerKey != "" {
			if recent, days, err = c.Store.CallCounts(ctx, conn.Trustpilot.LedgerKey, window, 2); err != nil {
				return err
			}
		}
		// The API key's calls, projected against the key's allowance (every connection on it).
		allowance, projected := "unlimited", scheduler.Projected(days[0], days[1], now)
		if a := conn.Allowance(); a > 0 {
			allowance = fmt.Sprintf("%d", a)
			if n := sharing[conn.Trustpilot.LedgerKey]; n > 1 {
				allowance += fmt.Sprintf(" (API key shared by %d connections)", n)
			}
			if projected > a {
				allowance += " — PROJECTED TO OVERRUN"
			}
		}
		if o.Webhooks {
			next = append(next, "webhooks arriving")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", conn.ID, recent, days[0], days[1], projected, allowance, strings.Join(next, ", "))
	}
	return tw.Flush()
}

// perWindow names a rate window in status's header: "5 MIN", "30 S".
func perWindow(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d MIN", d/time.Minute)
	}
	return fmt.Sprintf("%d S", d/time.Second)
}

// setAside lists the reviews waiting on the set-aside list: what no ticket exists for yet,
// why, and when it is tried again.
func (c *CLI) setAside(ctx context.Context, recs []connection.Record) error {
	var rows []link.Link
	for _, r := range recs {
		list, err := c.Store.ListSetAside(ctx, r.Connection.ID)
		if err != nil {
			return err
		}
		rows = append(rows, list...)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.Out, "\nset aside: none")
		return nil
	}
	fmt.Fprintf(c.Out, "\nset aside: %d review(s) without a ticket yet (`pilotdesk sync ID --retry-failed` retries them now)\n", len(rows))
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tKIND\tREVIEW\tFAILURES\tNEXT TRY\tERROR")
	for _, l := range rows {
		next := l.ClaimExpires.UTC().Format("2006-01-02 15:04:05Z")
		switch {
		case l.GivenUp && l.Snapshot == "":
			next = "when Trustpilot sends it readable"
		case l.GivenUp:
			next = "given up"
		case l.State == link.StateClaimed:
			next = "retrying now"
		case !l.ClaimExpires.After(c.now()):
			next = "due"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", l.ConnectionID, l.Kind, l.ReviewID, l.Failures, next, shorten(l.LastError, 100))
	}
	return tw.Flush()
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func (c *CLI) installWebhook(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("helpdesk install-webhook", flag.ContinueOnError)
	fs.SetOutput(c.Err)
	url := fs.String("url", "", "the stack's ApiUrl or WebhookUrl output")
	pos, err := interleaved(fs, args)
	if err != nil || len(pos) != 1 || *url == "" {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	// Checked before anything is read or installed: a bad --url installs nothing.
	base, err := webhookBase(*url)
	if err != nil {
		return err
	}
	r, err := c.Store.GetConnection(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.WebhookSecretARN == "" {
		return errors.New("WEBHOOK_SECRET_ARN is not set (the stack output WebhookSecretArn)")
	}
	secret, err := c.Secrets.Value(ctx, c.WebhookSecretARN)
	if err != nil {
		return err
	}
	replies := WebhookIntegration(base+webhookPath, secret)
	side := SidebarIntegration(base, r.Connection.HelpdeskAccountKey(), secret)
	for _, in := range []gorgias.NewHTTPIntegration{replies, side} {
		integ, outcome, err := c.Check.EnsureIntegration(ctx, r.Connection, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Out, "HTTP integration %q %s in %s (id %d): %s → %s\n", in.Name, outcome, r.Connection.Helpdesk.URL, integ.ID,
			strings.Join(in.Triggers, ", "), strings.SplitN(in.URL, "?", 2)[0])
		if in.Name != side.Name {
			continue
		}
		w, outcome, err := c.Check.EnsureWidget(ctx, r.Connection, integ.ID, json.RawMessage(sidebar.WidgetTemplate))
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Out, "sidebar widget %s (id %d), bound to integration %d\n", outcome, w.ID, integ.ID)
	}
	return nil
}

// webhookPath is the helpdesk events route (POST): the WebhookUrl output is the base URL + it.
const webhookPath = "/helpdesk/events"

// webhookURLWant says what install-webhook's --url takes, in its errors.
const webhookURLWant = "want the stack's ApiUrl or WebhookUrl output, like https://abc.execute-api.eu-west-1.amazonaws.com or https://abc.execute-api.eu-west-1.amazonaws.com/helpdesk/events"

// webhookBase parses install-webhook's --url into the stack's API base URL (no trailing slash)
// that both integrations' URLs are made from. It takes the ApiUrl output (the base), the
// WebhookUrl output (base + /helpdesk/events) or the sidebar route (base + /helpdesk/sidebar),
// each with or without a trailing slash, so every form installs the same integrations. It
// refuses a URL that is not absolute https with a host (plain http only for a loopback host),
// that carries user info, a query or a fragment, or that ends in another route of the stack's
// API. The errors never repeat the URL: what it carries besides the host (a password, a pasted
// key) may be a secret.
func webhookBase(raw string) (string, error) {
	fail := func(why string) (string, error) {
		return "", fmt.Errorf("--url: %s; %s", why, webhookURLWant)
	}
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	switch {
	case err != nil: // its message quotes the URL
		return fail("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return fail("not an absolute https URL")
	case u.Opaque != "" || u.Hostname() == "":
		return fail("no host")
	case u.User != nil:
		return fail("user info (user:password@) is not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return fail("a query string (?…) is not allowed")
	case strings.Contains(raw, "#"): // url.Parse cuts the fragment at the first '#'
		return fail("a fragment (#…) is not allowed")
	case u.Scheme == "http" && !loopback.Host(u.Hostname()):
		return fail(fmt.Sprintf("plain http is only for a loopback host (127.0.0.1, localhost, ::1), not %s: use https", u.Hostname()))
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	for _, route := range []string{webhookPath, webhook.SidebarPath} {
		if strings.HasSuffix(path, route) {
			path = strings.TrimRight(strings.TrimSuffix(path, route), "/")
			break
		}
	}
	for _, route := range []string{"/helpdesk", webhookPath, webhook.SidebarPath, trustpilot.WebhookPath, webhook.ConnectPath, webhook.CallbackPath} {
		if strings.HasSuffix(path, route) {
			return fail("it ends in " + route + ", a route of the stack's API, not its base")
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + path, nil // a host's case names the same host
}

// SidebarIntegration is the HTTP integration Gorgias calls on ticket-created and
// ticket-updated; it stores the answer (the ticket customer's reviews) on the customer.
func SidebarIntegration(base, account, secret string) gorgias.NewHTTPIntegration {
	return gorgias.NewHTTPIntegration{
		Name: "Pilotdesk: Trustpilot reviews sidebar · " + base, Method: http.MethodGet,
		URL:          base + webhook.SidebarPath + "?account=" + url.QueryEscape(account) + "&email={{ticket.customer.email}}&ticket={{ticket.id}}&external_id={{ticket.external_id}}",
		SecretHeader: gorgias.SecretHeader, Secret: secret,
		Triggers: []string{gorgias.EventTicketCreated, gorgias.EventTicketUpdated},
	}
}

// login prints the link that connects a connection by logging into Trustpilot, and the
// redirect URI the Trustpilot app must have registered.
func (c *CLI) login(ctx context.Context, args []string) error {
	u, r, err := c.baseAndConnection(ctx, "connection login", args)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "%s/connect/trustpilot?connection=%s\n", u, url.QueryEscape(r.Connection.ID))
	fmt.Fprintf(c.Out, "open it in a browser and log in as the Trustpilot business user who replies; the Trustpilot app (API key of %s) must have this redirect URI registered: %s/connect/trustpilot/callback\n",
		r.Connection.ID, u)
	return nil
}

// baseAndConnection parses "ID [--base URL]" (the base defaults to API_URL) and reads the
// connection.
func (c *CLI) baseAndConnection(ctx context.Context, command string, args []string) (string, connection.Record, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(c.Err)
	base := fs.String("base", c.APIURL, "the stack's HTTP API base URL (the ApiUrl output of the stack)")
	pos, err := interleaved(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprint(c.Err, usage)
		return "", connection.Record{}, ErrUsage
	}
	u, err := apiBase(*base)
	if err != nil {
		return "", connection.Record{}, err
	}
	r, err := c.Store.GetConnection(ctx, pos[0])
	return u, r, err
}

// apiBase checks the stack's API base URL: https (http only on loopback), no query.
func apiBase(base string) (string, error) {
	if base == "" {
		return "", errors.New("--base: the stack's API URL is needed (the ApiUrl output of `sam deploy`, or API_URL)")
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "https" && !loopback.Host(u.Hostname())) || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("--base %q: want the https base URL of the stack's API, like https://abc.execute-api.eu-west-1.amazonaws.com", base)
	}
	return u.String(), nil
}

// trustpilotWebhookURL prints the connection's Trustpilot webhook URL, the URL first on its
// line, then the event types to subscribe it to. The URL holds the connection's key: treat it
// as a secret.
func (c *CLI) trustpilotWebhookURL(ctx context.Context, args []string) error {
	u, r, err := c.baseAndConnection(ctx, "trustpilot webhook-url", args)
	if err != nil {
		return err
	}
	sec, err := c.Secrets.Connection(ctx, r.Connection.ID)
	if err != nil {
		return err
	}
	if sec.TrustpilotWebhook == "" {
		return fmt.Errorf("connection %s has no webhook key yet: save it again with `pilotdesk connection put` (a key is made then)", r.Connection.ID)
	}
	fmt.Fprintf(c.Out, "%s%s?connection=%s&key=%s  events: %s, %s, %s\n", u, trustpilot.WebhookPath,
		url.QueryEscape(r.Connection.ID), url.QueryEscape(sec.TrustpilotWebhook), trustpilot.EventCreated, trustpilot.EventUpdated, trustpilot.EventDeleted)
	return nil
}

// WebhookIntegration is the helpdesk HTTP integration Pilotdesk needs: the one trigger, the
// body template and the secret header.
func WebhookIntegration(url, secret string) gorgias.NewHTTPIntegration {
	return gorgias.NewHTTPIntegration{
		Name: "Pilotdesk: replies to Trustpilot · " + strings.TrimSuffix(strings.TrimSuffix(url, "/"), webhookPath), URL: url, SecretHeader: gorgias.SecretHeader, Secret: secret,
		Triggers: []string{gorgias.EventMessageCreated}, Form: gorgias.WebhookForm(),
	}
}

func (c *CLI) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
