package trustpilot

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

func TestParseEvents(t *testing.T) {
	t.Parallel()
	// The documented shape (reference §5.3), with its extra fields, duplicates and odd events.
	body := `{"events":[
	  {"eventName":"service-review-created","version":"1","eventData":{"id":"507f191e810c19729de860ea","language":"en","stars":5,"createdAt":"2017-05-20T09:34:44.000Z",
	   "consumer":{"id":"507f191e810c19729de860eb","name":"A"},"tags":[]}},
	  {"eventName":"service-review-updated","version":"1","eventData":{"id":"507f191e810c19729de860ea","stars":2,"createdAt":"yesterday"}},
	  {"eventName":"service-review-created","eventData":{"id":"507f191e810c19729de860ea"}},
	  {"eventName":"service-review-deleted","eventData":{"id":"507f191e810c19729de860ec"}},
	  {"eventName":"service-review-created","eventData":{"id":"../../admin"}},
	  {"eventName":"service-review-created","eventData":{"id":12}},
	  {"eventName":"product-review-created","eventData":{"id":"507f191e810c19729de860ed"}},
	  "not an object"
	]}`
	got, err := ParseEvents([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	// createdAt is kept as a hint when readable, zero when not.
	want := []Event{{EventCreated, "507f191e810c19729de860ea", time.Date(2017, 5, 20, 9, 34, 44, 0, time.UTC)},
		{EventUpdated, "507f191e810c19729de860ea", time.Time{}}, {EventDeleted, "507f191e810c19729de860ec", time.Time{}}}
	if len(got.Events) != len(want) || got.Ignored != 4 {
		t.Fatalf("events %+v ignored %d, want %+v and 4 ignored", got.Events, got.Ignored, want)
	}
	for i := range want {
		if g := got.Events[i]; g.Name != want[i].Name || g.ReviewID != want[i].ReviewID || !g.CreatedAt.Equal(want[i].CreatedAt) {
			t.Fatalf("event %d = %+v, want %+v", i, got.Events[i], want[i])
		}
	}
	for _, bad := range []string{"", "{", "[]", `{"events":{}}`, `{"nothing":1}`, `{"events":[]} {}`,
		`{"events":[` + strings.Repeat(`{},`, MaxEvents) + `{}]}`} {
		if _, err := ParseEvents([]byte(bad)); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseEvents(%.40q) = %v, want errs.Invalid", bad, err)
		}
	}
	if got, err := ParseEvents([]byte(`{"events":[]}`)); err != nil || len(got.Events) != 0 {
		t.Fatalf("empty batch: %+v %v", got, err)
	}
}

// FuzzParseEvents: a webhook body is anyone's text (Trustpilot signs nothing). Parsing never
// panics, errors are errs.Invalid, and every event it keeps is known and names a valid id once.
func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`{"events":[{"eventName":"service-review-created","eventData":{"id":"507f191e810c19729de860ea"}}]}`))
	f.Add([]byte(`{"events":[{"eventName":"service-review-deleted","eventData":{"id":"507f191e810c19729de860ea","x":[1,2]}},null]}`))
	f.Add([]byte(`{"events":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseEvents(body)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error of kind %v: %v", errs.KindOf(err), err)
			}
			return
		}
		seen := map[Event]bool{}
		for _, e := range got.Events {
			if !review.ValidID(e.ReviewID) || (e.Name != EventCreated && e.Name != EventUpdated && e.Name != EventDeleted) || seen[e] {
				t.Fatalf("kept %+v", e)
			}
			seen[e] = true
		}
	})
}

func TestParseDeletions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		ids  int
		next string
	}{
		{`{"reviews":[{"id":"507f191e810c19729de860ea","deletedAt":"2026-01-01T00:00:00Z"}],"nextToken":"abc"}`, 1, "abc"},
		{`{"deletions":["507f191e810c19729de860ea","507f191e810c19729de860eb","bad"],"nextPageToken":null}`, 2, ""},
		{`{"items":[{"reviewId":"507f191e810c19729de860ea"},42,{}],"next":"p2"}`, 1, "p2"},
		{`{"data":[]}`, 0, ""},
	} {
		got, err := ParseDeletions([]byte(tc.body))
		if err != nil || len(got.IDs) != tc.ids || got.Next != tc.next {
			t.Errorf("ParseDeletions(%s) = %+v %v, want %d ids next %q", tc.body, got, err, tc.ids, tc.next)
		}
	}
	for _, bad := range []string{"", "[]", "null", `{"reviews":{}}`, `{"other":[]}`} {
		if _, err := ParseDeletions([]byte(bad)); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseDeletions(%q) = %v, want errs.Invalid", bad, err)
		}
	}
}

// FuzzParseDeletions: the Deletions API's shape is unverified; reading any body never panics and
// keeps only valid ids.
func FuzzParseDeletions(f *testing.F) {
	f.Add([]byte(`{"reviews":[{"id":"507f191e810c19729de860ea"}],"nextToken":"x"}`))
	f.Add([]byte(`{"deletions":["507f191e810c19729de860ea"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseDeletions(body)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatal(err)
			}
			return
		}
		for _, id := range got.IDs {
			if !review.ValidID(id) {
				t.Fatalf("kept %q", id)
			}
		}
	})
}
