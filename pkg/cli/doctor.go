package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/scheduler"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// Finding is one doctor check.
type Finding struct {
	Check      string `json:"check"`
	Connection string `json:"connection,omitempty"`
	Status     string `json:"status"` // OK, FAIL, or WARN (advice; does not fail the run)
	Detail     string `json:"detail"`
	Fix        string `json:"fix,omitempty"`
}

// Doctor statuses.
const (
	OK   = "OK"
	FAIL = "FAIL"
	WARN = "WARN"
)

// SyncStaleAfter is how old a connection's last finished sync may be before doctor fails it.
const SyncStaleAfter = 2 * time.Hour

// ErrDoctor is returned when a check failed (the exit status is then non-zero).
var ErrDoctor = errors.New("doctor: a check failed")

// doctor checks the stack and each connection (or one) and prints a line per check, or JSON.
func (c *CLI) doctor(ctx context.Context, args []string) error {
	asJSON, args := jsonFlag(args)
	if len(args) > 1 {
		fmt.Fprint(c.Err, usage)
		return ErrUsage
	}
	var out []Finding
	add := func(f Finding) { out = append(out, f) }

	// The stack: what the CLI was pointed at.
	if c.WebhookSecretARN == "" {
		add(Finding{Check: "stack", Status: FAIL, Detail: "WEBHOOK_SECRET_ARN is not set", Fix: "set it to the stack's WebhookSecretArn output"})
	} else if _, err := c.Secrets.Value(ctx, c.WebhookSecretARN); err != nil {
		add(Finding{Check: "stack", Status: FAIL, Detail: "the webhook secret cannot be read: " + err.Error(), Fix: "check WEBHOOK_SECRET_ARN and your AWS credentials' access to Secrets Manager"})
	} else {
		add(Finding{Check: "stack", Status: OK, Detail: "table, queue and webhook secret reachable"})
	}
	if _, _, dead, err := c.Queue.Depths(ctx); err != nil {
		add(Finding{Check: "dead letters", Status: FAIL, Detail: "the queues cannot be read: " + err.Error(), Fix: "check QUEUE_URL (the QueueUrl output)"})
	} else if dead > 0 {
		add(Finding{Check: "dead letters", Status: FAIL, Detail: fmt.Sprintf("%d job(s) in the dead-letter queue", dead), Fix: "read the worker's logs, fix the cause, then `pilotdesk dlq redrive`"})
	} else {
		add(Finding{Check: "dead letters", Status: OK, Detail: "none"})
	}

	recs, err := c.records(ctx, args)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		add(Finding{Check: "connections", Status: FAIL, Detail: "no connection", Fix: "`pilotdesk connection new` (guided), or `pilotdesk connection put -f FILE`"})
	}
	all, err := c.Store.ListConnections(ctx)
	if err != nil {
		return err
	}
	sharing := scheduler.Sharing(all)
	for _, r := range recs {
		for _, f := range c.doctorConnection(ctx, r, sharing) {
			f.Connection = r.Connection.ID
			add(f)
		}
	}
	if asJSON {
		enc := json.NewEncoder(c.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		for _, f := range out {
			name := f.Check
			if f.Connection != "" {
				name = f.Connection + ": " + f.Check
			}
			line := fmt.Sprintf("%-4s  %-40s %s", f.Status, name, f.Detail)
			if f.Fix != "" {
				line += " — fix: " + f.Fix
			}
			fmt.Fprintln(c.Out, line)
		}
	}
	for _, f := range out {
		if f.Status == FAIL {
			return ErrDoctor
		}
	}
	return nil
}

func (c *CLI) doctorConnection(ctx context.Context, r connection.Record, sharing map[string]int) []Finding {
	conn := r.Connection
	var out []Finding
	if conn.Disabled {
		return []Finding{{Check: "connection", Status: WARN, Detail: "disabled: not synced"}}
	}
	if r.NeedsReauth {
		out = append(out, Finding{Check: "credentials", Status: FAIL, Detail: "needs re-authorising: " + r.ReauthReason,
			Fix: "put the connection again with working credentials, then `pilotdesk connection check " + conn.ID + "`"})
	}
	if _, err := c.Secrets.Connection(ctx, conn.ID); err != nil {
		out = append(out, Finding{Check: "credentials", Status: FAIL, Detail: "no stored credentials: " + err.Error(), Fix: "`pilotdesk connection put -f FILE` with its keys"})
		return out
	}
	if authors, err := c.Check.TrustpilotReplyAuthors(ctx, conn); err != nil {
		out = append(out, Finding{Check: "Trustpilot", Status: FAIL, Detail: err.Error(),
			Fix: "check the API key and secret (Trustpilot Business → Integrations → Developers → APIs) and the business unit id"})
	} else {
		out = append(out, Finding{Check: "Trustpilot", Status: OK, Detail: "token and business unit " + conn.Trustpilot.BusinessUnitID})
		out = append(out, businessUserFinding(conn, authors))
	}
	integrations, err := c.Check.HelpdeskIntegrations(ctx, conn)
	if err != nil {
		out = append(out, Finding{Check: "helpdesk", Status: FAIL, Detail: err.Error(), Fix: "check the helpdesk URL, user and API key (Gorgias → Settings → REST API)"})
	} else {
		out = append(out, Finding{Check: "helpdesk", Status: OK, Detail: "credentials accepted at " + conn.Helpdesk.URL})
		out = append(out, integrationFindings(conn, integrations, c.APIURL)...)
	}
	for _, k := range conn.ReviewKinds {
		cur, err := c.Store.GetCursor(ctx, conn.ID, k)
		if err != nil {
			out = append(out, Finding{Check: "last " + string(k) + " sync", Status: FAIL, Detail: err.Error()})
			continue
		}
		f := Finding{Check: "last " + string(k) + " sync", Status: OK}
		switch age := c.now().Sub(cur.LastRunAt); {
		case cur.LastRunAt.IsZero():
			f.Status, f.Detail, f.Fix = FAIL, "never", "check the scheduler runs (its logs), or `pilotdesk sync "+conn.ID+"`"
		case age > SyncStaleAfter:
			f.Status, f.Detail, f.Fix = FAIL, fmt.Sprintf("%s ago (%s)", age.Round(time.Minute), shorten(cur.LastError, 100)), "read the worker's logs for "+conn.ID
		default:
			f.Detail = fmt.Sprintf("%s ago, %d tickets so far", age.Round(time.Second), cur.Tickets)
		}
		out = append(out, f)
	}
	if sweep, err := c.Store.GetCursor(ctx, cursor.SweepID(conn.HelpdeskAccountKey()), cursor.SweepKind); err == nil {
		f := Finding{Check: "reply sweep", Status: OK, Detail: "last ran " + ago(c.now(), sweep.LastRunAt)}
		if sweep.LastRunAt.IsZero() || c.now().Sub(sweep.LastRunAt) > SyncStaleAfter {
			f.Status, f.Fix = FAIL, "the scheduler queues it every tick: read the worker's logs"
		}
		out = append(out, f)
	}
	if conn.Kinds(review.Service) {
		ev, err := c.Store.GetCursor(ctx, conn.ID, cursor.EventsKind)
		f := Finding{Check: "Trustpilot webhook", Status: OK, Detail: "last batch " + ago(c.now(), ev.LastRunAt)}
		if err != nil || ev.LastRunAt.IsZero() || c.now().Sub(ev.LastRunAt) > scheduler.WebhooksActiveFor {
			f.Status, f.Detail, f.Fix = WARN, "no batch in the last 7 days: new reviews wait for the next poll",
				"`pilotdesk trustpilot webhook-url "+conn.ID+"` and paste it into Trustpilot"
		}
		out = append(out, f)
	}
	if o, err := scheduler.PaceOf(ctx, c.Store, conn, sharing[conn.Trustpilot.LedgerKey], c.now()); err == nil && o.Allowance > 0 {
		y := scheduler.Projected(o.Today, o.Yesterday, c.now())
		f := Finding{Check: "Trustpilot allowance", Status: OK, Detail: fmt.Sprintf("projected %d of %d calls a year", y, o.Allowance)}
		if y > o.Allowance {
			f.Status, f.Fix = FAIL, "raise trustpilot.calls_per_year to your tier, turn on Trustpilot webhooks, or drop a review kind"
		}
		out = append(out, f)
	}
	return out
}

// businessUserFinding says whether the business user replies are posted as is one Trustpilot
// accepts. Trustpilot has no call to check a business user id; the evidence is who wrote the
// latest replies on the business unit: the id among them is proven, another id is a warning
// (a user who never replied is possible), no reply yet leaves the first reply to tell.
func businessUserFinding(conn connection.Connection, authors []string) Finding {
	f := Finding{Check: "business user", Status: OK}
	user := conn.Trustpilot.BusinessUserID
	switch {
	case user == "":
		f.Detail = "none set: replies are posted as the business user who logged in (`pilotdesk connection login " + conn.ID + "`)"
	case slices.Contains(authors, user):
		f.Detail = user + " wrote replies on Trustpilot already: accepted"
	case len(authors) > 0:
		f.Status, f.Detail = WARN, fmt.Sprintf("%s wrote none of the latest replies on Trustpilot (written by %s)", user, strings.Join(authors, ", "))
		f.Fix = "if replies come back refused, copy the id from Trustpilot Business → Settings → Users and put the connection again"
	default:
		f.Detail = user + " (no reply on the latest reviews to compare with: the first reply proves it, and a refusal is noted on its ticket)"
	}
	return f
}

// integrationFindings checks the helpdesk integrations install-webhook puts on the account
// (this stack's, named by its base URL, when API_URL says which).
func integrationFindings(conn connection.Connection, list []gorgias.Integration, base string) []Finding {
	var out []Finding
	suffix := ""
	if base != "" {
		suffix = " · " + strings.TrimSuffix(base, "/")
	}
	for _, want := range []struct{ check, prefix string }{
		{"reply integration", "Pilotdesk: replies to Trustpilot"},
		{"sidebar integration", "Pilotdesk: Trustpilot reviews sidebar"},
	} {
		f := Finding{Check: want.check, Status: FAIL, Detail: "not installed",
			Fix: "`pilotdesk helpdesk install-webhook " + conn.ID + " --url <WebhookUrl output>`"}
		for _, it := range list {
			if !strings.HasPrefix(it.Name, want.prefix) || !strings.HasSuffix(it.Name, suffix) {
				continue
			}
			if it.Active() {
				f.Status, f.Detail, f.Fix = OK, fmt.Sprintf("active (id %d)", it.ID), ""
				break
			}
			f.Detail = fmt.Sprintf("deactivated by the helpdesk on %s (after 100 failed calls)", it.DeactivatedDatetime.UTC().Format("2006-01-02"))
			f.Fix = "fix what made the calls fail, then `pilotdesk helpdesk install-webhook " + conn.ID + " --url <WebhookUrl output>` re-activates it"
		}
		out = append(out, f)
	}
	return out
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// jsonFlag takes --json out of args.
func jsonFlag(args []string) (bool, []string) {
	var rest []string
	found := false
	for _, a := range args {
		if a == "--json" || a == "-json" {
			found = true
			continue
		}
		rest = append(rest, a)
	}
	return found, rest
}

// StatusJSON is `status --json`: what the tables show, for scripts and monitors.
type StatusJSON struct {
	Connections []ConnectionStatus `json:"connections"`
	Queue       struct {
		Waiting  int `json:"waiting"`
		InFlight int `json:"in_flight"`
		Dead     int `json:"dead_letters"`
	} `json:"queue"`
}

// ConnectionStatus is one connection in StatusJSON.
type ConnectionStatus struct {
	ID    string       `json:"id"`
	State string       `json:"state"`
	Kinds []KindStatus `json:"kinds"`
	Calls struct {
		Recent            int    `json:"recent"`
		Window            string `json:"window"`
		Today             int    `json:"today"`
		Yesterday         int    `json:"yesterday"`
		ProjectedPerYear  int64  `json:"projected_per_year"`
		AllowancePerYear  int64  `json:"allowance_per_year"` // 0: unlimited
		ProjectedOverrun  bool   `json:"projected_overrun"`
		WebhooksArriving  bool   `json:"webhooks_arriving"`
		SharingTheAPIKey  int    `json:"connections_sharing_the_api_key"`
		ServiceEverySecs  int64  `json:"service_poll_every_s"`
		ProductEverySecs  int64  `json:"product_poll_every_s"`
		NextServicePollAt string `json:"next_service_poll_at,omitempty"`
		NextProductPollAt string `json:"next_product_poll_at,omitempty"`
	} `json:"trustpilot_calls"`
	SetAside int `json:"set_aside"`
}

// KindStatus is one review kind's cursor.
type KindStatus struct {
	Kind      string    `json:"kind"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	Seen      int64     `json:"reviews_seen"`
	Tickets   int64     `json:"tickets"`
	Errors    int64     `json:"errors"`
	Backfill  bool      `json:"backfill_in_progress"`
	LastError string    `json:"last_error,omitempty"`
}

func (c *CLI) statusJSON(ctx context.Context, recs []connection.Record) error {
	var out StatusJSON
	all, err := c.Store.ListConnections(ctx)
	if err != nil {
		return err
	}
	sharing := scheduler.Sharing(all)
	window := cmp.Or(c.TrustpilotWindow, trustpilot.DefaultBudgetWindow)
	now := c.now()
	for _, r := range recs {
		cs := ConnectionStatus{ID: r.Connection.ID, State: state(r), Kinds: []KindStatus{}}
		o, err := scheduler.PaceOf(ctx, c.Store, r.Connection, sharing[r.Connection.Trustpilot.LedgerKey], now)
		if err != nil {
			return err
		}
		for _, k := range r.Connection.ReviewKinds {
			cur := o.Cursors[k]
			cs.Kinds = append(cs.Kinds, KindStatus{Kind: string(k), LastSync: cur.LastRunAt, Seen: cur.ReviewSeen, Tickets: cur.Tickets,
				Errors: cur.Errors, Backfill: cur.Resume != "", LastError: cur.LastError})
		}
		if key := r.Connection.Trustpilot.LedgerKey; key != "" {
			recent, days, err := c.Store.CallCounts(ctx, key, window, 2)
			if err != nil {
				return err
			}
			cs.Calls.Recent, cs.Calls.Today, cs.Calls.Yesterday = recent, days[0], days[1]
		}
		cs.Calls.Window = window.String()
		cs.Calls.ProjectedPerYear = scheduler.Projected(cs.Calls.Today, cs.Calls.Yesterday, now)
		cs.Calls.AllowancePerYear = r.Connection.Allowance()
		cs.Calls.ProjectedOverrun = cs.Calls.AllowancePerYear > 0 && cs.Calls.ProjectedPerYear > cs.Calls.AllowancePerYear
		cs.Calls.WebhooksArriving, cs.Calls.SharingTheAPIKey = o.Webhooks, sharing[r.Connection.Trustpilot.LedgerKey]
		cs.Calls.ServiceEverySecs, cs.Calls.ProductEverySecs = int64(o.Service/time.Second), int64(o.Product/time.Second)
		if at := o.Cursors[review.Service].ScheduledAt; !at.IsZero() {
			cs.Calls.NextServicePollAt = at.Add(o.Service).UTC().Format(time.RFC3339)
		}
		if at := o.Cursors[review.Product].ScheduledAt; !at.IsZero() && r.Connection.Kinds(review.Product) {
			cs.Calls.NextProductPollAt = at.Add(o.Product).UTC().Format(time.RFC3339)
		}
		aside, err := c.Store.ListSetAside(ctx, r.Connection.ID)
		if err != nil {
			return err
		}
		cs.SetAside = len(aside)
		out.Connections = append(out.Connections, cs)
	}
	if out.Connections == nil {
		out.Connections = []ConnectionStatus{}
	}
	var err2 error
	out.Queue.Waiting, out.Queue.InFlight, out.Queue.Dead, err2 = c.Queue.Depths(ctx)
	if err2 != nil {
		return err2
	}
	enc := json.NewEncoder(c.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
