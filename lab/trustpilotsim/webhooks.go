package trustpilotsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Webhook event names, as Trustpilot sends them (reference §5.3).
const (
	EventCreated = "service-review-created"
	EventUpdated = "service-review-updated"
	EventDeleted = "service-review-deleted"
)

// WebhookEvent is one event of a batch, in the documented shape.
type WebhookEvent struct {
	EventName string         `json:"eventName"`
	Version   string         `json:"version"`
	EventData map[string]any `json:"eventData"`
}

// Delivery is the outcome of one webhook POST.
type Delivery struct {
	URL    string `json:"url"`
	Events int    `json:"events"`
	Status int    `json:"status"` // 0 when no answer came
	Body   string `json:"body,omitempty"`
	Error  string `json:"error,omitempty"`
}

// SetWebhookURL subscribes url to a business unit's three service-review events ("" stops):
// from then on every created, edited or deleted service review of the unit is queued, and
// FlushWebhooks sends what is queued as one batch, as Trustpilot batches its events.
func (s *Sim) SetWebhookURL(unitID, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[unitID]
	if !ok {
		return fmt.Errorf("unknown business unit %q", unitID)
	}
	u.WebhookURL = url
	return nil
}

// queueEventLocked notes an event for the unit's subscription, if it has one; s.mu is held.
func (s *Sim) queueEventLocked(unitID, name string, r *ServiceReview) {
	u, ok := s.units[unitID]
	if !ok || u.WebhookURL == "" {
		return
	}
	data := map[string]any{"id": r.ID}
	if name != EventDeleted {
		// The documented payload: no email, no reply; the consumer's field is "name".
		data["language"], data["title"], data["text"], data["stars"] = r.Language, r.Title, r.Text, r.Stars
		data["createdAt"], data["referenceId"], data["isVerified"] = r.CreatedAt, r.ReferenceID, r.IsVerified
		data["link"] = "https://api.trustpilot.com/v1/reviews/" + r.ID
		data["consumer"] = map[string]any{"id": r.Consumer.ID, "name": r.Consumer.DisplayName}
	}
	s.pending[unitID] = append(s.pending[unitID], WebhookEvent{EventName: name, Version: "1", EventData: data})
}

// PendingWebhooks is how many events wait for the next flush, over every unit.
func (s *Sim) PendingWebhooks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, evs := range s.pending {
		n += len(evs)
	}
	return n
}

// FlushWebhooks sends each subscribed unit's queued events as one batch to its URL; with
// duplicate, each batch is sent twice (Trustpilot's delivery guarantees are undocumented).
func (s *Sim) FlushWebhooks(ctx context.Context, duplicate bool) []Delivery {
	s.mu.Lock()
	type batch struct {
		url    string
		events []WebhookEvent
	}
	var batches []batch
	for id, evs := range s.pending {
		if u := s.units[id]; u != nil && u.WebhookURL != "" && len(evs) > 0 {
			batches = append(batches, batch{u.WebhookURL, evs})
		}
	}
	s.pending = map[string][]WebhookEvent{}
	s.mu.Unlock()
	var out []Delivery
	for _, b := range batches {
		for range map[bool]int{false: 1, true: 2}[duplicate] {
			out = append(out, s.SendWebhook(ctx, b.url, b.events))
		}
	}
	return out
}

// SendWebhook POSTs one batch {"events":[...]} to url, as Trustpilot does: forged events, wrong
// keys and odd bodies are the caller's to choose.
func (s *Sim) SendWebhook(ctx context.Context, url string, events []WebhookEvent) Delivery {
	body, _ := json.Marshal(map[string]any{"events": events})
	return s.SendWebhookBody(ctx, url, body, len(events))
}

// SendWebhookBody POSTs a raw body to url.
func (s *Sim) SendWebhookBody(ctx context.Context, url string, body []byte, events int) Delivery {
	d := Delivery{URL: url, Events: events}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		d.Error = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Trustpilot-Webhooks")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(http.MaxBytesReader(nil, resp.Body, 64<<10))
	d.Status, d.Body = resp.StatusCode, b.String()
	return d
}
