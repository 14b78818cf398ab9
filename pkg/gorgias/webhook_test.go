package gorgias_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
)

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    gorgias.WebhookEvent
		wantErr string
	}{
		{
			name: "gorgias strings",
			body: `{"event":"ticket-message-created","ticket_id":"12","ticket_external_id":"trustpilot:abc","ticket_channel":"email",
				"message_id":"34","from_agent":"True","public":"True","channel":"email","via":"helpdesk","rule_id":"None",
				"sender_email":"agent@acme.test","created":"2025-02-12T10:11:12.123456+00:00","extra":"ignored"}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 12, MessageID: 34, TicketExternalID: "trustpilot:abc",
				TicketChannel: "email", FromAgent: true, Public: true, Channel: "email", Via: "helpdesk", SenderEmail: "agent@acme.test",
				Created: time.Date(2025, 2, 12, 10, 11, 12, 123456000, time.UTC)},
		},
		{
			name: "json types",
			body: `{"ticket_id":12,"message_id":34.0,"from_agent":true,"public":false,"rule_id":7,"channel":"internal-note","created":"2025-02-12 10:11:12"}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 12, MessageID: 34, FromAgent: true, RuleID: 7,
				Channel: "internal-note", Created: time.Date(2025, 2, 12, 10, 11, 12, 0, time.UTC)},
		},
		{
			name: "lowercase and digits",
			body: `{"ticket_id":" 12 ","message_id":"34","from_agent":"true","public":"1","ticket_external_id":"None","sender_email":"null"}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 12, MessageID: 34, FromAgent: true, Public: true},
		},
		{
			name: "falsy forms",
			body: `{"ticket_id":"12","message_id":"34","from_agent":"False","public":"0","rule_id":"","via":null}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 12, MessageID: 34},
		},
		{name: "empty booleans", body: `{"ticket_id":"1","message_id":"2","from_agent":"","public":null}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 1, MessageID: 2}},
		{name: "unreadable created is ignored", body: `{"ticket_id":"1","message_id":"2","created":"yesterday"}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 1, MessageID: 2}},
		{name: "missing ticket_id", body: `{"message_id":"2"}`, wantErr: `missing required field "ticket_id"`},
		{name: "empty message_id (template without message.*)", body: `{"ticket_id":"1","message_id":""}`,
			want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 1}},
		{name: "message_id None", body: `{"ticket_id":"1","message_id":"None"}`, want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 1}},
		{name: "message_id missing", body: `{"ticket_id":"1"}`, want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 1}},
		{name: "message_id unreadable", body: `{"ticket_id":"1","message_id":"{{message.id}}"}`, want: gorgias.WebhookEvent{Event: "ticket-message-created", TicketID: 1}},
		{name: "ticket_id not a number", body: `{"ticket_id":"abc","message_id":"2"}`, wantErr: `"ticket_id"`},
		{name: "negative id", body: `{"ticket_id":-1,"message_id":"2"}`, wantErr: `"ticket_id"`},
		{name: "fractional id", body: `{"ticket_id":1.5,"message_id":"2"}`, wantErr: `"ticket_id"`},
		{name: "bad boolean", body: `{"ticket_id":1,"message_id":2,"public":"maybe"}`, wantErr: `"public"`},
		{name: "boolean as object", body: `{"ticket_id":1,"message_id":2,"from_agent":{}}`, wantErr: `"from_agent"`},
		{name: "string as list", body: `{"ticket_id":1,"message_id":2,"via":["api"]}`, wantErr: `"via"`},
		{name: "not json", body: `ticket_id=1`, wantErr: "not a JSON object"},
		{name: "array", body: `[1,2]`, wantErr: "not a JSON object"},
		{name: "null", body: `null`, wantErr: "not a JSON object"},
		{name: "trailing data", body: `{"ticket_id":1,"message_id":2} {}`, wantErr: "trailing"},
		{name: "too large", body: `{"x":"` + strings.Repeat("a", gorgias.MaxWebhookBytes) + `"}`, wantErr: "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := gorgias.ParseWebhook([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want invalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestWebhookRoundTrip installs the integration through the client, lets the simulator render and
// deliver the template the way Gorgias does, and parses what arrives.
func TestWebhookRoundTrip(t *testing.T) {
	t.Parallel()
	for _, typed := range []bool{false, true} {
		name := "gorgias strings"
		if typed {
			name = "json values"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var bodies [][]byte
			var secrets []string
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, b)
				secrets = append(secrets, r.Header.Get(gorgias.SecretHeader))
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
			}))
			defer recv.Close()
			sim := startSim(t, gorgiassim.Config{TypedWebhookValues: typed})
			c := newClient(t, sim, fastOptions())
			ctx := context.Background()
			if _, err := c.CreateHTTPIntegration(ctx, gorgias.NewHTTPIntegration{Name: "Pilotdesk", URL: recv.URL + "/helpdesk/events", Secret: "s3cret"}); err != nil {
				t.Fatal(err)
			}
			tk, err := c.CreateTicket(ctx, reviewTicket("aaaaaaaaaaaaaaaaaaaaaaa9"))
			if err != nil {
				t.Fatal(err)
			}
			note, err := c.PostInternalNote(ctx, tk.ID, "a note")
			if err != nil {
				t.Fatal(err)
			}
			reply, err := sim.AgentReply(gorgiassim.AgentReply{TicketID: tk.ID, BodyText: "Thanks!"})
			if err != nil {
				t.Fatal(err)
			}
			rule, err := sim.AgentReply(gorgiassim.AgentReply{TicketID: tk.ID, BodyText: "auto", Rule: true})
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			ds, err := sim.WaitDeliveries(wctx, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if !d.OK {
					t.Fatalf("delivery failed: %+v", d)
				}
			}
			first, ok := sim.Ticket(tk.ID)
			if !ok || len(first.Messages) == 0 {
				t.Fatalf("ticket %d not stored with its message", tk.ID)
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[int64]gorgias.WebhookEvent{
				first.Messages[0].ID: {FromAgent: false, Public: true, Channel: "email", Via: "api", SenderEmail: "jane@example.com"},
				note.ID:              {FromAgent: true, Public: false, Channel: "internal-note", Via: "api", SenderEmail: sim.Accounts()[0].Email},
				reply.ID:             {FromAgent: true, Public: true, Channel: "email", Via: "helpdesk", SenderEmail: sim.Accounts()[0].Email},
				rule.ID:              {FromAgent: true, Public: true, Channel: "email", Via: "rule", RuleID: gorgiassim.RuleID, SenderEmail: sim.Accounts()[0].Email},
			}
			if len(bodies) != len(want) {
				t.Fatalf("received %d bodies, want %d", len(bodies), len(want))
			}
			for i, b := range bodies {
				if secrets[i] != "s3cret" {
					t.Errorf("secret header = %q", secrets[i])
				}
				jsonBool := strings.Contains(string(b), `"from_agent":true`) || strings.Contains(string(b), `"from_agent":false`)
				pyBool := strings.Contains(string(b), `"from_agent":"True"`) || strings.Contains(string(b), `"from_agent":"False"`)
				if jsonBool != typed || pyBool == typed {
					t.Errorf("typed=%v: body %s", typed, b)
				}
				ev, err := gorgias.ParseWebhook(b)
				if err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				w, ok := want[ev.MessageID]
				if !ok {
					t.Fatalf("unexpected message %d in %s", ev.MessageID, b)
				}
				w.Event, w.TicketID, w.MessageID = gorgias.EventMessageCreated, tk.ID, ev.MessageID
				w.TicketExternalID, w.TicketChannel, w.Created = tk.ExternalID, "email", ev.Created
				if ev != w || ev.Created.IsZero() {
					t.Errorf("parsed %+v\nwant   %+v\nfrom %s", ev, w, b)
				}
			}
		})
	}
}
