package gorgiassim

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Ticket is a stored ticket as the inspection API shows it.
type Ticket struct {
	ID              int64           `json:"id"`
	Account         string          `json:"account"`
	ExternalID      string          `json:"external_id"`
	Status          string          `json:"status"`
	Priority        string          `json:"priority"`
	Channel         string          `json:"channel"`
	Via             string          `json:"via"`
	FromAgent       bool            `json:"from_agent"`
	Spam            bool            `json:"spam"`
	Subject         string          `json:"subject"`
	Language        string          `json:"language"`
	Meta            json.RawMessage `json:"meta"`
	CustomFields    []FieldValue    `json:"custom_fields,omitempty"`
	CustomerID      int64           `json:"customer_id"`
	Tags            []string        `json:"tags"`
	Messages        []Message       `json:"messages"` // filled in snapshots
	CreatedDatetime time.Time       `json:"created_datetime"`
	OpenedDatetime  time.Time       `json:"opened_datetime"`
	UpdatedDatetime time.Time       `json:"updated_datetime"` // moves (strictly, by ≥1µs) on every change, each new message included
	LastMessage     time.Time       `json:"last_message_datetime"`
	LastReceived    time.Time       `json:"last_received_message_datetime"` // last customer message
	Trashed         bool            `json:"trashed"`
	// Request is the create-ticket body exactly as received, so tests can check its shape.
	Request json.RawMessage `json:"request,omitempty"`

	messageIDs  []int64
	hiddenUntil time.Time // a late commit's (Fault.HiddenFor): out of API reads until then
}

// FieldValue is a ticket field's value on a ticket.
type FieldValue struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

// Person is a message's sender or receiver.
type Person struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Message is a stored ticket message.
type Message struct {
	ID            int64  `json:"id"`
	TicketID      int64  `json:"ticket_id"`
	ExternalID    string `json:"external_id"`
	MessageID     string `json:"message_id"`
	Public        bool   `json:"public"`
	Channel       string `json:"channel"`
	Via           string `json:"via"`
	FromAgent     bool   `json:"from_agent"`
	RuleID        *int64 `json:"rule_id"`
	IntegrationID *int64 `json:"integration_id"`
	Subject       string `json:"subject"`
	BodyText      string `json:"body_text"`
	BodyHTML      string `json:"body_html"`
	// The stripped_* fields are null unless set: by the client on create, or by AgentReply
	// (reference §10: API-created messages were recorded with stripped_text null).
	StrippedText      *string         `json:"stripped_text"`
	StrippedHTML      *string         `json:"stripped_html"`
	StrippedSignature *string         `json:"stripped_signature"`
	Sender            *Person         `json:"sender"`
	Receiver          *Person         `json:"receiver"`
	Source            json.RawMessage `json:"source"`
	Meta              json.RawMessage `json:"meta"`
	CreatedDatetime   time.Time       `json:"created_datetime"`
	SentDatetime      *time.Time      `json:"sent_datetime"`
	FailedDatetime    *time.Time      `json:"failed_datetime"`
	SendingError      string          `json:"last_sending_error,omitempty"`
	// Request is the message body as received (for messages of a created ticket: that message).
	Request json.RawMessage `json:"request,omitempty"`

	hiddenUntil time.Time // a late commit's (Fault.HiddenFor): out of API reads until then
}

// Customer is a stored customer.
type Customer struct {
	ID              int64           `json:"id"`
	Account         string          `json:"account"`
	Email           string          `json:"email"`
	Name            string          `json:"name"`
	Firstname       string          `json:"firstname"`
	Lastname        string          `json:"lastname"`
	ExternalID      string          `json:"external_id"`
	Data            json.RawMessage `json:"data"` // null until written
	DataVersion     string          `json:"data_version,omitempty"`
	DataWrites      int             `json:"data_writes"`  // accepted PUT .../data
	DataIgnored     int             `json:"data_ignored"` // PUT .../data with an older version
	CreatedDatetime time.Time       `json:"created_datetime"`
	UpdatedDatetime time.Time       `json:"updated_datetime"`
	// MergedInto is the customer this one was merged into (MergeCustomers), 0 if none; a merged
	// customer is out of API lists and its paths answer 301.
	MergedInto int64 `json:"merged_into,omitempty"`
	// Integrations is what Gorgias collected from integrations, keyed by the integration id in
	// decimal: for an HTTP integration expecting JSON, its last 2xx JSON answer to a
	// ticket-created or ticket-updated call on one of the customer's tickets (storeAnswer). A
	// widget bound to that integration renders it (reference §7, §10).
	Integrations map[string]json.RawMessage `json:"integrations"`

	dataVersionTime time.Time
	mergedEmails    []string  // the emails of customers merged into this one
	dataPending     int       // data writes waiting (Switches.CustomerDataApplyDelay)
	dataDue         time.Time // when the last of them applies
}

// Tag is an account's tag.
type Tag struct {
	ID              int64     `json:"id"`
	Name            string    `json:"name"`
	CreatedDatetime time.Time `json:"created_datetime"`
}

// HTTPConfig is an HTTP integration's settings.
type HTTPConfig struct {
	URL                 string            `json:"url"`
	Method              string            `json:"method"`
	RequestContentType  string            `json:"request_content_type"`
	ResponseContentType string            `json:"response_content_type"`
	Headers             map[string]string `json:"headers"`
	Form                json.RawMessage   `json:"form"`
	Triggers            map[string]bool   `json:"triggers"`
}

// Integration is a stored integration.
type Integration struct {
	ID                  int64      `json:"id"`
	Account             string     `json:"account"`
	Name                string     `json:"name"`
	Type                string     `json:"type"`
	Description         string     `json:"description"`
	HTTP                HTTPConfig `json:"http"`
	CreatedDatetime     time.Time  `json:"created_datetime"`
	UpdatedDatetime     time.Time  `json:"updated_datetime"`
	DeactivatedDatetime *time.Time `json:"deactivated_datetime"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	At     time.Time     `json:"at"`
	Status int           `json:"status"` // 0 when no response
	Error  string        `json:"error,omitempty"`
	Took   time.Duration `json:"took"`
}

// Delivery is one webhook call (with its resends) for one event and integration.
type Delivery struct {
	ID            int64             `json:"id"`
	Account       string            `json:"account"`
	IntegrationID int64             `json:"integration_id"`
	Event         string            `json:"event"`
	TicketID      int64             `json:"ticket_id"`
	MessageID     int64             `json:"message_id"`
	CustomerID    int64             `json:"customer_id"` // the ticket's customer when the event happened
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
	ContentType   string            `json:"content_type"`
	Body          json.RawMessage   `json:"body"` // the rendered body (as JSON when the content type is JSON)
	RawBody       string            `json:"raw_body"`
	Attempts      []Attempt         `json:"attempts"`
	OK            bool              `json:"ok"`
	Done          bool              `json:"done"`
	// Stored: the answer was stored on the customer under integrations[<integration id>]
	// (storeAnswer); set before the delivery is done.
	Stored bool `json:"stored,omitempty"`
}

// Stats are an account's counters. Requests, ByEndpoint, ByStatus, Throttled, Served429,
// Faults and MaxInWindow count the client's own API requests (Pilotdesk's); the calls of the
// account's other integration (Switches.OtherCalls) only fill the bucket and count in
// OtherCalls and OtherThrottled.
type Stats struct {
	Requests   int            `json:"requests"`    // API requests that passed authentication
	ByEndpoint map[string]int `json:"by_endpoint"` // "METHOD /pattern" => requests
	ByStatus   map[int]int    `json:"by_status"`   // status => responses
	Throttled  int            `json:"throttled"`   // 429s because the bucket was full: the ceiling was hit
	Served429  int            `json:"served_429"`  // every 429, injected ones included
	Faults     int            `json:"faults"`      // requests a fault applied to
	// MaxInWindow is the most of the client's own requests that arrived within any RateWindow,
	// a sliding window (t-RateWindow, t] and not fixed slots: every request that passed
	// authentication counts, answered, throttled or faulted; the other integration's calls do
	// not. A test asserting "never more than N calls in any window" compares it with N.
	MaxInWindow int `json:"max_in_window"`
	// OtherCalls are the calls the account's other integration made (Switches.OtherCalls);
	// OtherThrottled those of them refused because the bucket was full: the client left no room.
	OtherCalls     int           `json:"other_calls"`
	OtherThrottled int           `json:"other_throttled"`
	Level          float64       `json:"level"` // the bucket's level now, the other integration's calls included
	RateCalls      int           `json:"rate_calls"`
	RateWindow     time.Duration `json:"rate_window"`
}

func newStats() Stats { return Stats{ByEndpoint: map[string]int{}, ByStatus: map[int]int{}} }

func (s *Server) count(a *account, endpoint string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.stats.ByEndpoint[endpoint]++
	a.stats.ByStatus[status]++
	if status == 429 {
		a.stats.Served429++
	}
}

func (s *Server) newID(kind string) int64 {
	s.nextID[kind]++
	return s.nextID[kind]
}

func (s *Server) accountByID(id string) *account {
	if id == "" && len(s.accounts) > 0 {
		return s.accounts[0]
	}
	for _, a := range s.accounts {
		if a.cfg.ID == id {
			return a
		}
	}
	return nil
}

// snapshots: copies that callers may keep and change.

func (s *Server) ticketSnapshot(t *Ticket) Ticket {
	c := *t
	c.Tags = slices.Clone(t.Tags)
	c.messageIDs = nil
	c.Messages = make([]Message, 0, len(t.messageIDs))
	for _, id := range t.messageIDs {
		c.Messages = append(c.Messages, messageSnapshot(s.messages[id]))
	}
	return c
}

func messageSnapshot(m *Message) Message {
	c := *m
	if m.Sender != nil {
		p := *m.Sender
		c.Sender = &p
	}
	if m.Receiver != nil {
		p := *m.Receiver
		c.Receiver = &p
	}
	if m.SentDatetime != nil {
		t := *m.SentDatetime
		c.SentDatetime = &t
	}
	if m.FailedDatetime != nil {
		t := *m.FailedDatetime
		c.FailedDatetime = &t
	}
	c.StrippedText, c.StrippedHTML, c.StrippedSignature = clonePtr(m.StrippedText), clonePtr(m.StrippedHTML), clonePtr(m.StrippedSignature)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func customerSnapshot(c *Customer) Customer {
	out := *c
	out.Integrations = make(map[string]json.RawMessage, len(c.Integrations))
	for k, v := range c.Integrations {
		out.Integrations[k] = bytes.Clone(v)
	}
	out.mergedEmails = slices.Clone(c.mergedEmails)
	return out
}

func integrationSnapshot(i *Integration) Integration {
	c := *i
	c.HTTP.Headers = maps.Clone(i.HTTP.Headers)
	c.HTTP.Triggers = maps.Clone(i.HTTP.Triggers)
	if i.DeactivatedDatetime != nil {
		t := *i.DeactivatedDatetime
		c.DeactivatedDatetime = &t
	}
	return c
}

func deliverySnapshot(d *Delivery) Delivery {
	c := *d
	c.Headers = maps.Clone(d.Headers)
	c.Attempts = slices.Clone(d.Attempts)
	return c
}
