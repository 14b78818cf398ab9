package gorgiassim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func (s *Server) apiRoutes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/tickets", s.createTicket)
	m.HandleFunc("GET /api/tickets", s.listTickets)
	m.HandleFunc("GET /api/tickets/{id}", s.getTicket)
	m.HandleFunc("PUT /api/tickets/{id}", s.updateTicket)
	m.HandleFunc("DELETE /api/tickets/{id}", s.deleteTicket)
	m.HandleFunc("POST /api/tickets/{id}/messages", s.createMessage)
	m.HandleFunc("GET /api/tickets/{id}/messages", s.listTicketMessages)
	m.HandleFunc("GET /api/tickets/{id}/messages/{mid}", s.getMessage)
	m.HandleFunc("GET /api/messages", s.listMessages)
	m.HandleFunc("GET /api/tickets/{id}/tags", s.getTags)
	m.HandleFunc("POST /api/tickets/{id}/tags", s.changeTags)
	m.HandleFunc("PUT /api/tickets/{id}/tags", s.changeTags)
	m.HandleFunc("DELETE /api/tickets/{id}/tags", s.changeTags)
	m.HandleFunc("GET /api/customers", s.listCustomers)
	m.HandleFunc("POST /api/customers", s.createCustomer)
	m.HandleFunc("GET /api/customers/{id}", s.getCustomer)
	m.HandleFunc("PUT /api/customers/{id}/data", s.putCustomerData)
	m.HandleFunc("GET /api/integrations", s.listIntegrations)
	m.HandleFunc("POST /api/integrations", s.createIntegration)
	m.HandleFunc("GET /api/integrations/{id}", s.getIntegration)
	m.HandleFunc("PUT /api/integrations/{id}", s.updateIntegration)
	m.HandleFunc("DELETE /api/integrations/{id}", s.deleteIntegration)
	m.HandleFunc("GET /api/widgets", s.listWidgets)
	m.HandleFunc("POST /api/widgets", s.createWidget)
	m.HandleFunc("GET /api/widgets/{id}", s.getWidget)
	m.HandleFunc("PUT /api/widgets/{id}", s.updateWidget)
	m.HandleFunc("DELETE /api/widgets/{id}", s.deleteWidget)
	return m
}

// maxRequestBytes bounds request bodies like a real API gateway would.
const maxRequestBytes = 10 << 20

type fieldErrs map[string][]string

func (f fieldErrs) add(field, msg string) { f[field] = append(f[field], msg) }

// decodeBody reads a JSON body strictly: Gorgias' schemas reject unknown fields, and a strict
// simulator catches a client's typo before production does.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, what string) (json.RawMessage, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Could not read the request body.", nil)
		return nil, false
	}
	if len(raw) > maxRequestBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "Request body too large.", nil)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			writeError(w, http.StatusBadRequest, what, fieldErrs{te.Field: {"Not a valid " + jsonType(te.Type.Kind().String()) + "."}})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			writeError(w, http.StatusBadRequest, what, fieldErrs{f: {"Unknown field."}})
		default:
			writeError(w, http.StatusBadRequest, "Invalid JSON body.", nil)
		}
		return nil, false
	}
	return raw, true
}

func jsonType(kind string) string {
	switch kind {
	case "bool":
		return "boolean"
	case "int", "int64", "float64":
		return "integer"
	case "slice":
		return "list"
	case "map", "struct", "ptr":
		return "object"
	}
	return kind
}

func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// ticketOf finds the request's ticket in the caller's account; the caller holds s.mu.
func (s *Server) ticketOf(r *http.Request) *Ticket {
	id, _ := pathID(r, "id")
	return s.apiTicket(accountOf(r), id)
}

// apiTicket is the account's ticket id as the API sees it: nil when missing or still hidden
// after a late commit (Fault.HiddenFor); the caller holds s.mu.
func (s *Server) apiTicket(a *account, id int64) *Ticket {
	t := s.tickets[id]
	if t == nil || t.Account != a.cfg.ID || !visible(t.hiddenUntil) {
		return nil
	}
	return t
}

// visible reports whether an item hidden until hiddenUntil (zero: never hidden) shows in API
// reads by now.
func visible(hiddenUntil time.Time) bool { return !time.Now().Before(hiddenUntil) }

func notFound(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "Resource not found.", nil) }

type inPerson struct {
	ID         *int64          `json:"id"`
	Email      *string         `json:"email"`
	Name       *string         `json:"name"`
	Firstname  *string         `json:"firstname"`
	Lastname   *string         `json:"lastname"`
	ExternalID *string         `json:"external_id"`
	Language   *string         `json:"language"`
	Timezone   *string         `json:"timezone"`
	Note       *string         `json:"note"`
	Meta       json.RawMessage `json:"meta"`
	Data       json.RawMessage `json:"data"`
	Channels   json.RawMessage `json:"channels"`
}

type inTag struct {
	ID          *int64          `json:"id"`
	Name        string          `json:"name"`
	Decoration  json.RawMessage `json:"decoration"`
	Description *string         `json:"description"`
}

type inMessage struct {
	Channel         *string         `json:"channel"`
	Via             *string         `json:"via"`
	FromAgent       *bool           `json:"from_agent"`
	Public          *bool           `json:"public"`
	Sender          *inPerson       `json:"sender"`
	Receiver        *inPerson       `json:"receiver"`
	Source          json.RawMessage `json:"source"`
	Subject         *string         `json:"subject"`
	BodyText        *string         `json:"body_text"`
	BodyHTML        *string         `json:"body_html"`
	StrippedText    *string         `json:"stripped_text"`
	StrippedHTML    *string         `json:"stripped_html"`
	StrippedSig     *string         `json:"stripped_signature"`
	Attachments     json.RawMessage `json:"attachments"`
	ExternalID      *string         `json:"external_id"`
	MessageID       *string         `json:"message_id"`
	IntegrationID   *int64          `json:"integration_id"`
	CreatedDatetime *string         `json:"created_datetime"`
	SentDatetime    *string         `json:"sent_datetime"`
	FailedDatetime  *string         `json:"failed_datetime"`
	Headers         json.RawMessage `json:"headers"`
	Meta            json.RawMessage `json:"meta"`
	Macros          json.RawMessage `json:"macros"`
	Actions         json.RawMessage `json:"actions"`
	MentionIDs      json.RawMessage `json:"mention_ids"`
}

type inTicket struct {
	Messages                    []json.RawMessage `json:"messages"`
	Via                         *string           `json:"via"`
	Channel                     *string           `json:"channel"`
	FromAgent                   *bool             `json:"from_agent"`
	Subject                     *string           `json:"subject"`
	Status                      *string           `json:"status"`
	Priority                    *string           `json:"priority"`
	Language                    *string           `json:"language"`
	Spam                        *bool             `json:"spam"`
	Meta                        json.RawMessage   `json:"meta"`
	ExternalID                  *string           `json:"external_id"`
	Customer                    *inPerson         `json:"customer"`
	Tags                        []inTag           `json:"tags"`
	AssigneeUser                json.RawMessage   `json:"assignee_user"`
	AssigneeTeam                json.RawMessage   `json:"assignee_team"`
	CustomFields                json.RawMessage   `json:"custom_fields"`
	fields                      []FieldValue      // CustomFields, checked
	CreatedDatetime             *string           `json:"created_datetime"`
	OpenedDatetime              *string           `json:"opened_datetime"`
	ClosedDatetime              *string           `json:"closed_datetime"`
	LastMessageDatetime         *string           `json:"last_message_datetime"`
	LastReceivedMessageDatetime *string           `json:"last_received_message_datetime"`
	SnoozeDatetime              *string           `json:"snooze_datetime"`
	TrashedDatetime             *string           `json:"trashed_datetime"`
	UpdatedDatetime             *string           `json:"updated_datetime"`
}

// vias is the documented `via` enum (reference §2.1), as far as sources list it.
var vias = map[string]bool{
	"aircall": true, "api": true, "chat": true, "contact_form": true, "email": true, "facebook": true,
	"form": true, "gorgias_chat": true, "help-center": true, "helpdesk": true, "instagram": true,
	"internal-note": true, "offline_capture": true, "phone": true, "rule": true, "self_service": true,
	"shopify": true, "sms": true, "twilio": true, "twitter": true, "whatsapp": true, "yotpo": true,
	"zendesk": true, "workflows": true,
}

func checkDatetime(errs fieldErrs, field string, v *string) time.Time {
	if v == nil || *v == "" {
		return time.Time{}
	}
	t, err := parseTime(*v)
	if err != nil {
		errs.add(field, msgDatetime)
	}
	return t
}

func checkMessage(errs fieldErrs, prefix string, m *inMessage) {
	if m.Channel == nil || *m.Channel == "" {
		errs.add(prefix+"channel", "Missing data for required field.")
	}
	if m.Via == nil {
		errs.add(prefix+"via", "Missing data for required field.")
	} else if !vias[*m.Via] {
		errs.add(prefix+"via", "Must be one of the documented values.")
	}
	if m.FromAgent == nil {
		errs.add(prefix+"from_agent", "Missing data for required field.")
	}
	if m.ExternalID != nil && len(*m.ExternalID) > 255 {
		errs.add(prefix+"external_id", "Longer than maximum length 255.")
	}
	checkDatetime(errs, prefix+"created_datetime", m.CreatedDatetime)
	checkDatetime(errs, prefix+"sent_datetime", m.SentDatetime)
	checkDatetime(errs, prefix+"failed_datetime", m.FailedDatetime)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// customerFor resolves a {id} or {email, name} reference, creating by email; caller holds s.mu.
func (s *Server) customerFor(a *account, p *inPerson, now time.Time) (*Customer, string) {
	if p == nil {
		return nil, ""
	}
	if p.ID != nil {
		c := s.customers[*p.ID]
		if c == nil || c.Account != a.cfg.ID {
			return nil, "Customer not found."
		}
		return s.finalCustomer(c), ""
	}
	email := strings.TrimSpace(deref(p.Email))
	if email == "" {
		return nil, "An id or an email is required."
	}
	if c := s.customerByEmail(a, email); c != nil {
		return c, ""
	}
	c := &Customer{ID: s.newID("customer"), Account: a.cfg.ID, Email: email, Name: deref(p.Name),
		Firstname: deref(p.Firstname), Lastname: deref(p.Lastname), ExternalID: deref(p.ExternalID),
		Data: p.Data, CreatedDatetime: now, UpdatedDatetime: now}
	s.customers[c.ID] = c
	return c, ""
}

// customerByEmail is the account's oldest live customer with that email, its own or one
// merged into it; the caller holds s.mu.
func (s *Server) customerByEmail(a *account, email string) *Customer {
	var best *Customer
	for _, c := range s.customers {
		if c.Account == a.cfg.ID && c.MergedInto == 0 && c.hasEmail(email) && (best == nil || c.ID < best.ID) {
			best = c
		}
	}
	return best
}

func (s *Server) ensureTag(a *account, name string, now time.Time) {
	if a.tags[name] == nil {
		a.tags[name] = &Tag{ID: s.newID("tag"), Name: name, CreatedDatetime: now}
	}
}

func (s *Server) tagByID(a *account, id int64) string {
	for _, t := range a.tags {
		if t.ID == id {
			return t.Name
		}
	}
	return ""
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	a := accountOf(r)
	var in inTicket
	raw, ok := decodeBody(w, r, &in, "Failed to create ticket")
	if !ok {
		return
	}
	errs := fieldErrs{}
	if len(in.Messages) == 0 {
		errs.add("messages", "Missing data for required field.")
	} else if len(in.Messages) > 500 {
		errs.add("messages", "Length must be between 1 and 500.")
	}
	msgs := make([]inMessage, len(in.Messages))
	for i, rm := range in.Messages {
		dec := json.NewDecoder(bytes.NewReader(rm))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&msgs[i]); err != nil {
			errs.add(fmt.Sprintf("messages.%d", i), "Invalid message: "+strings.TrimPrefix(err.Error(), "json: "))
			continue
		}
		checkMessage(errs, fmt.Sprintf("messages.%d.", i), &msgs[i])
	}
	if in.Via == nil {
		errs.add("via", "Missing data for required field.")
	} else if !vias[*in.Via] {
		errs.add("via", "Must be one of the documented values.")
	}
	if in.Subject != nil && utf8.RuneCountInString(*in.Subject) > 998 {
		errs.add("subject", "Longer than maximum length 998.")
	}
	if in.ExternalID != nil && len(*in.ExternalID) > 255 {
		errs.add("external_id", "Longer than maximum length 255.")
	}
	if in.Status != nil && *in.Status != "open" && *in.Status != "closed" {
		errs.add("status", "Must be one of: open, closed.")
	}
	if in.Priority != nil && !slices.Contains([]string{"critical", "high", "normal", "low"}, *in.Priority) {
		errs.add("priority", "Must be one of: critical, high, normal, low.")
	}
	for i, tg := range in.Tags {
		if tg.ID == nil && strings.TrimSpace(tg.Name) == "" {
			errs.add(fmt.Sprintf("tags.%d.name", i), "Missing data for required field.")
		}
		if utf8.RuneCountInString(tg.Name) > 256 {
			errs.add(fmt.Sprintf("tags.%d.name", i), "Longer than maximum length 256.")
		}
	}
	created := checkDatetime(errs, "created_datetime", in.CreatedDatetime)
	opened := checkDatetime(errs, "opened_datetime", in.OpenedDatetime)
	s.mu.Lock()
	defs := a.cfg.Switches.TicketFields
	s.mu.Unlock()
	fields := checkCustomFields(errs, in.CustomFields, defs)
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "Failed to create ticket", errs)
		return
	}
	in.fields = fields

	s.commit(w, r, func(now, hiddenUntil time.Time) (int, any) {
		return s.storeTicket(a, &in, msgs, raw, created, opened, now, hiddenUntil)
	})
}

// checkCustomFields reads a created ticket's custom_fields ([{id, value}]) and, when the
// account defines its ticket fields, checks each id and value type against them.
func checkCustomFields(errs fieldErrs, raw json.RawMessage, defs []TicketField) []FieldValue {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	var in []struct {
		ID    *int64 `json:"id"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		errs.add("custom_fields", "Not a valid list.")
		return nil
	}
	var out []FieldValue
	for i, f := range in {
		if f.ID == nil {
			errs.add(fmt.Sprintf("custom_fields.%d.id", i), "Missing data for required field.")
			continue
		}
		if defs != nil {
			j := slices.IndexFunc(defs, func(d TicketField) bool { return d.ID == *f.ID })
			if j < 0 {
				errs.add(fmt.Sprintf("custom_fields.%d.id", i), "Custom field not found.")
				continue
			}
			_, isText := f.Value.(string)
			_, isNumber := f.Value.(float64)
			switch {
			case defs[j].Type == "number" && !isNumber:
				errs.add(fmt.Sprintf("custom_fields.%d.value", i), "Not a valid number.")
				continue
			case defs[j].Type != "number" && !isText:
				errs.add(fmt.Sprintf("custom_fields.%d.value", i), "Not a valid string.")
				continue
			}
		}
		out = append(out, FieldValue{ID: *f.ID, Value: f.Value})
	}
	return out
}

// storeTicket stores a validated ticket, resolving its customer and tags; the caller holds s.mu.
func (s *Server) storeTicket(a *account, in *inTicket, msgs []inMessage, raw json.RawMessage, created, opened, now, hiddenUntil time.Time) (int, any) {
	refused := func(field, msg string) (int, any) {
		return http.StatusBadRequest, errorJSON("Failed to create ticket", fieldErrs{field: {msg}})
	}
	if created.IsZero() {
		created = now
	}
	custRef := in.Customer
	if custRef == nil {
		// Gorgias takes the customer from the first customer message's sender.
		for _, m := range msgs {
			if !*m.FromAgent && m.Sender != nil {
				custRef = m.Sender
				break
			}
		}
	}
	if custRef == nil {
		return refused("customer", "Missing data for required field.")
	}
	cust, msg := s.customerFor(a, custRef, now)
	if cust == nil {
		return refused("customer", msg)
	}
	var tags []string
	for _, tg := range in.Tags {
		name := strings.TrimSpace(tg.Name)
		if tg.ID != nil {
			if name = s.tagByID(a, *tg.ID); name == "" {
				return refused("tags", "Tag not found.")
			}
		}
		s.ensureTag(a, name, now)
		if !slices.Contains(tags, name) {
			tags = append(tags, name)
		}
	}
	t := &Ticket{
		ID: s.newID("ticket"), Account: a.cfg.ID, ExternalID: deref(in.ExternalID),
		Status: cmpOr(deref(in.Status), "open"), Priority: cmpOr(deref(in.Priority), "normal"),
		Channel: cmpOr(deref(in.Channel), deref(msgs[0].Channel)), Via: *in.Via, FromAgent: deref(in.FromAgent),
		Spam: deref(in.Spam), Subject: deref(in.Subject), Language: deref(in.Language), Meta: in.Meta, CustomFields: in.fields,
		CustomerID: cust.ID, Tags: tags, CreatedDatetime: created, OpenedDatetime: cmpTime(opened, created),
		Request: raw, hiddenUntil: hiddenUntil, // UpdatedDatetime: set by storing the messages
	}
	s.tickets[t.ID] = t
	var stored []*Message
	for i := range msgs {
		stored = append(stored, s.storeMessage(a, t, &msgs[i], in.Messages[i], now))
	}
	s.fire(a, "ticket-created", t, stored[0])
	for _, m := range stored {
		s.fire(a, "ticket-message-created", t, m)
	}
	return http.StatusCreated, s.ticketJSON(a, t, true)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func cmpTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

// storeMessage stores a validated message on t; the caller holds s.mu.
func (s *Server) storeMessage(a *account, t *Ticket, in *inMessage, raw json.RawMessage, now time.Time) *Message {
	m := &Message{
		ID: s.newID("message"), TicketID: t.ID, ExternalID: deref(in.ExternalID), MessageID: deref(in.MessageID),
		Channel: *in.Channel, Via: *in.Via, FromAgent: *in.FromAgent, IntegrationID: in.IntegrationID,
		Subject: deref(in.Subject), BodyText: deref(in.BodyText), BodyHTML: deref(in.BodyHTML),
		StrippedText: clonePtr(in.StrippedText), StrippedHTML: clonePtr(in.StrippedHTML),
		StrippedSignature: clonePtr(in.StrippedSig), Source: in.Source, Meta: in.Meta, Request: raw,
	}
	internal := m.Channel == "internal-note"
	m.Public = !internal
	if in.Public != nil {
		m.Public = *in.Public && !internal // internal notes are never public
	}
	if m.BodyText == "" && in.StrippedText != nil {
		m.BodyText = *in.StrippedText
	}
	m.CreatedDatetime, _ = parseTime(deref(in.CreatedDatetime))
	if m.CreatedDatetime.IsZero() {
		// A live message is the ticket's newest, also as printed (µs).
		m.CreatedDatetime = after(t.LastMessage, now)
	}
	cust := s.customers[t.CustomerID]
	custPerson := &Person{ID: cust.ID, Email: cust.Email, Name: cust.Name}
	agent := &Person{ID: a.userID, Email: a.cfg.Email, Name: "API user"}
	switch {
	case in.Sender != nil:
		if c, _ := s.customerFor(a, in.Sender, now); c != nil && !m.FromAgent {
			m.Sender = &Person{ID: c.ID, Email: c.Email, Name: cmpOr(deref(in.Sender.Name), c.Name)}
		} else {
			m.Sender = &Person{ID: deref(in.Sender.ID), Email: deref(in.Sender.Email), Name: deref(in.Sender.Name)}
		}
	case m.FromAgent:
		m.Sender = agent
	default:
		m.Sender = custPerson
	}
	switch {
	case in.Receiver != nil:
		m.Receiver = &Person{ID: deref(in.Receiver.ID), Email: deref(in.Receiver.Email), Name: deref(in.Receiver.Name)}
	case m.FromAgent && !internal:
		m.Receiver = custPerson
	}
	if v := deref(in.FailedDatetime); v != "" {
		ft, _ := parseTime(v)
		m.FailedDatetime = &ft
	}
	switch {
	case deref(in.SentDatetime) != "":
		// sent_datetime set: stored as already sent, never sent (reference §4.4).
		st, _ := parseTime(*in.SentDatetime)
		m.SentDatetime = &st
	case internal:
	case !m.FromAgent:
		st := m.CreatedDatetime // an incoming message was received when it was created
		m.SentDatetime = &st
	default:
		s.sendLater(m.ID)
	}
	s.messages[m.ID] = m
	t.messageIDs = append(t.messageIDs, m.ID)
	// A new message always moves the ticket (what a sweep over updated_datetime relies on); an
	// imported one dated in the past does not move last_message_datetime backwards.
	if m.CreatedDatetime.After(t.LastMessage) {
		t.LastMessage = m.CreatedDatetime
	}
	if !m.FromAgent && m.CreatedDatetime.After(t.LastReceived) {
		t.LastReceived = m.CreatedDatetime
	}
	touch(t, now)
	return m
}

// apiMessages are t's messages as API reads see them, in order: without those still hidden
// after a late commit (Fault.HiddenFor); the caller holds s.mu.
func (s *Server) apiMessages(t *Ticket) []*Message {
	var out []*Message
	for _, id := range t.messageIDs {
		if m := s.messages[id]; visible(m.hiddenUntil) {
			out = append(out, m)
		}
	}
	return out
}

// touch moves t.UpdatedDatetime to now, or 1µs past its current value when the clock has not
// moved on as rendered (Gorgias prints microseconds): every change is visible to a client that
// compares updated_datetime.
func touch(t *Ticket, now time.Time) { t.UpdatedDatetime = after(t.UpdatedDatetime, now) }

// after is now at µs precision, or 1µs past prev when that is not later.
func after(prev, now time.Time) time.Time {
	next := now.UTC().Truncate(time.Microsecond)
	if !next.After(prev) {
		next = prev.Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return next
}

// sendLater "sends" an outgoing message asynchronously, as Gorgias does. Addresses on the
// reserved .invalid TLD fail, like a placeholder address would in Gorgias.
func (s *Server) sendLater(id int64) {
	time.AfterFunc(s.cfg.SendDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.messages[id]
		if m == nil || m.SentDatetime != nil || m.FailedDatetime != nil {
			return
		}
		now := time.Now().UTC()
		if m.Receiver != nil && strings.HasSuffix(strings.ToLower(m.Receiver.Email), ".invalid") {
			m.FailedDatetime, m.SendingError = &now, "The recipient address was rejected."
			return
		}
		m.SentDatetime = &now
	})
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	a := accountOf(r)
	p := s.readListParams(r, "created_datetime", "updated_datetime")
	if p.errMsg != "" {
		writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"query": {p.errMsg}})
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*Ticket
	for _, t := range s.tickets {
		if t.Account != a.cfg.ID || !visible(t.hiddenUntil) {
			continue
		}
		if v := q.Get("external_id"); v != "" && t.ExternalID != v {
			continue
		}
		if v := q.Get("customer_id"); v != "" && strconv.FormatInt(t.CustomerID, 10) != v {
			continue
		}
		if v := q.Get("trashed"); v == "false" && t.Trashed {
			continue
		}
		items = append(items, t)
	}
	key := func(t *Ticket) sortKey {
		if p.field == "updated_datetime" {
			return sortKey{t.UpdatedDatetime, t.ID}
		}
		return sortKey{t.CreatedDatetime, t.ID}
	}
	page, next := paginate(items, key, p)
	data := make([]any, 0, len(page))
	for _, t := range page {
		data = append(data, s.ticketJSON(a, t, false))
	}
	writeJSON(w, http.StatusOK, listJSON(r, data, next))
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(r)
	if t == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.ticketJSON(accountOf(r), t, true))
}

// updateTicket applies a partial update and fires ticket-updated: every applied update does,
// changed or not (the simulator does not guess whether Gorgias compares). The simulator's own
// bookkeeping (a new message moving updated_datetime, a merge moving tickets, sending) fires
// nothing.
func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status     *string         `json:"status"`
		Subject    *string         `json:"subject"`
		ExternalID *string         `json:"external_id"`
		Meta       json.RawMessage `json:"meta"`
		Spam       *bool           `json:"spam"`
		Tags       []inTag         `json:"tags"`
	}
	if _, ok := decodeBody(w, r, &in, "Failed to update ticket"); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := accountOf(r)
	t := s.ticketOf(r)
	if t == nil {
		notFound(w)
		return
	}
	now := time.Now().UTC()
	if in.Status != nil {
		t.Status = *in.Status
	}
	if in.Subject != nil {
		t.Subject = *in.Subject
	}
	if in.ExternalID != nil {
		t.ExternalID = *in.ExternalID
	}
	if in.Meta != nil {
		t.Meta = in.Meta
	}
	if in.Spam != nil {
		t.Spam = *in.Spam
	}
	if in.Tags != nil {
		t.Tags = nil
		for _, tg := range in.Tags {
			s.ensureTag(a, tg.Name, now)
			if !slices.Contains(t.Tags, tg.Name) {
				t.Tags = append(t.Tags, tg.Name)
			}
		}
	}
	touch(t, now)
	s.fire(a, "ticket-updated", t, nil)
	writeJSON(w, http.StatusAccepted, s.ticketJSON(a, t, false))
}

func (s *Server) deleteTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(r)
	if t == nil {
		notFound(w)
		return
	}
	for _, id := range t.messageIDs {
		delete(s.messages, id)
	}
	delete(s.tickets, t.ID)
	writeEmpty(w, http.StatusNoContent)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("action"); v != "" && v != "force" && v != "retry" && v != "cancel" {
		writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"action": {"Must be one of: force, retry, cancel."}})
		return
	}
	var in inMessage
	raw, ok := decodeBody(w, r, &in, "Failed to create message")
	if !ok {
		return
	}
	errs := fieldErrs{}
	checkMessage(errs, "", &in)
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "Failed to create message", errs)
		return
	}
	a := accountOf(r)
	id, _ := pathID(r, "id")
	s.commit(w, r, func(now, hiddenUntil time.Time) (int, any) {
		t := s.apiTicket(a, id)
		if t == nil {
			return http.StatusNotFound, errorJSON("Resource not found.", nil)
		}
		m := s.storeMessage(a, t, &in, raw, now)
		m.hiddenUntil = hiddenUntil
		s.fire(a, "ticket-message-created", t, m)
		return http.StatusCreated, messageJSON(m)
	})
}

func (s *Server) listTicketMessages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(r)
	if t == nil {
		notFound(w)
		return
	}
	// Deprecated and unpaginated (reference §4.2).
	data := make([]any, 0, len(t.messageIDs))
	for _, m := range s.apiMessages(t) {
		data = append(data, messageJSON(m))
	}
	writeJSON(w, http.StatusOK, listJSON(r, data, ""))
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(r)
	mid, ok := pathID(r, "mid")
	if t == nil || !ok || s.messages[mid] == nil || s.messages[mid].TicketID != t.ID || !visible(s.messages[mid].hiddenUntil) {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, messageJSON(s.messages[mid]))
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	a := accountOf(r)
	p := s.readListParams(r, "created_datetime")
	if p.errMsg != "" {
		writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"query": {p.errMsg}})
		return
	}
	var ticketID int64
	if v := r.URL.Query().Get("ticket_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"ticket_id": {"Not a valid integer."}})
			return
		}
		ticketID = id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*Message
	for _, m := range s.messages {
		if s.apiTicket(a, m.TicketID) == nil || !visible(m.hiddenUntil) || (ticketID != 0 && m.TicketID != ticketID) {
			continue
		}
		items = append(items, m)
	}
	page, next := paginate(items, func(m *Message) sortKey { return sortKey{m.CreatedDatetime, m.ID} }, p)
	data := make([]any, 0, len(page))
	for _, m := range page {
		data = append(data, messageJSON(m))
	}
	writeJSON(w, http.StatusOK, listJSON(r, data, next))
}

func (s *Server) getTags(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(r)
	if t == nil {
		notFound(w)
		return
	}
	data := make([]any, 0, len(t.Tags))
	for _, n := range t.Tags {
		data = append(data, s.tagJSON(accountOf(r), n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// changeTags serves POST (add, 201), PUT (replace, 202) and DELETE (remove, 204); each fires
// ticket-updated, as every applied update through the API does.
func (s *Server) changeTags(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Names []string `json:"names"`
		IDs   []int64  `json:"ids"`
	}
	if _, ok := decodeBody(w, r, &in, "Failed to update tags"); !ok {
		return
	}
	for i, n := range in.Names {
		if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > 256 {
			writeError(w, http.StatusBadRequest, "Failed to update tags", fieldErrs{fmt.Sprintf("names.%d", i): {"Length must be between 1 and 256."}})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := accountOf(r)
	t := s.ticketOf(r)
	if t == nil {
		notFound(w)
		return
	}
	now := time.Now().UTC()
	names := slices.Clone(in.Names)
	for _, id := range in.IDs {
		n := s.tagByID(a, id)
		if n == "" {
			writeError(w, http.StatusBadRequest, "Failed to update tags", fieldErrs{"ids": {fmt.Sprintf("Tag %d not found.", id)}})
			return
		}
		names = append(names, n)
	}
	switch r.Method {
	case http.MethodPost:
		for _, n := range names {
			s.ensureTag(a, n, now)
			if !slices.Contains(t.Tags, n) {
				t.Tags = append(t.Tags, n)
			}
		}
		touch(t, now)
		s.fire(a, "ticket-updated", t, nil)
		writeEmpty(w, http.StatusCreated)
	case http.MethodPut:
		t.Tags = nil
		for _, n := range names {
			s.ensureTag(a, n, now)
			if !slices.Contains(t.Tags, n) {
				t.Tags = append(t.Tags, n)
			}
		}
		touch(t, now)
		s.fire(a, "ticket-updated", t, nil)
		writeEmpty(w, http.StatusAccepted)
	case http.MethodDelete:
		t.Tags = slices.DeleteFunc(t.Tags, func(n string) bool { return slices.Contains(names, n) })
		touch(t, now)
		s.fire(a, "ticket-updated", t, nil)
		writeEmpty(w, http.StatusNoContent)
	}
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	a := accountOf(r)
	p := s.readListParams(r, "created_datetime", "updated_datetime")
	if p.errMsg != "" {
		writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"query": {p.errMsg}})
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*Customer
	for _, c := range s.customers {
		if c.Account != a.cfg.ID || c.MergedInto != 0 {
			continue
		}
		if v := q.Get("email"); v != "" && !c.hasEmail(v) {
			continue
		}
		if v := q.Get("external_id"); v != "" && c.ExternalID != v {
			continue
		}
		items = append(items, c)
	}
	page, next := paginate(items, func(c *Customer) sortKey { return sortKey{c.CreatedDatetime, c.ID} }, p)
	data := make([]any, 0, len(page))
	for _, c := range page {
		data = append(data, s.customerJSON(c))
	}
	writeJSON(w, http.StatusOK, listJSON(r, data, next))
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var in inPerson
	if _, ok := decodeBody(w, r, &in, "Failed to create customer"); !ok {
		return
	}
	email := strings.TrimSpace(deref(in.Email))
	if email == "" && len(in.Channels) > 0 {
		var chans []struct{ Type, Address string }
		if json.Unmarshal(in.Channels, &chans) == nil {
			for _, c := range chans {
				if c.Type == "email" && email == "" {
					email = c.Address
				}
			}
		}
	}
	if email == "" && deref(in.Name) == "" && deref(in.ExternalID) == "" {
		writeError(w, http.StatusBadRequest, "Failed to create customer", fieldErrs{"channels": {"Missing data for required field."}})
		return
	}
	if in.ID != nil {
		writeError(w, http.StatusBadRequest, "Failed to create customer", fieldErrs{"id": {"Unknown field."}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := accountOf(r)
	if email != "" && s.customerByEmail(a, email) != nil {
		writeError(w, http.StatusConflict, "The resource already exists.", nil)
		return
	}
	now := time.Now().UTC()
	c := &Customer{ID: s.newID("customer"), Account: a.cfg.ID, Email: email, Name: deref(in.Name),
		Firstname: deref(in.Firstname), Lastname: deref(in.Lastname), ExternalID: deref(in.ExternalID),
		Data: in.Data, CreatedDatetime: now, UpdatedDatetime: now}
	s.customers[c.ID] = c
	writeJSON(w, http.StatusCreated, s.customerJSON(c))
}

func (s *Server) customerOf(r *http.Request) *Customer {
	id, ok := pathID(r, "id")
	if !ok {
		return nil
	}
	c := s.customers[id]
	if c == nil || c.Account != accountOf(r).cfg.ID {
		return nil
	}
	return c
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customerOf(r)
	if c == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.customerJSON(c))
}

// putCustomerData replaces the whole data object, at once or after the account's
// CustomerDataApplyDelay (writeData, applyData).
func (s *Server) putCustomerData(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Data    json.RawMessage `json:"data"`
		Version *string         `json:"version"`
	}
	if _, ok := decodeBody(w, r, &in, "Failed to update customer data"); !ok {
		return
	}
	d := bytes.TrimSpace(in.Data)
	if len(d) == 0 || d[0] != '{' {
		writeError(w, http.StatusBadRequest, "Failed to update customer data", fieldErrs{"data": {"Must be an object."}})
		return
	}
	if len(d) > s.cfg.MaxCustomerDataBytes {
		writeError(w, http.StatusBadRequest, "Failed to update customer data", fieldErrs{"data": {fmt.Sprintf("Larger than %d bytes.", s.cfg.MaxCustomerDataBytes)}})
		return
	}
	var version time.Time
	if in.Version != nil {
		v, err := parseTime(*in.Version)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Failed to update customer data", fieldErrs{"version": {msgDatetime}})
			return
		}
		version = v
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, d)
	dw := dataWrite{data: compact.Bytes(), version: deref(in.Version), versionTime: version}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customerOf(r)
	if c == nil {
		notFound(w)
		return
	}
	s.writeData(c, dw, accountOf(r).cfg.CustomerDataApplyDelay)
	writeEmpty(w, http.StatusAccepted)
}

// dataWrite is an accepted PUT /api/customers/{id}/data.
type dataWrite struct {
	data        json.RawMessage // compacted
	version     string
	versionTime time.Time // zero without a version
}

// writeData applies a data write now or, with a delay (Switches.CustomerDataApplyDelay), that
// much later; a write never overtakes an earlier one to the same customer still waiting, even
// when the delay has changed meanwhile. The caller holds s.mu.
func (s *Server) writeData(c *Customer, dw dataWrite, delay time.Duration) {
	now := time.Now()
	if delay <= 0 && c.dataPending == 0 {
		applyData(c, dw, now.UTC())
		return
	}
	if due := now.Add(delay); due.After(c.dataDue) {
		c.dataDue = due
	}
	c.dataPending++
	s.later(c.dataDue, func(now time.Time) {
		c.dataPending--
		applyData(c, dw, now)
	})
}

// applyData stores a data write on c, unless c holds a newer version: an older one is accepted
// and ignored (last write wins by version, reference §3). The caller holds s.mu.
func applyData(c *Customer, dw dataWrite, now time.Time) {
	if !dw.versionTime.IsZero() && !c.dataVersionTime.IsZero() && dw.versionTime.Before(c.dataVersionTime) {
		c.DataIgnored++
		return
	}
	c.Data, c.DataVersion = dw.data, dw.version
	if !dw.versionTime.IsZero() {
		c.dataVersionTime = dw.versionTime
	}
	c.DataWrites++
	c.UpdatedDatetime = now
}

type inIntegration struct {
	Name                *string         `json:"name"`
	Type                *string         `json:"type"`
	Description         *string         `json:"description"`
	DeactivatedDatetime json.RawMessage `json:"deactivated_datetime"`
	HTTP                *struct {
		URL                 *string           `json:"url"`
		Method              *string           `json:"method"`
		RequestContentType  *string           `json:"request_content_type"`
		ResponseContentType *string           `json:"response_content_type"`
		Headers             map[string]string `json:"headers"`
		Form                json.RawMessage   `json:"form"`
		Triggers            map[string]bool   `json:"triggers"`
		OAuth2              json.RawMessage   `json:"oauth2"`
		HMACSecret          *string           `json:"hmac_secret"`
	} `json:"http"`
}

var triggers = map[string]bool{
	"ticket-created": true, "ticket-updated": true, "ticket-message-created": true,
	"ticket-self-unsnoozed": true, "ticket-message-failed": true,
}

func checkIntegration(in *inIntegration, create bool) fieldErrs {
	errs := fieldErrs{}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		errs.add("name", "Missing data for required field.")
	}
	if create {
		if in.Type == nil {
			errs.add("type", "Missing data for required field.")
		} else if *in.Type != "http" {
			errs.add("type", "Only http integrations can be created through the API.")
		}
		if in.HTTP == nil {
			errs.add("http", "Missing data for required field.")
			return errs
		}
	}
	h := in.HTTP
	if h == nil {
		return errs
	}
	if h.URL == nil || !(strings.HasPrefix(*h.URL, "https://") || strings.HasPrefix(*h.URL, "http://")) {
		errs.add("http.url", "Not a valid URL.")
	}
	if h.Method == nil || !slices.Contains([]string{"GET", "POST", "PUT", "DELETE"}, *h.Method) {
		errs.add("http.method", "Must be one of: GET, POST, PUT, DELETE.")
	}
	for _, ct := range []struct {
		name string
		v    *string
	}{{"http.request_content_type", h.RequestContentType}, {"http.response_content_type", h.ResponseContentType}} {
		if ct.v == nil || (*ct.v != "application/json" && *ct.v != "application/x-www-form-urlencoded") {
			errs.add(ct.name, "Must be one of: application/json, application/x-www-form-urlencoded.")
		}
	}
	for k := range h.Triggers {
		if !triggers[k] {
			errs.add("http.triggers", fmt.Sprintf("Unknown trigger %q.", k))
		}
	}
	if len(h.Form) > 0 {
		f := bytes.TrimSpace(h.Form)
		if f[0] != '{' && f[0] != '"' && string(f) != "null" {
			errs.add("http.form", "Must be an object.")
		}
	}
	return errs
}

func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request) {
	var in inIntegration
	if _, ok := decodeBody(w, r, &in, "Failed to create integration"); !ok {
		return
	}
	if errs := checkIntegration(&in, true); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "Failed to create integration", errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := accountOf(r)
	now := time.Now().UTC()
	it := &Integration{ID: s.newID("integration"), Account: a.cfg.ID, Name: *in.Name, Type: *in.Type,
		Description: deref(in.Description), CreatedDatetime: now, UpdatedDatetime: now}
	applyHTTP(it, &in)
	s.integrations[it.ID] = it
	writeJSON(w, http.StatusCreated, integrationJSON(it))
}

func applyHTTP(it *Integration, in *inIntegration) {
	h := in.HTTP
	it.HTTP = HTTPConfig{URL: *h.URL, Method: *h.Method, RequestContentType: *h.RequestContentType,
		ResponseContentType: *h.ResponseContentType, Headers: h.Headers, Form: h.Form, Triggers: h.Triggers}
	if it.HTTP.Headers == nil {
		it.HTTP.Headers = map[string]string{}
	}
	if it.HTTP.Triggers == nil {
		it.HTTP.Triggers = map[string]bool{}
	}
}

func (s *Server) integrationOf(r *http.Request) *Integration {
	id, ok := pathID(r, "id")
	if !ok {
		return nil
	}
	it := s.integrations[id]
	if it == nil || it.Account != accountOf(r).cfg.ID {
		return nil
	}
	return it
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) {
	a := accountOf(r)
	p := s.readListParams(r, "created_datetime")
	if p.errMsg != "" {
		writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"query": {p.errMsg}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*Integration
	for _, it := range s.integrations {
		if it.Account == a.cfg.ID && (r.URL.Query().Get("type") == "" || r.URL.Query().Get("type") == it.Type) {
			items = append(items, it)
		}
	}
	page, next := paginate(items, func(i *Integration) sortKey { return sortKey{i.CreatedDatetime, i.ID} }, p)
	data := make([]any, 0, len(page))
	for _, it := range page {
		data = append(data, integrationJSON(it))
	}
	writeJSON(w, http.StatusOK, listJSON(r, data, next))
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.integrationOf(r)
	if it == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, integrationJSON(it))
}

// updateIntegration: name required; "deactivated_datetime": null re-activates (reference §5.1).
func (s *Server) updateIntegration(w http.ResponseWriter, r *http.Request) {
	var in inIntegration
	if _, ok := decodeBody(w, r, &in, "Failed to update integration"); !ok {
		return
	}
	if errs := checkIntegration(&in, false); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "Failed to update integration", errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.integrationOf(r)
	if it == nil {
		notFound(w)
		return
	}
	it.Name = *in.Name
	if in.Description != nil {
		it.Description = *in.Description
	}
	if in.HTTP != nil {
		applyHTTP(it, &in)
	}
	if string(bytes.TrimSpace(in.DeactivatedDatetime)) == "null" {
		it.DeactivatedDatetime, it.ConsecutiveFailures = nil, 0
	}
	it.UpdatedDatetime = time.Now().UTC()
	writeJSON(w, http.StatusAccepted, integrationJSON(it))
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.integrationOf(r)
	if it == nil {
		notFound(w)
		return
	}
	delete(s.integrations, it.ID)
	writeEmpty(w, http.StatusNoContent)
}
