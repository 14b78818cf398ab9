package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// racers is how many goroutines race on one key.
const racers = 16

// race runs f in racers goroutines released together and returns their results.
func race[T any](f func(i int) T) []T {
	out := make([]T, racers)
	var ready, done sync.WaitGroup
	ready.Add(1)
	for i := range racers {
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Wait()
			out[i] = f(i)
		}()
	}
	ready.Done()
	done.Wait()
	return out
}

func testConcurrentClaims(t *testing.T, e *env) {
	conn := e.conn()
	for round := range 5 {
		rid := e.review()
		got := race(func(i int) link.ClaimStatus {
			c, err := e.s.ClaimReview(e.ctx, conn, rid, review.Service, fmt.Sprintf("w%d", i), ttl)
			if err != nil {
				t.Error(err)
			}
			return c.Status
		})
		wins := 0
		for _, st := range got {
			switch st {
			case link.ClaimGranted:
				wins++
			case link.ClaimBusy:
			default:
				t.Fatalf("round %d: a racer got %v", round, st)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d workers claimed the same review", round, wins)
		}
		if l := e.getLink(conn, rid); l.Attempts != 1 {
			t.Fatalf("round %d: %d attempts recorded", round, l.Attempts)
		}
	}
}

func testConcurrentReplyClaims(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.linked(conn, rid, e.ticket())
	got := race(func(i int) link.SlotStatus {
		c, err := e.s.ClaimReply(e.ctx, conn, rid, int64(1000+i), "h", ttl)
		if err != nil {
			t.Error(err)
		}
		return c.Status
	})
	winner := -1
	for i, st := range got {
		switch st {
		case link.SlotGranted:
			if winner >= 0 {
				t.Fatalf("messages %d and %d both got the one reply slot", 1000+winner, 1000+i)
			}
			winner = i
		case link.SlotUsed:
		default:
			t.Fatalf("message %d got %v", 1000+i, st)
		}
	}
	if winner < 0 {
		t.Fatal("no message got the reply slot")
	}
	if l := e.getLink(conn, rid); l.ReplyMessage != int64(1000+winner) {
		t.Fatalf("slot held by message %d, winner was %d", l.ReplyMessage, 1000+winner)
	}
}

func testConcurrentSameMessage(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.linked(conn, rid, e.ticket())
	got := race(func(i int) link.SlotStatus {
		c, err := e.s.ClaimReply(e.ctx, conn, rid, 77, fmt.Sprintf("h%d", i), ttl)
		if err != nil {
			t.Error(err)
		}
		return c.Status
	})
	wins := 0
	for _, st := range got {
		switch st {
		case link.SlotGranted:
			wins++
		case link.SlotBusy:
		default:
			t.Fatalf("a duplicate delivery got %v", st)
		}
	}
	if wins != 1 {
		t.Fatalf("%d deliveries of one message claimed the reply", wins)
	}
}

func testConcurrentLease(t *testing.T, e *env) {
	name := e.name("lease")
	got := race(func(i int) bool {
		ok, err := e.s.AcquireLease(e.ctx, name, fmt.Sprintf("o%d", i), time.Minute)
		if err != nil {
			t.Error(err)
		}
		return ok
	})
	if n := count(got); n != 1 {
		t.Fatalf("%d owners hold the lease", n)
	}
}

func testConcurrentMarkOnce(t *testing.T, e *env) {
	key := e.name("once")
	got := race(func(int) bool {
		ok, err := e.s.MarkOnce(e.ctx, key, time.Hour)
		if err != nil {
			t.Error(err)
		}
		return ok
	})
	if n := count(got); n != 1 {
		t.Fatalf("%d callers were first", n)
	}
}

func testConcurrentCheckpoints(t *testing.T, e *env) {
	conn := e.conn()
	race(func(i int) bool {
		err := e.s.SaveCheckpoint(e.ctx, conn, review.Service, cursor.Checkpoint{Since: start.Add(time.Duration(i) * time.Second), Seen: 1, Created: 2})
		if err != nil {
			t.Error(err)
		}
		return true
	})
	c := e.cursor(conn, review.Service)
	if c.ReviewSeen != racers || c.Tickets != 2*racers || c.Since != nsT(start.Add((racers-1)*time.Second)) {
		t.Fatalf("concurrent checkpoints: seen %d tickets %d since %v", c.ReviewSeen, c.Tickets, c.Since)
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
