package trustpilot

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// seedReviews adds every review of a testdata file to a fuzz corpus.
func seedReviews(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		f.Fatal(err)
	}
	for _, r := range raws {
		f.Add([]byte(r))
	}
}

// checkReview holds for every review the normalisers accept, whatever the input.
func checkReview(t *testing.T, r review.Review, kind review.Kind, raw []byte) {
	t.Helper()
	switch {
	case r.Kind != kind:
		t.Fatalf("kind %q", r.Kind)
	case !review.ValidID(r.ID):
		t.Fatalf("invalid id %q accepted", r.ID)
	case r.Stars < 1 || r.Stars > 5:
		t.Fatalf("stars %d accepted", r.Stars)
	case r.CreatedAt.IsZero() || r.CreatedAt.Location() != time.UTC:
		t.Fatalf("createdAt %v", r.CreatedAt)
	case !r.UpdatedAt.IsZero() && r.UpdatedAt.Location() != time.UTC:
		t.Fatalf("updatedAt %v", r.UpdatedAt)
	case r.Email != "" && (!strings.Contains(r.Email, "@") || strings.ContainsAny(r.Email, " <>\r\n")):
		t.Fatalf("email %q accepted", r.Email)
	case len(r.ReviewerName) > maxShortLen+len("…") || len(r.ProductSKU) > maxShortLen+len("…"):
		t.Fatal("short field not bounded")
	case string(r.Raw) != string(raw):
		t.Fatal("Raw not kept")
	case r.Link != "" && !strings.HasPrefix(r.Link, "https://"):
		t.Fatalf("link %q accepted", r.Link)
	case kind == review.Product && r.ConversationID != "" && !validPathID(r.ConversationID):
		t.Fatalf("conversation id %q accepted", r.ConversationID)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("normalised review does not marshal: %v", err)
	}
}

func FuzzNormalizeServiceReview(f *testing.F) {
	seedReviews(f, "testdata/service_reviews.json")
	f.Add([]byte(`{"id":"65a000000000000000000001","stars":"5","createdAt":"2024-01-02"}`))
	f.Add([]byte(`{"id":"65a000000000000000000001","stars":1e0,"createdAt":"2024-01-02T03:04:05.1+14:00","links":[{"href":"https://x.trustpilot.com/a"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := NormalizeServiceReview(raw)
		if err != nil {
			return
		}
		checkReview(t, r, review.Service, raw)
		if r.Link == "" {
			t.Fatal("service review without a link")
		}
	})
}

func FuzzNormalizeProductReview(f *testing.F) {
	seedReviews(f, "testdata/product_reviews.json")
	f.Add([]byte(`{"id":"66b000000000000000000001","stars":3,"createdAt":"2024-01-02","conversationId":"../x"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := NormalizeProductReview(raw)
		if err != nil {
			return
		}
		checkReview(t, r, review.Product, raw)
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2013-09-07T13:37:00", "2013-09-07T13:37:00Z", "2017-05-20T09:34:44.000Z",
		"2024-01-04T08:30:00.123456Z", "2024-01-05T12:00:00+01:00", "2013-09-07", "2013-09-07T13:37", "", "0000-01-01T00:00:00-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not UTC", s)
		}
		// What we accept we can write back and read again to the same instant.
		again, err := ParseTime(tm.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(tm) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
		if q := FormatQueryTime(tm); len(q) != len("2006-01-02T15:04:05") && tm.Year() >= 0 && tm.Year() <= 9999 {
			t.Fatalf("query time %q", q)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"message":"The request was malformed","errorCode":1001,"details":"","correlationId":"c-1"}`,
		`{"fault":{"faultstring":"Invalid access token","detail":{"errorcode":"oauth.v2.InvalidAccessToken"}}}`,
		`{"error":"invalid_grant","error_description":"x"}`, `<html>`, "plain\x00text", `{"details":[1,{"a":2}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		eb := ParseErrorBody(body)
		for name, v := range map[string]string{"message": eb.Message, "details": eb.Details, "code": eb.ErrorCode, "correlation": eb.CorrelationID} {
			if !utf8.ValidString(v) {
				t.Fatalf("%s not UTF-8: %q", name, v)
			}
			if strings.ContainsFunc(v, unicode.IsControl) {
				t.Fatalf("%s has control characters: %q", name, v)
			}
			if len(v) > maxMessageLen+len("…") {
				t.Fatalf("%s unbounded: %d bytes", name, len(v))
			}
		}
		_ = (&APIError{Status: 400, Message: eb.Message}).Error()
	})
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","refresh_token":"r","expires_in":"359999"}`, `{"access_token":"a","expires_in":3600}`,
		`{"access_token":"a","expires_in":"1e9"}`, `{"access_token":"a","expires_in":"-0"}`, `{"access_token":"a","expires_in":"0x10"}`} {
		f.Add([]byte(s))
	}
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseTokenResponse(body, issued)
		if err != nil {
			if strings.Contains(err.Error(), "access_token\":") {
				t.Fatalf("error quotes the body: %v", err)
			}
			return
		}
		if tok.AccessToken == "" {
			t.Fatal("empty access token accepted")
		}
		if life := tok.ExpiresAt.Sub(issued); life <= 0 || life > maxTokenLifetime {
			t.Fatalf("lifetime %s accepted", life)
		}
	})
}
