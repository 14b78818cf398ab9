package gorgiassim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fire queues a delivery of event to every active HTTP integration of the account with that
// trigger; the caller holds s.mu. Gorgias renders the template when the event happens and calls
// asynchronously, so rendering is done here and sending in a goroutine.
func (s *Server) fire(a *account, event string, t *Ticket, m *Message) {
	if s.closed {
		return
	}
	var ids []int64
	for id, it := range s.integrations {
		if it.Account == a.cfg.ID && it.Type == "http" && it.DeactivatedDatetime == nil && it.HTTP.Triggers[event] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	vars := s.templateVars(a, event, t, m)
	for _, id := range ids {
		it := s.integrations[id]
		d := &Delivery{ID: s.newID("delivery"), Account: a.cfg.ID, IntegrationID: id, Event: event, TicketID: t.ID,
			CustomerID: t.CustomerID, Method: it.HTTP.Method, URL: renderURL(it.HTTP.URL, vars),
			Headers: map[string]string{}, ContentType: it.HTTP.RequestContentType}
		if m != nil {
			d.MessageID = m.ID
		}
		for k, v := range it.HTTP.Headers {
			d.Headers[k] = renderString(v, vars)
		}
		body := renderForm(it.HTTP.Form, vars, s.cfg.TypedWebhookValues)
		if d.ContentType == "application/x-www-form-urlencoded" {
			form := url.Values{}
			if obj, ok := body.(map[string]any); ok {
				for k, v := range obj {
					form.Set(k, pyStr(v))
				}
			}
			d.RawBody = form.Encode()
		} else {
			b, _ := json.Marshal(body)
			d.Body, d.RawBody = b, string(b)
		}
		s.deliveries = append(s.deliveries, d)
		s.wg.Add(1)
		go s.deliver(d)
	}
}

// templateVars is the context Gorgias renders templates with (reference §5.2).
func (s *Server) templateVars(a *account, event string, t *Ticket, m *Message) map[string]any {
	ticket := map[string]any{
		"id": t.ID, "external_id": nullString(t.ExternalID), "status": t.Status, "channel": t.Channel, "via": t.Via,
		"spam": t.Spam, "from_agent": t.FromAgent, "customer_id": t.CustomerID, "assignee_user_id": nil,
		"assignee_team_id": nil, "subject": nullString(t.Subject), "language": nullString(t.Language),
		"meta": decodeAny(t.Meta), "created_datetime": gtime(t.CreatedDatetime), "opened_datetime": gtime(t.OpenedDatetime),
		"updated_datetime": gtime(t.UpdatedDatetime), "last_message_datetime": gtime(t.LastMessage),
		"last_received_message_datetime": gtime(t.LastReceived), "closed_datetime": nil, "snooze_datetime": nil,
		"trashed_datetime": nil, "custom_fields": map[string]any{},
	}
	if c := s.customers[t.CustomerID]; c != nil {
		ticket["customer"] = map[string]any{"id": c.ID, "email": nullString(c.Email), "name": nullString(c.Name),
			"firstname": c.Firstname, "lastname": c.Lastname, "data": decodeAny(c.Data),
			"integrations": integrationVars(c)}
	}
	tags := make([]any, 0, len(t.Tags))
	for _, n := range t.Tags {
		tags = append(tags, map[string]any{"name": n})
	}
	ticket["tags"] = tags
	msgs := make([]any, 0, len(t.messageIDs))
	for _, id := range t.messageIDs {
		msgs = append(msgs, messageVars(s.messages[id]))
	}
	ticket["messages"] = msgs
	vars := map[string]any{"ticket": ticket, "event": map[string]any{"type": event, "object_id": t.ID, "object_type": "Ticket"}}
	if m != nil {
		vars["event"].(map[string]any)["object_id"] = m.ID
		vars["event"].(map[string]any)["object_type"] = "TicketMessage"
		// message.* is de-facto, not documented (reference §5.2, §10): the switch plays the
		// variants where Gorgias leaves it out (undefined: "") or fills it with None.
		switch a.cfg.WebhookMessageVars {
		case MessageVarsEmpty:
		case MessageVarsNone:
			vars["message"] = none{}
		default:
			vars["message"] = messageVars(m)
		}
	}
	return vars
}

func integrationVars(c *Customer) map[string]any {
	out := make(map[string]any, len(c.Integrations))
	for k, v := range c.Integrations {
		out[k] = decodeAny(v)
	}
	return out
}

// none is Python's None standing for an object: every attribute of it is None too, it prints
// "None" and serialises as null.
type none struct{}

func (none) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func messageVars(m *Message) map[string]any {
	person := func(p *Person) any {
		if p == nil {
			return nil
		}
		return map[string]any{"id": p.ID, "email": nullString(p.Email), "name": nullString(p.Name)}
	}
	var rule, integ any
	if m.RuleID != nil {
		rule = *m.RuleID
	}
	if m.IntegrationID != nil {
		integ = *m.IntegrationID
	}
	return map[string]any{
		"id": m.ID, "ticket_id": m.TicketID, "public": m.Public, "channel": m.Channel, "via": m.Via,
		"from_agent": m.FromAgent, "rule_id": rule, "integration_id": integ, "external_id": nullString(m.ExternalID),
		"sender": person(m.Sender), "receiver": person(m.Receiver), "subject": nullString(m.Subject),
		"body_text": m.BodyText, "body_html": m.BodyHTML, "stripped_text": strp(m.StrippedText),
		"stripped_html": strp(m.StrippedHTML), "stripped_signature": strp(m.StrippedSignature),
		"created_datetime": gtime(m.CreatedDatetime), "sent_datetime": gtimep(m.SentDatetime),
	}
}

func decodeAny(b json.RawMessage) any {
	var v any
	if len(b) == 0 || json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v
}

var exprRe = regexp.MustCompile(`\{\{(.*?)\}\}`)

// renderForm renders a form template: strings are templates, objects and lists recursively,
// other JSON values pass through. A form that is one string (like "{{context}}") renders to it.
func renderForm(form json.RawMessage, vars map[string]any, typed bool) any {
	var v any
	if len(form) == 0 || json.Unmarshal(form, &v) != nil {
		return map[string]any{}
	}
	if str, ok := v.(string); ok && strings.TrimSpace(str) == "{{context}}" {
		return vars // the whole context, serialised as JSON (Pipedream's usage, reference §5.2)
	}
	return renderValue(v, vars, typed)
}

func renderValue(v any, vars map[string]any, typed bool) any {
	switch v := v.(type) {
	case string:
		if typed {
			if m := exprRe.FindStringSubmatchIndex(v); m != nil && m[0] == 0 && m[1] == len(v) {
				val, ok := eval(v[m[2]:m[3]], vars)
				if !ok {
					return ""
				}
				return val
			}
		}
		return renderString(v, vars)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = renderValue(x, vars, typed)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = renderValue(x, vars, typed)
		}
		return out
	}
	return v
}

// renderURL renders an integration's URL template, percent-encoding each value for where it
// lands, so that it arrives as rendered: a value after the template's first "?" (outside any
// {{ }}) is query-encoded, one before it path-encoded (as one segment). Without this an email
// like jane+tp@example.com in "?email={{ticket.customer.email}}" would reach the endpoint with a
// space for its "+". A value the template encodes itself (| urlencode) is not encoded twice.
func renderURL(tmpl string, vars map[string]any) string {
	matches := exprRe.FindAllStringSubmatchIndex(tmpl, -1)
	query := queryStart(tmpl, matches)
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(tmpl[last:m[0]])
		last = m[1]
		expr := tmpl[m[2]:m[3]]
		val, ok := eval(expr, vars)
		if !ok {
			continue // undefined renders ""
		}
		str := pyStr(val)
		switch {
		case encodesItself(expr):
		case query >= 0 && m[0] > query:
			str = url.QueryEscape(str)
		default:
			str = url.PathEscape(str)
		}
		b.WriteString(str)
	}
	b.WriteString(tmpl[last:])
	return b.String()
}

// queryStart is the index of the "?" starting tmpl's query, skipping any inside the {{ }}
// expressions at matches; -1 when there is none.
func queryStart(tmpl string, matches [][]int) int {
	from := 0
	for _, m := range matches {
		if i := strings.IndexByte(tmpl[from:m[0]], '?'); i >= 0 {
			return from + i
		}
		from = m[1]
	}
	if i := strings.IndexByte(tmpl[from:], '?'); i >= 0 {
		return from + i
	}
	return -1
}

// encodesItself reports whether expr's filters percent-encode its value already.
func encodesItself(expr string) bool {
	parts := strings.Split(expr, "|")
	for _, f := range parts[1:] {
		if strings.TrimSpace(f) == "urlencode" {
			return true
		}
	}
	return false
}

// urlencode is Jinja's urlencode filter on a string: percent-encoding that keeps "/" and
// writes a space as %20.
func urlencode(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%2F", "/")
}

// renderString substitutes {{ expr }}: values as Python would print them (True/False/None),
// undefined variables as "" (Jinja's default).
func renderString(s string, vars map[string]any) string {
	return exprRe.ReplaceAllStringFunc(s, func(m string) string {
		val, ok := eval(m[2:len(m)-2], vars)
		if !ok {
			return ""
		}
		return pyStr(val)
	})
}

// eval evaluates a path like ticket.messages[-1].body_text with filters (tojson, lower, upper,
// string, urlencode, default('x')).
func eval(expr string, vars map[string]any) (any, bool) {
	parts := strings.Split(expr, "|")
	val, ok := lookup(strings.TrimSpace(parts[0]), vars)
	for _, f := range parts[1:] {
		f = strings.TrimSpace(f)
		switch {
		case f == "tojson":
			b, _ := json.Marshal(val)
			val, ok = string(b), true
		case f == "lower":
			val = strings.ToLower(pyStr(val))
		case f == "upper":
			val = strings.ToUpper(pyStr(val))
		case f == "string":
			val = pyStr(val)
		case f == "urlencode":
			val = urlencode(pyStr(val))
		case strings.HasPrefix(f, "default(") && strings.HasSuffix(f, ")"):
			if !ok || val == nil || val == "" {
				val, ok = strings.Trim(f[len("default("):len(f)-1], `'" `), true
			}
		}
	}
	return val, ok
}

var segRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)((?:\[-?\d+\])*)$`)
var idxRe = regexp.MustCompile(`\[(-?\d+)\]`)

func lookup(path string, vars map[string]any) (any, bool) {
	var cur any = vars
	for _, seg := range strings.Split(path, ".") {
		m := segRe.FindStringSubmatch(strings.TrimSpace(seg))
		if m == nil {
			return nil, false
		}
		if _, ok := cur.(none); ok {
			return nil, true
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[m[1]]; !ok {
			return nil, false
		}
		for _, im := range idxRe.FindAllStringSubmatch(m[2], -1) {
			list, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			i, _ := strconv.Atoi(im[1])
			if i < 0 {
				i += len(list)
			}
			if i < 0 || i >= len(list) {
				return nil, false
			}
			cur = list[i]
		}
	}
	if _, ok := cur.(none); ok {
		return nil, true
	}
	return cur, true
}

// pyStr prints a value as Python's str() would, which is what Gorgias' templates produce.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return pyRepr(v)
}

func pyRepr(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`) + "'"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(k) + ": " + pyRepr(v[k]))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		items := make([]string, len(v))
		for i, x := range v {
			items[i] = pyRepr(x)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return pyStr(v)
}

// deliver sends d, resending failures that may be temporary (no answer, 429, 5xx) with a
// doubling delay (never when the account's NoRedelivery switch is on), and disables the integration after DisableAfter consecutive failed requests
// (reference §5.4); a success resets the count.
func (s *Server) deliver(d *Delivery) {
	defer s.wg.Done()
	delay := s.cfg.DeliveryRetryDelay
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		it := s.integrations[d.IntegrationID]
		active := it != nil && it.DeactivatedDatetime == nil
		s.mu.Unlock()
		if !active {
			s.finish(d, false, "integration deleted or disabled")
			return
		}
		at := time.Now()
		status, answer, err := s.send(d)
		ok := err == nil && status >= 200 && status < 300
		s.mu.Lock()
		att := Attempt{At: at, Status: status, Took: time.Since(at)}
		if err != nil {
			att.Error = err.Error()
		}
		d.Attempts = append(d.Attempts, att)
		if it := s.integrations[d.IntegrationID]; it != nil {
			if ok {
				it.ConsecutiveFailures = 0
				d.Stored = s.storeAnswer(d, it, answer)
			} else {
				it.ConsecutiveFailures++
				if it.ConsecutiveFailures >= s.cfg.DisableAfter && it.DeactivatedDatetime == nil {
					now := time.Now().UTC()
					it.DeactivatedDatetime = &now
				}
			}
		}
		s.mu.Unlock()
		if ok {
			s.finish(d, true, "")
			return
		}
		s.mu.Lock()
		a := s.accountByID(d.Account)
		noRedelivery := a != nil && a.cfg.NoRedelivery
		s.mu.Unlock()
		if noRedelivery || !(err != nil || status == 429 || status >= 500) || attempt >= s.cfg.DeliveryRetries {
			s.finish(d, false, "")
			return
		}
		select {
		case <-time.After(delay):
		case <-s.ctx.Done():
			s.finish(d, false, "simulator closed")
			return
		}
		delay *= 2
	}
}

// maxAnswerBytes bounds the answer body send reads; a longer answer is not stored.
const maxAnswerBytes = 1 << 20

// send makes one request of d and returns the answer's status and body (nil when longer than
// maxAnswerBytes).
func (s *Server) send(d *Delivery) (int, []byte, error) {
	var body io.Reader
	if d.Method != http.MethodGet {
		body = strings.NewReader(d.RawBody)
	}
	req, err := http.NewRequestWithContext(s.ctx, d.Method, d.URL, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range d.Headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", d.ContentType)
	}
	req.Header.Set("User-Agent", "Gorgias-HTTP-Integration (gorgiassim)")
	resp, err := s.cfg.DeliveryClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if len(answer) > maxAnswerBytes {
		answer = nil
	}
	return resp.StatusCode, answer, nil
}

// answerEvents are the events whose JSON answer Gorgias keeps on the ticket's customer: the
// documented route to sidebar data is a call on ticket-created (reference §7, §10), and
// ticket-updated refreshes it.
var answerEvents = map[string]bool{"ticket-created": true, "ticket-updated": true}

// storeAnswer keeps a 2xx answer of an HTTP integration expecting JSON
// (http.response_content_type application/json, whatever the method) to a ticket event on the
// ticket's customer (following merges), under integrations[<integration id>], replacing what
// an earlier answer left. An answer that is not JSON (the Content-Type header is not looked
// at, only the body) leaves the previous value. It reports whether it stored; the caller holds
// s.mu.
func (s *Server) storeAnswer(d *Delivery, it *Integration, answer []byte) bool {
	if !answerEvents[d.Event] || it.HTTP.ResponseContentType != "application/json" {
		return false
	}
	var compact bytes.Buffer
	if json.Compact(&compact, answer) != nil || compact.Len() == 0 {
		return false
	}
	c := s.customers[d.CustomerID]
	if c == nil {
		return false
	}
	c = s.finalCustomer(c)
	if c.Integrations == nil {
		c.Integrations = map[string]json.RawMessage{}
	}
	c.Integrations[strconv.FormatInt(it.ID, 10)] = compact.Bytes()
	c.UpdatedDatetime = time.Now().UTC()
	return true
}

func (s *Server) finish(d *Delivery, ok bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.OK, d.Done = ok, true
	if reason != "" {
		d.Attempts = append(d.Attempts, Attempt{At: time.Now(), Error: reason})
	}
	s.delivered++
	close(s.delivChanged)
	s.delivChanged = make(chan struct{})
}

// Deliveries returns every delivery so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[i] = deliverySnapshot(d)
	}
	return out
}

// WaitDeliveries waits until at least n deliveries are finished (delivered or given up) and
// returns all deliveries; on ctx's end it returns what there is with ctx's error.
func (s *Server) WaitDeliveries(ctx context.Context, n int) ([]Delivery, error) {
	for {
		s.mu.Lock()
		done, ch := s.delivered, s.delivChanged
		s.mu.Unlock()
		if done >= n {
			return s.Deliveries(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Deliveries(), fmt.Errorf("gorgiassim: %d of %d deliveries finished: %w", done, n, ctx.Err())
		}
	}
}

// ParseBody decodes a JSON delivery body (for tests).
func (d Delivery) ParseBody() (map[string]any, error) {
	var m map[string]any
	err := json.NewDecoder(bytes.NewReader(d.Body)).Decode(&m)
	return m, err
}
