package trustpilotsim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestWebhooksBatchTheUnitsEvents(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []map[string][]WebhookEvent
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string][]WebhookEvent
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	s := New(Options{})
	fx := Generate("5f0c00000000000000000001", 2, 0, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), 1)
	fx.BusinessUnits = []BusinessUnit{{ID: "5f0c00000000000000000001", Name: "a.example", APIKey: "k", APISecret: "s"}}
	if err := s.Load(fx); err != nil {
		t.Fatal(err)
	}
	if n := s.PendingWebhooks(); n != 0 {
		t.Fatalf("%d events queued without a subscription", n)
	}
	if err := s.SetWebhookURL("5f0c00000000000000000001", recv.URL); err != nil {
		t.Fatal(err)
	}
	r := fx.ServiceReviews[0]
	edited := r
	edited.Stars = 1
	newer := fx.ServiceReviews[1]
	newer.ID = "5f0d00000000000000000009"
	for _, step := range []func() error{
		func() error { return s.PutServiceReview(newer) },
		func() error { return s.PutServiceReview(edited) },
		func() error { return s.DeleteServiceReview(fx.ServiceReviews[1].ID) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	ds := s.FlushWebhooks(context.Background(), true)
	if len(ds) != 2 || ds[0].Status != http.StatusAccepted || ds[0].Events != 3 {
		t.Fatalf("deliveries %+v, want the batch of 3 twice", ds)
	}
	mu.Lock()
	defer mu.Unlock()
	evs := bodies[0]["events"]
	want := []string{EventCreated, EventUpdated, EventDeleted}
	for i, e := range evs {
		if e.EventName != want[i] || e.Version != "1" {
			t.Fatalf("event %d = %+v, want %s", i, e, want[i])
		}
	}
	if evs[0].EventData["id"] != newer.ID || evs[1].EventData["stars"] != float64(1) || len(evs[2].EventData) != 1 {
		t.Fatalf("event data %+v", evs)
	}
	if _, hasEmail := evs[0].EventData["referralEmail"]; hasEmail {
		t.Fatal("the webhook payload carries no email")
	}
	if s.PendingWebhooks() != 0 || len(s.FlushWebhooks(context.Background(), false)) != 0 {
		t.Fatal("a flushed batch was sent again")
	}
}

func TestDeletionsAPI(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	u := DefaultFixture().BusinessUnits[0]
	var ids []string
	for _, r := range DefaultFixture().ServiceReviews {
		if r.BusinessUnit.ID == u.ID && len(ids) < 3 {
			ids = append(ids, r.ID)
		}
	}
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, id := range ids {
		if err := s.DeleteServiceReview(id); err != nil {
			t.Fatal(err)
		}
	}
	to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	get := func(query string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/reviews/deletions?"+query, nil)
		req.Header.Set("apikey", u.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := get("startDate=" + from + "&endDate=" + to + "&limit=2")
	if code != 200 || len(m["reviews"].([]any)) != 2 || m["nextToken"] != "2" {
		t.Fatalf("first page: %d %v", code, m)
	}
	if code, m = get("startDate=" + from + "&endDate=" + to + "&limit=2&nextToken=2"); code != 200 || len(m["reviews"].([]any)) != 1 || m["nextToken"] != nil {
		t.Fatalf("second page: %d %v", code, m)
	}
	if err := s.SetSwitches(u.ID, Switches{Deletions: DeletionsIDs}); err != nil {
		t.Fatal(err)
	}
	if code, m = get("startDate=" + from + "&endDate=" + to); code != 200 || len(m["deletions"].([]any)) != 3 {
		t.Fatalf("ids shape: %d %v", code, m)
	}
	if code, _ = get("endDate=" + to); code != 400 {
		t.Fatalf("no startDate: %d", code)
	}
}

func TestCallLogByKey(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s := New(Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err := s.Load(DefaultFixture()); err != nil {
		t.Fatal(err)
	}
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := DefaultFixture().BusinessUnits[0].APIKey
	call := func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/reviews/deletions?startDate=2025-01-01T00:00:00Z&endDate=2026-01-01T00:00:00Z", nil)
		req.Header.Set("apikey", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for i := range 6 {
		call()
		mu.Lock()
		now = now.Add(time.Duration(i+1) * time.Minute) // 1, 2, ... minutes apart
		mu.Unlock()
	}
	if n := s.CallsByKey(key, time.Time{}, time.Time{}); n != 6 {
		t.Fatalf("%d calls logged, want 6", n)
	}
	// Calls at 0, 1, 3, 6, 10, 15 minutes: at most 3 within any 5 minutes (0, 1, 3).
	if n := s.MaxCallsInWindow(key, 5*time.Minute); n != 3 {
		t.Fatalf("max in a 5-minute window %d, want 3", n)
	}
	if n := s.CallsByKey("other", time.Time{}, time.Time{}); n != 0 {
		t.Fatal("another key's calls")
	}
}
