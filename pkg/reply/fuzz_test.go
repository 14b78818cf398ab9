package reply_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

type staticSecret string

func (s staticSecret) Value(context.Context, string) (string, error) { return string(s), nil }

var _ webhook.Secrets = staticSecret("")

// FuzzHandle drives the webhook handler and the reply use case together with in-process fakes:
// whatever the body, no panic, no 5xx (the fakes never fail), a JSON answer without the secret,
// and never more than one reply per review.
func FuzzHandle(f *testing.F) {
	const secret = "fuzz-secret-value"
	for _, seed := range []string{
		string(eventBody(serviceTicket, 1, "")),
		string(eventBody(productTicket, 2, "")),
		string(eventBody(serviceTicket, 3, `"from_agent":true,"public":true,"channel":"email","via":"helpdesk","rule_id":null`)),
		`{"ticket_id":10,"message_id":1,"channel":"internal-note"}`,
		`{"ticket_id":"10","message_id":"1e3"}`,
		`{"ticket_id":10,"message_id":-1,"public":"maybe"}`,
		`{"event":"ticket-updated","ticket_id":10,"message_id":1}`,
		`{"ticket_id":10,"message_id":1,"ticket_external_id":"trustpilot:5f0c000000000000000000a1"}`,
		`{"ticket_id":10,"message_id":1} trailing`,
		`{"ticket_id":99999999999999999999,"message_id":1}`,
		`[1,2,3]`, `null`, `"str"`, ``, `{`, "\x00\xff",
	} {
		f.Add(seed, false, secret)
	}
	f.Add("eyJ0aWNrZXRfaWQiOjEwLCJtZXNzYWdlX2lkIjoxfQ==", true, secret)
	f.Add(`{}`, false, "wrong")
	f.Fuzz(func(t *testing.T, body string, b64 bool, got string) {
		w := newWorld(t)
		w.hd.messages[1] = agentMessage(1, serviceTicket, "Thanks!")
		w.hd.messages[2] = agentMessage(2, productTicket, "<p>Thanks!</p>")
		w.hd.messages[3] = agentMessage(3, serviceTicket, "Second.")
		h := &webhook.Handler{SecretID: "arn", Secrets: staticSecret(secret), Processor: w.svc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		req := events.APIGatewayV2HTTPRequest{Body: body, IsBase64Encoded: b64, Headers: map[string]string{"x-pilotdesk-secret": got}}
		req.RequestContext.HTTP.Method = "POST"
		for range 2 { // a repeated delivery must change nothing
			resp, err := h.Handle(context.Background(), req)
			if err != nil {
				t.Fatalf("Handle returned an error: %v", err)
			}
			if resp.StatusCode >= 500 || resp.StatusCode < 200 {
				t.Fatalf("status %d for %q: %s", resp.StatusCode, body, resp.Body)
			}
			var r struct{ Message string }
			if json.Unmarshal([]byte(resp.Body), &r) != nil || r.Message == "" {
				t.Fatalf("answer %q is not a JSON message", resp.Body)
			}
			if strings.Contains(resp.Body, secret) {
				t.Fatalf("the secret is in the answer")
			}
		}
		if len(w.tp.replies) > 1 || len(w.tp.comments) > 1 {
			t.Fatalf("%d replies, %d comments for one body", len(w.tp.replies), len(w.tp.comments))
		}
	})
}
