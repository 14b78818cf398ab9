package gorgiassim

import (
	"encoding/json"
	"maps"
	"math"
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
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
	ContentType   string            `json:"content_type"`
	Body          json.RawMessage   `json:"body"` // the rendered body (as JSON when the content type is JSON)
	RawBody       string            `json:"raw_body"`
	Attempts      []Attempt         `json:"attempts"`
	OK            bool              `json:"ok"`
	Done          bool              `json:"done"`
}

// Stats are an account's counters.
type Stats struct {
	Requests    int            `json:"requests"`      // API requests that passed authentication
	ByEndpoint  map[string]int `json:"by_endpoint"`   // "METHOD /pattern" => requests
	ByStatus    map[int]int    `json:"by_status"`     // status => responses
	Throttled   int            `json:"throttled"`     // 429s because the bucket was full: the ceiling was hit
	Served429   int            `json:"served_429"`    // every 429, injected ones included
	Faults      int            `json:"faults"`        // requests a fault applied to
	MaxInWindow int            `json:"max_in_window"` // most requests that arrived within any RateWindow
	Level       float64        `json:"level"`         // the bucket's level now
	RateCalls   int            `json:"rate_calls"`
	RateWindow  time.Duration  `json:"rate_window"`
}

func newStats() Stats { return Stats{ByEndpoint: map[string]int{}, ByStatus: map[int]int{}} }

type account struct {
	cfg    AccountConfig
	userID int64
	tags   map[string]*Tag

	// The leaky bucket: level drains at RateCalls per RateWindow.
	level    float64
	levelAt  time.Time
	arrivals []time.Time // within the last window, for MaxInWindow
	stats    Stats
}

// admit accounts for one request: it reports the bucket's level to show and, when the bucket is
// full, the Retry-After seconds.
func (s *Server) admit(a *account) (used int, retryAfter int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	rate := float64(a.cfg.RateCalls) / a.cfg.RateWindow.Seconds()
	if !a.levelAt.IsZero() {
		a.level = max(0, a.level-now.Sub(a.levelAt).Seconds()*rate)
	}
	a.levelAt = now
	a.stats.Requests++
	cut := now.Add(-a.cfg.RateWindow)
	i := 0
	for i < len(a.arrivals) && !a.arrivals[i].After(cut) {
		i++
	}
	a.arrivals = append(a.arrivals[i:], now)
	a.stats.MaxInWindow = max(a.stats.MaxInWindow, len(a.arrivals))
	const eps = 1e-9
	if a.level+1 > float64(a.cfg.RateCalls)+eps {
		a.stats.Throttled++
		wait := (a.level + 1 - float64(a.cfg.RateCalls)) / rate
		return a.cfg.RateCalls, max(1, int(math.Ceil(wait))), false
	}
	a.level++
	return int(math.Ceil(a.level - eps)), 0, true
}

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
