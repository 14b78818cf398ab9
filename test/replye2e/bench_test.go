package replye2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/pkg/report"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// BenchmarkWebhook measures the webhook under the local runtime (gateway → RIE → bootstrap):
//   - p50-ms, p99-ms: the ack of a repeated delivery (the helpdesk's retry of an event already
//     forwarded: authenticate, parse, find the link, re-read the message, claim → "already handled");
//   - forward-p50-ms, forward-max-ms: the first delivery of an agent reply, which posts it to
//     Trustpilot and leaves the note before answering;
//   - helpdesk-calls/reply, trustpilot-calls/reply: API calls per forwarded service reply, from
//     the simulators' counters.
//
// Run it with `go test -run '^$' -bench Webhook ./test/replye2e/`.
func BenchmarkWebhook(b *testing.B) {
	s := stack(b)
	const forwards = 5
	// One reply first, so the container, its secret and the Trustpilot token are warm.
	s.reply(b, gorgiassim.AgentReply{TicketID: s.take(b, review.Service, false).id, BodyText: "Warm-up reply."})
	s.quiet(b)

	hd0, tp0 := s.HD.Stats(account).Requests, s.tpCalls()
	var fwd []time.Duration
	var last gorgiassim.Delivery
	for range forwards {
		tk := s.take(b, review.Service, false)
		_, d := s.reply(b, gorgiassim.AgentReply{TicketID: tk.id, BodyText: "Thank you for taking the time to review us."})
		if len(s.TP.Replies(tk.reviewID)) != 1 {
			b.Fatalf("review %s: reply not posted", tk.reviewID)
		}
		fwd = append(fwd, d.Attempts[len(d.Attempts)-1].Took)
		last = d
		s.quiet(b) // the note's own delivery, so the next measure waits for nothing
	}
	hdCalls, tpCalls := s.HD.Stats(account).Requests-hd0, s.tpCalls()-tp0

	var acks []time.Duration
	for b.Loop() {
		// 200 samples an iteration, so `make bench` (-benchtime 1x) still gets a real p99.
		for range 200 {
			start := time.Now()
			code, body := s.repost(b, last)
			acks = append(acks, time.Since(start))
			if code != http.StatusOK {
				b.Fatalf("ack %d %s", code, body)
			}
		}
	}
	b.ReportMetric(ms(report.Percentile(acks, 0.50)), "p50-ms")
	b.ReportMetric(ms(report.Percentile(acks, 0.99)), "p99-ms")
	b.ReportMetric(ms(report.Percentile(fwd, 0.50)), "forward-p50-ms")
	b.ReportMetric(ms(report.Percentile(fwd, 1)), "forward-max-ms")
	b.ReportMetric(float64(hdCalls)/forwards, "helpdesk-calls/reply")
	b.ReportMetric(float64(tpCalls)/forwards, "trustpilot-calls/reply")
}

// quiet waits until every webhook delivery so far is finished.
func (s *system) quiet(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		ds := s.HD.Deliveries()
		done := 0
		for _, d := range ds {
			if d.Done {
				done++
			}
		}
		if done == len(ds) {
			return
		}
		if _, err := s.HD.WaitDeliveries(ctx, done+1); err != nil {
			tb.Fatal(err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
