package store_test

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCPUPerCall(t *testing.T) {
	s := newStore()
	ctx := context.Background()
	s.PutReviewerEntry(ctx, "a", "b", "c", "{}")
	c0 := cpuNow()
	const n = 300
	for range n {
		if _, err := s.GetLink(ctx, "conn", "rev"); err != nil && err.Error() == "" {
			t.Fatal(err)
		}
	}
	t.Logf("GetLink: %s CPU per call", (cpuNow()-c0)/n)
	c0 = cpuNow()
	for range n {
		if err := s.PutReviewerEntry(ctx, "a", "b", "c", `{"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}`); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("PutItem: %s CPU per call", (cpuNow()-c0)/n)
}
