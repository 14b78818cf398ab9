package gorgiassim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// gtime renders a datetime the way Gorgias does ("2025-02-12T10:11:12.123456+00:00"), or null.
func gtime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

func gtimep(t *time.Time) any {
	if t == nil {
		return nil
	}
	return gtime(*t)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func strp(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

var errDatetime = errors.New("not a valid datetime")

const msgDatetime = "Not a valid datetime."

// parseTime reads client datetimes: ISO 8601 with or without a zone (UTC assumed).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errDatetime
}

func (s *Server) customerJSON(c *Customer) map[string]any {
	if c == nil {
		return nil
	}
	var channels []any
	if c.Email != "" {
		channels = append(channels, map[string]any{"type": "email", "address": c.Email, "preferred": true})
	}
	for _, e := range c.mergedEmails {
		channels = append(channels, map[string]any{"type": "email", "address": e, "preferred": false})
	}
	return map[string]any{
		"id": c.ID, "email": nullString(c.Email), "name": nullString(c.Name),
		"firstname": c.Firstname, "lastname": c.Lastname, "external_id": nullString(c.ExternalID),
		"channels": channels, "data": rawOrNull(c.Data), "integrations": integrationsJSON(c), "note": nil, "meta": map[string]any{},
		"created_datetime": gtime(c.CreatedDatetime), "updated_datetime": gtime(c.UpdatedDatetime),
		"uri": fmt.Sprintf("/api/customers/%d/", c.ID),
	}
}

// integrationsJSON is a customer's integrations object: always an object, {} when no
// integration stored anything.
func integrationsJSON(c *Customer) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(c.Integrations))
	for k, v := range c.Integrations {
		out[k] = v
	}
	return out
}

func personJSON(p *Person) any {
	if p == nil {
		return nil
	}
	return map[string]any{"id": p.ID, "email": nullString(p.Email), "name": nullString(p.Name)}
}

func messageJSON(m *Message) map[string]any {
	return map[string]any{
		"id": m.ID, "uri": fmt.Sprintf("/api/tickets/%d/messages/%d/", m.TicketID, m.ID), "ticket_id": m.TicketID,
		"external_id": nullString(m.ExternalID), "message_id": nullString(m.MessageID),
		"public": m.Public, "channel": m.Channel, "via": m.Via, "from_agent": m.FromAgent,
		"rule_id": m.RuleID, "integration_id": m.IntegrationID,
		"subject": nullString(m.Subject), "body_text": m.BodyText, "body_html": m.BodyHTML,
		"stripped_text": strp(m.StrippedText), "stripped_html": strp(m.StrippedHTML),
		"stripped_signature": strp(m.StrippedSignature),
		"sender":             personJSON(m.Sender), "receiver": personJSON(m.Receiver),
		"source": rawOrNull(m.Source), "meta": rawOrNull(m.Meta), "attachments": []any{},
		"macros": []any{}, "actions": nil, "headers": nil, "intents": []any{}, "sentiments": []any{},
		"created_datetime": gtime(m.CreatedDatetime), "sent_datetime": gtimep(m.SentDatetime),
		"failed_datetime": gtimep(m.FailedDatetime), "opened_datetime": nil, "deleted_datetime": nil,
		"last_sending_error": sendingError(m), "is_retriable": m.FailedDatetime != nil,
	}
}

func sendingError(m *Message) any {
	if m.SendingError == "" {
		return nil
	}
	return map[string]any{"error": m.SendingError}
}

func (s *Server) tagJSON(a *account, name string) map[string]any {
	t := a.tags[name]
	if t == nil {
		return map[string]any{"name": name}
	}
	return map[string]any{"id": t.ID, "name": t.Name, "uri": fmt.Sprintf("/api/tags/%d/", t.ID),
		"decoration": nil, "description": nil, "created_datetime": gtime(t.CreatedDatetime), "deleted_datetime": nil}
}

func (s *Server) ticketJSON(a *account, t *Ticket, withMessages bool) map[string]any {
	cust := s.customerJSON(s.customers[t.CustomerID])
	tags := make([]any, 0, len(t.Tags))
	for _, n := range t.Tags {
		tags = append(tags, s.tagJSON(a, n))
	}
	out := map[string]any{
		"id": t.ID, "uri": fmt.Sprintf("/api/tickets/%d/", t.ID), "external_id": nullString(t.ExternalID),
		"status": t.Status, "priority": t.Priority, "channel": t.Channel, "via": t.Via, "from_agent": t.FromAgent,
		"spam": t.Spam, "subject": nullString(t.Subject), "language": nullString(t.Language), "meta": rawOrNull(t.Meta),
		"customer": cust, "requester": cust, "assignee_user": nil, "assignee_team": nil,
		"assignee_user_id": nil, "assignee_team_id": nil,
		"tags": tags, "is_unread": true, "satisfaction_survey": nil,
		"reply_options":    map[string]any{t.Channel: map[string]any{"answerable": true}},
		"created_datetime": gtime(t.CreatedDatetime), "opened_datetime": gtime(t.OpenedDatetime),
		"updated_datetime": gtime(t.UpdatedDatetime), "last_message_datetime": gtime(t.LastMessage),
		"last_received_message_datetime": gtime(t.LastReceived), "closed_datetime": nil,
		"trashed_datetime": nil, "snooze_datetime": nil,
	}
	if withMessages {
		msgs := make([]any, 0, len(t.messageIDs))
		for _, m := range s.apiMessages(t) {
			msgs = append(msgs, messageJSON(m))
		}
		out["messages"] = msgs
	}
	return out
}

func integrationJSON(i *Integration) map[string]any {
	return map[string]any{
		"id": i.ID, "name": i.Name, "type": i.Type, "description": i.Description,
		"uri": fmt.Sprintf("/api/integrations/%d/", i.ID),
		"http": map[string]any{
			"url": i.HTTP.URL, "method": i.HTTP.Method, "request_content_type": i.HTTP.RequestContentType,
			"response_content_type": i.HTTP.ResponseContentType, "headers": i.HTTP.Headers,
			"form": rawOrNull(i.HTTP.Form), "triggers": i.HTTP.Triggers,
		},
		"created_datetime": gtime(i.CreatedDatetime), "updated_datetime": gtime(i.UpdatedDatetime),
		"deactivated_datetime": gtimep(i.DeactivatedDatetime), "locked_datetime": nil,
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes the documented legacy shape {"error": {"msg", "data"}}.
func writeError(w http.ResponseWriter, status int, msg string, data map[string][]string) {
	writeJSON(w, status, errorJSON(msg, data))
}

func errorJSON(msg string, data map[string][]string) map[string]any {
	e := map[string]any{"msg": msg}
	if len(data) > 0 {
		e["data"] = data
	}
	return map[string]any{"error": e}
}

func writeEmpty(w http.ResponseWriter, status int) { w.WriteHeader(status) }

// sortKey orders list items and is what a cursor remembers.
type sortKey struct {
	t  time.Time
	id int64
}

func (k sortKey) less(o sortKey) bool {
	if !k.t.Equal(o.t) {
		return k.t.Before(o.t)
	}
	return k.id < o.id
}

func encodeCursor(k sortKey, desc bool) string {
	dir := "a"
	if desc {
		dir = "d"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d:%d", dir, k.t.UnixNano(), k.id)))
}

func decodeCursor(c string) (sortKey, bool, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return sortKey{}, false, err
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || (parts[0] != "a" && parts[0] != "d") {
		return sortKey{}, false, errors.New("bad cursor")
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return sortKey{}, false, errors.New("bad cursor")
	}
	return sortKey{time.Unix(0, ns), id}, parts[0] == "d", nil
}

// listParams reads limit, cursor and order_by like Gorgias: limit 1..100 (default 30),
// order_by "<field>:asc|desc" among allowed fields.
type listParams struct {
	limit  int
	desc   bool
	field  string
	after  *sortKey
	errMsg string
}

func (s *Server) readListParams(r *http.Request, fields ...string) listParams {
	q := r.URL.Query()
	p := listParams{limit: DefaultPageLimit, field: "created_datetime"}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			p.errMsg = "limit: Must be greater than or equal to 1 and less than or equal to 100."
			return p
		}
		p.limit = n
	}
	p.limit = min(p.limit, s.cfg.MaxLimit)
	if v := q.Get("order_by"); v != "" {
		f, dir, _ := strings.Cut(v, ":")
		ok := false
		for _, allowed := range fields {
			ok = ok || f == allowed
		}
		if !ok || (dir != "" && dir != "asc" && dir != "desc") {
			p.errMsg = "order_by: Invalid value."
			return p
		}
		p.field, p.desc = f, dir == "desc"
	}
	if v := q.Get("cursor"); v != "" {
		k, desc, err := decodeCursor(v)
		if err != nil || desc != p.desc {
			p.errMsg = "cursor: Invalid cursor."
			return p
		}
		p.after = &k
	}
	return p
}

// paginate sorts items by key, skips past the cursor and cuts a page.
func paginate[T any](items []T, key func(T) sortKey, p listParams) (page []T, next string) {
	sortItems(items, key, p.desc)
	start := 0
	if p.after != nil {
		for start < len(items) {
			k := key(items[start])
			if (!p.desc && p.after.less(k)) || (p.desc && k.less(*p.after)) {
				break
			}
			start++
		}
	}
	end := min(len(items), start+p.limit)
	page = items[start:end]
	if end < len(items) && len(page) > 0 {
		next = encodeCursor(key(page[len(page)-1]), p.desc)
	}
	return page, next
}

func sortItems[T any](items []T, key func(T) sortKey, desc bool) {
	slices.SortStableFunc(items, func(a, b T) int {
		ka, kb := key(a), key(b)
		c := 0
		if ka.less(kb) {
			c = -1
		} else if kb.less(ka) {
			c = 1
		}
		if desc {
			c = -c
		}
		return c
	})
}

func listJSON(r *http.Request, data []any, next string) map[string]any {
	var nc any
	if next != "" {
		nc = next
	}
	return map[string]any{"data": data, "object": "list", "uri": r.URL.RequestURI(),
		"meta": map[string]any{"prev_cursor": nil, "next_cursor": nc}}
}
