package gorgiassim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// AgentReply is a message an agent (or a rule) writes in the helpdesk UI.
type AgentReply struct {
	TicketID int64  `json:"ticket_id"`
	BodyText string `json:"body_text"`
	BodyHTML string `json:"body_html,omitempty"` // default: body_text
	Public   *bool  `json:"public,omitempty"`    // default true (false for internal notes)
	Internal bool   `json:"internal,omitempty"`  // an internal note
	Rule     bool   `json:"rule,omitempty"`      // written by a rule: via "rule", rule_id set
	Channel  string `json:"channel,omitempty"`   // default the ticket's channel
}

// RuleID is the rule_id of messages AgentReply writes with Rule set.
const RuleID int64 = 77

// AgentReply stores an agent's message on a ticket (via "helpdesk", from_agent true, sent
// asynchronously) and fires the ticket-message-created webhooks, as typing a reply in Gorgias does.
func (s *Server) AgentReply(in AgentReply) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[in.TicketID]
	if t == nil {
		return Message{}, fmt.Errorf("gorgiassim: no ticket %d", in.TicketID)
	}
	a := s.accountByID(t.Account)
	channel, via := cmpOr(in.Channel, t.Channel), "helpdesk"
	if in.Internal {
		channel = "internal-note"
	}
	if in.Rule {
		via = "rule"
	}
	yes := true
	public := !in.Internal
	if in.Public != nil {
		public = *in.Public && !in.Internal
	}
	msg := inMessage{Channel: &channel, Via: &via, FromAgent: &yes, Public: &public,
		BodyText: &in.BodyText, BodyHTML: ptr(cmpOr(in.BodyHTML, in.BodyText))}
	raw, _ := json.Marshal(in)
	m := s.storeMessage(a, t, &msg, raw, time.Now().UTC())
	if in.Rule {
		id := RuleID
		m.RuleID = &id
	}
	s.fire(a, "ticket-message-created", t, m)
	return messageSnapshot(m), nil
}

func ptr[T any](v T) *T { return &v }

// Tickets returns the account's tickets ("" = the first account) with messages, oldest first.
func (s *Server) Tickets(account string) []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ticket
	a := s.accountByID(account)
	for _, t := range s.tickets {
		if a != nil && t.Account == a.cfg.ID {
			out = append(out, s.ticketSnapshot(t))
		}
	}
	slices.SortFunc(out, func(x, y Ticket) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Ticket returns one ticket with its messages.
func (s *Server) Ticket(id int64) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[id]
	if t == nil {
		return Ticket{}, false
	}
	return s.ticketSnapshot(t), true
}

// RemoveTag removes a tag from a ticket, as a user might in the UI.
func (s *Server) RemoveTag(ticketID int64, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[ticketID]
	if t == nil {
		return fmt.Errorf("gorgiassim: no ticket %d", ticketID)
	}
	t.Tags = slices.DeleteFunc(t.Tags, func(n string) bool { return n == name })
	return nil
}

// Customers returns the account's customers, oldest first.
func (s *Server) Customers(account string) []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Customer
	a := s.accountByID(account)
	for _, c := range s.customers {
		if a != nil && c.Account == a.cfg.ID {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(x, y Customer) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Customer returns one customer.
func (s *Server) Customer(id int64) (Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[id]
	if c == nil {
		return Customer{}, false
	}
	return *c, true
}

// CreateCustomer adds a customer directly (seeding tests); data may be nil.
func (s *Server) CreateCustomer(account, email, name string, data json.RawMessage) (Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByID(account)
	if a == nil {
		return Customer{}, fmt.Errorf("gorgiassim: no account %q", account)
	}
	if s.customerByEmail(a, email) != nil {
		return Customer{}, errors.New("gorgiassim: customer exists")
	}
	now := time.Now().UTC()
	c := &Customer{ID: s.newID("customer"), Account: a.cfg.ID, Email: email, Name: name, Data: data,
		CreatedDatetime: now, UpdatedDatetime: now}
	s.customers[c.ID] = c
	return *c, nil
}

// SetCustomerData overwrites a customer's data, as another app writing to Gorgias would.
func (s *Server) SetCustomerData(id int64, data json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[id]
	if c == nil {
		return fmt.Errorf("gorgiassim: no customer %d", id)
	}
	c.Data = data
	return nil
}

// Integrations returns the account's integrations.
func (s *Server) Integrations(account string) []Integration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Integration
	a := s.accountByID(account)
	for _, it := range s.integrations {
		if a != nil && it.Account == a.cfg.ID {
			out = append(out, integrationSnapshot(it))
		}
	}
	slices.SortFunc(out, func(x, y Integration) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Stats returns the account's counters ("" = the first account).
func (s *Server) Stats(account string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByID(account)
	if a == nil {
		return newStats()
	}
	st := a.stats
	st.ByEndpoint = maps.Clone(a.stats.ByEndpoint)
	st.ByStatus = maps.Clone(a.stats.ByStatus)
	rate := float64(a.cfg.RateCalls) / a.cfg.RateWindow.Seconds()
	st.Level = max(0, a.level-time.Since(a.levelAt).Seconds()*rate)
	st.RateCalls, st.RateWindow = a.cfg.RateCalls, a.cfg.RateWindow
	return st
}

// ResetStats zeroes the account's counters (not its bucket).
func (s *Server) ResetStats(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accountByID(account); a != nil {
		a.stats = newStats()
		a.arrivals = nil
	}
}

// Accounts lists the configured accounts (keys included: the simulator is test infrastructure).
func (s *Server) Accounts() []AccountConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AccountConfig, len(s.accounts))
	for i, a := range s.accounts {
		out[i] = a.cfg
	}
	return out
}

// controlRoutes is the inspection and control API under /_sim/, for scripts and the local run.
func (s *Server) controlRoutes() *http.ServeMux {
	m := http.NewServeMux()
	ok := func(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }
	bad := func(w http.ResponseWriter, err error) { writeError(w, http.StatusBadRequest, err.Error(), nil) }
	acct := func(r *http.Request) string { return r.URL.Query().Get("account") }
	m.HandleFunc("GET /_sim/accounts", func(w http.ResponseWriter, r *http.Request) { ok(w, s.Accounts()) })
	m.HandleFunc("GET /_sim/tickets", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Tickets(acct(r)))) })
	m.HandleFunc("GET /_sim/tickets/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		t, found := s.Ticket(id)
		if !found {
			notFound(w)
			return
		}
		ok(w, t)
	})
	m.HandleFunc("DELETE /_sim/tickets/{id}/tags/{name}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err := s.RemoveTag(id, r.PathValue("name")); err != nil {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_sim/agent-reply", func(w http.ResponseWriter, r *http.Request) {
		var in AgentReply
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			bad(w, err)
			return
		}
		msg, err := s.AgentReply(in)
		if err != nil {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusCreated, msg)
	})
	m.HandleFunc("GET /_sim/customers", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Customers(acct(r)))) })
	m.HandleFunc("GET /_sim/integrations", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Integrations(acct(r)))) })
	m.HandleFunc("GET /_sim/deliveries", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Deliveries())) })
	m.HandleFunc("GET /_sim/deliveries/wait", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		timeout, err := time.ParseDuration(cmpOr(r.URL.Query().Get("timeout"), "10s"))
		if err != nil {
			bad(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		ds, err := s.WaitDeliveries(ctx, n)
		if err != nil {
			writeJSON(w, http.StatusGatewayTimeout, map[string]any{"error": map[string]any{"msg": err.Error()}, "deliveries": nonNil(ds)})
			return
		}
		ok(w, nonNil(ds))
	})
	m.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) { ok(w, s.Stats(acct(r))) })
	m.HandleFunc("DELETE /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats(acct(r))
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Faults())) })
	m.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		// latency may be given as a Go duration string ("250ms") as well as nanoseconds.
		var in struct {
			Fault
			Latency json.RawMessage `json:"latency"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			bad(w, err)
			return
		}
		if l := bytes.TrimSpace(in.Latency); len(l) > 0 {
			var str string
			if json.Unmarshal(l, &str) == nil {
				d, err := time.ParseDuration(str)
				if err != nil {
					bad(w, err)
					return
				}
				in.Fault.Latency = d
			} else if err := json.Unmarshal(l, &in.Fault.Latency); err != nil {
				bad(w, err)
				return
			}
		}
		writeJSON(w, http.StatusCreated, map[string]int{"id": s.AddFault(in.Fault)})
	})
	m.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("DELETE /_sim/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		if !s.RemoveFault(id) {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return m
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
