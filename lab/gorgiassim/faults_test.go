package gorgiassim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

// try makes an API call as the default account with client, returning the transport error (a
// dropped connection) instead of failing the test.
func try(s *gorgiassim.Server, client *http.Client, method, path, body string) (resp, error) {
	req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	req.SetBasicAuth(gorgiassim.DefaultAccountEmail, gorgiassim.DefaultAccountKey)
	req.Header.Set("Content-Type", "application/json")
	r, err := client.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, b}, nil
}

func ticketJSON(ext string) string {
	return fmt.Sprintf(`{"channel":"email","via":"api","from_agent":false,"external_id":%q,
		"customer":{"email":"jane@example.com"},
		"messages":[{"channel":"email","via":"api","from_agent":false,"body_text":"hi"}]}`, ext)
}

func TestBodyContainsFault(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	// Every create of one review's ticket fails; the others go through.
	if r := ctl(t, s, "POST", "/_sim/faults", `{"method":"POST","path":"/api/tickets","body_contains":"trustpilot:R1","status":500}`); r.status != 201 {
		t.Fatalf("fault over HTTP: %d %s", r.status, r.body)
	}
	// A matching fault that only delays leaves the whole body to the handler.
	s.AddFault(gorgiassim.Fault{Method: "POST", Path: "/api/tickets", BodyContains: "trustpilot:R3", Latency: time.Millisecond})
	for i, step := range []struct {
		ext    string
		status int
	}{{"trustpilot:R1", 500}, {"trustpilot:R2", 201}, {"trustpilot:R1", 500}, {"trustpilot:R3", 201}, {"trustpilot:R1", 500}} {
		if r := call(t, s, "POST", "/api/tickets", ticketJSON(step.ext)); r.status != step.status {
			t.Fatalf("create %d (%s): %d %s, want %d", i, step.ext, r.status, r.body, step.status)
		}
	}
	// A bodiless request never matches.
	if r := call(t, s, "GET", "/api/tickets?external_id=trustpilot:R1", nil); r.status != 200 {
		t.Fatalf("list: %d", r.status)
	}
	var exts []string
	for _, tk := range s.Tickets("") {
		exts = append(exts, tk.ExternalID)
		if tk.ExternalID == "trustpilot:R3" && !strings.Contains(string(tk.Request), `"body_text":"hi"`) {
			t.Errorf("R3 stored request %s", tk.Request)
		}
	}
	if fmt.Sprint(exts) != "[trustpilot:R2 trustpilot:R3]" {
		t.Errorf("tickets %v", exts)
	}
	if fs := s.Faults(); len(fs) != 2 || fs[0].Hits != 3 || fs[0].BodyContains != "trustpilot:R1" || fs[1].Hits != 1 {
		t.Errorf("faults %+v", fs)
	}
}

func TestLateCommitFault(t *testing.T) {
	t.Parallel()
	const commitAfter, hiddenFor = 400 * time.Millisecond, time.Second
	tests := []struct {
		name  string
		fault string // POST /_sim/faults body
		// wantDrop is how long the client waits before its connection is dropped, at least.
		wantDrop time.Duration
	}{
		{"drop, durations as strings", `{"method":"POST","path":"/api/tickets","drop":true,"commit_after":"400ms","hidden_for":"1s","times":1}`, 0},
		{"drop, durations in ns", fmt.Sprintf(`{"path":"/api/tickets","drop":true,"commit_after":%d,"hidden_for":%d}`, commitAfter, hiddenFor), 0},
		{"latency then drop", `{"method":"POST","path":"/api/tickets","latency":"100ms","commit_after":"400ms","hidden_for":"1s","times":1}`, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, gorgiassim.Config{RateCalls: 1 << 20}) // reads are polled
			call(t, s, "POST", "/api/integrations", integration(okReceiver(t).URL, map[string]string{"id": "{{ticket.id}}"}))
			if r := ctl(t, s, "POST", "/_sim/faults", tt.fault); r.status != 201 {
				t.Fatalf("fault: %d %s", r.status, r.body)
			}
			arrived := time.Now()
			if r, err := try(s, http.DefaultClient, "POST", "/api/tickets", ticketJSON("trustpilot:late")); err == nil {
				t.Fatalf("late create answered %d %s", r.status, r.body)
			}
			if waited := time.Since(arrived); waited < tt.wantDrop {
				t.Errorf("dropped after %s, want at least %s", waited, tt.wantDrop)
			}
			if n := len(s.Tickets("")); n != 0 {
				t.Fatalf("%d tickets before the commit", n)
			}
			// A create in the meantime is applied at once and gets the earlier id.
			s.ClearFaults()
			other := call(t, s, "POST", "/api/tickets", ticketJSON("trustpilot:other")).json(t)

			waitFor(t, 5*time.Second, "the late commit", func() bool { return len(s.Tickets("")) == 2 })
			if since := time.Since(arrived); since < commitAfter {
				t.Errorf("committed %s after arrival, want at least %s", since, commitAfter)
			}
			late := s.Tickets("")[1]
			if late.ExternalID != "trustpilot:late" || late.ID <= int64(other["id"].(float64)) || len(late.Messages) != 1 {
				t.Fatalf("late ticket %+v (other %v)", late, other["id"])
			}
			if d := waitDeliveries(t, s, 2); d[1].TicketID != late.ID {
				t.Errorf("deliveries %+v", d)
			}
			// Committed, but out of API reads for hidden_for; the control API shows it.
			visible := func() map[string]int {
				return map[string]int{
					"list":   len(call(t, s, "GET", "/api/tickets", nil).json(t)["data"].([]any)),
					"filter": len(call(t, s, "GET", "/api/tickets?external_id=trustpilot:late", nil).json(t)["data"].([]any)),
					"get":    call(t, s, "GET", fmt.Sprintf("/api/tickets/%d", late.ID), nil).status,
					"ctl":    len(jsonList(t, ctl(t, s, "GET", "/_sim/tickets", "").body)),
				}
			}
			if v := visible(); fmt.Sprint(v) != "map[ctl:2 filter:0 get:404 list:1]" {
				t.Errorf("just committed: %v", v)
			}
			waitFor(t, 5*time.Second, "the late ticket to show", func() bool { return visible()["filter"] == 1 })
			if since := time.Since(arrived); since < commitAfter+hiddenFor {
				t.Errorf("visible %s after arrival, want at least %s", since, commitAfter+hiddenFor)
			}
			if v := visible(); fmt.Sprint(v) != "map[ctl:2 filter:1 get:200 list:2]" {
				t.Errorf("after hidden_for: %v", v)
			}
			if st := s.Stats(""); st.ByStatus[0] != 1 || st.ByEndpoint["POST /api/tickets"] != 2 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestLateCommitOfMessage(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	id := int64(call(t, s, "POST", "/api/tickets", ticketJSON("m")).json(t)["id"].(float64))
	s.AddFault(gorgiassim.Fault{Method: "POST", Path: "/api/tickets/*/messages", Drop: true, CommitAfter: time.Hour, HiddenFor: time.Hour, Times: 1})
	msg := `{"channel":"email","via":"api","from_agent":false,"body_text":"late"}`
	if r, err := try(s, http.DefaultClient, "POST", fmt.Sprintf("/api/tickets/%d/messages", id), msg); err == nil {
		t.Fatalf("late message answered %d %s", r.status, r.body)
	}
	tk, _ := s.Ticket(id)
	if len(tk.Messages) != 1 {
		t.Fatalf("%d messages before the commit", len(tk.Messages))
	}
	updated := tk.UpdatedDatetime
	s.ApplyPending()
	tk, _ = s.Ticket(id)
	if len(tk.Messages) != 2 || tk.Messages[1].BodyText != "late" {
		t.Fatalf("after ApplyPending: %+v", tk.Messages)
	}
	mid := tk.Messages[1].ID
	// The ticket moved; its new message is out of every read of messages.
	reads := map[string]func() int{
		"GET /api/messages": func() int {
			return len(call(t, s, "GET", fmt.Sprintf("/api/messages?ticket_id=%d", id), nil).json(t)["data"].([]any))
		},
		"GET /api/tickets/{id}/messages": func() int {
			return len(call(t, s, "GET", fmt.Sprintf("/api/tickets/%d/messages", id), nil).json(t)["data"].([]any))
		},
		"GET /api/tickets/{id}": func() int {
			return len(call(t, s, "GET", fmt.Sprintf("/api/tickets/%d", id), nil).json(t)["messages"].([]any))
		},
	}
	for name, read := range reads {
		if n := read(); n != 1 {
			t.Errorf("%s: %d messages, want 1", name, n)
		}
	}
	if r := call(t, s, "GET", fmt.Sprintf("/api/tickets/%d/messages/%d", id, mid), nil); r.status != 404 {
		t.Errorf("hidden message read: %d", r.status)
	}
	if !tk.UpdatedDatetime.After(updated) {
		t.Errorf("ticket did not move: %v", tk.UpdatedDatetime)
	}
}

func jsonList(t *testing.T, b []byte) []any {
	t.Helper()
	var l []any
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return l
}

func TestLateCommitEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  gorgiassim.Fault
		body   string
		status int // of the answer; 0: dropped
		// tickets is how many tickets there are after ApplyPending.
		tickets int
	}{
		{"refused by validation: answered", gorgiassim.Fault{Drop: true, CommitAfter: time.Hour}, `{"via":"api","messages":[]}`, 400, 0},
		{"no drop nor latency: applied at once", gorgiassim.Fault{CommitAfter: time.Hour, HiddenFor: time.Hour}, ticketJSON("x"), 201, 1},
		{"plain drop: never applied", gorgiassim.Fault{Drop: true}, ticketJSON("x"), 0, 0},
		{"hidden only: applied at once, hidden", gorgiassim.Fault{Drop: true, HiddenFor: time.Hour}, ticketJSON("x"), 0, 1},
		{"commit refused at commit time", gorgiassim.Fault{Drop: true, CommitAfter: time.Hour}, strings.Replace(ticketJSON("x"), `"email":"jane@example.com"`, `"id":999`, 1), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, gorgiassim.Config{})
			tt.fault.Method, tt.fault.Path, tt.fault.Times = "POST", "/api/tickets", 1
			s.AddFault(tt.fault)
			r, err := try(s, http.DefaultClient, "POST", "/api/tickets", tt.body)
			if (err != nil) != (tt.status == 0) || r.status != tt.status {
				t.Fatalf("answer %d %s %v, want %d", r.status, r.body, err, tt.status)
			}
			if tt.fault.HiddenFor > 0 && tt.fault.CommitAfter == 0 {
				waitFor(t, 5*time.Second, "the commit", func() bool { return len(s.Tickets("")) == 1 })
				if n := len(call(t, s, "GET", "/api/tickets", nil).json(t)["data"].([]any)); n != 0 {
					t.Errorf("hidden ticket listed")
				}
			}
			s.ApplyPending()
			if n := len(s.Tickets("")); n != tt.tickets {
				t.Errorf("%d tickets, want %d", n, tt.tickets)
			}
		})
	}
}

// Close drops work still waiting, without waiting for it and without leaving timers behind.
func TestCloseDropsPending(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{{ID: "acme", Email: gorgiassim.DefaultAccountEmail,
		APIKey: gorgiassim.DefaultAccountKey, Switches: gorgiassim.Switches{CustomerDataApplyDelay: time.Hour}}}})
	c, _ := s.CreateCustomer("", "c@example.com", "C", nil)
	s.AddFault(gorgiassim.Fault{Method: "POST", Path: "/api/tickets", Drop: true, CommitAfter: time.Hour})
	_, _ = try(s, http.DefaultClient, "POST", "/api/tickets", ticketJSON("x"))
	if r := call(t, s, "PUT", fmt.Sprintf("/api/customers/%d/data", c.ID), `{"data":{"a":1}}`); r.status != 202 {
		t.Fatalf("data: %d", r.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitPending(ctx); err == nil {
		t.Fatal("WaitPending returned with work waiting")
	}
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for pending work")
	}
	if err := s.WaitPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.ApplyPending()
	if c, _ := s.Customer(c.ID); len(s.Tickets("")) != 0 || c.Data != nil {
		t.Errorf("pending work ran after Close: %d tickets, data %s", len(s.Tickets("")), c.Data)
	}
}
