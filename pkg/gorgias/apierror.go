package gorgias

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// APIError is a non-2xx answer from Gorgias. It is wrapped in an errs.Error carrying its kind.
type APIError struct {
	Status   int
	Message  string              // Gorgias' message, or the status text when it gave none
	Fields   map[string][]string // per-field problems (400 "data", 422 "errors"); may be nil
	Location string              // for a 3xx: where Gorgias points (a merged customer)
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gorgias answered %d", e.Status)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(strings.Join(e.Fields[k], ", "))
		}
		b.WriteString(")")
	}
	return b.String()
}

// Limits on what an error body may put into an error message: bodies are untrusted and end up
// in logs and DLQ reasons.
const (
	maxErrText   = 300
	maxErrFields = 20
)

// parseAPIError reads every documented error shape leniently:
//
//	{"error": {"msg": "...", "data": {"field": ["..."]}}}   legacy, still current
//	{"error": "..."}  {"message": "..."}  {"error": {"message": "..."}}
//	{"errors": [{"field": "...", "message": "..."}]}      422
//
// and falls back to a short excerpt of a non-JSON body (a proxy's HTML page).
func parseAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	body = bytes.TrimSpace(body)
	var top map[string]json.RawMessage
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &top) == nil {
		if raw, ok := top["error"]; ok {
			var s string
			var obj map[string]json.RawMessage
			switch {
			case json.Unmarshal(raw, &s) == nil:
				e.Message = s
			case json.Unmarshal(raw, &obj) == nil:
				e.Message = firstString(obj, "msg", "message", "detail", "description")
				if d, ok := obj["data"]; ok {
					e.addFields("", d)
				}
				if d, ok := obj["errors"]; ok {
					e.addFields("", d)
				}
			}
		}
		if e.Message == "" {
			e.Message = firstString(top, "message", "msg", "detail", "error_description")
		}
		if raw, ok := top["errors"]; ok {
			e.addFields("", raw)
		}
	} else if len(body) > 0 {
		e.Message = excerpt(string(body))
	}
	e.Message = clean(e.Message)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

func firstString(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// addFields flattens a field-error structure: {"f": ["m"]}, {"f": "m"}, {"f": {"g": [...]}},
// [{"field": "f", "message": "m"}] or ["m"].
func (e *APIError) addFields(prefix string, raw json.RawMessage) {
	if len(e.Fields) >= maxErrFields {
		return
	}
	var s string
	var list []json.RawMessage
	var obj map[string]json.RawMessage
	switch {
	case json.Unmarshal(raw, &s) == nil:
		e.addField(prefix, s)
	case json.Unmarshal(raw, &list) == nil:
		for i, item := range list {
			var fe struct {
				Field   string `json:"field"`
				Message string `json:"message"`
				Msg     string `json:"msg"`
			}
			if json.Unmarshal(item, &fe) == nil && (fe.Field != "" || fe.Message != "" || fe.Msg != "") {
				e.addField(join(prefix, fe.Field), fe.Message+fe.Msg)
				continue
			}
			if json.Unmarshal(item, &s) == nil {
				e.addField(prefix, s)
				continue
			}
			e.addFields(join(prefix, fmt.Sprint(i)), item)
		}
	case json.Unmarshal(raw, &obj) == nil:
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e.addFields(join(prefix, k), obj[k])
		}
	}
}

func (e *APIError) addField(field, msg string) {
	msg = clean(msg)
	if msg == "" {
		return
	}
	field = clean(field)
	if field == "" {
		field = "_"
	}
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	if _, ok := e.Fields[field]; !ok && len(e.Fields) >= maxErrFields {
		return
	}
	if len(e.Fields[field]) < 5 {
		e.Fields[field] = append(e.Fields[field], msg)
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	if k == "" {
		return prefix
	}
	return prefix + "." + k
}

// excerpt keeps a non-JSON body readable in one log line.
func excerpt(s string) string {
	if strings.HasPrefix(s, "<") {
		// An HTML error page: its title is the useful part.
		// ASCII-only lowering keeps byte offsets valid in s (strings.ToLower may change lengths).
		lower := strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + ('a' - 'A')
			}
			return r
		}, s)
		if len(lower) != len(s) { // invalid UTF-8 was replaced: offsets would not match
			return s
		}
		if i := strings.Index(lower, "<title>"); i >= 0 {
			if j := strings.Index(lower[i:], "</title>"); j > 0 {
				return s[i+len("<title>") : i+j]
			}
		}
	}
	return s
}

// clean makes untrusted text safe for one log line: valid UTF-8, no control characters, bounded.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrText {
		cut := maxErrText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// RefusesField reports whether err is Gorgias refusing a request (400 or 422) for the named
// field or one under it ("custom_fields" matches "custom_fields.0.id"), or with a message
// naming it when the answer gave no per-field errors.
func RefusesField(err error, field string) bool {
	var e *APIError
	if !errors.As(err, &e) || (e.Status != http.StatusBadRequest && e.Status != http.StatusUnprocessableEntity) {
		return false
	}
	for k := range e.Fields {
		if k == field || strings.HasPrefix(k, field+".") || strings.HasPrefix(k, field+"[") {
			return true
		}
	}
	return len(e.Fields) == 0 && strings.Contains(strings.ToLower(e.Message), field)
}
