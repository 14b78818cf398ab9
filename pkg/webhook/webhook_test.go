package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

type fakeSecrets struct {
	value string
	err   error
}

func (f fakeSecrets) Value(context.Context, string) (string, error) { return f.value, f.err }

type fakeProcessor struct {
	calls   int
	got     gorgias.WebhookEvent
	outcome string
	err     error
}

func (f *fakeProcessor) Process(_ context.Context, ev gorgias.WebhookEvent) (string, error) {
	f.calls++
	f.got = ev
	return f.outcome, f.err
}

// event is a well-formed delivery, rendered the way Gorgias renders the installed template.
const event = `{"event":"ticket-message-created","ticket_id":"12","message_id":"34","public":"True","from_agent":"True"}`

var _ webhook.Processor = (*fakeProcessor)(nil)

func req(method, secret, body string, b64 bool) events.APIGatewayV2HTTPRequest {
	r := events.APIGatewayV2HTTPRequest{Body: body, IsBase64Encoded: b64, Headers: map[string]string{}}
	r.RequestContext.HTTP.Method = method
	if secret != "" {
		r.Headers["x-pilotdesk-secret"] = secret
	}
	return r
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("a", webhook.MaxBody+1)
	tests := []struct {
		name      string
		secrets   fakeSecrets
		proc      fakeProcessor
		req       events.APIGatewayV2HTTPRequest
		status    int
		processed bool
	}{
		{"ok", fakeSecrets{value: "s3cret"}, fakeProcessor{outcome: "posted"}, req("POST", "s3cret", event, false), 200, true},
		{"base64", fakeSecrets{value: "s3cret"}, fakeProcessor{outcome: "posted"}, req("POST", "s3cret", base64.StdEncoding.EncodeToString([]byte(event)), true), 200, true},
		{"bad base64", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cret", "%%%", true), 400, false},
		{"wrong secret", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cres", event, false), 401, false},
		{"no secret", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "", event, false), 401, false},
		{"secret prefix", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3c", event, false), 401, false},
		{"empty stored secret never matches", fakeSecrets{value: ""}, fakeProcessor{}, req("POST", "", event, false), 401, false},
		{"method", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("GET", "s3cret", ``, false), 405, false},
		{"too large", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cret", big, false), 413, false},
		{"empty body", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cret", "  ", false), 400, false},
		{"malformed JSON", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cret", `{"event":`, false), 400, false},
		{"not an object", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cret", `[1,2]`, false), 400, false},
		{"missing ticket id", fakeSecrets{value: "s3cret"}, fakeProcessor{}, req("POST", "s3cret", `{"event":"ticket-message-created","message_id":"34"}`, false), 400, false},
		{"invalid input found by the use case", fakeSecrets{value: "s3cret"}, fakeProcessor{err: errs.E(errs.Invalid, "x", errors.New("bad"))}, req("POST", "s3cret", event, false), 400, true},
		{"our failure", fakeSecrets{value: "s3cret"}, fakeProcessor{err: errs.E(errs.Transient, "x", errors.New("dynamodb down"))}, req("POST", "s3cret", event, false), 503, true},
		{"connection refused by the helpdesk: acknowledged, not retried", fakeSecrets{value: "s3cret"}, fakeProcessor{err: errs.E(errs.Permission, "x", errors.New("401 from the helpdesk"))}, req("POST", "s3cret", event, false), 200, true},
		{"secret store down", fakeSecrets{err: errors.New("boom")}, fakeProcessor{}, req("POST", "s3cret", event, false), 503, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.proc
			h := &webhook.Handler{SecretID: "arn", Secrets: tc.secrets, Processor: &p, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			resp, err := h.Handle(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, resp.Body, tc.status)
			}
			if (p.calls > 0) != tc.processed {
				t.Fatalf("processed=%v, want %v", p.calls > 0, tc.processed)
			}
			if p.calls > 0 && (p.got.TicketID != 12 || p.got.MessageID != 34 || p.got.Event != gorgias.EventMessageCreated) {
				t.Fatalf("processor got %+v, want the parsed event of ticket 12, message 34", p.got)
			}
			var body struct{ Message string }
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Message == "" {
				t.Fatalf("body %q is not a JSON message", resp.Body)
			}
			if strings.Contains(resp.Body, "dynamodb") || strings.Contains(resp.Body, "s3cret") {
				t.Fatalf("internal detail or secret in the answer: %s", resp.Body)
			}
		})
	}
}

type fakeInbox struct {
	calls  int
	conn   string
	key    string
	events []trustpilot.Event
	err    error
}

func (f *fakeInbox) Receive(_ context.Context, connID, key string, evs []trustpilot.Event) (int, error) {
	f.calls++
	f.conn, f.key, f.events = connID, key, evs
	return len(evs), f.err
}

func tpReq(query map[string]string, body string) events.APIGatewayV2HTTPRequest {
	r := events.APIGatewayV2HTTPRequest{RawPath: webhook.TrustpilotPath, Body: body, QueryStringParameters: query, Headers: map[string]string{}}
	r.RequestContext.HTTP.Method = "POST"
	return r
}

// Trustpilot's calls: the connection's URL key is the only authentication; bad input is a 4xx
// and reaches nothing; a wrong key is refused by the inbox without anything queued.
func TestTrustpilotRoute(t *testing.T) {
	t.Parallel()
	const batch = `{"events":[{"eventName":"service-review-created","version":"1","eventData":{"id":"5f0000000000000000000001"}},` +
		`{"eventName":"service-review-created","eventData":{"id":"5f0000000000000000000001"}},` +
		`{"eventName":"service-review-liked","eventData":{"id":"5f0000000000000000000002"}}]}`
	ok := map[string]string{"connection": "shop", "key": "k3y"}
	big := `{"events":[],"pad":"` + strings.Repeat("a", webhook.MaxBody) + `"}`
	for _, tc := range []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		err    error
		status int
		queued bool
	}{
		{"batch", tpReq(ok, batch), nil, 200, true},
		{"no key", tpReq(map[string]string{"connection": "shop"}, batch), nil, 401, false},
		{"no connection", tpReq(map[string]string{"key": "k3y"}, batch), nil, 401, false},
		{"wrong key", tpReq(ok, batch), errs.E(errs.Permission, "inbox", errors.New("wrong key")), 401, true},
		{"not JSON", tpReq(ok, "{"), nil, 400, false},
		{"no events array", tpReq(ok, `{"event":"x"}`), nil, 400, false},
		{"empty", tpReq(ok, ""), nil, 400, false},
		{"too large", tpReq(ok, big), nil, 413, false},
		{"queue down", tpReq(ok, batch), errs.E(errs.Transient, "queue", errors.New("503")), 503, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inbox := &fakeInbox{err: tc.err}
			h := &webhook.Handler{Secrets: fakeSecrets{err: errors.New("the helpdesk secret must not be read")}, Processor: &fakeProcessor{},
				Trustpilot: inbox, Log: slog.New(slog.DiscardHandler)}
			resp, err := h.Handle(context.Background(), tc.req)
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("status %d (%v) %s, want %d", resp.StatusCode, err, resp.Body, tc.status)
			}
			if (inbox.calls == 1) != tc.queued {
				t.Fatalf("inbox called %d times, want called: %v", inbox.calls, tc.queued)
			}
			if tc.name == "batch" && (len(inbox.events) != 1 || inbox.conn != "shop" || inbox.key != "k3y" || !strings.Contains(resp.Body, "1 ignored")) {
				t.Fatalf("inbox got %+v for %s/%s; answer %s", inbox.events, inbox.conn, inbox.key, resp.Body)
			}
		})
	}
}
