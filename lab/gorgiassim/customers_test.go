package gorgiassim_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

// customerData is what GET /api/customers/{id} says the data is.
func customerData(t *testing.T, s *gorgiassim.Server, id int64) string {
	t.Helper()
	r := call(t, s, "GET", fmt.Sprintf("/api/customers/%d", id), nil)
	if r.status != 200 {
		t.Fatalf("GET customer %d: %d %s", id, r.status, r.body)
	}
	return fmt.Sprint(r.json(t)["data"])
}

func TestCustomerDataApplyDelaySwitch(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	tests := []struct {
		name string
		set  string // "config", "go", "http string" or "http ns": how the switch is set
	}{{"config", "config"}, {"go", "go"}, {"http string", `"300ms"`}, {"http ns", fmt.Sprint(int64(delay))}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ac := gorgiassim.AccountConfig{ID: "acme", Email: gorgiassim.DefaultAccountEmail, APIKey: gorgiassim.DefaultAccountKey}
			if tt.set == "config" {
				ac.CustomerDataApplyDelay = delay
			}
			s := start(t, gorgiassim.Config{Accounts: []gorgiassim.AccountConfig{ac}})
			switch tt.set {
			case "config":
			case "go":
				if err := s.SetSwitches("acme", gorgiassim.Switches{CustomerDataApplyDelay: delay}); err != nil {
					t.Fatal(err)
				}
			default:
				if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"customer_data_apply_delay":`+tt.set+`}`); r.status != 200 {
					t.Fatalf("PUT switches: %d %s", r.status, r.body)
				}
			}
			if sw, _ := s.Switches("acme"); sw.CustomerDataApplyDelay != delay {
				t.Fatalf("switches %+v", sw)
			}
			c, _ := s.CreateCustomer("", "c@example.com", "C", []byte(`{"n":0}`))
			put := fmt.Sprintf("/api/customers/%d/data", c.ID)
			sent := time.Now()
			// Applied in arrival order, the older version ignored when it is applied.
			for _, body := range []string{`{"data":{"n":1},"version":"2025-01-01T00:00:02Z"}`, `{"data":{"n":2},"version":"2025-01-01T00:00:01Z"}`} {
				if r := call(t, s, "PUT", put, body); r.status != 202 {
					t.Fatalf("PUT data: %d %s", r.status, r.body)
				}
			}
			if got := customerData(t, s, c.ID); got != "map[n:0]" {
				t.Fatalf("data before the delay: %s", got)
			}
			// Still validated at once.
			if r := call(t, s, "PUT", put, `{"data":"x"}`); r.status != 400 {
				t.Errorf("bad data: %d", r.status)
			}
			if r := call(t, s, "PUT", "/api/customers/999/data", `{"data":{}}`); r.status != 404 {
				t.Errorf("unknown customer: %d", r.status)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.WaitPending(ctx); err != nil {
				t.Fatal(err)
			}
			if since := time.Since(sent); since < delay {
				t.Errorf("applied after %s, want at least %s", since, delay)
			}
			got, _ := s.Customer(c.ID)
			if d := customerData(t, s, c.ID); d != "map[n:1]" || got.DataWrites != 1 || got.DataIgnored != 1 || got.DataVersion != "2025-01-01T00:00:02Z" {
				t.Errorf("after the delay: data %s, %+v", d, got)
			}
		})
	}
	t.Run("no overtaking when the delay drops", func(t *testing.T) {
		t.Parallel()
		s := start(t, gorgiassim.Config{})
		c, _ := s.CreateCustomer("", "c@example.com", "C", nil)
		put := fmt.Sprintf("/api/customers/%d/data", c.ID)
		_ = s.SetSwitches("", gorgiassim.Switches{CustomerDataApplyDelay: time.Hour})
		call(t, s, "PUT", put, `{"data":{"n":1}}`)
		_ = s.SetSwitches("", gorgiassim.Switches{})
		call(t, s, "PUT", put, `{"data":{"n":2}}`)
		if got := customerData(t, s, c.ID); got != "<nil>" {
			t.Fatalf("the second write overtook the first: %s", got)
		}
		s.ApplyPending()
		if got := customerData(t, s, c.ID); got != "map[n:2]" {
			t.Fatalf("after ApplyPending: %s", got)
		}
		// With nothing waiting, a write without delay applies at once again.
		call(t, s, "PUT", put, `{"data":{"n":3}}`)
		if got := customerData(t, s, c.ID); got != "map[n:3]" {
			t.Fatalf("immediate write: %s", got)
		}
	})
	t.Run("bad values refused", func(t *testing.T) {
		t.Parallel()
		s := start(t, gorgiassim.Config{})
		if err := s.SetSwitches("", gorgiassim.Switches{CustomerDataApplyDelay: -time.Second}); err == nil {
			t.Error("negative delay accepted")
		}
		for _, body := range []string{`{"customer_data_apply_delay":"soon"}`, `{"customer_data_apply_delay":"-1s"}`, `{"customer_data_apply_delay":true}`} {
			if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", body); r.status != 400 {
				t.Errorf("%s: %d", body, r.status)
			}
		}
		r := ctl(t, s, "POST", "/_sim/accounts", `{"id":"beta","email":"api@beta.test","api_key":"k2","customer_data_apply_delay":"2s"}`)
		if sw, _ := s.Switches("beta"); r.status != 201 || sw.CustomerDataApplyDelay != 2*time.Second {
			t.Errorf("account with a delay: %d %s, switches %+v", r.status, r.body, sw)
		}
	})
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestMergeCustomers(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	src, _ := s.CreateCustomer("", "src@example.com", "Src", []byte(`{"shared":"src","only_src":1}`))
	dst, _ := s.CreateCustomer("", "dst@example.com", "Dst", []byte(`{"shared":"dst"}`))
	body := ticketBody("m")
	body["customer"] = map[string]any{"id": src.ID}
	tk := call(t, s, "POST", "/api/tickets", body).json(t)
	r := ctl(t, s, "POST", "/_sim/customers/merge", fmt.Sprintf(`{"source_id":%d,"target_id":%d}`, src.ID, dst.ID))
	if r.status != 200 || int64(r.json(t)["id"].(float64)) != dst.ID {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	tid := int64(tk["id"].(float64))
	if got, _ := s.Ticket(tid); got.CustomerID != dst.ID {
		t.Errorf("ticket's customer %d, want %d", got.CustomerID, dst.ID)
	}
	if got := customerData(t, s, dst.ID); got != "map[only_src:1 shared:dst]" {
		t.Errorf("target data %s", got)
	}
	if got, _ := s.Customer(src.ID); got.MergedInto != dst.ID {
		t.Errorf("source %+v", got)
	}
	// The source's email finds the target; lists leave the source out.
	for _, q := range []string{"email=src@example.com", "email=dst@example.com", ""} {
		var ids []int64
		for _, c := range call(t, s, "GET", "/api/customers?"+q, nil).json(t)["data"].([]any) {
			ids = append(ids, int64(c.(map[string]any)["id"].(float64)))
		}
		if fmt.Sprint(ids) != fmt.Sprint([]int64{dst.ID}) {
			t.Errorf("GET /api/customers?%s: %v, want [%d]", q, ids, dst.ID)
		}
	}
	// A ticket created for the source's email lands on the target.
	body["customer"] = map[string]any{"email": "SRC@example.com"}
	if c := call(t, s, "POST", "/api/tickets", body).json(t)["customer"].(map[string]any); int64(c["id"].(float64)) != dst.ID {
		t.Errorf("new ticket's customer %v", c["id"])
	}

	// Every GET and PUT of the source's paths answers 301 to the target's, absolute by default.
	tests := []struct {
		method, path, switches, location string
	}{
		{"GET", "/api/customers/%d", "", s.URL() + "/api/customers/%d"},
		{"PUT", "/api/customers/%d/data", "", s.URL() + "/api/customers/%d/data"},
		{"GET", "/api/customers/%d/data", "", s.URL() + "/api/customers/%d/data"},
		{"PUT", "/api/customers/%d", `{"merge_location":"relative"}`, "/api/customers/%d"},
		{"PUT", "/api/customers/%d/data", `{"merge_location":"relative"}`, "/api/customers/%d/data"},
	}
	for _, tt := range tests {
		if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", cmp.Or(tt.switches, "{}")); r.status != 200 {
			t.Fatalf("switches: %d %s", r.status, r.body)
		}
		r, err := try(s, noRedirect, tt.method, fmt.Sprintf(tt.path, src.ID), `{"data":{"shared":"lost"}}`)
		if err != nil {
			t.Fatal(err)
		}
		if loc := fmt.Sprintf(tt.location, dst.ID); r.status != 301 || r.header.Get("Location") != loc ||
			r.header.Get("Content-Type") != "application/json" || string(r.body) != "{}\n" {
			t.Errorf("%s %s (%s): %d %q %s, want 301 to %s", tt.method, tt.path, tt.switches, r.status, r.header.Get("Location"), r.body, loc)
		}
	}
	if got := customerData(t, s, dst.ID); got != "map[only_src:1 shared:dst]" {
		t.Errorf("a redirected PUT wrote data: %s", got)
	}

	// Merging into a merged customer follows to the final one.
	third, _ := s.CreateCustomer("", "third@example.com", "Third", nil)
	if err := s.MergeCustomers(third.ID, src.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Customer(third.ID); got.MergedInto != dst.ID {
		t.Errorf("third merged into %d, want %d", got.MergedInto, dst.ID)
	}
	if r, _ := try(s, noRedirect, "GET", fmt.Sprintf("/api/customers/%d", third.ID), ""); r.header.Get("Location") != fmt.Sprintf("/api/customers/%d", dst.ID) {
		t.Errorf("third: %d %q", r.status, r.header.Get("Location"))
	}
	if got := customerData(t, s, dst.ID); got != "map[only_src:1 shared:dst]" {
		t.Errorf("a merge without data changed the target's: %s", got)
	}
}

func TestMergeCustomersRefused(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	if err := s.AddAccount(gorgiassim.AccountConfig{ID: "beta", Email: "api@beta.test", APIKey: "k2"}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.CreateCustomer("", "a@example.com", "A", nil)
	b, _ := s.CreateCustomer("", "b@example.com", "B", nil)
	other, _ := s.CreateCustomer("beta", "o@example.com", "O", nil)
	if err := s.MergeCustomers(a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		source, target int64
	}{
		{"into itself", b.ID, b.ID},
		{"into itself through a merge", b.ID, a.ID},
		{"unknown source", 999, b.ID},
		{"unknown target", b.ID, 999},
		{"source already merged", a.ID, b.ID},
		{"other account", other.ID, b.ID},
	}
	for _, tt := range tests {
		if r := ctl(t, s, "POST", "/_sim/customers/merge", fmt.Sprintf(`{"source_id":%d,"target_id":%d}`, tt.source, tt.target)); r.status != 409 {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
		}
	}
	if r := ctl(t, s, "POST", "/_sim/customers/merge", `{"source":1}`); r.status != 400 {
		t.Errorf("misspelt field: %d", r.status)
	}
	if r := ctl(t, s, "PUT", "/_sim/accounts/acme/switches", `{"merge_location":"absolute"}`); r.status != 400 {
		t.Errorf("unknown merge_location: %d", r.status)
	}
	// Only the source redirects.
	if r, _ := try(s, noRedirect, "GET", fmt.Sprintf("/api/customers/%d", b.ID), ""); r.status != 200 {
		t.Errorf("target: %d", r.status)
	}
}
