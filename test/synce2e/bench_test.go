package synce2e

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

var initRe = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// BenchmarkSync syncs 200 reviews (100 service, 100 product; two connections on one helpdesk
// account) through the real worker against a helpdesk simulator rate-limited like Gorgias but
// ten times faster (40 calls per 2 s instead of 20 s), and reports: helpdesk calls per review,
// reviews per second, how close the busiest window came to the ceiling, the worker's CPU per
// review, and the cold start (init duration) RIE reported.
func BenchmarkSync(b *testing.B) {
	for range b.N {
		s := startB(b, devstack.Options{Name: "bench-sync", Env: map[string]string{"HELPDESK_RATE_LIMIT": "40/2s"},
			Helpdesk: gorgiassim.Config{RateCalls: 40, RateWindow: 2 * time.Second}}, 100, 100)
		worker := s.Runtime.Functions["SyncWorkerFunction"]
		cpu0 := worker.CPUTime()
		start := time.Now()
		if _, err := s.Runtime.Tick(context.Background()); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Drain(context.Background(), 10*time.Minute); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		cpu := worker.CPUTime() - cpu0
		st := s.HD.Stats(s.account)
		n := len(s.HD.Tickets(s.account))
		if n != 200 {
			b.Fatalf("%d tickets, want 200", n)
		}
		b.ReportMetric(float64(st.Requests)/float64(n), "helpdesk-calls/review")
		b.ReportMetric(float64(n)/took.Seconds(), "reviews/s@40per2s")
		b.ReportMetric(100*float64(st.MaxInWindow)/float64(st.RateCalls), "%-of-ceiling-peak")
		b.ReportMetric(float64(st.Throttled), "throttled-429s")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "worker-cpu-ms/review")
		var inits []float64
		for _, m := range initRe.FindAllStringSubmatch(s.log.String(), -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			inits = append(inits, v)
		}
		if len(inits) > 0 {
			mx := 0.0
			for _, v := range inits {
				mx = max(mx, v)
			}
			b.ReportMetric(mx, "cold-start-init-ms-max")
		}
		s.Stop()
	}
}
