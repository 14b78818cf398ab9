package gorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseAPIError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantMsg    string
		wantFields map[string][]string
	}{
		{"legacy", 400, `{"error":{"msg":"Failed to create ticket","data":{"customer":["Missing data for required field."]}}}`,
			"Failed to create ticket", map[string][]string{"customer": {"Missing data for required field."}}},
		{"legacy nested data", 400, `{"error":{"msg":"x","data":{"messages":{"0":{"via":["Missing."]}}}}}`,
			"x", map[string][]string{"messages.0.via": {"Missing."}}},
		{"legacy string data", 400, `{"error":{"msg":"x","data":"oops"}}`, "x", map[string][]string{"_": {"oops"}}},
		{"error object with message", 400, `{"error":{"message":"m"}}`, "m", nil},
		{"error string", 401, `{"error":"Not authenticated"}`, "Not authenticated", nil},
		{"message", 403, `{"message":"No access"}`, "No access", nil},
		{"422 list", 422, `{"errors":[{"field":"a","message":"bad"},"loose"]}`, "Unprocessable Entity",
			map[string][]string{"a": {"bad"}, "_": {"loose"}}},
		{"422 map", 422, `{"message":"Invalid","errors":{"b":["too long"]}}`, "Invalid", map[string][]string{"b": {"too long"}}},
		{"html", 502, `<html><title>502 Bad Gateway</title></html>`, "502 Bad Gateway", nil},
		{"plain text", 503, "upstream\n down", "upstream down", nil},
		{"empty", 404, ``, "Not Found", nil},
		{"json not object", 500, `[1]`, "[1]", nil},
		{"control chars", 400, "{\"error\":\"a\\u0000b\\nc\"}", "a b c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := parseAPIError(tt.status, []byte(tt.body))
			if e.Status != tt.status || e.Message != tt.wantMsg || fmt.Sprint(e.Fields) != fmt.Sprint(tt.wantFields) {
				t.Fatalf("got %+v (%q), want msg %q fields %v", e, e.Error(), tt.wantMsg, tt.wantFields)
			}
		})
	}
	long := parseAPIError(500, []byte(strings.Repeat("é", 5000)))
	if len(long.Message) > maxErrText+len("…") || !utf8.ValidString(long.Message) {
		t.Fatalf("long message not bounded: %d bytes", len(long.Message))
	}
}

func entry(i int) ReviewEntry { return entrySized(i, 20) }

func entrySized(i, repeat int) ReviewEntry {
	return ReviewEntry{
		ReviewID:  fmt.Sprintf("%024x", i),
		Stars:     i%5 + 1,
		Title:     fmt.Sprint("title ", i),
		Text:      strings.Repeat("review text <b> ", repeat),
		CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour),
	}
}

func TestUpsertReviewTrimsOldest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		capBytes int
		n        int
		repeat   int
	}{
		{"small cap", 2_000, 50, 20},
		{"medium cap", 20_000, 300, 20},
		{"default cap", 0, 130, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var raw json.RawMessage
			var err error
			// Inserted out of order: the newest by creation must survive, not the latest inserted.
			for i := range tt.n {
				k := (i * 7919) % tt.n
				if raw, err = UpsertReview(raw, entrySized(k, tt.repeat), tt.capBytes); err != nil {
					t.Fatal(err)
				}
			}
			capBytes := tt.capBytes
			if capBytes == 0 {
				capBytes = DefaultDataCap
			}
			if len(raw) > capBytes {
				t.Fatalf("size %d > cap %d", len(raw), capBytes)
			}
			d, err := DecodeReviewData(raw)
			if err != nil {
				t.Fatal(err)
			}
			if d.Total != tt.n || len(d.Reviews)+d.Trimmed < tt.n || len(d.Reviews) == 0 {
				t.Fatalf("total=%d kept=%d trimmed=%d", d.Total, len(d.Reviews), d.Trimmed)
			}
			for i, r := range d.Reviews {
				if want := entry(tt.n - 1 - i).ReviewID; r.ReviewID != want {
					t.Fatalf("entry %d = %s, want %s (newest first, oldest dropped)", i, r.ReviewID, want)
				}
			}
			// Nearly full: one more review must not push it over.
			if len(raw) < capBytes/2 && tt.n > 100 {
				t.Fatalf("trimmed too much: %d of %d bytes", len(raw), capBytes)
			}
		})
	}
}

func TestUpsertReviewReplacesAndCuts(t *testing.T) {
	t.Parallel()
	raw, err := UpsertReview(json.RawMessage(`{"reviews":[{"review_id":"a","stars":1,"created_at":"2024-01-01T00:00:00Z"}],"total":1}`),
		ReviewEntry{ReviewID: "a", Stars: 5, CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := DecodeReviewData(raw)
	if len(d.Reviews) != 1 || d.Reviews[0].Stars != 5 || d.Total != 1 {
		t.Fatalf("edit not replaced: %s", raw)
	}
	huge := ReviewEntry{ReviewID: "b", Text: strings.Repeat("<é>", 5000), Title: "t"}
	raw, err = UpsertReview(json.RawMessage(`"not ours"`), huge, 1000)
	if err != nil {
		t.Fatal(err)
	}
	d, _ = DecodeReviewData(raw)
	if len(raw) > 1000 || len(d.Reviews) != 1 || !strings.HasSuffix(d.Reviews[0].Text, "…") || !utf8.ValidString(d.Reviews[0].Text) {
		t.Fatalf("huge entry: %d bytes %s", len(raw), raw)
	}
	if _, err := UpsertReview(nil, ReviewEntry{}, 0); err == nil {
		t.Fatal("empty review id accepted")
	}
}

func TestLimiterWaitAndPause(t *testing.T) {
	t.Parallel()
	l := NewLimiter(2, 150*time.Millisecond)
	ctx := context.Background()
	start := time.Now()
	for range 4 {
		release, err := l.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		release()
		release() // releasing twice is harmless
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > time.Second {
		t.Fatalf("4 calls at 2/150ms took %s", took)
	}
	l.PauseFor(200 * time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(cctx); err == nil {
		t.Fatal("Wait returned during a pause")
	}
	h := http.Header{}
	h.Set(CallLimitHeader, "40/40")
	l2 := NewLimiter(40, 20*time.Second)
	l2.Observe(h)
	if d := time.Until(l2.pausedUntil); d < 1500*time.Millisecond || d > 2*time.Second {
		t.Fatalf("pause after 40/40 = %s, want 2s (4 calls over the 36 mark at 2/s)", d)
	}
	for _, v := range []string{"", "x", "3/0", "-1/40", "3/40"} {
		l3 := NewLimiter(40, 20*time.Second)
		h.Set(CallLimitHeader, v)
		l3.Observe(h)
		if !l3.pausedUntil.IsZero() {
			t.Errorf("%q paused", v)
		}
	}
}

func TestMergedInto(t *testing.T) {
	t.Parallel()
	moved := func(loc string) error {
		return &APIError{Status: http.StatusMovedPermanently, Location: loc}
	}
	for _, tc := range []struct {
		err  error
		want int64
		ok   bool
	}{
		{moved("https://acme.gorgias.com/api/customers/42/data"), 42, true},
		{moved("/api/customers/42"), 42, true},
		{moved("/api/customers/42/"), 42, true},
		{moved("https://elsewhere.example/api/customers/7?x=1"), 7, true}, // only the id is used
		{moved(""), 0, false},
		{moved("/api/tickets/42"), 0, false},
		{moved("/api/customers/0"), 0, false},
		{moved("/api/customers/99999999999999999999"), 0, false},
		{&APIError{Status: 404, Location: "/api/customers/42"}, 0, false},
		{fmt.Errorf("plain"), 0, false},
	} {
		got, ok := mergedInto(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("mergedInto(%v) = %d %v, want %d %v", tc.err, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRefusesField(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   bool
	}{
		{400, `{"error":{"msg":"Failed to create ticket","data":{"custom_fields":{"0":{"id":["Custom field not found."]}}}}}`, true},
		{400, `{"error":{"msg":"Failed to create ticket","data":{"custom_fields.1.value":["Not a valid number."]}}}`, true},
		{422, `{"errors":[{"field":"custom_fields[0].value","message":"invalid"}]}`, true},
		{400, `{"error":"Invalid custom_fields"}`, true},
		{400, `{"error":{"msg":"Failed to create ticket","data":{"priority":["Must be one of: critical, high, normal, low."]}}}`, false},
		{400, `{"error":{"msg":"custom_fields mentioned","data":{"subject":["too long"]}}}`, false},
		{500, `{"error":{"data":{"custom_fields":["boom"]}}}`, false},
	} {
		err := fmt.Errorf("wrapped: %w", parseAPIError(c.status, []byte(c.body)))
		if got := RefusesField(err, "custom_fields"); got != c.want {
			t.Errorf("%d %s: %v, want %v (%v)", c.status, c.body, got, c.want, err)
		}
	}
	if RefusesField(errors.New("plain"), "custom_fields") {
		t.Error("a plain error")
	}
}

// A page of the ticket list is read member by member: what the sweep does not need is skipped
// unread (here a malformed customer the standard decoder would refuse), what it needs is read.
func TestUpdatesPageSkipsUnread(t *testing.T) {
	body := []byte(`{"data":[{"id":4,"customer":{"integrations":tru},"external_id":"trustpilot:R4","updated_datetime":"2026-02-03T04:05:06Z"}],"meta":{"next_cursor":"n"}}`)
	var p updatesPage
	if err := p.decodeFields(body); err != nil {
		t.Fatal(err)
	}
	u := p.updates()[0]
	if len(p.Data) != 1 || u.ID != 4 || u.ExternalID != "trustpilot:R4" || u.UpdatedDatetime.Unix() != 1770091506 || listPage[wireTicketUpdate](p).next() != "n" {
		t.Fatalf("read %+v, next %q", p.Data, listPage[wireTicketUpdate](p).next())
	}
}
