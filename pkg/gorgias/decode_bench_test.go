package gorgias_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
)

// BenchmarkDecodeCreatedTicket decodes what the simulator answers to a review's create: the
// sync decodes one per new review ("create-answer", the identity only, as CreateTicket reads
// it), and "ticket" is the whole ticket as GetTicket reads it.
func BenchmarkDecodeCreatedTicket(b *testing.B) {
	sim := startSim(b, gorgiassim.Config{})
	payload, err := gorgias.BuildTicketPayload(reviewTicket("aaaaaaaaaaaaaaaaaaaaaab1"))
	if err != nil {
		b.Fatal(err)
	}
	body := simAnswer(b, sim, http.MethodPost, "/api/tickets", payload)
	b.Run("create-answer", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			t, err := gorgias.DecodeCreateAnswer(body)
			if err != nil || t.ID == 0 || t.CustomerEmail == "" {
				b.Fatal(t.ID, err)
			}
		}
	})
	b.Run("ticket", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var t gorgias.Ticket
			if err := json.Unmarshal(body, &t); err != nil || t.ID == 0 || len(t.Messages) != 1 {
				b.Fatal(t.ID, err)
			}
		}
	})
}

// BenchmarkDecodeTicketList decodes a page of 100 tickets as the simulator lists them for the
// reply sweep (each with its customer and the sidebar's data on it): "updates" as
// ListTicketsUpdated reads it, "tickets" the whole tickets it read before.
func BenchmarkDecodeTicketList(b *testing.B) {
	sim := startSim(b, gorgiassim.Config{})
	c := newClient(b, sim, fastOptions())
	ctx := context.Background()
	for i := range 100 {
		if _, err := c.CreateTicket(ctx, reviewTicket(fmt.Sprintf("dddddddddddddddddddddd%02d", i))); err != nil {
			b.Fatal(err)
		}
	}
	cust := sim.Tickets(sim.Accounts()[0].ID)[0].CustomerID
	if err := sim.SetCustomerData(cust, json.RawMessage(`{"pilotdesk":{"reviews":[{"stars":5,"title":"Great","text":"Arrived early, well packed."}]}}`)); err != nil {
		b.Fatal(err)
	}
	body := simAnswer(b, sim, http.MethodGet, "/api/tickets?order_by=updated_datetime:desc&limit=100", nil)
	b.Run("updates", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			u, err := gorgias.DecodeTicketUpdates(body)
			if err != nil || len(u) != 100 || u[0].ID == 0 {
				b.Fatal(len(u), err)
			}
		}
	})
	b.Run("tickets", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var page struct{ Data []gorgias.Ticket }
			if err := json.Unmarshal(body, &page); err != nil || len(page.Data) != 100 {
				b.Fatal(len(page.Data), err)
			}
		}
	})
}

// simAnswer is the simulator's raw answer to one API call (a 2xx, else the benchmark fails).
func simAnswer(b *testing.B, sim *gorgiassim.Server, method, path string, payload []byte) []byte {
	b.Helper()
	acct := account(sim)
	req, _ := http.NewRequestWithContext(context.Background(), method, acct.BaseURL+path, bytes.NewReader(payload))
	req.SetBasicAuth(acct.Email, acct.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	return body
}
