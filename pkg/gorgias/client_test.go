package gorgias_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
)

func TestNewValidatesAccount(t *testing.T) {
	t.Parallel()
	const key = "secret-key-123"
	tests := []struct {
		name    string
		acct    gorgias.Account
		wantErr bool
	}{
		{"https", gorgias.Account{BaseURL: "https://acme.gorgias.com", Email: "a@b.c", APIKey: key}, false},
		{"https trailing slash", gorgias.Account{BaseURL: "https://acme.gorgias.com/", Email: "a@b.c", APIKey: key}, false},
		{"http loopback ipv4", gorgias.Account{BaseURL: "http://127.0.0.1:8089", Email: "a@b.c", APIKey: key}, false},
		{"http loopback ipv6", gorgias.Account{BaseURL: "http://[::1]:8089", Email: "a@b.c", APIKey: key}, false},
		{"http localhost", gorgias.Account{BaseURL: "http://localhost:8089", Email: "a@b.c", APIKey: key}, false},
		{"http remote", gorgias.Account{BaseURL: "http://acme.gorgias.com", Email: "a@b.c", APIKey: key}, true},
		{"userinfo", gorgias.Account{BaseURL: "https://u:p@acme.gorgias.com", Email: "a@b.c", APIKey: key}, true},
		{"path", gorgias.Account{BaseURL: "https://acme.gorgias.com/other", Email: "a@b.c", APIKey: key}, true},
		{"ftp", gorgias.Account{BaseURL: "ftp://acme.gorgias.com", Email: "a@b.c", APIKey: key}, true},
		{"no email", gorgias.Account{BaseURL: "https://acme.gorgias.com", APIKey: key}, true},
		{"no key", gorgias.Account{BaseURL: "https://acme.gorgias.com", Email: "a@b.c"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := gorgias.New(tt.acct, gorgias.Options{Limiter: gorgias.NewLimiter(1, time.Second)})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && (!errs.Is(err, errs.Invalid) || strings.Contains(err.Error(), key)) {
				t.Fatalf("error %q: want invalid and without the key", err)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", tt.acct, tt.acct, tt.acct, tt.acct); strings.Contains(s, key) {
				t.Fatalf("printing the account leaks the key: %s", s)
			}
		})
	}
}

func reviewTicket(id string) gorgias.NewTicket {
	return gorgias.NewTicket{
		ExternalID:     "trustpilot:" + id,
		Subject:        "Trustpilot review (2★): <b>Late</b>",
		CustomerEmail:  "jane@example.com",
		CustomerName:   "Jane",
		SupportAddress: "support@acme.test",
		Tags:           []string{"trustpilot-review", "stars-2", "trustpilot-review"},
		Meta:           map[string]any{"trustpilot": map[string]any{"review_id": id, "stars": 2}},
		CreatedAt:      time.Date(2025, 3, 4, 5, 6, 7, 123000000, time.UTC),
		BodyText:       "It came <script>alert(1)</script> late & broken.\n\nNever again.",
	}
}

func TestCreateTicketBodyShape(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	got, err := c.CreateTicket(ctx, reviewTicket("aaaaaaaaaaaaaaaaaaaaaaa1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == 0 || got.CustomerID == 0 || got.ExternalID != "trustpilot:aaaaaaaaaaaaaaaaaaaaaaa1" || got.CustomerEmail != "jane@example.com" {
		t.Fatalf("returned ticket = %+v", got)
	}
	stored, ok := sim.Ticket(got.ID)
	if !ok {
		t.Fatal("ticket not stored")
	}
	var body map[string]any
	if err := json.Unmarshal(stored.Request, &body); err != nil {
		t.Fatal(err)
	}
	msg := body["messages"].([]any)[0].(map[string]any)
	checks := []struct {
		name      string
		got, want any
	}{
		{"ticket via", body["via"], "api"},
		{"ticket channel", body["channel"], "email"},
		{"ticket from_agent", body["from_agent"], false},
		{"external_id", body["external_id"], "trustpilot:aaaaaaaaaaaaaaaaaaaaaaa1"},
		{"created_datetime", body["created_datetime"], "2025-03-04T05:06:07.123Z"},
		{"customer email", body["customer"].(map[string]any)["email"], "jane@example.com"},
		{"tags", fmt.Sprint(body["tags"]), "[map[name:trustpilot-review] map[name:stars-2]]"},
		{"meta", fmt.Sprint(body["meta"]), "map[trustpilot:map[review_id:aaaaaaaaaaaaaaaaaaaaaaa1 stars:2]]"},
		{"message via", msg["via"], "api"},
		{"message from_agent", msg["from_agent"], false},
		{"message public", msg["public"], true},
		{"message sent_datetime", msg["sent_datetime"], "2025-03-04T05:06:07.123Z"},
		{"message external_id", msg["external_id"], "trustpilot:aaaaaaaaaaaaaaaaaaaaaaa1"},
		{"message body_html escaped", msg["body_html"], "<p>It came &lt;script&gt;alert(1)&lt;/script&gt; late &amp; broken.</p><p>Never again.</p>"},
		{"message source to", fmt.Sprint(msg["source"]), "map[from:map[address:jane@example.com name:Jane] to:[map[address:support@acme.test]] type:email]"},
		{"stored tags", fmt.Sprint(stored.Tags), "[trustpilot-review stars-2]"},
		{"stored message not sent by gorgias", stored.Messages[0].SentDatetime.Format(time.RFC3339Nano), "2025-03-04T05:06:07.123Z"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	custs := sim.Customers("")
	if len(custs) != 1 || custs[0].Email != "jane@example.com" || custs[0].ID != got.CustomerID {
		t.Errorf("customers = %+v, want jane created implicitly", custs)
	}
}

func TestCreateTicketRejectsBadInput(t *testing.T) {
	t.Parallel()
	c, err := gorgias.New(gorgias.Account{BaseURL: "https://x.gorgias.com", Email: "a@b.c", APIKey: "k"}, fastOptions())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*gorgias.NewTicket)
	}{
		{"no email", func(n *gorgias.NewTicket) { n.CustomerEmail = "" }},
		{"no body", func(n *gorgias.NewTicket) { n.BodyText = "" }},
		{"long external id", func(n *gorgias.NewTicket) { n.ExternalID = strings.Repeat("x", 256) }},
		{"long tag", func(n *gorgias.NewTicket) { n.Tags = []string{strings.Repeat("t", 257)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nt := reviewTicket("aaaaaaaaaaaaaaaaaaaaaaa2")
			tt.edit(&nt)
			if _, err := c.CreateTicket(context.Background(), nt); !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}

func TestFindTicketByExternalID(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	const ext = "trustpilot:bbbbbbbbbbbbbbbbbbbbbbb1"
	if _, found, err := c.FindTicketByExternalID(ctx, ext); err != nil || found {
		t.Fatalf("before create: found=%v err=%v", found, err)
	}
	// Another ticket, so the filter matters.
	if _, err := c.CreateTicket(ctx, reviewTicket("bbbbbbbbbbbbbbbbbbbbbbb0")); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateTicket(ctx, reviewTicket("bbbbbbbbbbbbbbbbbbbbbbb1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, found, err := c.FindTicketByExternalID(ctx, ext)
		if err != nil || !found || got.ID != created.ID || !got.HasTag("trustpilot-review") {
			t.Fatalf("lookup %d: got %+v found=%v err=%v", i, got, found, err)
		}
	}
}

// TestCreateTicketNeverPostsTwice: whatever happened to the answer, CreateTicket sends one
// POST and reports an unknown outcome as ErrUncertain: the caller, not the client, looks the
// ticket up over a window longer than the helpdesk's commit lag before creating again.
func TestCreateTicketNeverPostsTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   gorgiassim.Fault
		tickets int
	}{
		{"connection dropped after create", gorgiassim.Fault{Method: "POST", Path: "/api/tickets", DropAfter: true, Times: 1}, 1},
		{"connection dropped before create", gorgiassim.Fault{Method: "POST", Path: "/api/tickets", Drop: true, Times: 1}, 0},
		{"502 before create", gorgiassim.Fault{Method: "POST", Path: "/api/tickets", Status: 502, Times: 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, gorgiassim.Config{})
			c := newClient(t, sim, fastOptions())
			sim.AddFault(tt.fault)
			before := sim.Stats("").Requests
			_, err := c.CreateTicket(context.Background(), reviewTicket("ccccccccccccccccccccccc1"))
			if !errors.Is(err, gorgias.ErrUncertain) || !errs.Is(err, errs.Transient) {
				t.Fatalf("err = %v, want transient ErrUncertain", err)
			}
			if calls := sim.Stats("").Requests - before; calls != 1 {
				t.Fatalf("%d calls, want the one POST", calls)
			}
			if n := len(sim.Tickets("")); n != tt.tickets {
				t.Fatalf("%d tickets, want %d", n, tt.tickets)
			}
		})
	}
}

func TestTagsNotesAndMessages(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{MaxLimit: 3})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	tk, err := c.CreateTicket(ctx, reviewTicket("ddddddddddddddddddddddd1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddTags(ctx, tk.ID, []string{"replied", "trustpilot-review"}); err != nil {
		t.Fatal(err)
	}
	note, err := c.PostInternalNote(ctx, tk.ID, "Posted to Trustpilot <ok> & done")
	if err != nil {
		t.Fatal(err)
	}
	if !note.IsInternalNote() || note.Public || !note.FromAgent || note.Via != "api" ||
		note.BodyHTML != "<p>Posted to Trustpilot &lt;ok&gt; &amp; done</p>" {
		t.Fatalf("note = %+v", note)
	}
	first, err := c.GetTicket(ctx, tk.ID)
	if err != nil || len(first.Messages) != 2 {
		t.Fatalf("GetTicket = %+v, %v; want the review and the note", first, err)
	}
	var want []int64
	want = append(want, first.Messages[0].ID, note.ID)
	for i := range 5 {
		m, err := sim.AgentReply(gorgiassim.AgentReply{TicketID: tk.ID, BodyText: fmt.Sprint("reply ", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m.ID)
	}
	var got []int64
	cursor, pages := "", 0
	for {
		msgs, next, err := c.ListMessages(ctx, tk.ID, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range msgs {
			got = append(got, m.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %v in 3", got, pages, want)
	}
	m, err := c.GetMessage(ctx, tk.ID, want[2])
	if err != nil || m.Via != "helpdesk" || !m.FromAgent || !m.Public || m.BodyText != "reply 0" {
		t.Fatalf("GetMessage = %+v, %v", m, err)
	}
	full, err := c.GetTicket(ctx, tk.ID)
	if err != nil || fmt.Sprint(full.Tags) != "[trustpilot-review stars-2 replied]" || len(full.Messages) != 7 {
		t.Fatalf("GetTicket tags=%v messages=%d err=%v", full.Tags, len(full.Messages), err)
	}
	if _, err := c.GetMessage(ctx, tk.ID, 1); !errs.Is(err, errs.NotExist) {
		t.Fatalf("missing message: err = %v, want not exist", err)
	}
}

func TestPostInternalNoteRecoversUnknownOutcome(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	tk, err := c.CreateTicket(ctx, reviewTicket("ddddddddddddddddddddddd2"))
	if err != nil {
		t.Fatal(err)
	}
	sim.AddFault(gorgiassim.Fault{Method: "POST", Path: "/api/tickets/*/messages", DropAfter: true, Times: 1})
	note, err := c.PostInternalNote(ctx, tk.ID, "once")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := sim.Ticket(tk.ID)
	if len(stored.Messages) != 2 || stored.Messages[1].ID != note.ID {
		t.Fatalf("messages = %d, want the review and one note", len(stored.Messages))
	}
}

func TestMergeCustomerDataKeepsForeignKeys(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	seed, err := sim.CreateCustomer("", "jane@example.com", "Jane", json.RawMessage(`{"shopify":{"orders":3},"vip":true}`))
	if err != nil {
		t.Fatal(err)
	}
	cu, found, err := c.FindCustomerByEmail(ctx, "JANE@example.com")
	if err != nil || !found || cu.ID != seed.ID {
		t.Fatalf("find = %+v %v %v", cu, found, err)
	}
	for i, id := range []string{"eeeeeeeeeeeeeeeeeeeeeee1", "eeeeeeeeeeeeeeeeeeeeeee2", "eeeeeeeeeeeeeeeeeeeeeee1"} {
		e := gorgias.ReviewEntry{ReviewID: id, Stars: i + 1, Text: "t", CreatedAt: time.Date(2025, 1, 1+i%2, 0, 0, 0, 0, time.UTC)}
		_, err := c.MergeCustomerData(ctx, cu.ID, gorgias.DataKey, func(old json.RawMessage, room int) (json.RawMessage, error) {
			return gorgias.UpsertReview(old, e, min(room, gorgias.DefaultDataCap))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.GetCustomer(ctx, cu.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data["shopify"]) != `{"orders":3}` || string(got.Data["vip"]) != "true" {
		t.Fatalf("foreign keys lost: %s", mustJSON(got.Data))
	}
	d, err := gorgias.DecodeReviewData(got.Data[gorgias.DataKey])
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Reviews) != 2 || d.Total != 2 || d.Reviews[0].ReviewID != "eeeeeeeeeeeeeeeeeeeeeee2" || d.Reviews[1].Stars != 3 {
		t.Fatalf("trustpilot part = %+v", d)
	}
	stored, _ := sim.Customer(cu.ID)
	if stored.DataWrites != 3 || stored.DataVersion == "" {
		t.Fatalf("writes=%d version=%q", stored.DataWrites, stored.DataVersion)
	}
	if _, found, err := c.FindCustomerByEmail(ctx, "nobody@example.com"); err != nil || found {
		t.Fatalf("unknown email: found=%v err=%v", found, err)
	}
}

// A customer merged into another answers 301 with a Location, absolute or relative: the write
// follows it to the customer the data now lives on, keeping that customer's own keys.
func TestMergeCustomerDataFollowsAMergedCustomer(t *testing.T) {
	t.Parallel()
	for _, loc := range []string{"", gorgiassim.MergeLocationRelative} {
		t.Run("location "+cmp.Or(loc, "absolute"), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, gorgiassim.Config{})
			if err := sim.SetSwitches("", gorgiassim.Switches{MergeLocation: loc}); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, sim, fastOptions())
			ctx := context.Background()
			old, err := sim.CreateCustomer("", "jane@old.example", "Jane", nil)
			if err != nil {
				t.Fatal(err)
			}
			target, err := sim.CreateCustomer("", "jane@example.com", "Jane", json.RawMessage(`{"shopify":{"orders":3}}`))
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.MergeCustomers(old.ID, target.ID); err != nil {
				t.Fatal(err)
			}
			e := gorgias.ReviewEntry{ReviewID: "eeeeeeeeeeeeeeeeeeeeeee3", Stars: 4, CreatedAt: time.Now()}
			to, err := c.MergeCustomerData(ctx, old.ID, gorgias.DataKey, func(old json.RawMessage, room int) (json.RawMessage, error) {
				return gorgias.UpsertReview(old, e, room)
			})
			if err != nil || to != target.ID {
				t.Fatalf("merge write: to %d err %v, want %d", to, err, target.ID)
			}
			data := simData(t, sim, target.ID)
			d, err := gorgias.DecodeReviewData(data[gorgias.DataKey])
			if err != nil || len(d.Reviews) != 1 || string(data["shopify"]) != `{"orders":3}` {
				t.Fatalf("target's data: %s (%v)", mustJSON(data), err)
			}
		})
	}
}

// Another app's keys near the 250 kB limit: Pilotdesk's part shrinks to the room left (oldest
// entries first), and when there is none the write is refused before it is sent.
func TestMergeCustomerDataFitsBesideOtherKeys(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	other := func(n int) json.RawMessage { return json.RawMessage(`{"crm":"` + strings.Repeat("x", n) + `"}`) }
	cu, err := sim.CreateCustomer("", "big@example.com", "Big", other(200_000))
	if err != nil {
		t.Fatal(err)
	}
	var entries []gorgias.ReviewEntry
	for i := range 30 {
		entries = append(entries, gorgias.ReviewEntry{ReviewID: fmt.Sprintf("%024x", i+1), Stars: 3, Text: strings.Repeat("long review ", 200),
			CreatedAt: time.Date(2025, 1, 1, i, 0, 0, 0, time.UTC)})
	}
	if _, err := c.MergeCustomerData(ctx, cu.ID, gorgias.DataKey, func(old json.RawMessage, room int) (json.RawMessage, error) {
		return gorgias.UpsertReviews(old, entries, min(room, gorgias.DefaultDataCap))
	}); err != nil {
		t.Fatalf("write beside 200 kB of other data: %v", err)
	}
	data := simData(t, sim, cu.ID)
	whole, _ := json.Marshal(data)
	d, _ := gorgias.DecodeReviewData(data[gorgias.DataKey])
	if len(whole) > gorgias.MaxCustomerDataBytes || len(d.Reviews) == 0 || len(d.Reviews) == 30 || d.Reviews[0].ReviewID != entries[29].ReviewID || d.Total != 30 {
		t.Fatalf("whole object %d bytes, %d of 30 entries kept (newest %s), total %d", len(whole), len(d.Reviews), d.Reviews[0].ReviewID, d.Total)
	}
	if err := sim.SetCustomerData(cu.ID, other(249_000)); err != nil {
		t.Fatal(err)
	}
	before := sim.Stats("").Requests
	_, err = c.MergeCustomerData(ctx, cu.ID, gorgias.DataKey, func(old json.RawMessage, room int) (json.RawMessage, error) {
		return gorgias.UpsertReviews(old, entries, room)
	})
	if !errs.Is(err, errs.Invalid) || sim.Stats("").Requests-before != 1 {
		t.Fatalf("no room: err %v, %d calls; want errs.Invalid after the read alone", err, sim.Stats("").Requests-before)
	}
}

// simData is a customer's data object as the simulator stores it.
func simData(t *testing.T, sim *gorgiassim.Server, id int64) map[string]json.RawMessage {
	t.Helper()
	cu, ok := sim.Customer(id)
	if !ok {
		t.Fatalf("customer %d not in the simulator", id)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(cu.Data, &data); err != nil {
		t.Fatal(err)
	}
	return data
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestLimiterNeverExceedsCeiling: four callers on one account never make the simulator throttle,
// and no window of the account's length ever holds more calls than the ceiling.
func TestLimiterNeverExceedsCeiling(t *testing.T) {
	t.Parallel()
	const calls, window = 10, time.Second
	sim := startSim(t, gorgiassim.Config{RateCalls: calls, RateWindow: window})
	lim := gorgias.NewLimiter(calls, window)
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	start := time.Now()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate clients of one account, as several connections would have.
			opt := fastOptions()
			opt.Limiter = lim
			c := newClient(t, sim, opt)
			for i := range 7 {
				if _, _, err := c.FindCustomerByEmail(ctx, fmt.Sprintf("w%d-%d@example.com", w, i)); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := sim.Stats("")
	t.Logf("28 calls in %s; max in any %s window: %d; throttled %d", time.Since(start).Round(time.Millisecond), window, st.MaxInWindow, st.Throttled)
	if st.Served429 != 0 || st.Throttled != 0 || st.MaxInWindow > calls || st.Requests != 28 {
		t.Fatalf("stats = %+v", st)
	}
	if st.MaxInWindow < calls {
		t.Errorf("max in window %d: the limiter should use the whole ceiling", st.MaxInWindow)
	}
}

func TestSharedLimiterPerAccount(t *testing.T) {
	t.Parallel()
	a := gorgias.Account{BaseURL: "https://Shared.gorgias.com/", Email: "Ops@x.com", APIKey: "k1"}
	b := gorgias.Account{BaseURL: "https://shared.gorgias.com", Email: "ops@x.com", APIKey: "k2"}
	other := gorgias.Account{BaseURL: "https://other.gorgias.com", Email: "ops@x.com", APIKey: "k1"}
	if gorgias.SharedLimiter(a) != gorgias.SharedLimiter(b) {
		t.Error("same account, different limiters")
	}
	if gorgias.SharedLimiter(a) == gorgias.SharedLimiter(other) {
		t.Error("different accounts share a limiter")
	}
	c, _ := gorgias.New(a, gorgias.Options{})
	if c.Limiter() != gorgias.SharedLimiter(a) {
		t.Error("New without a limiter does not use the shared one")
	}
	if n, w := c.Limiter().Limits(); n != 40 || w != 20*time.Second {
		t.Errorf("default limit %d/%s", n, w)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	opt := fastOptions()
	// The client logs a retry after it has paused the limiter and before it waits: that log
	// tells the test when the pause is in force.
	retried := make(chan struct{}, 10)
	opt.Logger = slog.New(notifyHandler{msg: "gorgias call retried", ch: retried})
	c := newClient(t, sim, opt)
	sim.AddFault(gorgiassim.Fault{Path: "/api/customers", Status: 429, RetryAfter: 1, Times: 1})
	start := time.Now()
	if _, _, err := c.FindCustomerByEmail(context.Background(), "x@example.com"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("retried after %s, want >= 1s (Retry-After)", took)
	}
	if n := len(retried); n != 1 {
		t.Fatalf("%d retries logged for one 429, want 1", n)
	}
	<-retried
	// The pause is shared: another caller on the same limiter waits too.
	sim.AddFault(gorgiassim.Fault{Path: "/api/customers", Status: 429, RetryAfter: 1, Times: 1})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, _ = c.FindCustomerByEmail(context.Background(), "y@example.com")
	}()
	select {
	case <-retried: // the first caller got its 429 and paused the limiter
	case <-time.After(10 * time.Second):
		t.Fatal("the first caller never got its 429")
	}
	start = time.Now()
	if _, err := c.GetCustomer(context.Background(), 1); !errs.Is(err, errs.NotExist) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("second caller went ahead after %s during the pause", took)
	}
	wg.Wait()
}

// notifyHandler sends on ch for every record whose message is msg (it never blocks: ch must
// have room for every such record), and drops the rest.
type notifyHandler struct {
	msg string
	ch  chan<- struct{}
}

func (h notifyHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h notifyHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h notifyHandler) WithGroup(string) slog.Handler            { return h }
func (h notifyHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}

func TestTransientRetriesAndGivingUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    gorgiassim.Fault
		wantErr  bool
		wantKind errs.Kind
	}{
		{"503 twice then ok", gorgiassim.Fault{Status: 503, Times: 2}, false, 0},
		{"500 forever", gorgiassim.Fault{Status: 500}, true, errs.Transient},
		{"dropped twice then ok", gorgiassim.Fault{Drop: true, Times: 2}, false, 0},
		{"slow beyond timeout then ok", gorgiassim.Fault{Latency: 400 * time.Millisecond, Times: 1}, false, 0},
		{"404 not retried", gorgiassim.Fault{Status: 404}, true, errs.NotExist},
		{"401", gorgiassim.Fault{Status: 401}, true, errs.Permission},
		{"403", gorgiassim.Fault{Status: 403}, true, errs.Permission},
		{"409", gorgiassim.Fault{Status: 409}, true, errs.Conflict},
		{"422", gorgiassim.Fault{Status: 422}, true, errs.Invalid},
		{"301 merged", gorgiassim.Fault{Status: 301}, true, errs.NotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, gorgiassim.Config{})
			opt := fastOptions()
			opt.Timeout = 200 * time.Millisecond
			c := newClient(t, sim, opt)
			tt.fault.Path = "/api/customers"
			sim.AddFault(tt.fault)
			_, _, err := c.FindCustomerByEmail(context.Background(), "x@example.com")
			if (err != nil) != tt.wantErr || (err != nil && errs.KindOf(err) != tt.wantKind) {
				t.Fatalf("err = %v (kind %v), want error %v kind %v", err, errs.KindOf(err), tt.wantErr, tt.wantKind)
			}
		})
	}
}

func TestErrorShapesThroughClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		ctype  string
		want   []string
	}{
		{"legacy with data", 400, `{"error":{"msg":"Failed to create ticket","data":{"messages":{"0":{"via":["Missing data for required field."]}}}}}`, "",
			[]string{"400", "Failed to create ticket", "messages.0.via: Missing data for required field."}},
		{"legacy not found", 404, `{"error":{"msg":"Resource not found."}}`, "", []string{"404", "Resource not found."}},
		{"error string", 400, `{"error":"bad thing"}`, "", []string{"bad thing"}},
		{"message", 403, `{"message":"Forbidden for this role"}`, "", []string{"Forbidden for this role"}},
		{"422 errors list", 422, `{"errors":[{"field":"email","message":"Not a valid email."},{"field":"name","message":"Too long."}]}`, "",
			[]string{"email: Not a valid email.", "name: Too long."}},
		{"html page", 400, `<html><head><title>400 Bad Request</title></head><body>nginx</body></html>`, "text/html", []string{"400 Bad Request"}},
		{"empty body", 409, ``, "", []string{"409", "Conflict"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, gorgiassim.Config{})
			c := newClient(t, sim, fastOptions())
			sim.AddFault(gorgiassim.Fault{Path: "/api/customers/**", Status: tt.status, Body: tt.body, ContentType: tt.ctype})
			_, err := c.GetCustomer(context.Background(), 5)
			var apiErr *gorgias.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Fatalf("err = %v, want an APIError %d", err, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCallLimitHeaderSlowsDown(t *testing.T) {
	t.Parallel()
	// Another process has nearly filled the bucket: the client must wait before Gorgias says 429.
	sim := startSim(t, gorgiassim.Config{RateCalls: 10, RateWindow: time.Second})
	other := newClient(t, sim, fastOptions())
	for range 9 {
		if _, _, err := other.FindCustomerByEmail(context.Background(), "x@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	opt := fastOptions()
	opt.Limiter = gorgias.NewLimiter(10, time.Second) // knows nothing of the other's calls
	c := newClient(t, sim, opt)
	for range 5 {
		if _, _, err := c.FindCustomerByEmail(context.Background(), "x@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if st := sim.Stats(""); st.Throttled != 0 {
		t.Fatalf("throttled %d times, want the header to slow us down first", st.Throttled)
	}
}

func TestIntegrations(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	in := gorgias.NewHTTPIntegration{Name: "Pilotdesk", URL: "https://hooks.example.com/helpdesk/events", Secret: "s3cret"}
	it, err := c.CreateHTTPIntegration(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID == 0 || !it.Active() || fmt.Sprint(it.Triggers) != "[ticket-message-created]" ||
		fmt.Sprint(it.HeaderNames) != "[X-Pilotdesk-Secret]" || it.Form["ticket_id"] != "{{ticket.id}}" {
		t.Fatalf("integration = %+v", it)
	}
	stored := sim.Integrations("")
	if len(stored) != 1 || stored[0].HTTP.Headers["X-Pilotdesk-Secret"] != "s3cret" || stored[0].HTTP.Method != "POST" ||
		stored[0].HTTP.RequestContentType != "application/json" {
		t.Fatalf("stored = %+v", stored)
	}
	list, next, err := c.ListIntegrations(ctx, "")
	if err != nil || len(list) != 1 || next != "" {
		t.Fatalf("list = %v %q %v", list, next, err)
	}
	if err := c.DeleteIntegration(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteIntegration(ctx, it.ID); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	for _, bad := range []gorgias.NewHTTPIntegration{
		{Name: "x", URL: "http://hooks.example.com", Secret: "s"},
		{Name: "x", URL: "https://hooks.example.com"},
		{URL: "https://hooks.example.com", Secret: "s"},
	} {
		if _, err := c.CreateHTTPIntegration(ctx, bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: err = %v, want invalid", bad, err)
		}
	}
}

func TestMultipleAccountsOnOneSimulator(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{
		{ID: "one", Email: "a@one.test", APIKey: "k1"},
		{ID: "two", Email: "a@two.test", APIKey: "k2"},
	}})
	mk := func(email, key string) *gorgias.Client {
		c, err := gorgias.New(gorgias.Account{BaseURL: sim.URL(), Email: email, APIKey: key}, fastOptions())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one, two := mk("a@one.test", "k1"), mk("a@two.test", "k2")
	ctx := context.Background()
	tk, err := one.CreateTicket(ctx, reviewTicket("fffffffffffffffffffffff1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := two.GetTicket(ctx, tk.ID); !errs.Is(err, errs.NotExist) {
		t.Fatalf("other account sees the ticket: %v", err)
	}
	if _, found, _ := two.FindTicketByExternalID(ctx, tk.ExternalID); found {
		t.Fatal("other account finds the ticket")
	}
	if _, err := mk("a@one.test", "wrong").GetTicket(ctx, tk.ID); !errs.Is(err, errs.Permission) {
		t.Fatalf("bad key: %v", err)
	}
	if len(sim.Tickets("one")) != 1 || len(sim.Tickets("two")) != 0 {
		t.Fatal("tickets not per account")
	}
}

// The sweep's list reads each ticket's identity and times out of pages whose tickets embed their
// customer with its integrations' data: newest update first, a cursor to the next page, the last
// message's time moving when an agent replies.
func TestListTicketsUpdated(t *testing.T) {
	t.Parallel()
	sim := startSim(t, gorgiassim.Config{})
	c := newClient(t, sim, fastOptions())
	ctx := context.Background()
	var ids []int64
	for i := range 3 {
		tk, err := c.CreateTicket(ctx, reviewTicket(fmt.Sprintf("cccccccccccccccccccccc%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	cust := sim.Tickets(sim.Accounts()[0].ID)[0].CustomerID
	if err := sim.SetCustomerData(cust, json.RawMessage(`{"shop":{"orders":[{"id":1,"note":"\"quoted\" {braces} [brackets]"}]}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AgentReply(gorgiassim.AgentReply{TicketID: ids[0], BodyText: "Thanks for the review"}); err != nil {
		t.Fatal(err)
	}
	got, next, err := c.ListTicketsUpdated(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if next != "" || len(got) != 3 {
		t.Fatalf("%d tickets, next %q: want the three on one page", len(got), next)
	}
	if got[0].ID != ids[0] || got[0].ExternalID != "trustpilot:cccccccccccccccccccccc00" {
		t.Fatalf("newest update first: got %+v, want ticket %d (the one replied to)", got[0], ids[0])
	}
	for i, u := range got {
		if u.CreatedDatetime.IsZero() || u.UpdatedDatetime.Before(u.CreatedDatetime) ||
			(i > 0 && u.UpdatedDatetime.After(got[i-1].UpdatedDatetime)) {
			t.Fatalf("ticket %d: times %+v out of order", i, u)
		}
	}
	if !got[0].LastMessageDatetime.After(got[0].CreatedDatetime) || got[0].Activity() != got[0].LastMessageDatetime {
		t.Fatalf("the replied ticket's last message %s is not after its creation %s", got[0].LastMessageDatetime, got[0].CreatedDatetime)
	}
}
