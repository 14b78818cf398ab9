package gorgias

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

func FuzzParseWebhook(f *testing.F) {
	for _, s := range []string{
		`{"event":"ticket-message-created","ticket_id":"12","message_id":"34","from_agent":"True","public":"False","rule_id":"None"}`,
		`{"ticket_id":12,"message_id":34,"from_agent":true,"public":false,"rule_id":null,"created":"2025-02-12 10:11:12.1+00:00"}`,
		`{"ticket_id":"1e3","message_id":"0x10"}`,
		`{"ticket_id":1.0,"message_id":9007199254740993}`,
		`{"ticket_id":"1","message_id":"2"}{"x":1}`,
		`{"ticket_id":"1","message_id":"2","ticket_id":"3"}`,
		`[]`, `null`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseWebhook(body)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error not invalid: %v", err)
			}
			if ev != (WebhookEvent{}) {
				t.Fatalf("event with error: %+v", ev)
			}
			return
		}
		if ev.TicketID <= 0 || ev.MessageID < 0 || ev.RuleID < 0 || ev.Event == "" {
			t.Fatalf("accepted bad event %+v from %q", ev, body)
		}
		// What we parsed must parse again to the same event when re-encoded with JSON types.
		re, _ := json.Marshal(map[string]any{
			"event": ev.Event, "ticket_id": ev.TicketID, "message_id": ev.MessageID, "ticket_external_id": ev.TicketExternalID,
			"ticket_channel": ev.TicketChannel, "from_agent": ev.FromAgent, "public": ev.Public, "channel": ev.Channel,
			"via": ev.Via, "rule_id": ev.RuleID, "sender_email": ev.SenderEmail,
		})
		ev2, err := ParseWebhook(re)
		ev.Created = ev2.Created
		if err != nil {
			if ev.RuleID == 0 { // rule_id 0 means "none" and re-encodes as an invalid id
				return
			}
			t.Fatalf("re-encoded event does not parse: %v (%s)", err, re)
		}
		// Strings are trimmed and null-like values dropped on the first parse only for some
		// fields, so compare the fields that must be stable.
		if ev2.TicketID != ev.TicketID || ev2.MessageID != ev.MessageID || ev2.FromAgent != ev.FromAgent || ev2.Public != ev.Public {
			t.Fatalf("round trip changed %+v into %+v", ev, ev2)
		}
	})
}

func FuzzParseAPIError(f *testing.F) {
	for _, s := range []string{
		`{"error":{"msg":"Failed to create ticket","data":{"customer":["Missing data for required field."]}}}`,
		`{"error":{"msg":"x","data":{"messages":{"0":{"via":["Missing."]}}}}}`,
		`{"error":"Not authenticated"}`, `{"message":"No access"}`,
		`{"errors":[{"field":"a","message":"bad"},"loose",[1,[2]]]}`,
		`<html><TITLE>502</TITLE></html>`, `<title>`, "\x00\xff", ``,
	} {
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseAPIError(status, body)
		msg := e.Error()
		if !utf8.ValidString(msg) || e.Message == "" && http.StatusText(status) != "" {
			t.Fatalf("bad message %q", msg)
		}
		if len(e.Message) > maxErrText+len("…") || len(e.Fields) > maxErrFields {
			t.Fatalf("unbounded: message %d bytes, %d fields", len(e.Message), len(e.Fields))
		}
		for k, v := range e.Fields {
			if len(v) > 5 || len(k) > maxErrText+len("…") {
				t.Fatalf("unbounded field %q: %d messages", k, len(v))
			}
		}
		if strings.ContainsAny(msg, "\n\r\x00") {
			t.Fatalf("control characters in %q", msg)
		}
		var ae *APIError
		if !errors.As(errs.E(kindForStatus(status), "op", e), &ae) {
			t.Fatal("not unwrappable")
		}
	})
}

// FuzzMergedInto: a merge's Location is the helpdesk's text; reading it never panics, and an id
// read from it is positive and appears in it.
func FuzzMergedInto(f *testing.F) {
	for _, s := range []string{"/api/customers/42/data", "https://a.gorgias.com/api/customers/1", "/api/customers/%zz", "", "/api/customers/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		id, ok := mergedInto(&APIError{Status: http.StatusMovedPermanently, Location: loc})
		path, _ := url.PathUnescape(loc)
		if n := strconv.FormatInt(id, 10); ok && (id <= 0 || !(strings.Contains(loc, n) || strings.Contains(path, n))) {
			t.Fatalf("Location %q read as customer %d", loc, id)
		}
	})
}

// FuzzDecodeObjectFields holds create's answer reader to json.Unmarshal: for any body the
// standard decoder accepts, the reader must accept it too and produce the same ticket identity.
// (It may accept a body whose skipped members are malformed; it never reads them.)
func FuzzDecodeObjectFields(f *testing.F) {
	for _, s := range []string{
		`{"id":12,"uri":"/api/tickets/12/","external_id":"trustpilot:R1","status":"open","customer":{"id":7,"email":"a@b.c"},"messages":[{"body_text":"5 \"stars\" {not} [json]","body_html":"<p>\\</p>"}]}`,
		` { "messages" : [ { "a" : [1, 2, {"b": "}"}] } ], "id" : 3 } `,
		`{"id":1,"id":2}`,
		`{"customer":{"id":1,"email":"x"},"customer":{"id":2}}`,
		`{"customer":{"id":1},"customer":null}`,
		`{"ID":5}`, `{"Status":"closed","status":"open"}`, `{"\u0069d":9}`, `{"ſtatus":"x"}`,
		`{"id":"12"}`, `{"id":1.5}`, `{"id":1e3}`, `{"external_id":null,"status":null}`,
		`{"id":1}x`, `{"id":1}{"id":2}`, `{"id":1,}`, `{"id" 1}`, `{"id":1 2}`, `{"messages":[1,2}`,
		`{"id":1,"messages":[tru]}`, `{"id":1,"x":"\`, `{"id":1,"x":"\"}`, `{`, `{}`, ` {} `, `[]`, `null`, `"x"`, ``,
		`{"customer":"x"}`, `{"customer":[1]}`, `{"customer":{"ID":1}}`, `{"customer":{"id":1,"email":null}}`,
		`{"customer":{"id":1},"customer":{"email":"e"}}`, `{"customer": null , "id":1}`, `{"customer":{"id":1}x}`,
		`{"customer":{"integrations":{"7":{"data":{"id":99,"email":"no"}}},"id":3,"email":"a@b"}}`,
		"{\"id\":1,\"x\":\"\xff\"}",
		`{"uri":"a\u00e9\ud83d\ude00"}`, `{"uri":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var std, fast createdTicket
		sameAsUnmarshal(t, body, json.Unmarshal(body, &std), fast.decodeFields(body), std, fast)
	})
}

// FuzzDecodeTicketUpdates holds the sweep's page reader to json.Unmarshal: for any page the
// standard decoder accepts, the reader accepts it too and reads the same tickets and cursor.
func FuzzDecodeTicketUpdates(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"id":1,"external_id":"trustpilot:R1","created_datetime":"2026-01-02T03:04:05.123456+00:00","updated_datetime":"2026-01-02T03:04:06Z","last_message_datetime":null,"customer":{"id":7,"integrations":{"9":{"data":{"id":99,"x":"]}"}}}},"tags":[{"name":"a"}],"meta":{"trustpilot":{"stars":5}}}],"meta":{"next_cursor":"abc","prev_cursor":null}}`,
		`{"data":[],"meta":{"next_cursor":null}}`, `{"data":null}`, `{"data":[null,{"id":2}]}`, `{"data":[1]}`, `{"data":["x"]}`,
		`{"data":[{"id":1}],"data":[{"id":2},{"id":3}]}`, `{"meta":{"next_cursor":"a"},"meta":{}}`, `{"Data":[{"id":1}]}`,
		`{"data":[{"ID":1,"id":2}]}`, `{"data":[{"id":1},]}`, `{"data":[{"id":1} {"id":2}]}`, `{"data":[{"id":1}`, `{"data":[`,
		`{"data":[{"updated_datetime":"2026-01-02 03:04:05"}]}`, `{"data":[{"updated_datetime":"n\u00e9"}]}`, `{"data":[{"created_datetime":5}]}`,
		`{"data":[{"external_id":"a\"b"}]} `, `{"data" : [ { "id" : 4 } , null ] , "meta" : { "next_cursor" : "c" } }`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var std listPage[wireTicketUpdate] // without decodeFields
		var fast updatesPage
		sameAsUnmarshal(t, body, json.Unmarshal(body, &std), fast.decodeFields(body), updatesPage(std), fast)
	})
}

// sameAsUnmarshal fails when json.Unmarshal accepted body (stdErr nil) and a member-by-member
// reader did not, or read other values.
func sameAsUnmarshal[T any](t *testing.T, body []byte, stdErr, fastErr error, std, fast T) {
	t.Helper()
	if stdErr != nil {
		return
	}
	if fastErr != nil {
		t.Fatalf("json.Unmarshal accepts %q, decodeFields: %v", body, fastErr)
	}
	if !reflect.DeepEqual(std, fast) {
		t.Fatalf("%q: decodeFields %+v, json.Unmarshal %+v", body, fast, std)
	}
}
