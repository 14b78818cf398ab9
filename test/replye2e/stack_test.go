// Package replye2e proves reply forwarding end to end: the real webhook and worker bootstraps
// under the Lambda runtime emulator behind the local API Gateway, moto, and both simulators. The
// helpdesk simulator renders and delivers its own webhooks through the HTTP integration the
// operator CLI installs; the tests assert exact counts on the Trustpilot simulator and the notes
// the agent sees on the ticket.
//
// One stack serves the whole package (it is heavy); every scenario works on its own ticket.
package replye2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/localrun"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/cli"
	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/connector"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

const (
	account   = "acme"
	hdEmail   = "api@acme.test"
	hdKey     = "sim-api-key-replye2e"
	tpKey     = "tp-key-replye2e"
	tpSecret  = "tp-secret-replye2e"
	unitID    = "5f0c00000000000000000001"
	userID    = "5f0d00000000000000000001"
	nService  = 30
	nProduct  = 4
	syncLimit = 2 * time.Minute
	waitLimit = time.Minute
)

// ticket is a synced review ticket.
type ticket struct {
	id       int64
	reviewID string
	kind     review.Kind
	replied  bool // the review already has a reply on Trustpilot (written there)
}

// system is the started stack with one connection, its synced tickets and the webhook installed.
type system struct {
	*devstack.Stack
	log     *localrun.LogBuffer
	conn    connection.Connection
	tickets []ticket

	mu   sync.Mutex
	used map[int64]bool
}

var (
	once   sync.Once
	shared *system
	errSys error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// stack starts the package's system on first use.
func stack(tb testing.TB) *system {
	tb.Helper()
	if testing.Short() {
		tb.Skip("end to end: starts moto, the runtime emulator and the simulators")
	}
	once.Do(func() { shared, errSys = start(context.Background()) })
	if errSys != nil {
		tb.Fatalf("stack: %v", errSys)
	}
	return shared
}

func start(ctx context.Context) (_ *system, err error) {
	lb := &localrun.LogBuffer{}
	st, err := devstack.Start(ctx, devstack.Options{
		Name: "replye2e", Log: lb,
		Env:      map[string]string{"HELPDESK_RATE_LIMIT": "40/2s"},
		Helpdesk: gorgiassim.Config{RateCalls: 40, RateWindow: 2 * time.Second, Accounts: []gorgiassim.AccountConfig{{ID: account, Email: hdEmail, APIKey: hdKey}}},
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, tail(lb.String(), 4000))
	}
	s := &system{Stack: st, log: lb, used: map[int64]bool{}}
	defer func() {
		if err != nil {
			st.Stop()
		}
	}()
	fx := trustpilotsim.Generate(unitID, nService, nProduct, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(-time.Hour), 6)
	fx.BusinessUnits = []trustpilotsim.BusinessUnit{{ID: unitID, Name: "shop.example", DisplayName: "Shop", APIKey: tpKey, APISecret: tpSecret,
		BusinessUsers: []trustpilotsim.BusinessUser{{ID: userID, Name: "Agent"}}}}
	if err := st.TP.Load(fx); err != nil {
		return nil, err
	}
	s.conn = connection.Connection{
		ID:       "shop",
		Helpdesk: connection.Helpdesk{URL: st.HD.URL(), Email: hdEmail, APIKey: hdKey},
		// Unlimited: every tick polls (the tests tick seconds apart; pacing has tests of its own).
		Trustpilot:     connection.Trustpilot{BusinessUnitID: unitID, BusinessUserID: userID, APIKey: tpKey, APISecret: tpSecret, CallsPerYear: new(int64)},
		ReviewKinds:    []review.Kind{review.Service, review.Product},
		AnonymousEmail: "reviews@shop.example",
	}
	if err := st.PutConnection(ctx, s.conn); err != nil {
		return nil, err
	}
	// Sync first: the tickets the scenarios answer, and their links.
	if out, err := st.Runtime.Tick(ctx); err != nil {
		return nil, fmt.Errorf("scheduler: %w %s", err, out)
	}
	if _, err := st.Drain(ctx, syncLimit); err != nil {
		return nil, fmt.Errorf("sync: %w\n%s", err, tail(lb.String(), 4000))
	}
	for _, t := range st.HD.Tickets(account) {
		links, err := st.Store.LinksByTicket(ctx, t.ID)
		if err != nil || len(links) != 1 {
			return nil, fmt.Errorf("ticket %d: %d links, %v", t.ID, len(links), err)
		}
		tk := ticket{id: t.ID, reviewID: links[0].ReviewID, kind: links[0].Kind}
		if tk.kind == review.Service {
			r, _ := st.TP.ServiceReview(tk.reviewID)
			tk.replied = r.CompanyReply != nil
		} else {
			r, _ := st.TP.ProductReview(tk.reviewID)
			tk.replied = r.ConversationID != nil
		}
		s.tickets = append(s.tickets, tk)
	}
	if len(s.tickets) != nService+nProduct {
		return nil, fmt.Errorf("%d tickets after the sync, want %d", len(s.tickets), nService+nProduct)
	}
	// Then the webhook, through the operator CLI's code path (`pilotdesk helpdesk install-webhook`).
	var out, errOut bytes.Buffer
	c := &cli.CLI{
		Store: st.Store, Secrets: st.Secrets, Queue: st.Queue,
		Check: &connector.Factory{Secrets: st.Secrets, Tokens: st.Store, TrustpilotURL: st.TP.URL(),
			HelpdeskRate: connector.RateLimit{Calls: 40, Window: 2 * time.Second}, Log: slog.New(slog.DiscardHandler)},
		WebhookSecretARN: st.AWS.Stack.Secrets["WebhookSecret"], Out: &out, Err: &errOut,
	}
	if err := c.Run(ctx, []string{"helpdesk", "install-webhook", s.conn.ID, "--url", st.WebhookURL}); err != nil {
		return nil, fmt.Errorf("install-webhook: %w: %s", err, errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), st.WebhookSecret) {
		return nil, errors.New("install-webhook printed the webhook secret")
	}
	return s, nil
}

// take reserves an unused ticket of kind whose review has (replied) or has no reply yet.
func (s *system) take(tb testing.TB, kind review.Kind, replied bool) ticket {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickets {
		if t.kind == kind && t.replied == replied && !s.used[t.id] {
			s.used[t.id] = true
			return t
		}
	}
	tb.Fatalf("no %s ticket left (replied=%v): raise nService/nProduct", kind, replied)
	return ticket{}
}

// reply writes an agent message in the helpdesk simulator and waits for its webhook delivery to
// finish; the webhook answered 2xx.
func (s *system) reply(tb testing.TB, in gorgiassim.AgentReply) (gorgiassim.Message, gorgiassim.Delivery) {
	tb.Helper()
	m, err := s.HD.AgentReply(in)
	if err != nil {
		tb.Fatal(err)
	}
	d := s.delivery(tb, m.ID)
	if !d.OK {
		tb.Fatalf("delivery of message %d failed: %+v\n%s", m.ID, d.Attempts, tail(s.log.String(), 3000))
	}
	return m, d
}

// delivery waits until the webhook delivery of a message is finished (sent or given up).
func (s *system) delivery(tb testing.TB, messageID int64) gorgiassim.Delivery {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		done := 0
		for _, d := range s.HD.Deliveries() {
			if d.Done {
				done++
				if d.MessageID == messageID {
					return d
				}
			}
		}
		if _, err := s.HD.WaitDeliveries(ctx, done+1); err != nil {
			tb.Fatalf("no finished delivery for message %d: %v", messageID, err)
		}
	}
}

// post sends body to the gateway's webhook route with the given headers.
func (s *system) post(tb testing.TB, body string, headers map[string]string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.WebhookURL, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// repost delivers a recorded delivery again, exactly as the helpdesk's retry would.
func (s *system) repost(tb testing.TB, d gorgiassim.Delivery) (int, string) {
	tb.Helper()
	if d.Headers[webhook.SecretHeader] == "" {
		tb.Fatalf("delivery has no secret header: %v", keys(d.Headers))
	}
	return s.post(tb, d.RawBody, d.Headers)
}

// notes returns the texts of Pilotdesk's internal notes on a ticket, oldest first.
func (s *system) notes(tb testing.TB, ticketID int64) []string {
	tb.Helper()
	t, ok := s.HD.Ticket(ticketID)
	if !ok {
		tb.Fatalf("no ticket %d", ticketID)
	}
	var out []string
	for _, m := range t.Messages {
		if m.Channel == gorgias.ChannelInternalNote && m.Via == "api" && strings.HasPrefix(m.BodyText, "Pilotdesk:") {
			out = append(out, m.BodyText)
		}
	}
	return out
}

// loggedSince reports whether a line the functions printed after the first mark bytes of
// output contains every one of subs.
func (s *system) loggedSince(mark int, subs ...string) bool {
	for _, line := range strings.Split(s.log.String()[mark:], "\n") {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if all {
			return true
		}
	}
	return false
}

// count returns how many of texts contain sub.
func count(texts []string, sub string) int {
	n := 0
	for _, t := range texts {
		if strings.Contains(t, sub) {
			n++
		}
	}
	return n
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// tpCalls is the Trustpilot simulator's total of API calls.
func (s *system) tpCalls() int {
	n := 0
	for _, v := range s.TP.Counters() {
		n += v
	}
	return n
}
