package gorgiassim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

// answer is what a test receiver answers to one call.
type answer struct {
	status      int
	contentType string
	body        string
}

// seen is one call a test receiver got.
type seen struct {
	method   string
	path     string
	rawQuery string
	query    url.Values
	header   http.Header
}

// scriptedReceiver answers its n-th call with answers[n] (the last one once they run out) and
// records the calls.
type scriptedReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	answers []answer
	calls   []seen
}

func newScriptedReceiver(t *testing.T, answers ...answer) *scriptedReceiver {
	t.Helper()
	sr := &scriptedReceiver{answers: answers}
	sr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr.mu.Lock()
		n := len(sr.calls)
		sr.calls = append(sr.calls, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.Query(), r.Header.Clone()})
		a := sr.answers[min(n, len(sr.answers)-1)]
		sr.mu.Unlock()
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(sr.Close)
	return sr
}

func (sr *scriptedReceiver) call(t *testing.T, i int) seen {
	t.Helper()
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if i >= len(sr.calls) {
		t.Fatalf("receiver got %d calls, want call %d", len(sr.calls), i)
	}
	return sr.calls[i]
}

// lookupIntegration is the documented sidebar route (reference §7, §10): GET on ticket-created
// (and ticket-updated) with the customer's email in the URL, JSON expected back.
func lookupIntegration(url string) map[string]any {
	return map[string]any{"name": "lookup", "type": "http", "http": map[string]any{
		"url":    url + "/lookup?email={{ticket.customer.email}}&ticket={{ticket.id}}&customer={{ticket.customer.id}}",
		"method": "GET", "request_content_type": "application/json", "response_content_type": "application/json",
		"headers":  map[string]string{"X-Ticket": "{{ticket.id}}", "X-Email": "{{ticket.customer.email}}"},
		"triggers": map[string]bool{"ticket-created": true, "ticket-updated": true}}}
}

// ticketFor is ticketBody for a customer of that email and name.
func ticketFor(ext, email, name string) map[string]any {
	b := ticketBody(ext)
	b["customer"] = map[string]any{"email": email, "name": name}
	return b
}

func createID(t *testing.T, s *gorgiassim.Server, path string, body any) int64 {
	t.Helper()
	r := call(t, s, "POST", path, body)
	if r.status != 201 {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	return int64(r.json(t)["id"].(float64))
}

// stored is the customer's integrations[id] entry ("" when none), from the Go API.
func stored(t *testing.T, s *gorgiassim.Server, customer, integration int64) string {
	t.Helper()
	c, ok := s.Customer(customer)
	if !ok {
		t.Fatalf("no customer %d", customer)
	}
	return string(c.Integrations[strconv.FormatInt(integration, 10)])
}

func TestIntegrationAnswerStoredOnCustomer(t *testing.T) {
	t.Parallel()
	// Answers to: ticket-created (stored), PUT ticket (replaces it), then POST, DELETE and PUT
	// tags (each kept: not JSON, not 2xx, empty).
	recv := newScriptedReceiver(t,
		answer{200, "application/json", `{"orders": 1, "tier": "gold"}`},
		answer{200, "application/json", `{"orders":2}`},
		answer{200, "text/plain", `not json`},
		answer{500, "application/json", `{"orders":99}`},
		answer{204, "", ""},
	)
	s := start(t, gorgiassim.Config{DeliveryRetries: -1})
	itID := createID(t, s, "/api/integrations", lookupIntegration(recv.URL))
	const email = "jane+tp@example.com"
	tk := call(t, s, "POST", "/api/tickets", ticketFor("a", email, "Jane")).json(t)
	tid := int64(tk["id"].(float64))
	cid := int64(tk["customer"].(map[string]any)["id"].(float64))

	d := waitDeliveries(t, s, 1)[0]
	got := recv.call(t, 0)
	if got.method != "GET" || got.query.Get("email") != email || got.query.Get("ticket") != fmt.Sprint(tid) ||
		got.query.Get("customer") != fmt.Sprint(cid) || got.header.Get("X-Ticket") != fmt.Sprint(tid) || got.header.Get("X-Email") != email {
		t.Fatalf("call %+v", got)
	}
	if !d.OK || !d.Stored || d.Event != "ticket-created" || d.CustomerID != cid || d.Attempts[0].Status != 200 {
		t.Fatalf("delivery %+v", d)
	}
	if v := stored(t, s, cid, itID); v != `{"orders":1,"tier":"gold"}` {
		t.Fatalf("stored %q", v)
	}
	// The API shows it under integrations, keyed by the integration id.
	ints := call(t, s, "GET", fmt.Sprintf("/api/customers/%d", cid), nil).json(t)["integrations"].(map[string]any)
	if e, _ := ints[fmt.Sprint(itID)].(map[string]any); len(ints) != 1 || e["tier"] != "gold" {
		t.Fatalf("GET customer integrations %v", ints)
	}

	// Updates through the API fire ticket-updated; each answer is judged on its own.
	updates := []struct {
		method, path string
		body         any
		want         string // the stored value after the answer
		ok, isStored bool
	}{
		{"PUT", fmt.Sprintf("/api/tickets/%d", tid), map[string]any{"status": "closed"}, `{"orders":2}`, true, true},
		{"POST", fmt.Sprintf("/api/tickets/%d/tags", tid), map[string]any{"names": []string{"x"}}, `{"orders":2}`, true, false},
		{"DELETE", fmt.Sprintf("/api/tickets/%d/tags", tid), map[string]any{"names": []string{"x"}}, `{"orders":2}`, false, false},
		{"PUT", fmt.Sprintf("/api/tickets/%d/tags", tid), map[string]any{"names": []string{"y"}}, `{"orders":2}`, true, false},
	}
	for i, u := range updates {
		if r := call(t, s, u.method, u.path, u.body); r.status >= 300 {
			t.Fatalf("%s %s: %d %s", u.method, u.path, r.status, r.body)
		}
		d := waitDeliveries(t, s, i+2)[i+1]
		if d.Event != "ticket-updated" || d.OK != u.ok || d.Stored != u.isStored {
			t.Fatalf("%s %s: delivery %+v", u.method, u.path, d)
		}
		if v := stored(t, s, cid, itID); v != u.want {
			t.Fatalf("%s %s: stored %q, want %q", u.method, u.path, v, u.want)
		}
	}
	if got := recv.call(t, 1); got.query.Get("email") != email || got.header.Get("X-Ticket") != fmt.Sprint(tid) {
		t.Fatalf("ticket-updated call %+v", got)
	}

	// The simulator's own bookkeeping fires no ticket-updated.
	if _, err := s.AgentReply(gorgiassim.AgentReply{TicketID: tid, BodyText: "hello"}); err != nil {
		t.Fatal(err)
	}
	msg := map[string]any{"channel": "email", "via": "api", "from_agent": false, "body_text": "more"}
	if r := call(t, s, "POST", fmt.Sprintf("/api/tickets/%d/messages", tid), msg); r.status != 201 {
		t.Fatalf("new message: %d %s", r.status, r.body)
	}
	if err := s.RemoveTag(tid, "y"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Deliveries()); n != 5 {
		t.Fatalf("%d deliveries, want 5: bookkeeping fired ticket-updated", n)
	}

	// The control API shows it too.
	var custs []gorgiassim.Customer
	if err := json.Unmarshal(ctl(t, s, "GET", "/_sim/customers", "").body, &custs); err != nil {
		t.Fatal(err)
	}
	if len(custs) != 1 || string(custs[0].Integrations[fmt.Sprint(itID)]) != `{"orders":2}` {
		t.Fatalf("/_sim/customers %+v", custs)
	}
}

// Only a JSON-expecting integration's answer to a ticket event is stored, whatever its method,
// and a merge carries it to the target.
func TestIntegrationAnswerWhichStored(t *testing.T) {
	t.Parallel()
	recv := newScriptedReceiver(t, answer{200, "application/json", `{"from":"receiver"}`})
	s := start(t, gorgiassim.Config{})
	hook := func(name, method, responseType, trigger string) map[string]any {
		return map[string]any{"name": name, "type": "http", "http": map[string]any{
			"url": recv.URL + "/" + name, "method": method, "request_content_type": "application/json",
			"response_content_type": responseType, "form": map[string]string{"id": "{{ticket.id}}"},
			"triggers": map[string]bool{trigger: true}}}
	}
	post := createID(t, s, "/api/integrations", hook("post", "POST", "application/json", "ticket-created"))
	form := createID(t, s, "/api/integrations", hook("form", "GET", "application/x-www-form-urlencoded", "ticket-created"))
	msg := createID(t, s, "/api/integrations", hook("msg", "GET", "application/json", "ticket-message-created"))
	tk := call(t, s, "POST", "/api/tickets", ticketBody("w")).json(t)
	cid := int64(tk["customer"].(map[string]any)["id"].(float64))
	ds := waitDeliveries(t, s, 3)
	for _, d := range ds {
		if want := d.IntegrationID == post; !d.OK || d.Stored != want {
			t.Fatalf("delivery of integration %d: %+v, stored want %v", d.IntegrationID, d, want)
		}
	}
	if c, _ := s.Customer(cid); len(c.Integrations) != 1 || string(c.Integrations[fmt.Sprint(post)]) != `{"from":"receiver"}` {
		t.Fatalf("integrations %v (form %d, msg %d)", c.Integrations, form, msg)
	}
	target, err := s.CreateCustomer("", "target@example.com", "T", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MergeCustomers(cid, target.ID); err != nil {
		t.Fatal(err)
	}
	if v := stored(t, s, target.ID, post); v != `{"from":"receiver"}` {
		t.Fatalf("after merge the target has %q", v)
	}
}

// Values rendered into an integration's URL arrive as rendered: query-encoded after the "?",
// path-encoded before it, not twice when the template encodes them itself.
func TestIntegrationURLEncoding(t *testing.T) {
	t.Parallel()
	recv := newScriptedReceiver(t, answer{200, "application/json", `{}`})
	s := start(t, gorgiassim.Config{})
	it := lookupIntegration(recv.URL)
	it["http"].(map[string]any)["url"] = recv.URL + "/c/{{ticket.customer.email}}/{{ticket.customer.name}}" +
		"?email={{ ticket.customer.email }}&name={{ticket.customer.name}}&pre={{ticket.customer.email|urlencode}}&none={{ticket.nope}}"
	createID(t, s, "/api/integrations", it)
	const email, name = "jane+tp@example.com", "Jane & Co?/#1"
	call(t, s, "POST", "/api/tickets", ticketFor("u", email, name))
	d := waitDeliveries(t, s, 1)[0]
	got := recv.call(t, 0)
	q := got.query
	if got.path != "/c/"+email+"/"+name || q.Get("email") != email || q.Get("name") != name || q.Get("pre") != email ||
		!q.Has("none") || q.Get("none") != "" || len(q) != 4 {
		t.Fatalf("call %+v (URL %s)", got, d.URL)
	}
	if !strings.Contains(d.URL, "?email=jane%2Btp%40example.com&") || !strings.Contains(d.URL, "&pre=jane%2Btp%40example.com&") {
		t.Fatalf("rendered URL %s", d.URL)
	}
	if got.header.Get("X-Email") != email {
		t.Fatalf("header X-Email %q: headers are not encoded", got.header.Get("X-Email"))
	}
}
