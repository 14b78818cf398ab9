package reply_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// BenchmarkSweepCalls reports the helpdesk calls one reply sweep costs on an account with 100
// review tickets: with nothing new, with 100 agent replies the webhook already forwarded, and
// with 100 the webhook never saw.
func BenchmarkSweepCalls(b *testing.B) {
	for _, tc := range []struct {
		name            string
		replies         bool
		forwardedBefore bool
	}{{"0-new", false, false}, {"100-new-forwarded-by-webhook", true, true}, {"100-new-no-webhook", true, false}} {
		b.Run(tc.name, func(b *testing.B) {
			var calls, posts float64
			n := 0
			for b.Loop() {
				n++
				b.StopTimer()
				w := newWorld(b)
				ctx := context.Background()
				for i := range 100 {
					id := fmt.Sprintf("5f0c%020x", 0x100+i)
					tid := int64(1000 + i)
					seedLink(b, w.store.Store, id, review.Service, tid)
					upd := time.Now().Add(-time.Hour)
					if tc.replies {
						upd = time.Now().Add(time.Second)
						w.hd.messages[int64(5000+i)] = agentMessage(int64(5000+i), tid, "Thank you!")
					}
					w.hd.tickets = append(w.hd.tickets, gorgias.Ticket{ID: tid, ExternalID: link.ExternalID(id), UpdatedDatetime: upd, LastMessageDatetime: upd})
				}
				if tc.forwardedBefore {
					for i := range 100 {
						ev := event(b, int64(1000+i), int64(5000+i), "")
						if _, err := w.svc.Process(ctx, ev); err != nil {
							b.Fatal(err)
						}
					}
				}
				before := w.hd.gets + w.hd.lists + len(w.hd.notes)
				tpBefore := len(w.tp.replies)
				b.StartTimer()
				if _, err := w.svc.Sweep(ctx, queue.SweepJob(connID)); err != nil {
					b.Fatal(err)
				}
				calls += float64(w.hd.gets + w.hd.lists + len(w.hd.notes) - before)
				posts += float64(len(w.tp.replies) - tpBefore)
				b.StartTimer()
			}
			b.ReportMetric(calls/float64(n), "helpdesk-calls/sweep")
			b.ReportMetric(posts/float64(n), "posts/sweep")
		})
	}
}
