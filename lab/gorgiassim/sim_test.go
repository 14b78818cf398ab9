package gorgiassim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

func start(t *testing.T, cfg gorgiassim.Config) *gorgiassim.Server {
	t.Helper()
	cfg.SendDelay = 10 * time.Millisecond
	if cfg.DeliveryRetryDelay == 0 {
		cfg.DeliveryRetryDelay = 5 * time.Millisecond
	}
	s, err := gorgiassim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond until it holds, failing the test if it does not within timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// call makes an API call as the default account ("" auth) or without credentials ("none").
func call(t *testing.T, s *gorgiassim.Server, method, path string, body any, auth ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if str, ok := body.(string); ok {
			rd = strings.NewReader(str)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	switch {
	case len(auth) == 0:
		req.SetBasicAuth(gorgiassim.DefaultAccountEmail, gorgiassim.DefaultAccountKey)
	case auth[0] != "none":
		req.SetBasicAuth(auth[0], auth[1])
	}
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, b}
}

func ticketBody(ext string) map[string]any {
	return map[string]any{
		"channel": "email", "via": "api", "from_agent": false, "external_id": ext, "subject": "s",
		"customer": map[string]any{"email": "jane@example.com", "name": "Jane"},
		"tags":     []any{map[string]any{"name": "trustpilot-review"}},
		"messages": []any{map[string]any{"channel": "email", "via": "api", "from_agent": false, "body_text": "hi",
			"sent_datetime": "2025-01-01T00:00:00Z", "created_datetime": "2025-01-01T00:00:00Z"}},
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{RateCalls: 5, RateWindow: time.Second})
	var last resp
	for i := range 6 {
		last = call(t, s, "GET", "/api/tickets", nil)
		if got := last.header.Get(gorgiassim.CallLimitHeader); i < 5 && (last.status != 200 || got != fmt.Sprintf("%d/5", i+1)) {
			t.Fatalf("call %d: %d %q", i, last.status, got)
		}
	}
	if last.status != 429 || last.header.Get("Retry-After") != "1" || last.header.Get(gorgiassim.CallLimitHeader) != "5/5" {
		t.Fatalf("6th call: %d Retry-After %q limit %q", last.status, last.header.Get("Retry-After"), last.header.Get(gorgiassim.CallLimitHeader))
	}
	if _, ok := last.json(t)["error"]; !ok {
		t.Fatalf("429 body %s", last.body)
	}
	// The bucket leaks 5 calls a second: wait (without spending calls) until it has room for one.
	waitFor(t, 5*time.Second, "the bucket to leak one call", func() bool { return s.Stats("").Level <= 5-1 })
	if r := call(t, s, "GET", "/api/tickets", nil); r.status != 200 {
		t.Fatalf("after leaking: %d", r.status)
	}
	st := s.Stats("")
	if st.Throttled != 1 || st.Served429 != 1 || st.Requests != 7 || st.MaxInWindow != 7 || st.ByEndpoint["GET /api/tickets"] != 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	missingVia := ticketBody("x")
	delete(missingVia["messages"].([]any)[0].(map[string]any), "via")
	unknown := ticketBody("x")
	unknown["colour"] = "blue"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		auth   []string
		status int
		want   string
	}{
		{"no auth", "GET", "/api/tickets", nil, []string{"none"}, 401, `"msg":"Not authenticated."`},
		{"wrong key", "GET", "/api/tickets", nil, []string{gorgiassim.DefaultAccountEmail, "nope"}, 401, "Not authenticated"},
		{"unknown path", "GET", "/api/nothing", nil, nil, 404, "Resource not found."},
		{"wrong method", "PATCH", "/api/tickets", nil, nil, 405, "Method not allowed."},
		{"missing ticket", "GET", "/api/tickets/999999", nil, nil, 404, "Resource not found."},
		{"missing message via", "POST", "/api/tickets", missingVia, nil, 400, `"messages.0.via":["Missing data for required field."]`},
		{"unknown field", "POST", "/api/tickets", unknown, nil, 400, `"colour":["Unknown field."]`},
		{"no messages", "POST", "/api/tickets", map[string]any{"via": "api"}, nil, 400, `"messages":["Missing data for required field."]`},
		{"bad json", "POST", "/api/tickets", "{", nil, 400, "Invalid JSON body."},
		{"wrong type", "POST", "/api/tickets", map[string]any{"via": 3}, nil, 400, `"via":["Not a valid string."]`},
		{"bad limit", "GET", "/api/tickets?limit=101", nil, nil, 400, "limit"},
		{"bad cursor", "GET", "/api/tickets?cursor=zzz", nil, nil, 400, "cursor"},
		{"bad action", "POST", "/api/tickets/1/messages?action=nope", map[string]any{}, nil, 400, "action"},
		{"customer data not object", "PUT", "/api/customers/1/data", map[string]any{"data": []int{1}}, nil, 400, "Must be an object"},
		{"integration type", "POST", "/api/integrations", map[string]any{"name": "x", "type": "shopify"}, nil, 400, `"type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, s, tt.method, tt.path, tt.body, tt.auth...)
			if r.status != tt.status || !strings.Contains(string(r.body), tt.want) {
				t.Fatalf("%d %s, want %d containing %s", r.status, r.body, tt.status, tt.want)
			}
		})
	}
}

func TestTicketsMessagesTags(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	r := call(t, s, "POST", "/api/tickets", ticketBody("trustpilot:1"))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	tk := r.json(t)
	id := int64(tk["id"].(float64))
	cust := tk["customer"].(map[string]any)
	if cust["email"] != "jane@example.com" || tk["uri"] != fmt.Sprintf("/api/tickets/%d/", id) {
		t.Fatalf("ticket %s", r.body)
	}
	msg0 := tk["messages"].([]any)[0].(map[string]any)
	if msg0["sent_datetime"] != "2025-01-01T00:00:00.000000+00:00" {
		t.Fatalf("imported message: %v", msg0)
	}
	// An agent reply via the API is sent asynchronously; one to a .invalid address fails.
	reply := map[string]any{"channel": "email", "via": "helpdesk", "from_agent": true, "body_text": "thanks"}
	r = call(t, s, "POST", fmt.Sprintf("/api/tickets/%d/messages", id), reply)
	if r.status != 201 || r.json(t)["sent_datetime"] != nil {
		t.Fatalf("reply: %d %s", r.status, r.body)
	}
	mid := int64(r.json(t)["id"].(float64))
	bad := map[string]any{"channel": "email", "via": "helpdesk", "from_agent": true, "body_text": "x",
		"receiver": map[string]any{"email": "nobody@example.invalid"}}
	badID := int64(call(t, s, "POST", fmt.Sprintf("/api/tickets/%d/messages", id), bad).json(t)["id"].(float64))
	note := map[string]any{"channel": "internal-note", "via": "api", "from_agent": true, "public": true, "body_text": "n"}
	if m := call(t, s, "POST", fmt.Sprintf("/api/tickets/%d/messages", id), note).json(t); m["public"] != false {
		t.Fatalf("internal note public: %v", m)
	}
	// Sending happens SendDelay later, on a timer: wait for both outcomes in the model (no API
	// calls spent on polling), then check the API shows them.
	waitFor(t, 10*time.Second, "the reply sent and the bad one failed", func() bool {
		tk, _ := s.Ticket(id)
		sent, failed := false, false
		for _, m := range tk.Messages {
			sent = sent || (m.ID == mid && m.SentDatetime != nil)
			failed = failed || (m.ID == badID && m.FailedDatetime != nil)
		}
		return sent && failed
	})
	if m := call(t, s, "GET", fmt.Sprintf("/api/tickets/%d/messages/%d", id, mid), nil).json(t); m["sent_datetime"] == nil || m["failed_datetime"] != nil {
		t.Fatalf("sent message %v", m)
	}
	if b := call(t, s, "GET", fmt.Sprintf("/api/tickets/%d/messages/%d", id, badID), nil).json(t); b["failed_datetime"] == nil || b["sent_datetime"] != nil || b["last_sending_error"] == nil {
		t.Fatalf("failed message %v", b)
	}
	tags := fmt.Sprintf("/api/tickets/%d/tags", id)
	steps := []struct {
		method string
		names  []string
		status int
		want   string
	}{
		{"POST", []string{"a", "b"}, 201, "[trustpilot-review a b]"},
		{"POST", []string{"a"}, 201, "[trustpilot-review a b]"},
		{"DELETE", []string{"a"}, 204, "[trustpilot-review b]"},
		{"PUT", []string{"c"}, 202, "[c]"},
	}
	for _, st := range steps {
		r := call(t, s, st.method, tags, map[string]any{"names": st.names})
		got, _ := s.Ticket(id)
		if r.status != st.status || len(r.body) != 0 || fmt.Sprint(got.Tags) != st.want {
			t.Fatalf("%s %v: %d %q tags %v, want %d %s", st.method, st.names, r.status, r.body, got.Tags, st.status, st.want)
		}
	}
	if g := call(t, s, "GET", tags, nil).json(t); len(g["data"].([]any)) != 1 {
		t.Fatalf("GET tags %v", g)
	}
}

func TestPaginationAndFilters(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	for i := range 7 {
		if r := call(t, s, "POST", "/api/tickets", ticketBody(fmt.Sprint("ext-", i%2))); r.status != 201 {
			t.Fatal(r.status)
		}
	}
	for _, order := range []string{"asc", "desc"} {
		var ids []float64
		cursor := ""
		for pages := 0; ; pages++ {
			r := call(t, s, "GET", "/api/tickets?limit=2&external_id=ext-0&order_by=created_datetime:"+order+"&cursor="+cursor, nil).json(t)
			for _, d := range r["data"].([]any) {
				ids = append(ids, d.(map[string]any)["id"].(float64))
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
		if len(ids) != 4 || (order == "asc") != (ids[0] < ids[3]) {
			t.Fatalf("%s: %v", order, ids)
		}
	}
}

func TestCustomerDataLastWriteWins(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	c, _ := s.CreateCustomer("", "a@example.com", "A", nil)
	path := fmt.Sprintf("/api/customers/%d/data", c.ID)
	for _, w := range []struct {
		data, version string
	}{{`{"v":2}`, "2025-01-02T00:00:00Z"}, {`{"v":1}`, "2025-01-01T00:00:00Z"}} {
		if r := call(t, s, "PUT", path, fmt.Sprintf(`{"data":%s,"version":%q}`, w.data, w.version)); r.status != 202 || len(r.body) != 0 {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
	}
	got := call(t, s, "GET", fmt.Sprintf("/api/customers/%d", c.ID), nil).json(t)
	if fmt.Sprint(got["data"]) != "map[v:2]" {
		t.Fatalf("data = %v, want the newer version", got["data"])
	}
	if st, _ := s.Customer(c.ID); st.DataWrites != 1 || st.DataIgnored != 1 {
		t.Fatalf("writes %d ignored %d", st.DataWrites, st.DataIgnored)
	}
	if r := call(t, s, "GET", "/api/customers?email=A@EXAMPLE.com", nil).json(t); len(r["data"].([]any)) != 1 {
		t.Fatalf("find by email: %v", r)
	}
	if r := call(t, s, "POST", "/api/customers", map[string]any{"email": "a@example.com"}); r.status != 409 {
		t.Fatalf("duplicate: %d", r.status)
	}
}

func integration(url string, form any) map[string]any {
	return map[string]any{"name": "hook", "type": "http", "http": map[string]any{
		"url": url, "method": "POST", "request_content_type": "application/json", "response_content_type": "application/json",
		"headers": map[string]string{"X-Secret": "s"}, "form": form, "triggers": map[string]bool{"ticket-message-created": true}}}
}

func TestWebhookRenderingAndRetries(t *testing.T) {
	t.Parallel()
	var fails atomic.Int32
	fails.Store(2)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(-1) >= 0 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	defer recv.Close()
	s := start(t, gorgiassim.Config{})
	form := map[string]any{"id": "{{ticket.id}}", "agent": "{{message.from_agent}}", "rule": "{{message.rule_id}}",
		"missing": "{{message.nope}}", "last": "{{ticket.messages[-1].body_text}}", "email": "{{ticket.customer.email|upper}}",
		"json": "{{message.public|tojson}}", "mixed": "t={{ticket.id}} p={{message.public}}", "n": 5}
	if r := call(t, s, "POST", "/api/integrations", integration(recv.URL, form)); r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	tk := call(t, s, "POST", "/api/tickets", ticketBody("e")).json(t)
	id := int64(tk["id"].(float64))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := s.WaitDeliveries(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	body, _ := d.ParseBody()
	want := fmt.Sprintf("map[agent:False email:JANE@EXAMPLE.COM id:%d json:true last:hi missing: mixed:t=%d p=True n:5 rule:None]", id, id)
	if !d.OK || len(d.Attempts) != 3 || d.Headers["X-Secret"] != "s" || fmt.Sprint(body) != want {
		t.Fatalf("delivery %+v\nbody %v\nwant %s", d, body, want)
	}
	if it := s.Integrations("")[0]; it.ConsecutiveFailures != 0 {
		t.Fatalf("failures not reset: %d", it.ConsecutiveFailures)
	}
}

func TestWebhookDisabledAfterFailures(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(500)
	}))
	defer recv.Close()
	s := start(t, gorgiassim.Config{DisableAfter: 4, DeliveryRetries: 1})
	call(t, s, "POST", "/api/integrations", integration(recv.URL, map[string]string{"id": "{{ticket.id}}"}))
	tk := call(t, s, "POST", "/api/tickets", ticketBody("e")).json(t)
	id := int64(tk["id"].(float64))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Two deliveries of two requests each (one resend) make the four consecutive failures.
	for i := 1; i <= 2; i++ {
		if i > 1 {
			if _, err := s.AgentReply(gorgiassim.AgentReply{TicketID: id, BodyText: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.WaitDeliveries(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	it := s.Integrations("")[0]
	if it.DeactivatedDatetime == nil || it.ConsecutiveFailures != 4 || hits.Load() != 4 {
		t.Fatalf("integration %+v after %d requests", it, hits.Load())
	}
	// A disabled integration gets nothing more until re-activated.
	s.AgentReply(gorgiassim.AgentReply{TicketID: id, BodyText: "y"})
	if n := len(s.Deliveries()); n != 2 {
		t.Fatalf("%d deliveries after disabling", n)
	}
	r := call(t, s, "PUT", fmt.Sprintf("/api/integrations/%d", it.ID), map[string]any{"name": "hook", "deactivated_datetime": nil})
	if r.status != 202 || s.Integrations("")[0].DeactivatedDatetime != nil {
		t.Fatalf("reactivate: %d %s", r.status, r.body)
	}
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	tk := call(t, s, "POST", "/api/tickets", ticketBody("c")).json(t)
	id := int64(tk["id"].(float64))
	post := func(path, body string) resp {
		r, err := http.Post(s.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return resp{r.StatusCode, r.Header, b}
	}
	get := func(path string, v any) {
		r, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	if r := post("/_sim/agent-reply", fmt.Sprintf(`{"ticket_id":%d,"body_text":"hello","internal":true}`, id)); r.status != 201 {
		t.Fatalf("agent-reply %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest("DELETE", fmt.Sprintf("%s/_sim/tickets/%d/tags/trustpilot-review", s.URL(), id), nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 204 {
		t.Fatalf("remove tag: %v %v", r, err)
	}
	var tickets []gorgiassim.Ticket
	get("/_sim/tickets", &tickets)
	if len(tickets) != 1 || len(tickets[0].Messages) != 2 || tickets[0].Messages[1].Channel != "internal-note" || len(tickets[0].Tags) != 0 {
		t.Fatalf("tickets %+v", tickets)
	}
	if r := post("/_sim/faults", `{"path":"/api/tickets","status":503,"latency":"20ms","times":1}`); r.status != 201 {
		t.Fatalf("fault %d %s", r.status, r.body)
	}
	var faults []gorgiassim.Fault
	get("/_sim/faults", &faults)
	if len(faults) != 1 || faults[0].Latency != 20*time.Millisecond {
		t.Fatalf("faults %+v", faults)
	}
	began := time.Now()
	if r := call(t, s, "GET", "/api/tickets", nil); r.status != 503 || time.Since(began) < 20*time.Millisecond {
		t.Fatalf("fault not applied: %d", r.status)
	}
	if r := call(t, s, "GET", "/api/tickets", nil); r.status != 200 {
		t.Fatalf("fault applied twice: %d", r.status)
	}
	var st gorgiassim.Stats
	get("/_sim/stats", &st)
	if st.Faults != 1 || st.ByStatus[503] != 1 || st.ByEndpoint["GET /api/tickets"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Ticket fields on create: any are taken by default; with the account's definitions set, an
// unknown id or a value of the wrong type is a 400 and nothing is created.
func TestTicketFieldsSwitch(t *testing.T) {
	s := start(t, gorgiassim.Config{})
	body := func(ext string, fields []any) map[string]any {
		b := ticketBody(ext)
		b["custom_fields"], b["priority"], b["status"] = fields, "high", "closed"
		return b
	}
	r := call(t, s, "POST", "/api/tickets", body("f1", []any{map[string]any{"id": 5, "value": 4}}))
	if r.status != 201 {
		t.Fatalf("create with a field: %d %s", r.status, r.body)
	}
	tk := s.Tickets("")[0]
	if len(tk.CustomFields) != 1 || tk.CustomFields[0].ID != 5 || tk.CustomFields[0].Value != 4.0 || tk.Priority != "high" || tk.Status != "closed" {
		t.Fatalf("stored ticket: %+v", tk)
	}
	if err := s.SetSwitches("", gorgiassim.Switches{TicketFields: []gorgiassim.TicketField{{ID: 5, Type: "number"}, {ID: 6, Type: "text"}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fields []any
		status int
		field  string
	}{
		{[]any{map[string]any{"id": 7, "value": "x"}}, 400, "custom_fields.0.id"},
		{[]any{map[string]any{"id": 5, "value": "4"}}, 400, "custom_fields.0.value"},
		{[]any{map[string]any{"id": 6, "value": 4}}, 400, "custom_fields.0.value"},
		{[]any{map[string]any{"id": 5, "value": 4}, map[string]any{"id": 6, "value": "service"}}, 201, ""},
	} {
		r := call(t, s, "POST", "/api/tickets", body(fmt.Sprint("f", len(s.Tickets(""))+1), c.fields))
		if r.status != c.status || (c.field != "" && !strings.Contains(string(r.body), c.field)) {
			t.Fatalf("fields %v: %d %s, want %d naming %q", c.fields, r.status, r.body, c.status, c.field)
		}
	}
	if n := len(s.Tickets("")); n != 2 {
		t.Fatalf("%d tickets, want 2 (refused creates store nothing)", n)
	}
}
