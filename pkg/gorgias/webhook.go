package gorgias

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// EventMessageCreated is the HTTP-integration trigger Pilotdesk installs.
const EventMessageCreated = "ticket-message-created"

// Ticket triggers the sidebar integration answers.
const (
	EventTicketCreated = "ticket-created"
	EventTicketUpdated = "ticket-updated"
)

// SecretHeader is the header carrying the webhook's shared secret (§9.5).
const SecretHeader = "X-Pilotdesk-Secret"

// MaxWebhookBytes bounds a webhook body (the design's 413 limit).
const MaxWebhookBytes = 1 << 20

// WebhookForm is the HTTP integration's body template: the fields Pilotdesk's webhook reads, as
// Gorgias template variables. Gorgias renders every value as a string (booleans "True"/"False",
// null "None"); ParseWebhook reads that and real JSON types alike. The event is a literal because
// the integration has this one trigger, and an unknown template variable must not cost us the
// event. The receiver re-reads the message by id for its authoritative text and flags.
func WebhookForm() map[string]string {
	return map[string]string{
		"event":              EventMessageCreated,
		"ticket_id":          "{{ticket.id}}",
		"ticket_external_id": "{{ticket.external_id}}",
		"ticket_channel":     "{{ticket.channel}}",
		"message_id":         "{{message.id}}",
		"from_agent":         "{{message.from_agent}}",
		"public":             "{{message.public}}",
		"channel":            "{{message.channel}}",
		"via":                "{{message.via}}",
		"rule_id":            "{{message.rule_id}}",
		"sender_email":       "{{message.sender.email}}",
		"created":            "{{message.created_datetime}}",
	}
}

// WebhookEvent is a parsed webhook body.
type WebhookEvent struct {
	Event            string // EventMessageCreated when the body does not say
	TicketID         int64
	MessageID        int64
	TicketExternalID string
	TicketChannel    string
	FromAgent        bool
	Public           bool
	Channel          string
	Via              string
	RuleID           int64 // 0 when no rule wrote the message
	SenderEmail      string
	Created          time.Time // zero when absent or unreadable
}

// IsInternalNote reports whether the message is an internal note.
func (e WebhookEvent) IsInternalNote() bool { return e.Channel == ChannelInternalNote }

// ParseWebhook reads the body WebhookForm produces. Booleans may be JSON booleans or strings
// ("True", "true", "1", "False", "false", "0", "", "None"); numbers may be JSON numbers or
// strings; unknown fields are ignored. A missing ticket_id, or a field of the wrong type, is an
// error wrapping errs.Invalid that names the field; a missing or unreadable message_id is 0.
func ParseWebhook(body []byte) (WebhookEvent, error) {
	const op = "gorgias.ParseWebhook"
	bad := func(format string, args ...any) (WebhookEvent, error) {
		return WebhookEvent{}, errs.E(errs.Invalid, op, fmt.Errorf(format, args...))
	}
	if len(body) > MaxWebhookBytes {
		return bad("body larger than %d bytes", MaxWebhookBytes)
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || m == nil {
		return bad("body is not a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return bad("trailing data after the JSON object")
	}
	var e WebhookEvent
	var err error
	str := func(field string, dst *string) {
		if err == nil {
			*dst, err = fieldString(m, field)
		}
	}
	str("event", &e.Event)
	str("ticket_external_id", &e.TicketExternalID)
	str("ticket_channel", &e.TicketChannel)
	str("channel", &e.Channel)
	str("via", &e.Via)
	str("sender_email", &e.SenderEmail)
	var created string
	str("created", &created)
	if err != nil {
		return WebhookEvent{}, errs.E(errs.Invalid, op, err)
	}
	for _, f := range []struct {
		name string
		dst  *int64
		// required: the event is useless without it (400). Optional ids that do not read are
		// left 0: message.* is not an official template variable (reference §5.2, §10) and may
		// render empty, "None" or as something else; the ticket's messages decide anyway.
		required bool
	}{{"ticket_id", &e.TicketID, true}, {"message_id", &e.MessageID, false}, {"rule_id", &e.RuleID, false}} {
		v, ok, err := fieldInt(m, f.name)
		if err != nil && f.required {
			return WebhookEvent{}, errs.E(errs.Invalid, op, err)
		}
		if !ok && f.required {
			return bad("missing required field %q", f.name)
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"from_agent", &e.FromAgent}, {"public", &e.Public}} {
		if *f.dst, err = fieldBool(m, f.name); err != nil {
			return WebhookEvent{}, errs.E(errs.Invalid, op, err)
		}
	}
	if e.Event == "" {
		e.Event = EventMessageCreated
	}
	if isNone(e.TicketExternalID) {
		e.TicketExternalID = ""
	}
	if isNone(e.SenderEmail) {
		e.SenderEmail = ""
	}
	e.Created, _ = parseTime(created)
	return e, nil
}

// isNone reports the renderings of a null value: Python's None, JSON's null, nothing.
func isNone(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "None" || s == "null"
}

func fieldString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("field %q: %w", name, err)
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return string(bytes.TrimSpace(raw)), nil
	}
	return "", fmt.Errorf("field %q must be a string", name)
}

func fieldInt(m map[string]json.RawMessage, name string) (int64, bool, error) {
	raw, ok := m[name]
	if !ok {
		return 0, false, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return 0, false, fmt.Errorf("field %q: %w", name, err)
	}
	var s string
	switch v := v.(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
		if isNone(s) {
			return 0, false, nil
		}
	default:
		return 0, false, fmt.Errorf("field %q must be a number", name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 123.0 from a float-minded template engine is still 123.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < 1 || f > 1<<53 {
			return 0, false, fmt.Errorf("field %q: %q is not a positive integer", name, truncateRunes(s, 40))
		}
		n = int64(f)
	}
	if n <= 0 {
		return 0, false, fmt.Errorf("field %q: %d is not a positive integer", name, n)
	}
	return n, true, nil
}

func fieldBool(m map[string]json.RawMessage, name string) (bool, error) {
	raw, ok := m[name]
	if !ok {
		return false, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, fmt.Errorf("field %q: %w", name, err)
	}
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case float64:
		switch v {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			return true, nil
		case "false", "0", "", "none", "null":
			return false, nil
		}
		return false, fmt.Errorf("field %q: %q is not a boolean", name, truncateRunes(v, 40))
	}
	return false, errors.New("field " + strconv.Quote(name) + " must be a boolean")
}
