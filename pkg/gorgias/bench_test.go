package gorgias

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLimiter measures what waiting on a limiter that has room costs per call.
func BenchmarkLimiter(b *testing.B) {
	l := NewLimiter(DefaultCalls, time.Nanosecond)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, err := l.Wait(ctx)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
}

func BenchmarkBuildTicketPayload(b *testing.B) {
	t := NewTicket{
		ExternalID: "trustpilot:5f0c0c0c0c0c0c0c0c0c0c0c", Subject: "Trustpilot review (2★): Late delivery",
		CustomerEmail: "jane@example.com", CustomerName: "Jane Doe", SupportAddress: "support@acme.test",
		Tags:      []string{"trustpilot-review", "stars-2", "service"},
		Meta:      map[string]any{"trustpilot": map[string]any{"review_id": "5f0c0c0c0c0c0c0c0c0c0c0c", "stars": 2}},
		CreatedAt: time.Now(), BodyText: "The parcel came <late> & broken.\n\nNever again. ",
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildTicketPayload(t); err != nil {
			b.Fatal(err)
		}
	}
}
