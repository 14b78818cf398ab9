package gorgias

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"
)

// Ticket is a Gorgias ticket, reduced to what Pilotdesk reads.
type Ticket struct {
	ID              int64
	URI             string
	ExternalID      string
	Status          string
	Channel         string
	Via             string
	Subject         string
	Language        string
	CustomerID      int64
	CustomerEmail   string
	Tags            []string
	Meta            json.RawMessage
	Messages        []Message // filled by GetTicket, empty in lists and in CreateTicket's answer
	CreatedDatetime time.Time
	UpdatedDatetime time.Time
	// LastMessageDatetime is when the newest message was added (zero when Gorgias leaves it out).
	LastMessageDatetime time.Time
}

// Activity is when the ticket last got a message, or, when Gorgias does not say, when it last
// changed at all.
func (t Ticket) Activity() time.Time {
	if !t.LastMessageDatetime.IsZero() {
		return t.LastMessageDatetime
	}
	return t.UpdatedDatetime
}

// HasTag reports whether the ticket carries tag name (case-sensitive, like Gorgias).
func (t Ticket) HasTag(name string) bool {
	for _, n := range t.Tags {
		if n == name {
			return true
		}
	}
	return false
}

// UnmarshalJSON reads Gorgias' ticket object.
func (t *Ticket) UnmarshalJSON(b []byte) error {
	var w struct {
		ID         int64                   `json:"id"`
		URI        string                  `json:"uri"`
		ExternalID *string                 `json:"external_id"`
		Status     string                  `json:"status"`
		Channel    string                  `json:"channel"`
		Via        string                  `json:"via"`
		Subject    *string                 `json:"subject"`
		Language   *string                 `json:"language"`
		Meta       json.RawMessage         `json:"meta"`
		Customer   *wireTicketCustomer     `json:"customer"`
		Tags       []struct{ Name string } `json:"tags"`
		Messages   []wireMessage           `json:"messages"` // decoded in this pass, not again one by one
		Created    apiTime                 `json:"created_datetime"`
		Updated    apiTime                 `json:"updated_datetime"`
		LastMsg    apiTime                 `json:"last_message_datetime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*t = Ticket{
		ID: w.ID, URI: w.URI, ExternalID: deref(w.ExternalID), Status: w.Status, Channel: w.Channel,
		Via: w.Via, Subject: deref(w.Subject), Language: deref(w.Language),
		CreatedDatetime: w.Created.Time, UpdatedDatetime: w.Updated.Time, LastMessageDatetime: w.LastMsg.Time,
	}
	if w.Messages != nil {
		t.Messages = make([]Message, len(w.Messages))
		for i := range w.Messages {
			t.Messages[i] = w.Messages[i].message()
		}
	}
	if len(w.Meta) > 0 && !bytes.Equal(w.Meta, []byte("null")) {
		t.Meta = w.Meta
	}
	w.Customer.setOn(t)
	for _, tag := range w.Tags {
		t.Tags = append(t.Tags, tag.Name)
	}
	return nil
}

// wireTicketCustomer is the customer a ticket object names.
type wireTicketCustomer struct {
	ID    int64   `json:"id"`
	Email *string `json:"email"`
}

// ticketCustomerField is where a ticket's customer member goes: Gorgias embeds the whole
// customer, its integrations' data included (a shop's order history can be many kilobytes),
// of which a ticket needs the id and the email.
type ticketCustomerField struct{ c **wireTicketCustomer }

// decodeFields reads the customer as json.Unmarshal would into *c: null clears it, an object
// decodes over the customer already there.
func (f ticketCustomerField) decodeFields(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		*f.c = nil
		return nil
	}
	if *f.c == nil {
		*f.c = new(wireTicketCustomer)
	}
	c := *f.c
	err := decodeObjectFields(data, []field{{"id", &c.ID}, {"email", &c.Email}})
	if errors.Is(err, errNotFast) {
		return json.Unmarshal(data, f.c)
	}
	return err
}

// setOn copies the customer onto t; a ticket without one keeps zero values.
func (c *wireTicketCustomer) setOn(t *Ticket) {
	if c != nil {
		t.CustomerID, t.CustomerEmail = c.ID, deref(c.Email)
	}
}

// Message is a ticket message (an email, a chat line, an internal note ...).
type Message struct {
	ID            int64
	TicketID      int64
	URI           string
	ExternalID    string
	Public        bool
	FromAgent     bool
	Channel       string
	Via           string
	RuleID        *int64 // set when a rule wrote it
	IntegrationID *int64
	Subject       string
	BodyText      string
	BodyHTML      string
	StrippedText  string
	// StrippedHTML and StrippedSignature are what Gorgias separates from a reply: the new text as
	// HTML, and the signature. Any may be empty (null for API-created messages).
	StrippedHTML      string
	StrippedSignature string
	SenderID          int64
	SenderEmail       string
	SenderName        string
	CreatedDatetime   time.Time
	SentDatetime      time.Time // zero until Gorgias sent it
	FailedDatetime    time.Time // zero unless sending failed
}

// ChannelInternalNote is the channel of internal notes.
const ChannelInternalNote = "internal-note"

// IsInternalNote reports whether m is an internal note (never shown to the customer).
func (m Message) IsInternalNote() bool { return m.Channel == ChannelInternalNote }

// UnmarshalJSON reads Gorgias' message object.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = w.message()
	return nil
}

// wireMessage is Gorgias' message object as sent.
type wireMessage struct {
	ID            int64   `json:"id"`
	TicketID      int64   `json:"ticket_id"`
	URI           string  `json:"uri"`
	ExternalID    *string `json:"external_id"`
	Public        bool    `json:"public"`
	FromAgent     bool    `json:"from_agent"`
	Channel       string  `json:"channel"`
	Via           string  `json:"via"`
	RuleID        *int64  `json:"rule_id"`
	IntegrationID *int64  `json:"integration_id"`
	Subject       *string `json:"subject"`
	BodyText      *string `json:"body_text"`
	BodyHTML      *string `json:"body_html"`
	StrippedText  *string `json:"stripped_text"`
	StrippedHTML  *string `json:"stripped_html"`
	StrippedSig   *string `json:"stripped_signature"`
	Sender        *struct {
		ID    int64   `json:"id"`
		Email *string `json:"email"`
		Name  *string `json:"name"`
	} `json:"sender"`
	Created apiTime `json:"created_datetime"`
	Sent    apiTime `json:"sent_datetime"`
	Failed  apiTime `json:"failed_datetime"`
}

func (w *wireMessage) message() Message {
	m := Message{
		ID: w.ID, TicketID: w.TicketID, URI: w.URI, ExternalID: deref(w.ExternalID), Public: w.Public,
		FromAgent: w.FromAgent, Channel: w.Channel, Via: w.Via, RuleID: w.RuleID, IntegrationID: w.IntegrationID,
		Subject: deref(w.Subject), BodyText: deref(w.BodyText), BodyHTML: deref(w.BodyHTML),
		StrippedText: deref(w.StrippedText), StrippedHTML: deref(w.StrippedHTML), StrippedSignature: deref(w.StrippedSig),
		CreatedDatetime: w.Created.Time, SentDatetime: w.Sent.Time,
		FailedDatetime: w.Failed.Time,
	}
	if w.Sender != nil {
		m.SenderID, m.SenderEmail, m.SenderName = w.Sender.ID, deref(w.Sender.Email), deref(w.Sender.Name)
	}
	return m
}

// Customer is a Gorgias customer with its custom data.
type Customer struct {
	ID         int64                      `json:"id"`
	Email      string                     `json:"email"`
	Name       string                     `json:"name"`
	ExternalID string                     `json:"external_id"`
	Data       map[string]json.RawMessage `json:"data"` // nil when the customer has none
}

// UnmarshalJSON tolerates nulls and a data field that is not an object (then treated as empty:
// Gorgias documents data as an object).
func (c *Customer) UnmarshalJSON(b []byte) error {
	var w struct {
		ID         int64           `json:"id"`
		Email      *string         `json:"email"`
		Name       *string         `json:"name"`
		ExternalID *string         `json:"external_id"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Customer{ID: w.ID, Email: deref(w.Email), Name: deref(w.Name), ExternalID: deref(w.ExternalID)}
	var data map[string]json.RawMessage
	if len(w.Data) > 0 && json.Unmarshal(w.Data, &data) == nil {
		c.Data = data
	}
	return nil
}

// Integration is a Gorgias integration (Pilotdesk only creates "http" ones).
type Integration struct {
	ID                  int64
	Name                string
	Type                string
	Description         string
	URL                 string
	Method              string
	Triggers            []string          // enabled triggers, sorted
	HeaderNames         []string          // header values are secrets and are not kept
	Form                map[string]string // the body template (string values only)
	CreatedDatetime     time.Time
	DeactivatedDatetime time.Time // zero while active
}

// Active reports whether Gorgias still calls the integration.
func (i Integration) Active() bool { return i.DeactivatedDatetime.IsZero() }

// UnmarshalJSON reads Gorgias' integration object.
func (i *Integration) UnmarshalJSON(b []byte) error {
	var w struct {
		ID          int64   `json:"id"`
		Name        string  `json:"name"`
		Type        string  `json:"type"`
		Description *string `json:"description"`
		HTTP        *struct {
			URL      string                     `json:"url"`
			Method   string                     `json:"method"`
			Headers  map[string]json.RawMessage `json:"headers"`
			Form     map[string]json.RawMessage `json:"form"`
			Triggers map[string]bool            `json:"triggers"`
		} `json:"http"`
		Created     apiTime `json:"created_datetime"`
		Deactivated apiTime `json:"deactivated_datetime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*i = Integration{ID: w.ID, Name: w.Name, Type: w.Type, Description: deref(w.Description),
		CreatedDatetime: w.Created.Time, DeactivatedDatetime: w.Deactivated.Time}
	if w.HTTP != nil {
		i.URL, i.Method = w.HTTP.URL, w.HTTP.Method
		for k, on := range w.HTTP.Triggers {
			if on {
				i.Triggers = append(i.Triggers, k)
			}
		}
		sort.Strings(i.Triggers)
		for k := range w.HTTP.Headers {
			i.HeaderNames = append(i.HeaderNames, k)
		}
		sort.Strings(i.HeaderNames)
		for k, v := range w.HTTP.Form {
			var s string
			if json.Unmarshal(v, &s) == nil {
				if i.Form == nil {
					i.Form = map[string]string{}
				}
				i.Form[k] = s
			}
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// apiTime reads Gorgias' datetimes: ISO 8601 with or without zone (UTC assumed), or null.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	// The decoder calling this has checked b is a JSON value: a string without a backslash is
	// its bytes between the quotes (every date Gorgias writes), with no second decoding pass.
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b[1:n-1], '\\') < 0 {
		t.Time, _ = parseTime(string(b[1 : n-1]))
		return nil
	}
	var s string
	if bytes.Equal(b, []byte("null")) || json.Unmarshal(b, &s) != nil {
		t.Time = time.Time{}
		return nil // a malformed date is not worth failing a whole response for
	}
	t.Time, _ = parseTime(s)
	return nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02",
}

// parseTime accepts ISO 8601 as Gorgias and Python's str(datetime) write it ("T" or a space).
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// formatTime writes datetimes the way Gorgias accepts and echoes them.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// listPage is Gorgias' cursor-paginated list.
type listPage[T any] struct {
	Data []T `json:"data"`
	Meta struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"meta"`
}

func (p listPage[T]) next() string {
	if p.Meta.NextCursor == nil {
		return ""
	}
	return *p.Meta.NextCursor
}
