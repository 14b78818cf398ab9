package gorgias

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// Limits Gorgias documents for ticket fields (reference §2.1, §4.1).
const (
	MaxSubjectLen    = 998
	MaxExternalIDLen = 255
	MaxTagLen        = 256
)

// NewTicket is a review to record as a ticket. The client turns it into the body of reference
// §2.6 with the §9 decisions: the review is a customer message posted via the API with
// sent_datetime set, so Gorgias stores it and never sends it.
type NewTicket struct {
	ExternalID        string // "trustpilot:<reviewId>": how the ticket is found again after a crash
	Subject           string // cut to MaxSubjectLen runes
	Channel           string // default "email" (§9.2: the agent's reply is emailed to the reviewer)
	CustomerEmail     string // required: the reviewer's or the connection's anonymous address
	CustomerName      string
	SupportAddress    string // optional: the brand address the message was "sent to"
	Tags              []string
	Meta              map[string]any // ticket meta (e.g. {"trustpilot": {...}}) for the ticket sidebar
	CreatedAt         time.Time      // the review's creation; default now
	BodyText          string
	BodyHTML          string // sent as is: it must already be safe; empty => TextToHTML(BodyText)
	MessageExternalID string // default ExternalID
	Language          string // ISO 639-1, optional
	Priority          string // critical, high, normal or low; "" for the helpdesk's default
	Closed            bool   // created closed (status "closed")
	// CustomFields are ticket field values by field id, set in the create call.
	CustomFields []CustomField
}

// CustomField is one ticket field value (Gorgias "custom_fields": [{id, value}]). Value is a
// string or a number, as the field's type wants.
type CustomField struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

type wireAddr struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

type wireSource struct {
	Type string     `json:"type"`
	From *wireAddr  `json:"from,omitempty"`
	To   []wireAddr `json:"to,omitempty"`
}

type wirePerson struct {
	ID    int64  `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

type wireTag struct {
	Name string `json:"name"`
}

type wireNewMessage struct {
	Channel         string      `json:"channel"`
	Via             string      `json:"via"`
	FromAgent       bool        `json:"from_agent"`
	Public          bool        `json:"public"`
	Sender          *wirePerson `json:"sender,omitempty"`
	Source          *wireSource `json:"source,omitempty"`
	Subject         string      `json:"subject,omitempty"`
	BodyText        string      `json:"body_text,omitempty"`
	BodyHTML        string      `json:"body_html,omitempty"`
	CreatedDatetime string      `json:"created_datetime,omitempty"`
	SentDatetime    string      `json:"sent_datetime,omitempty"`
	ExternalID      string      `json:"external_id,omitempty"`
}

type wireNewTicket struct {
	Channel         string           `json:"channel"`
	Via             string           `json:"via"`
	FromAgent       bool             `json:"from_agent"`
	Status          string           `json:"status"`
	Subject         string           `json:"subject,omitempty"`
	ExternalID      string           `json:"external_id,omitempty"`
	Language        string           `json:"language,omitempty"`
	Priority        string           `json:"priority,omitempty"`
	CustomFields    []CustomField    `json:"custom_fields,omitempty"`
	Customer        wirePerson       `json:"customer"`
	Tags            []wireTag        `json:"tags,omitempty"`
	Meta            map[string]any   `json:"meta,omitempty"`
	CreatedDatetime string           `json:"created_datetime"`
	Messages        []wireNewMessage `json:"messages"`
}

// buildTicket validates t and builds the create-ticket body.
func buildTicket(t NewTicket, now time.Time) (wireNewTicket, error) {
	email := strings.TrimSpace(t.CustomerEmail)
	if email == "" || !strings.Contains(email, "@") {
		return wireNewTicket{}, errors.New("a customer email is required")
	}
	if len(t.ExternalID) > MaxExternalIDLen || len(t.MessageExternalID) > MaxExternalIDLen {
		return wireNewTicket{}, fmt.Errorf("external_id longer than %d characters", MaxExternalIDLen)
	}
	if strings.TrimSpace(t.BodyText) == "" && strings.TrimSpace(t.BodyHTML) == "" {
		return wireNewTicket{}, errors.New("a message body is required")
	}
	tags, err := cleanTags(t.Tags)
	if err != nil {
		return wireNewTicket{}, err
	}
	channel := t.Channel
	if channel == "" {
		channel = "email"
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	ts := formatTime(created)
	bodyHTML := t.BodyHTML
	if bodyHTML == "" {
		bodyHTML = TextToHTML(t.BodyText)
	}
	subject := truncateRunes(strings.TrimSpace(oneLine(t.Subject)), MaxSubjectLen)
	msgExt := t.MessageExternalID
	if msgExt == "" {
		msgExt = t.ExternalID
	}
	src := &wireSource{Type: channel, From: &wireAddr{Address: email, Name: t.CustomerName}}
	if t.SupportAddress != "" {
		src.To = []wireAddr{{Address: t.SupportAddress}}
	}
	w := wireNewTicket{
		Channel: channel, Via: "api", FromAgent: false, Status: "open",
		Subject: subject, ExternalID: t.ExternalID, Language: t.Language, Priority: t.Priority, CustomFields: t.CustomFields,
		Customer:        wirePerson{Email: email, Name: t.CustomerName},
		Meta:            t.Meta,
		CreatedDatetime: ts,
		Messages: []wireNewMessage{{
			Channel: channel, Via: "api", FromAgent: false, Public: true,
			Sender:  &wirePerson{Email: email, Name: t.CustomerName},
			Source:  src,
			Subject: subject, BodyText: t.BodyText, BodyHTML: bodyHTML,
			// sent_datetime set: Gorgias records the message as already sent and never emails it.
			CreatedDatetime: ts, SentDatetime: ts,
			ExternalID: msgExt,
		}},
	}
	if t.Closed {
		w.Status = "closed"
	}
	for _, name := range tags {
		w.Tags = append(w.Tags, wireTag{Name: name})
	}
	return w, nil
}

// BuildTicketPayload returns the JSON body CreateTicket would send for t (for the installer's
// dry runs, golden tests and benchmarks).
func BuildTicketPayload(t NewTicket) ([]byte, error) {
	w, err := buildTicket(t, time.Now())
	if err != nil {
		return nil, errs.E(errs.Invalid, "gorgias.BuildTicketPayload", err)
	}
	return json.Marshal(w)
}

func cleanTags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, n := range in {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		if utf8.RuneCountInString(n) > MaxTagLen {
			return nil, fmt.Errorf("tag %.40q… is longer than %d characters", n, MaxTagLen)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// TextToHTML renders untrusted plain text as HTML: escaped, blank lines as paragraphs, line
// breaks as <br>.
func TextToHTML(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	for _, para := range strings.Split(s, "\n\n") {
		para = strings.Trim(para, "\n")
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(para), "\n", "<br>"))
		b.WriteString("</p>")
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// CreateTicket creates the ticket for a review in one POST; Gorgias creates the customer from
// its email when it does not exist. It never sends a second POST itself: when the outcome is
// unknown (a 5xx or a dropped connection after sending) it fails with ErrUncertain, and the
// caller looks the ticket up by ExternalID, over a window longer than Gorgias' commit lag,
// before creating again. A retry here could not wait that long, and would make a twin.
// The ticket returned holds the new ticket's identity only: ID, URI, ExternalID, Status and the
// customer; GetTicket reads the rest.
func (c *Client) CreateTicket(ctx context.Context, t NewTicket) (Ticket, error) {
	const op = "gorgias.CreateTicket"
	w, err := buildTicket(t, time.Now())
	if err != nil {
		return Ticket{}, errs.E(errs.Invalid, op, err)
	}
	var out createdTicket
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: "/api/tickets", body: w, out: &out}); err != nil {
		return Ticket{}, err
	}
	return out.ticket(), nil
}

// createdTicket is the part of create's answer a caller uses: Gorgias sends the whole ticket
// back, messages and all (the review's text twice over, as text and HTML), and decoding that
// was the worker's largest CPU cost per review. The rest is skipped unread.
type createdTicket struct {
	ID         int64               `json:"id"`
	URI        string              `json:"uri"`
	ExternalID *string             `json:"external_id"`
	Status     string              `json:"status"`
	Customer   *wireTicketCustomer `json:"customer"`
}

// decodeFields reads create's answer without decoding or validating the messages it skips.
func (w *createdTicket) decodeFields(data []byte) error {
	var v createdTicket
	err := decodeObjectFields(data, []field{{"id", &v.ID}, {"uri", &v.URI}, {"external_id", &v.ExternalID}, {"status", &v.Status}, {"customer", ticketCustomerField{&v.Customer}}})
	if errors.Is(err, errNotFast) {
		return json.Unmarshal(data, w)
	}
	*w = v
	return err
}

func (w createdTicket) ticket() Ticket {
	t := Ticket{ID: w.ID, URI: w.URI, ExternalID: deref(w.ExternalID), Status: w.Status}
	w.Customer.setOn(&t)
	return t
}

// createOnce runs a non-idempotent create. When its outcome is unknown it asks lookup whether the
// object exists after all before creating again; lookup reports false when it cannot tell.
func (c *Client) createOnce(ctx context.Context, cl call, lookup func(context.Context) (bool, error)) error {
	for attempt := 0; ; attempt++ {
		err := c.do(ctx, cl)
		if err == nil || !errors.Is(err, ErrUncertain) || attempt+1 >= c.maxAttempts {
			return err
		}
		if err := sleep(ctx, c.backoff.Delay(attempt)); err != nil {
			return errs.E(errs.Transient, cl.op, err)
		}
		found, lerr := lookup(ctx)
		if lerr != nil {
			return err // still unknown: the caller must look up before creating again
		}
		if found {
			c.log.LogAttrs(ctx, slog.LevelInfo, "gorgias create recovered after an unknown outcome", slog.String("op", cl.op))
			return nil
		}
	}
}

// FindTicketByExternalID finds the oldest ticket with that external_id (trashed ones included,
// as Gorgias lists them by default).
func (c *Client) FindTicketByExternalID(ctx context.Context, externalID string) (Ticket, bool, error) {
	const op = "gorgias.FindTicketByExternalID"
	if externalID == "" {
		return Ticket{}, false, errs.E(errs.Invalid, op, errors.New("empty external_id"))
	}
	var page listPage[Ticket]
	q := url.Values{"external_id": {externalID}, "order_by": {"created_datetime:asc"}, "limit": {"30"}}
	if err := c.do(ctx, call{op: op, method: http.MethodGet, path: "/api/tickets", query: q, out: &page, idempotent: true}); err != nil {
		return Ticket{}, false, err
	}
	// Compare ourselves: a filter Gorgias ignored must not make us adopt someone else's ticket.
	for _, t := range page.Data {
		if t.ExternalID == externalID {
			return t, true, nil
		}
	}
	return Ticket{}, false, nil
}

// GetTicket reads a ticket with its messages.
func (c *Client) GetTicket(ctx context.Context, id int64) (Ticket, error) {
	var t Ticket
	err := c.do(ctx, call{op: "gorgias.GetTicket", method: http.MethodGet, path: idPath("/api/tickets/%s", id), out: &t, idempotent: true})
	return t, err
}

// AddTags adds tags by name (Gorgias creates unknown names); tags already there stay.
func (c *Client) AddTags(ctx context.Context, ticketID int64, names []string) error {
	const op = "gorgias.AddTags"
	names, err := cleanTags(names)
	if err != nil {
		return errs.E(errs.Invalid, op, err)
	}
	if len(names) == 0 {
		return nil
	}
	// Adding is a set union, so resending after an unknown outcome is harmless.
	return c.do(ctx, call{op: op, method: http.MethodPost, path: idPath("/api/tickets/%s/tags", ticketID),
		body: map[string][]string{"names": names}, idempotent: true})
}

// PostInternalNote adds an internal note (never sent to the customer) written via the API, so
// the webhook's filters (via api, internal-note channel) ignore it. A note whose create had an
// unknown outcome is looked for by its external_id before being posted again.
func (c *Client) PostInternalNote(ctx context.Context, ticketID int64, text string) (Message, error) {
	const op = "gorgias.PostInternalNote"
	if strings.TrimSpace(text) == "" {
		return Message{}, errs.E(errs.Invalid, op, errors.New("empty note"))
	}
	ext := "pilotdesk-note:" + randomHex(8)
	body := wireNewMessage{
		Channel: ChannelInternalNote, Via: "api", FromAgent: true, Public: false,
		Source:   &wireSource{Type: ChannelInternalNote},
		BodyText: text, BodyHTML: TextToHTML(text), ExternalID: ext,
	}
	var out Message
	err := c.createOnce(ctx, call{op: op, method: http.MethodPost, path: idPath("/api/tickets/%s/messages", ticketID), body: body, out: &out},
		func(ctx context.Context) (bool, error) {
			cursor := ""
			for range 50 {
				msgs, next, err := c.ListMessages(ctx, ticketID, cursor)
				if err != nil {
					return false, err
				}
				for _, m := range msgs {
					if m.ExternalID == ext {
						out = m
						return true, nil
					}
				}
				if next == "" {
					return false, nil
				}
				cursor = next
			}
			return false, errors.New("too many messages to look through")
		})
	return out, err
}

// GetMessage reads one message: the authoritative text and flags of a webhook's message.
func (c *Client) GetMessage(ctx context.Context, ticketID, messageID int64) (Message, error) {
	var m Message
	err := c.do(ctx, call{op: "gorgias.GetMessage", method: http.MethodGet,
		path: idPath("/api/tickets/%s/messages/%s", ticketID, messageID), out: &m, idempotent: true})
	return m, err
}

// ListMessages returns one page of a ticket's messages, oldest first, and the cursor of the next
// page ("" after the last).
func (c *Client) ListMessages(ctx context.Context, ticketID int64, cursor string) ([]Message, string, error) {
	q := url.Values{"ticket_id": {strconv.FormatInt(ticketID, 10)}, "order_by": {"created_datetime:asc"}, "limit": {"100"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page listPage[Message]
	if err := c.do(ctx, call{op: "gorgias.ListMessages", method: http.MethodGet, path: "/api/messages", query: q, out: &page, idempotent: true}); err != nil {
		return nil, "", err
	}
	return page.Data, page.next(), nil
}

// ListTicketsUpdated returns one page of the account's tickets, the most recently updated first,
// and the cursor of the next page ("" after the last): what the reply sweep reads to find the
// tickets that changed since its last run.
func (c *Client) ListTicketsUpdated(ctx context.Context, cursor string) ([]TicketUpdate, string, error) {
	q := url.Values{"order_by": {"updated_datetime:desc"}, "limit": {"100"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page updatesPage
	if err := c.do(ctx, call{op: "gorgias.ListTicketsUpdated", method: http.MethodGet, path: "/api/tickets", query: q, out: &page, idempotent: true}); err != nil {
		return nil, "", err
	}
	return page.updates(), listPage[wireTicketUpdate](page).next(), nil
}

// TicketUpdate is what a list of tickets tells the reply sweep about each: which ticket, whose
// (its external id) and when it was made, changed and last got a message.
type TicketUpdate struct {
	ID                  int64
	ExternalID          string
	CreatedDatetime     time.Time
	UpdatedDatetime     time.Time
	LastMessageDatetime time.Time // zero when Gorgias leaves it out
}

// Activity is when the ticket last got a message, or, when Gorgias does not say, when it last
// changed at all (as Ticket.Activity).
func (t TicketUpdate) Activity() time.Time {
	return Ticket{UpdatedDatetime: t.UpdatedDatetime, LastMessageDatetime: t.LastMessageDatetime}.Activity()
}

// updatesPage is a page of the ticket list read for TicketUpdates. Each ticket of a list embeds
// its customer (the integrations' data on it, the sidebar's included), tags and meta: a page is
// tens of kilobytes of which the sweep needs five members a ticket, so it is read member by
// member (decodeFields), the rest skipped.
type updatesPage listPage[wireTicketUpdate]

func (p updatesPage) updates() []TicketUpdate {
	out := make([]TicketUpdate, len(p.Data))
	for i, w := range p.Data {
		out[i] = w.update()
	}
	return out
}

type wireTicketUpdate struct {
	ID         int64   `json:"id"`
	ExternalID *string `json:"external_id"`
	Created    apiTime `json:"created_datetime"`
	Updated    apiTime `json:"updated_datetime"`
	LastMsg    apiTime `json:"last_message_datetime"`
}

func (w wireTicketUpdate) update() TicketUpdate {
	return TicketUpdate{ID: w.ID, ExternalID: deref(w.ExternalID), CreatedDatetime: w.Created.Time,
		UpdatedDatetime: w.Updated.Time, LastMessageDatetime: w.LastMsg.Time}
}

// decodeFields reads the page as json.Unmarshal would, without decoding what it skips; any
// body it cannot read that way goes to the standard decoder whole.
func (p *updatesPage) decodeFields(data []byte) error {
	var v updatesPage
	err := decodeObjectFields(data, []field{{"data", updatesField{&v.Data}}, {"meta", &v.Meta}})
	if errors.Is(err, errNotFast) {
		return json.Unmarshal(data, (*listPage[wireTicketUpdate])(p)) // the standard decoder's read
	}
	*p = v
	return err
}

// updatesField is the page's data member: null, or an array of ticket objects. It decodes as
// json.Unmarshal does into a slice: a repeated member decodes over the elements already there
// (a null element or a missing member leaves them as they were), an empty array is an empty
// slice.
type updatesField struct{ data *[]wireTicketUpdate }

func (f updatesField) decodeFields(data []byte) error {
	// data is the member's value exactly, as decodeObjectFields found it.
	if string(data) == "null" {
		*f.data = nil
		return nil
	}
	old := *f.data
	out := old[:0]
	err := decodeArrayElements(data, func(elem []byte) error {
		var w wireTicketUpdate
		if i := len(out); i < cap(old) {
			w = old[:cap(old)][i]
		}
		if string(elem) != "null" {
			if err := decodeObjectFields(elem, []field{{"id", &w.ID}, {"external_id", &w.ExternalID},
				{"created_datetime", &w.Created}, {"updated_datetime", &w.Updated}, {"last_message_datetime", &w.LastMsg}}); err != nil {
				return err
			}
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return err
	}
	if len(out) == 0 {
		out = []wireTicketUpdate{}
	}
	*f.data = out
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
