package trustpilot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Trustpilot's webhook event names (reference §5.3).
const (
	EventCreated = "service-review-created"
	EventUpdated = "service-review-updated"
	EventDeleted = "service-review-deleted"
)

// WebhookPath is where a Pilotdesk stack takes Trustpilot's webhook calls; the connection and
// its key are query parameters (`pilotdesk trustpilot webhook-url` prints the whole URL).
const WebhookPath = "/trustpilot/events"

// MaxEvents bounds the events one webhook body may carry; a larger batch is refused (413-like
// abuse is caught before by the body limit, this keeps one job small).
const MaxEvents = 500

// Event is one review event of a webhook batch. The body is only a hint (Trustpilot does not
// sign it): what happens is decided after reading the review from the private API.
type Event struct {
	Name     string `json:"event"`
	ReviewID string `json:"review_id"`
	// CreatedAt is the review's createdAt as the event gave it (zero when absent or
	// unreadable): only a hint of where in the review list the worker finds it.
	CreatedAt time.Time `json:"created_at"`
}

// Events is a parsed webhook body.
type Events struct {
	Events  []Event // known events with a valid review id, in body order, duplicates removed
	Ignored int     // events of another name, or without a usable id
}

// ParseEvents reads a webhook body {"events":[{"eventName":...,"eventData":{"id":...}}]}. A body
// that is not that object is errs.Invalid; single events that cannot be used are counted in
// Ignored, not fatal, so one odd event never loses the others of its batch.
func ParseEvents(body []byte) (Events, error) {
	const op = "trustpilot.ParseEvents"
	var wire struct {
		Events []json.RawMessage `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&wire); err != nil {
		return Events{}, errs.E(errs.Invalid, op, fmt.Errorf("not a JSON object with an events array: %w", err))
	}
	if dec.More() {
		return Events{}, errs.E(errs.Invalid, op, errors.New("trailing data after the JSON object"))
	}
	if wire.Events == nil {
		return Events{}, errs.E(errs.Invalid, op, errors.New(`no "events" array`))
	}
	if len(wire.Events) > MaxEvents {
		return Events{}, errs.E(errs.Invalid, op, fmt.Errorf("%d events in one body; at most %d", len(wire.Events), MaxEvents))
	}
	var out Events
	seen := map[[2]string]bool{} // name, review id
	for _, raw := range wire.Events {
		var ev struct {
			Name string `json:"eventName"`
			Data struct {
				ID        any `json:"id"`
				CreatedAt any `json:"createdAt"`
			} `json:"eventData"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			out.Ignored++
			continue
		}
		id, _ := ev.Data.ID.(string)
		e := Event{Name: ev.Name, ReviewID: id}
		if s, ok := ev.Data.CreatedAt.(string); ok {
			e.CreatedAt, _ = ParseTime(s)
		}
		switch {
		case ev.Name != EventCreated && ev.Name != EventUpdated && ev.Name != EventDeleted, !review.ValidID(id):
			out.Ignored++
		case seen[[2]string{e.Name, e.ReviewID}]:
			// a duplicate inside the batch: one job handles it once
		default:
			seen[[2]string{e.Name, e.ReviewID}] = true
			out.Events = append(out.Events, e)
		}
	}
	return out, nil
}
