package trustpilot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/review"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestNormalizeGolden normalises every review shape in testdata and compares with the golden
// review.Review JSON; run with -update after an intended change and read the diff.
func TestNormalizeGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, golden string
		norm       func([]byte) (review.Review, error)
	}{
		{"testdata/service_reviews.json", "testdata/service_reviews.golden.json", NormalizeServiceReview},
		{"testdata/product_reviews.json", "testdata/product_reviews.golden.json", NormalizeProductReview},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b, err := os.ReadFile(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var raws []json.RawMessage
			if err := json.Unmarshal(b, &raws); err != nil {
				t.Fatal(err)
			}
			var got []review.Review
			for _, raw := range raws {
				r, err := tt.norm(raw)
				if err != nil {
					t.Fatalf("%s: %v", raw[:min(len(raw), 60)], err)
				}
				if !bytes.Equal(r.Raw, raw) {
					t.Errorf("%s: Raw not kept", r.ID)
				}
				got = append(got, r)
			}
			out, _ := json.MarshalIndent(got, "", " ")
			out = append(out, '\n')
			if *update {
				if err := os.WriteFile(tt.golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("normalised reviews differ from %s (run with -update and read the diff)", tt.golden)
			}
		})
	}
}

func TestNormalizeServiceReview(t *testing.T) {
	t.Parallel()
	base := `"id":"65a000000000000000000001","stars":4,"createdAt":"2024-01-02T03:04:05Z"`
	tests := []struct {
		name    string
		json    string
		wantErr string
		check   func(review.Review) bool
	}{
		{"minimal", `{` + base + `}`, "", func(r review.Review) bool {
			return r.Kind == review.Service && r.Stars == 4 && r.Link == "https://www.trustpilot.com/reviews/65a000000000000000000001"
		}},
		{"nulls everywhere", `{` + base + `,"title":null,"text":null,"consumer":null,"updatedAt":null,"referralEmail":null,"companyReply":null}`, "",
			func(r review.Review) bool {
				return r.Title == "" && r.Text == "" && !r.HasReply && r.UpdatedAt.IsZero()
			}},
		{"reply present", `{` + base + `,"companyReply":{"text":"x"}}`, "", func(r review.Review) bool { return r.HasReply }},
		{"zone-less is UTC", `{"id":"65a000000000000000000001","stars":4,"createdAt":"2024-01-02T03:04:05"}`, "",
			func(r review.Review) bool { return r.CreatedAt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) }},
		{"bad email dropped", `{` + base + `,"referralEmail":"Jane <jane@example.com>"}`, "", func(r review.Review) bool { return r.Email == "" }},
		{"stars as string", `{"id":"65a000000000000000000001","stars":"5","createdAt":"2024-01-02"}`, "", func(r review.Review) bool { return r.Stars == 5 }},
		{"api link ignored", `{` + base + `,"links":[{"href":"https://api.trustpilot.com/v1/reviews/65a000000000000000000001","rel":"reviews"}]}`, "",
			func(r review.Review) bool { return strings.HasPrefix(r.Link, "https://www.trustpilot.com/") }},
		{"javascript link ignored", `{` + base + `,"links":[{"href":"javascript:alert(1)//trustpilot.com"}]}`, "",
			func(r review.Review) bool { return strings.HasPrefix(r.Link, "https://www.trustpilot.com/") }},
		{"missing id", `{"stars":4,"createdAt":"2024-01-02T03:04:05Z"}`, "id missing", nil},
		{"bad id", `{"id":"../../x","stars":4,"createdAt":"2024-01-02T03:04:05Z"}`, "invalid id", nil},
		{"stars 0", `{"id":"65a000000000000000000001","stars":0,"createdAt":"2024-01-02T03:04:05Z"}`, "stars", nil},
		{"stars 4.5", `{"id":"65a000000000000000000001","stars":4.5,"createdAt":"2024-01-02T03:04:05Z"}`, "stars", nil},
		{"missing stars", `{"id":"65a000000000000000000001","createdAt":"2024-01-02T03:04:05Z"}`, "stars missing", nil},
		{"missing createdAt", `{"id":"65a000000000000000000001","stars":4}`, "createdAt missing", nil},
		{"bad createdAt", `{"id":"65a000000000000000000001","stars":4,"createdAt":"yesterday"}`, "createdAt", nil},
		{"wrong type", `{"id":1}`, "service review", nil},
		{"not an object", `[]`, "service review", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NormalizeServiceReview([]byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(r) {
				t.Errorf("unexpected %+v", r)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2013, 9, 7, 13, 37, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2013-09-07T13:37:00", want, true},
		{"2013-09-07T13:37:00Z", want, true},
		{"2013-09-07T13:37:00.000Z", want, true},
		{"2013-09-07T13:37:00.123", want.Add(123 * time.Millisecond), true},
		{"2013-09-07T13:37:00.123456789Z", want.Add(123456789), true},
		{"2013-09-07T15:37:00+02:00", want, true},
		{"2013-09-07T13:37", want, true},
		{"2013-09-07", time.Date(2013, 9, 7, 0, 0, 0, 0, time.UTC), true},
		{" 2013-09-07T13:37:00Z ", want, true},
		{"", time.Time{}, false},
		{"2013-09-07 13:37:00", time.Time{}, false},
		{"2013-13-07T13:37:00", time.Time{}, false},
		{"1378561020", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) || (err == nil && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got := FormatQueryTime(time.Date(2024, 1, 2, 5, 4, 5, 9, time.FixedZone("x", 2*3600))); got != "2024-01-02T03:04:05" {
		t.Errorf("FormatQueryTime = %q", got)
	}
}

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       ErrorBody
	}{
		{"application", `{"message":"The request was malformed","errorCode":1001,"details":"","correlationId":"c-1"}`,
			ErrorBody{Message: "The request was malformed", ErrorCode: "1001", CorrelationID: "c-1"}},
		{"gateway", `{"fault":{"faultstring":"Invalid access token","detail":{"errorcode":"oauth.v2.InvalidAccessToken"}}}`,
			ErrorBody{Message: "Invalid access token", ErrorCode: "oauth.v2.InvalidAccessToken"}},
		{"oauth", `{"error":"invalid_grant","error_description":"expired"}`, ErrorBody{Message: "invalid_grant: expired"}},
		{"structured details", `{"message":"m","details":{"field":"message"}}`, ErrorBody{Message: "m", Details: `{"field":"message"}`}},
		{"string code", `{"message":"m","errorCode":"E42"}`, ErrorBody{Message: "m", ErrorCode: "E42"}},
		{"html", `<html><body>502 Bad Gateway</body></html>`, ErrorBody{}},
		{"text with control characters", "oops\x1b[31m\nred", ErrorBody{Message: "oops [31m red"}},
		{"empty", ``, ErrorBody{}},
	}
	for _, tt := range tests {
		if got := ParseErrorBody([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	long := ParseErrorBody([]byte(`{"message":"` + strings.Repeat("é", 1000) + `"}`))
	if len(long.Message) > maxMessageLen+len("…") {
		t.Errorf("message not bounded: %d bytes", len(long.Message))
	}
}
