package gorgiassim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AgentReply is a message an agent (or a rule) writes in the helpdesk UI.
//
// By default body_text/body_html are the new text only and stripped_text/stripped_html hold
// the same. With Quote the bodies carry the thread as a mail client quotes it (reference §10):
// body_text is the new text, a blank line, "On <date>, <customer> wrote:" and the previous
// public message's text with every line prefixed by ">"; body_html is the new HTML followed by
// a <div class="gmail_quote"> block holding the previous message in a <blockquote>. A quoted
// reply has stripped_text and stripped_html null, as recorded for messages Gorgias did not
// strip; Stripped overrides that choice either way.
type AgentReply struct {
	TicketID int64  `json:"ticket_id"`
	BodyText string `json:"body_text"`
	BodyHTML string `json:"body_html,omitempty"` // default: body_text
	Public   *bool  `json:"public,omitempty"`    // default true (false for internal notes)
	Internal bool   `json:"internal,omitempty"`  // an internal note
	Rule     bool   `json:"rule,omitempty"`      // written by a rule: via "rule", rule_id set
	Channel  string `json:"channel,omitempty"`   // default the ticket's channel
	// Quote appends the quoted previous public message of the ticket to body_text and body_html.
	Quote bool `json:"quote,omitempty"`
	// Stripped: "" = the default (set without Quote, null with it), StrippedSet = the new
	// text/HTML only, StrippedNull = null.
	Stripped StrippedMode `json:"stripped,omitempty"`
	// Signature is appended to the new text (after a blank line, before any quote) and, when the
	// stripped fields are set, reported as stripped_signature; null otherwise.
	Signature string `json:"signature,omitempty"`
}

// StrippedMode is the value of AgentReply.Stripped.
type StrippedMode string

// The StrippedMode values.
const (
	StrippedDefault StrippedMode = ""
	StrippedSet     StrippedMode = "set"
	StrippedNull    StrippedMode = "null"
)

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
	switch in.Stripped {
	case StrippedDefault, StrippedSet, StrippedNull:
	default:
		return Message{}, fmt.Errorf("gorgiassim: stripped %q is not one of \"\", %q, %q", in.Stripped, StrippedSet, StrippedNull)
	}
	newText, newHTML := in.BodyText, cmpOr(in.BodyHTML, in.BodyText)
	text, htm := newText, newHTML
	if in.Signature != "" {
		text += "\n\n" + in.Signature
		htm += "<br><br><div class=\"gmail_signature\">" + html.EscapeString(in.Signature) + "</div>"
	}
	if in.Quote {
		if prev := s.lastPublicMessage(t); prev != nil {
			text, htm = quoteMessage(text, htm, prev)
		}
	}
	msg := inMessage{Channel: &channel, Via: &via, FromAgent: &yes, Public: &public, BodyText: &text, BodyHTML: &htm}
	if in.Stripped == StrippedSet || (in.Stripped == StrippedDefault && !in.Quote) {
		msg.StrippedText, msg.StrippedHTML = &newText, &newHTML
		if in.Signature != "" {
			msg.StrippedSig = &in.Signature
		}
	}
	raw, _ := json.Marshal(in)
	m := s.storeMessage(a, t, &msg, raw, time.Now().UTC())
	if in.Rule {
		id := RuleID
		m.RuleID = &id
	}
	s.fire(a, "ticket-message-created", t, m)
	return messageSnapshot(m), nil
}

// lastPublicMessage is the message a reply quotes; the caller holds s.mu.
func (s *Server) lastPublicMessage(t *Ticket) *Message {
	for i := len(t.messageIDs) - 1; i >= 0; i-- {
		if m := s.messages[t.messageIDs[i]]; m != nil && m.Public && m.Channel != "internal-note" {
			return m
		}
	}
	return nil
}

// quoteMessage appends prev as Gmail quotes it in a reply: "On <date>, <who> wrote:" and
// ">"-prefixed lines in text, a gmail_quote block in HTML.
func quoteMessage(text, htm string, prev *Message) (string, string) {
	who := "Unknown"
	if p := prev.Sender; p != nil {
		switch {
		case p.Name != "" && p.Email != "":
			who = p.Name + " <" + p.Email + ">"
		case p.Email != "":
			who = "<" + p.Email + ">"
		case p.Name != "":
			who = p.Name
		}
	}
	attr := "On " + prev.CreatedDatetime.UTC().Format("Mon, Jan 2, 2006 at 3:04 PM") + ", " + who + " wrote:"
	var b strings.Builder
	b.WriteString(text + "\n\n" + attr + "\n")
	for _, line := range strings.Split(strings.ReplaceAll(prev.BodyText, "\r\n", "\n"), "\n") {
		if line == "" {
			b.WriteString(">\n")
		} else {
			b.WriteString("> " + line + "\n")
		}
	}
	prevHTML := prev.BodyHTML
	if prevHTML == "" {
		prevHTML = strings.ReplaceAll(html.EscapeString(prev.BodyText), "\n", "<br>")
	}
	h := "<div dir=\"ltr\">" + htm + "</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">" +
		html.EscapeString(attr) + "<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;" +
		"border-left:1px solid rgb(204,204,204);padding-left:1ex\">" + prevHTML + "</blockquote></div>"
	return strings.TrimRight(b.String(), "\n"), h
}

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

// RemoveTag removes a tag from a ticket, as a user might in the UI; it fires no webhook (not
// ticket-updated either: tests use it to set a ticket up, not as an event).
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

// Customers returns the account's customers, oldest first, merged ones included.
func (s *Server) Customers(account string) []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Customer
	a := s.accountByID(account)
	for _, c := range s.customers {
		if a != nil && c.Account == a.cfg.ID {
			out = append(out, customerSnapshot(c))
		}
	}
	slices.SortFunc(out, func(x, y Customer) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Customer returns one customer, with what integrations stored on it (Customer.Integrations).
func (s *Server) Customer(id int64) (Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[id]
	if c == nil {
		return Customer{}, false
	}
	return customerSnapshot(c), true
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
	return customerSnapshot(c), nil
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

// Stats returns the account's counters ("" = the first account), with the other integration's
// calls (Switches.OtherCalls) that fell due by now.
func (s *Server) Stats(account string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByID(account)
	if a == nil {
		return newStats()
	}
	a.advance(time.Now()) // the other integration's calls due by now count
	st := a.stats
	st.ByEndpoint = maps.Clone(a.stats.ByEndpoint)
	st.ByStatus = maps.Clone(a.stats.ByStatus)
	st.Level = a.level
	st.RateCalls, st.RateWindow = a.cfg.RateCalls, a.cfg.RateWindow
	return st
}

// ResetStats zeroes the account's counters (not its bucket).
func (s *Server) ResetStats(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accountByID(account); a != nil {
		a.advance(time.Now()) // the other integration's calls due so far belong to the old counters
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
	m.HandleFunc("POST /_sim/accounts", func(w http.ResponseWriter, r *http.Request) {
		var ac AccountConfig
		if err := decodeControl(r.Body, &ac, false, switchDurations...); err != nil {
			bad(w, err)
			return
		}
		if err := s.AddAccount(ac); err != nil {
			bad(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, ac)
	})
	m.HandleFunc("GET /_sim/accounts/{id}/switches", func(w http.ResponseWriter, r *http.Request) {
		sw, found := s.Switches(r.PathValue("id"))
		if !found {
			notFound(w)
			return
		}
		ok(w, sw)
	})
	m.HandleFunc("PUT /_sim/accounts/{id}/switches", func(w http.ResponseWriter, r *http.Request) {
		var sw Switches
		// A misspelt switch must not pass silently.
		if err := decodeControl(r.Body, &sw, true, switchDurations...); err != nil {
			bad(w, err)
			return
		}
		if _, found := s.Switches(r.PathValue("id")); !found {
			notFound(w)
			return
		}
		if err := s.SetSwitches(r.PathValue("id"), sw); err != nil {
			bad(w, err)
			return
		}
		ok(w, sw)
	})
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
		if _, found := s.Ticket(in.TicketID); !found {
			notFound(w)
			return
		}
		msg, err := s.AgentReply(in)
		if err != nil {
			bad(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, msg)
	})
	m.HandleFunc("GET /_sim/customers", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Customers(acct(r)))) })
	m.HandleFunc("POST /_sim/customers/merge", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Source int64 `json:"source_id"`
			Target int64 `json:"target_id"`
		}
		if err := decodeControl(r.Body, &in, true); err != nil {
			bad(w, err)
			return
		}
		if err := s.MergeCustomers(in.Source, in.Target); err != nil {
			writeError(w, http.StatusConflict, err.Error(), nil)
			return
		}
		src, _ := s.Customer(in.Source)
		target, _ := s.Customer(src.MergedInto)
		ok(w, target)
	})
	m.HandleFunc("GET /_sim/integrations", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Integrations(acct(r)))) })
	m.HandleFunc("GET /_sim/widgets", func(w http.ResponseWriter, r *http.Request) { ok(w, nonNil(s.Widgets(acct(r)))) })
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
		var f Fault
		if err := decodeControl(r.Body, &f, false, "latency", "commit_after", "hidden_for"); err != nil {
			bad(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]int{"id": s.AddFault(f)})
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

// switchDurations are the Switches fields holding a duration.
var switchDurations = []string{"customer_data_apply_delay"}

// decodeControl reads a control-API JSON object into v, refusing unknown fields when strict.
// The fields named in durations may be Go duration strings ("25s") as well as nanoseconds.
func decodeControl(body io.Reader, v any, strict bool, durations ...string) error {
	var obj map[string]json.RawMessage
	if err := json.NewDecoder(body).Decode(&obj); err != nil {
		return err
	}
	for _, k := range durations {
		var str string
		if json.Unmarshal(obj[k], &str) != nil {
			continue // absent, or nanoseconds
		}
		d, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		obj[k] = json.RawMessage(strconv.FormatInt(int64(d), 10))
	}
	b, _ := json.Marshal(obj)
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// DeactivateIntegration disables an integration as Gorgias does after 100 consecutive failed
// calls (reference §5.4): it stays listed, with deactivated_datetime set, and fires no more.
func (s *Server) DeactivateIntegration(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.integrations[id]
	if it == nil {
		return fmt.Errorf("gorgiassim: no integration %d", id)
	}
	now := time.Now().UTC()
	it.DeactivatedDatetime, it.ConsecutiveFailures = &now, s.cfg.DisableAfter
	return nil
}
