package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// cpuNow is this process's CPU time (user + system): the client's share of a call, moto's
// process apart.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLinkWrites measures the client CPU of a new review's link writes against moto: the
// claim and confirm apart (two calls), and a confirm carrying the next review's claim (one
// transaction). On this machine most of a call's client CPU is the wait for moto's answer
// (a loopback round trip wakes both sides), not the SDK's work.
func BenchmarkLinkWrites(b *testing.B) {
	ctx := context.Background()
	s := newStore()
	conn := func() string { return fmt.Sprintf("bench-%d", time.Now().UnixNano()) }
	confirm := func(conn, id string, tk int64) link.Confirm {
		return link.Confirm{ConnectionID: conn, ReviewID: id, Owner: "w", Account: "acme.gorgias.com", TicketID: tk,
			CustomerID: 7, ReviewVersion: time.Now(), Stars: 4, Reviewer: "0123456789abcdef0123456789abcdef"}
	}
	b.Run("claim+confirm", func(b *testing.B) {
		conn := conn()
		cpu0 := cpuNow()
		for i := range b.N {
			id := fmt.Sprintf("a%023d", i)
			if _, err := s.ClaimReview(ctx, conn, id, review.Service, "w", time.Minute); err != nil {
				b.Fatal(err)
			}
			if err := s.ConfirmLink(ctx, confirm(conn, id, int64(i+1))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/float64(b.N), "client-cpu-us/review")
	})
	b.Run("confirm-and-claim", func(b *testing.B) {
		conn := conn()
		id := fmt.Sprintf("b%023d", 0)
		if _, err := s.ClaimReview(ctx, conn, id, review.Service, "w", time.Minute); err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuNow()
		for i := range b.N {
			next := fmt.Sprintf("b%023d", i+1)
			batch := link.Batch{ConnectionID: conn, Owner: "w", ClaimTTL: time.Minute,
				Confirms: []link.Confirm{confirm(conn, id, int64(1e6+i))}, Claims: []link.Want{{ReviewID: next, Kind: review.Service}}}
			if _, ok, err := s.ConfirmAndClaim(ctx, batch); err != nil || !ok {
				b.Fatal(ok, err)
			}
			id = next
		}
		b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/float64(b.N), "client-cpu-us/review")
	})
	b.Run("take-slots", func(b *testing.B) {
		conn := conn()
		cpu0 := cpuNow()
		for range b.N {
			if _, _, err := s.TakeSlots(ctx, conn, 2, time.Nanosecond, time.Hour, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/float64(b.N), "client-cpu-us/op")
	})
}
