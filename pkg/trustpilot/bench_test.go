package trustpilot

import (
	"encoding/json"
	"log/slog"
	"os"
	"testing"
)

func benchReviews(b *testing.B, path string) []json.RawMessage {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		b.Fatal(err)
	}
	return raws
}

// BenchmarkNormalizeServiceReview is decode+normalise of one typical invited review.
func BenchmarkNormalizeServiceReview(b *testing.B) {
	raw := benchReviews(b, "testdata/service_reviews.json")[1]
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := NormalizeServiceReview(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeServiceReviewLong is the 10k-character review.
func BenchmarkNormalizeServiceReviewLong(b *testing.B) {
	raw := benchReviews(b, "testdata/service_reviews.json")[4]
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := NormalizeServiceReview(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeProductReview(b *testing.B) {
	raw := benchReviews(b, "testdata/product_reviews.json")[0]
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := NormalizeProductReview(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeServicePage is a whole page of 100 reviews as the list call decodes it.
func BenchmarkDecodeServicePage(b *testing.B) {
	raws := benchReviews(b, "testdata/service_reviews.json")
	page := struct {
		Links   []linkJSON        `json:"links"`
		Reviews []json.RawMessage `json:"reviews"`
	}{Links: []linkJSON{}}
	for i := range 100 {
		page.Reviews = append(page.Reviews, raws[i%3]) // the short ones: a typical page
	}
	body, _ := json.Marshal(page)
	c := &Client{log: discardLogger()}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var j struct {
			Links   []linkJSON        `json:"links"`
			Reviews []json.RawMessage `json:"reviews"`
		}
		if err := json.Unmarshal(body, &j); err != nil {
			b.Fatal(err)
		}
		rs, bad := c.normalizeAll(j.Reviews, NormalizeServiceReview)
		if len(rs) != 100 || len(bad) != 0 {
			b.Fatal("page not normalised")
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
