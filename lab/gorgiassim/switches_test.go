package gorgiassim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

// ctl calls the control API without credentials.
func ctl(t *testing.T, s *gorgiassim.Server, method, path, body string) resp {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, b}
}

func okReceiver(t *testing.T) *httptest.Server {
	t.Helper()
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(recv.Close)
	return recv
}

func waitDeliveries(t *testing.T, s *gorgiassim.Server, n int) []gorgiassim.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := s.WaitDeliveries(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestWebhookMessageVarsSwitch(t *testing.T) {
	t.Parallel()
	form := map[string]any{"message_id": "{{message.id}}", "from_agent": "{{message.from_agent}}",
		"ticket_id": "{{ticket.id}}", "object_id": "{{event.object_id}}", "dflt": "{{message.id|default('x')}}"}
	tests := []struct {
		name  string
		mode  gorgiassim.MessageVarsMode
		set   string // "config", "go" or "http": how the switch is set
		typed bool
		// want renders the expected body given the ticket and message ids.
		want func(tid, mid int64) string
	}{
		{"present", gorgiassim.MessageVarsPresent, "config", false, func(tid, mid int64) string {
			return fmt.Sprintf("map[dflt:%d from_agent:False message_id:%d object_id:%d ticket_id:%d]", mid, mid, mid, tid)
		}},
		{"empty via config", gorgiassim.MessageVarsEmpty, "config", false, func(tid, mid int64) string {
			return fmt.Sprintf("map[dflt:x from_agent: message_id: object_id:%d ticket_id:%d]", mid, tid)
		}},
		{"empty via HTTP", gorgiassim.MessageVarsEmpty, "http", false, func(tid, mid int64) string {
			return fmt.Sprintf("map[dflt:x from_agent: message_id: object_id:%d ticket_id:%d]", mid, tid)
		}},
		{"none via Go", gorgiassim.MessageVarsNone, "go", false, func(tid, mid int64) string {
			return fmt.Sprintf("map[dflt:x from_agent:None message_id:None object_id:%d ticket_id:%d]", mid, tid)
		}},
		{"none typed", gorgiassim.MessageVarsNone, "http", true, func(tid, mid int64) string {
			return fmt.Sprintf("map[dflt:x from_agent:<nil> message_id:<nil> object_id:%d ticket_id:%d]", mid, tid)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ac := gorgiassim.AccountConfig{ID: "acme", Email: gorgiassim.DefaultAccountEmail, APIKey: gorgiassim.DefaultAccountKey}
			if tt.set == "config" {
				ac.WebhookMessageVars = tt.mode
			}
			s := start(t, gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{ac}, TypedWebhookValues: tt.typed})
			switch tt.set {
			case "go":
				if err := s.SetSwitches("acme", gorgiassim.Switches{WebhookMessageVars: tt.mode}); err != nil {
					t.Fatal(err)
				}
			case "http":
				if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", fmt.Sprintf(`{"webhook_message_vars":%q}`, tt.mode)); r.status != 200 {
					t.Fatalf("PUT switches: %d %s", r.status, r.body)
				}
			}
			if sw, _ := s.Switches("acme"); sw.WebhookMessageVars != tt.mode {
				t.Fatalf("switches = %+v", sw)
			}
			call(t, s, "POST", "/api/integrations", integration(okReceiver(t).URL, form))
			tk := call(t, s, "POST", "/api/tickets", ticketBody("e")).json(t)
			d := waitDeliveries(t, s, 1)[0]
			body, _ := d.ParseBody()
			if want := tt.want(int64(tk["id"].(float64)), d.MessageID); fmt.Sprint(body) != want {
				t.Fatalf("body %v\nwant %s", body, want)
			}
		})
	}
	t.Run("context form", func(t *testing.T) {
		t.Parallel()
		s := start(t, gorgiassim.Config{})
		call(t, s, "POST", "/api/integrations", integration(okReceiver(t).URL, "{{context}}"))
		for i, mode := range []gorgiassim.MessageVarsMode{gorgiassim.MessageVarsEmpty, gorgiassim.MessageVarsNone} {
			if err := s.SetSwitches("", gorgiassim.Switches{WebhookMessageVars: mode}); err != nil {
				t.Fatal(err)
			}
			call(t, s, "POST", "/api/tickets", ticketBody(fmt.Sprint("c", i)))
			body, _ := waitDeliveries(t, s, i+1)[i].ParseBody()
			msg, has := body["message"]
			if _, ticket := body["ticket"]; !ticket || has != (mode == gorgiassim.MessageVarsNone) || msg != nil {
				t.Fatalf("%s: context %v", mode, body)
			}
		}
	})
	t.Run("bad values refused", func(t *testing.T) {
		t.Parallel()
		s := start(t, gorgiassim.Config{})
		if err := s.SetSwitches("", gorgiassim.Switches{WebhookMessageVars: "blank"}); err == nil {
			t.Error("SetSwitches accepted an unknown mode")
		}
		if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"webhook_message_vars":"blank"}`); r.status != 400 {
			t.Errorf("unknown mode over HTTP: %d", r.status)
		}
		if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"no_redelivry":true}`); r.status != 400 {
			t.Errorf("misspelt switch over HTTP: %d", r.status)
		}
		if r := ctl(t, s, "PUT", "/_sim/accounts/nope/switches", `{}`); r.status != 404 {
			t.Errorf("unknown account: %d", r.status)
		}
		if _, err := gorgiassim.New(gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{{ID: "a", Email: "e", APIKey: "k",
			Switches: gorgiassim.Switches{WebhookMessageVars: "blank"}}}}); err == nil {
			t.Error("New accepted an unknown mode")
		}
	})
}

func TestNoRedeliverySwitch(t *testing.T) {
	t.Parallel()
	t.Run("non-2xx via config", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int32
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(503)
		}))
		defer recv.Close()
		s := start(t, gorgiassim.Config{DeliveryRetries: 5, Accounts: []gorgiassim.AccountConfig{{ID: "acme",
			Email: gorgiassim.DefaultAccountEmail, APIKey: gorgiassim.DefaultAccountKey, Switches: gorgiassim.Switches{NoRedelivery: true}}}})
		call(t, s, "POST", "/api/integrations", integration(recv.URL, map[string]string{"id": "{{ticket.id}}"}))
		call(t, s, "POST", "/api/tickets", ticketBody("e"))
		d := waitDeliveries(t, s, 1)[0]
		if d.OK || len(d.Attempts) != 1 || d.Attempts[0].Status != 503 || hits.Load() != 1 {
			t.Fatalf("delivery %+v after %d requests, want one failed attempt", d, hits.Load())
		}
		// Switched off again, the next failure is resent as usual.
		if err := s.SetSwitches("acme", gorgiassim.Switches{}); err != nil {
			t.Fatal(err)
		}
		tk := s.Tickets("")[0]
		s.AgentReply(gorgiassim.AgentReply{TicketID: tk.ID, BodyText: "x"})
		if d := waitDeliveries(t, s, 2)[1]; len(d.Attempts) != 6 {
			t.Fatalf("without the switch: %d attempts, want 6", len(d.Attempts))
		}
	})
	t.Run("timeout via HTTP", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int32
		release := make(chan struct{})
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer recv.Close()
		defer close(release)
		s := start(t, gorgiassim.Config{DeliveryTimeout: 50 * time.Millisecond})
		if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"no_redelivery":true}`); r.status != 200 {
			t.Fatalf("PUT switches: %d %s", r.status, r.body)
		}
		var sw gorgiassim.Switches
		if err := json.Unmarshal(ctl(t, s, "GET", "/_sim/accounts/acme/switches", "").body, &sw); err != nil || !sw.NoRedelivery {
			t.Fatalf("GET switches: %+v %v", sw, err)
		}
		call(t, s, "POST", "/api/integrations", integration(recv.URL, map[string]string{"id": "{{ticket.id}}"}))
		call(t, s, "POST", "/api/tickets", ticketBody("e"))
		d := waitDeliveries(t, s, 1)[0]
		if d.OK || len(d.Attempts) != 1 || d.Attempts[0].Error == "" || hits.Load() != 1 {
			t.Fatalf("delivery %+v after %d requests, want one timed-out attempt", d, hits.Load())
		}
	})
	t.Run("account added over HTTP", func(t *testing.T) {
		t.Parallel()
		s := start(t, gorgiassim.Config{})
		r := ctl(t, s, "POST", "/_sim/accounts", `{"id":"beta","email":"api@beta.test","api_key":"k2","no_redelivery":true,"webhook_message_vars":"none"}`)
		if r.status != 201 {
			t.Fatalf("add account: %d %s", r.status, r.body)
		}
		if sw, ok := s.Switches("beta"); !ok || !sw.NoRedelivery || sw.WebhookMessageVars != gorgiassim.MessageVarsNone {
			t.Fatalf("switches %+v", sw)
		}
		if sw, _ := s.Switches("acme"); !reflect.DeepEqual(sw, gorgiassim.Switches{}) {
			t.Fatalf("other account's switches changed: %+v", sw)
		}
	})
}

// The Fault mechanism already fails one message read: by message path or on the list.
func TestFaultFailsOneMessageRead(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	tk := call(t, s, "POST", "/api/tickets", ticketBody("f")).json(t)
	id := int64(tk["id"].(float64))
	mid := int64(tk["messages"].([]any)[0].(map[string]any)["id"].(float64))
	one := fmt.Sprintf("/api/tickets/%d/messages/%d", id, mid)
	list := fmt.Sprintf("/api/messages?ticket_id=%d&order_by=created_datetime:asc&limit=100", id)
	s.AddFault(gorgiassim.Fault{Method: "GET", Path: "/api/tickets/*/messages/*", Status: 503, Times: 1})
	if r := ctl(t, s, "POST", "/_sim/faults", `{"method":"GET","path":"/api/messages","status":500,"times":1}`); r.status != 201 {
		t.Fatalf("fault over HTTP: %d %s", r.status, r.body)
	}
	// Neither fault touches the other reads.
	if r := call(t, s, "GET", fmt.Sprintf("/api/tickets/%d", id), nil); r.status != 200 {
		t.Fatalf("ticket read: %d", r.status)
	}
	if r := call(t, s, "GET", fmt.Sprintf("/api/tickets/%d/messages", id), nil); r.status != 200 {
		t.Fatalf("deprecated list: %d", r.status)
	}
	for _, step := range []struct {
		path   string
		status int
	}{{one, 503}, {one, 200}, {list, 500}, {list, 200}} {
		if r := call(t, s, "GET", step.path, nil); r.status != step.status {
			t.Fatalf("GET %s: %d %s, want %d", step.path, r.status, r.body, step.status)
		}
	}
	if fs := s.Faults(); len(fs) != 0 {
		t.Fatalf("faults left: %+v", fs)
	}
	if st := s.Stats(""); st.Faults != 2 || st.ByStatus[503] != 1 || st.ByStatus[500] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAgentReplyVariants(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	body := ticketBody("q")
	body["messages"].([]any)[0].(map[string]any)["body_text"] = "The parcel was late.\n\nAnd broken."
	tk := call(t, s, "POST", "/api/tickets", body).json(t)
	id := int64(tk["id"].(float64))
	get := func(mid int64) map[string]any {
		return call(t, s, "GET", fmt.Sprintf("/api/tickets/%d/messages/%d", id, mid), nil).json(t)
	}
	// The customer's message, created through the API: nothing stripped.
	m0 := tk["messages"].([]any)[0].(map[string]any)
	for _, f := range []string{"stripped_text", "stripped_html", "stripped_signature"} {
		if v, ok := m0[f]; !ok || v != nil {
			t.Errorf("API-created message %s = %v (present %v), want null", f, v, ok)
		}
	}

	plain, err := s.AgentReply(gorgiassim.AgentReply{TicketID: id, BodyText: "Sorry!", BodyHTML: "<p>Sorry!</p>"})
	if err != nil {
		t.Fatal(err)
	}
	if p := get(plain.ID); p["body_text"] != "Sorry!" || p["stripped_text"] != "Sorry!" || p["stripped_html"] != "<p>Sorry!</p>" || p["stripped_signature"] != nil {
		t.Errorf("plain reply %v", p)
	}

	quoted, err := s.AgentReply(gorgiassim.AgentReply{TicketID: id, BodyText: "We are sending a new one.", Quote: true})
	if err != nil {
		t.Fatal(err)
	}
	q := get(quoted.ID)
	// The previous public message is the plain agent reply above.
	wantText := "We are sending a new one.\n\nOn " + plain.CreatedDatetime.Format("Mon, Jan 2, 2006 at 3:04 PM") +
		", API user <" + gorgiassim.DefaultAccountEmail + "> wrote:\n> Sorry!"
	if q["body_text"] != wantText || q["stripped_text"] != nil || q["stripped_html"] != nil || q["stripped_signature"] != nil {
		t.Errorf("quoted reply %v\nwant body_text %q", q, wantText)
	}
	if h := q["body_html"].(string); !strings.Contains(h, `<div class="gmail_quote">`) || !strings.Contains(h, "<blockquote") ||
		!strings.Contains(h, "<p>Sorry!</p>") || !strings.HasPrefix(h, `<div dir="ltr">We are sending a new one.</div>`) {
		t.Errorf("quoted body_html %q", h)
	}

	// Quoting the customer over the control API, with the stripped fields set and a signature.
	r := ctl(t, s, "POST", "/_sim/agent-reply", fmt.Sprintf(
		`{"ticket_id":%d,"body_text":"Refunded.","quote":true,"stripped":"set","signature":"-- \nAna, Acme"}`, id))
	if r.status != 201 {
		t.Fatalf("agent-reply: %d %s", r.status, r.body)
	}
	var viaHTTP gorgiassim.Message
	_ = json.Unmarshal(r.body, &viaHTTP)
	v := get(viaHTTP.ID)
	if bt := v["body_text"].(string); !strings.HasPrefix(bt, "Refunded.\n\n-- \nAna, Acme\n\nOn ") ||
		!strings.HasSuffix(bt, "wrote:\n> We are sending a new one.\n>\n> On "+plain.CreatedDatetime.Format("Mon, Jan 2, 2006 at 3:04 PM")+
			", API user <"+gorgiassim.DefaultAccountEmail+"> wrote:\n> > Sorry!") {
		t.Errorf("quoted-and-stripped body_text %q", bt)
	}
	if v["stripped_text"] != "Refunded." || v["stripped_html"] != "Refunded." || v["stripped_signature"] != "-- \nAna, Acme" {
		t.Errorf("quoted-and-stripped %v", v)
	}

	// The customer's message quoted, its sender and its text; an internal note is not quoted.
	tk2 := call(t, s, "POST", "/api/tickets", body).json(t)
	id2 := int64(tk2["id"].(float64))
	if _, err := s.AgentReply(gorgiassim.AgentReply{TicketID: id2, BodyText: "note", Internal: true}); err != nil {
		t.Fatal(err)
	}
	cq, err := s.AgentReply(gorgiassim.AgentReply{TicketID: id2, BodyText: "Hello Jane", Quote: true, Stripped: gorgiassim.StrippedNull})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hello Jane\n\nOn Wed, Jan 1, 2025 at 12:00 AM, Jane <jane@example.com> wrote:\n> The parcel was late.\n>\n> And broken."; cq.BodyText != want || cq.StrippedText != nil {
		t.Errorf("customer quoted: %q stripped %v\nwant %q", cq.BodyText, cq.StrippedText, want)
	}
	if _, err := s.AgentReply(gorgiassim.AgentReply{TicketID: id2, BodyText: "x", Stripped: "half"}); err == nil {
		t.Error("unknown stripped mode accepted")
	}
	// A client may set the stripped fields on create; they are echoed.
	in := map[string]any{"channel": "email", "via": "helpdesk", "from_agent": true, "body_text": "new\n> old",
		"stripped_text": "new", "stripped_html": "<p>new</p>", "stripped_signature": "sig"}
	m := call(t, s, "POST", fmt.Sprintf("/api/tickets/%d/messages", id2), in).json(t)
	if m["stripped_text"] != "new" || m["stripped_html"] != "<p>new</p>" || m["stripped_signature"] != "sig" {
		t.Errorf("client-set stripped fields: %v", m)
	}
}

func parseGTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse("2006-01-02T15:04:05.000000-07:00", s)
	if err != nil {
		t.Fatalf("datetime %v: %v", v, err)
	}
	return tm
}

// The reply sweep lists tickets by updated_datetime and reads a ticket's messages in order.
func TestSweepListAndMessageOrder(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	var ids []int64
	for i := range 3 {
		tk := call(t, s, "POST", "/api/tickets", ticketBody(fmt.Sprint("trustpilot:", i))).json(t)
		ids = append(ids, int64(tk["id"].(float64)))
	}
	ticket := func(id int64) map[string]any {
		return call(t, s, "GET", fmt.Sprintf("/api/tickets/%d", id), nil).json(t)
	}
	// Every new message moves updated_datetime and last_message_datetime, whoever writes it.
	first := ids[0]
	writers := []func(){
		func() { s.AgentReply(gorgiassim.AgentReply{TicketID: first, BodyText: "a1"}) },
		func() {
			call(t, s, "POST", fmt.Sprintf("/api/tickets/%d/messages", first),
				map[string]any{"channel": "email", "via": "api", "from_agent": false, "body_text": "c1", "external_id": "x-1"})
		},
		func() { s.AgentReply(gorgiassim.AgentReply{TicketID: first, BodyText: "n1", Internal: true}) },
		func() { s.AgentReply(gorgiassim.AgentReply{TicketID: first, BodyText: "a2", Quote: true}) },
	}
	for i, write := range writers {
		before := ticket(first)
		write()
		after := ticket(first)
		for _, f := range []string{"updated_datetime", "last_message_datetime"} {
			if !parseGTime(t, after[f]).After(parseGTime(t, before[f])) {
				t.Errorf("message %d: %s %v → %v, did not move", i, f, before[f], after[f])
			}
		}
		if i == 1 && after["last_received_message_datetime"] == before["last_received_message_datetime"] {
			t.Errorf("customer message did not move last_received_message_datetime")
		}
	}
	// GET /api/tickets?order_by=updated_datetime:desc finds the changed ticket first, paging by cursor.
	r := call(t, s, "GET", "/api/tickets?order_by=updated_datetime:desc&limit=100", nil)
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	data := r.json(t)["data"].([]any)
	if len(data) != 3 || int64(data[0].(map[string]any)["id"].(float64)) != first {
		t.Fatalf("desc by updated: %s", r.body)
	}
	// Reference §2.2: the ticket object's fields.
	ticketFields := strings.Fields(`id uri external_id status priority channel via from_agent spam customer requester
		assignee_user assignee_user_id assignee_team assignee_team_id language subject meta tags created_datetime
		opened_datetime last_received_message_datetime last_message_datetime updated_datetime closed_datetime
		trashed_datetime snooze_datetime satisfaction_survey reply_options is_unread`)
	for _, d := range data {
		e := d.(map[string]any)
		for _, f := range ticketFields {
			if _, ok := e[f]; !ok {
				t.Errorf("list entry %v lacks %s", e["id"], f)
			}
		}
		for _, f := range []string{"external_id", "updated_datetime", "last_message_datetime", "created_datetime"} {
			if e[f] == nil {
				t.Errorf("list entry %v has no %s", e["id"], f)
			}
		}
		if _, has := e["messages"]; has {
			t.Errorf("list entry %v embeds messages", e["id"])
		}
	}
	var paged []int64
	cursor, last := "", time.Time{}
	for pages := 0; ; pages++ {
		r := call(t, s, "GET", "/api/tickets?order_by=updated_datetime:desc&limit=1&cursor="+cursor, nil).json(t)
		for _, d := range r["data"].([]any) {
			e := d.(map[string]any)
			u := parseGTime(t, e["updated_datetime"])
			if !last.IsZero() && u.After(last) {
				t.Errorf("page %d: updated_datetime %v after the previous page's", pages, u)
			}
			last = u
			paged = append(paged, int64(e["id"].(float64)))
		}
		nc := r["meta"].(map[string]any)["next_cursor"]
		if nc == nil {
			break
		}
		cursor = nc.(string)
		if pages > 5 {
			t.Fatal("endless pagination")
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint([]int64{first, ids[2], ids[1]}) {
		t.Errorf("paged %v, want %v", paged, []int64{first, ids[2], ids[1]})
	}

	// GET /api/messages?ticket_id=X&order_by=created_datetime:asc: the ticket's messages in
	// creation order, in one page of 100 or by cursor.
	want := s.Tickets("")[0].Messages
	if len(want) != 5 {
		t.Fatalf("ticket has %d messages, want 5", len(want))
	}
	r = call(t, s, "GET", fmt.Sprintf("/api/messages?ticket_id=%d&order_by=created_datetime:asc&limit=100", first), nil)
	all := r.json(t)
	if all["meta"].(map[string]any)["next_cursor"] != nil {
		t.Errorf("one page expected: %v", all["meta"])
	}
	// Reference §4.3: the message object's fields.
	messageFields := strings.Fields(`id uri ticket_id message_id external_id public channel via source sender receiver
		integration_id rule_id from_agent subject body_text body_html stripped_text stripped_html stripped_signature
		attachments macros actions meta headers intents sentiments created_datetime sent_datetime failed_datetime
		opened_datetime deleted_datetime last_sending_error is_retriable`)
	var got []int64
	for i, d := range all["data"].([]any) {
		m := d.(map[string]any)
		got = append(got, int64(m["id"].(float64)))
		if int64(m["ticket_id"].(float64)) != first {
			t.Errorf("message of ticket %v listed", m["ticket_id"])
		}
		for _, f := range messageFields {
			if _, ok := m[f]; !ok {
				t.Errorf("message %v lacks %s", m["id"], f)
			}
		}
		if m["created_datetime"] == nil {
			t.Errorf("message %v has no created_datetime", m["id"])
		}
		if i > 0 && !parseGTime(t, m["created_datetime"]).After(parseGTime(t, all["data"].([]any)[i-1].(map[string]any)["created_datetime"])) {
			t.Errorf("message %d not created after the one before", i)
		}
	}
	if m := all["data"].([]any)[2].(map[string]any); m["external_id"] != "x-1" {
		t.Errorf("external_id %v", m["external_id"])
	}
	var ordered []int64
	for _, m := range want {
		ordered = append(ordered, m.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ordered) {
		t.Errorf("listed %v, want creation order %v", got, ordered)
	}
	var pagedMsgs []int64
	cursor = ""
	for pages := 0; ; pages++ {
		r := call(t, s, "GET", fmt.Sprintf("/api/messages?ticket_id=%d&order_by=created_datetime:asc&limit=2&cursor=%s", first, cursor), nil)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		j := r.json(t)
		for _, d := range j["data"].([]any) {
			pagedMsgs = append(pagedMsgs, int64(d.(map[string]any)["id"].(float64)))
		}
		nc := j["meta"].(map[string]any)["next_cursor"]
		if nc == nil {
			break
		}
		cursor = nc.(string)
		if pages > 5 {
			t.Fatal("endless pagination")
		}
	}
	if fmt.Sprint(pagedMsgs) != fmt.Sprint(ordered) {
		t.Errorf("paged %v, want %v", pagedMsgs, ordered)
	}
	// A message created meanwhile shows on the next sweep, after the ones seen.
	late, _ := s.AgentReply(gorgiassim.AgentReply{TicketID: first, BodyText: "late"})
	j := call(t, s, "GET", fmt.Sprintf("/api/messages?ticket_id=%d&order_by=created_datetime:asc&limit=100", first), nil).json(t)
	ms := j["data"].([]any)
	if len(ms) != 6 || int64(ms[5].(map[string]any)["id"].(float64)) != late.ID {
		t.Errorf("after a new message: %v", ms)
	}
}
