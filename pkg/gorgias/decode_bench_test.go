package gorgias_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	acct := account(sim)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, acct.BaseURL+"/api/tickets", bytes.NewReader(payload))
	req.SetBasicAuth(acct.Email, acct.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		b.Fatalf("create: %d %s", resp.StatusCode, body)
	}
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
