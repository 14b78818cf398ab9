package storetest

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/link"
)

func testCustomerEntries(t *testing.T, e *env) {
	account, other := e.name("acct"), e.name("acct")
	got, err := e.s.RecordCustomerEntry(e.ctx, account, 7, "r1", `{"stars":1}`)
	e.must(err)
	if want := map[string]string{"r1": `{"stars":1}`}; !maps.Equal(got, want) {
		t.Fatalf("first entry: %v, want %v", got, want)
	}
	got, err = e.s.RecordCustomerEntry(e.ctx, account, 7, "r2", `{"stars":2}`)
	e.must(err)
	if want := map[string]string{"r1": `{"stars":1}`, "r2": `{"stars":2}`}; !maps.Equal(got, want) {
		t.Fatalf("second entry: %v, want %v", got, want)
	}
	// An edit replaces the review's entry; other customers and accounts are apart.
	got, err = e.s.RecordCustomerEntry(e.ctx, account, 7, "r1", `{"stars":5}`)
	e.must(err)
	if want := map[string]string{"r1": `{"stars":5}`, "r2": `{"stars":2}`}; !maps.Equal(got, want) {
		t.Fatalf("edited entry: %v, want %v", got, want)
	}
	for _, f := range []struct {
		account string
		id      int64
		review  string
		had     bool
	}{{account, 7, "r1", true}, {account, 7, "r1", false}, {account, 7, "never", false}, {e.name("acct"), 1, "r1", false}} {
		had, err := e.s.ForgetCustomerEntry(e.ctx, f.account, f.id, f.review)
		if err != nil || had != f.had {
			t.Fatalf("ForgetCustomerEntry(%d, %s) = %v %v, want %v", f.id, f.review, had, err, f.had)
		}
	}
	got, err = e.s.RecordCustomerEntry(e.ctx, account, 7, "r3", `{"stars":3}`)
	e.must(err)
	if want := map[string]string{"r2": `{"stars":2}`, "r3": `{"stars":3}`}; !maps.Equal(got, want) {
		t.Fatalf("after forgetting r1: %v, want %v", got, want)
	}
	for _, c := range []struct {
		account string
		id      int64
	}{{account, 8}, {other, 7}} {
		got, err = e.s.RecordCustomerEntry(e.ctx, c.account, c.id, "r9", "{}")
		e.must(err)
		if len(got) != 1 {
			t.Fatalf("customer %s/%d sees another's entries: %v", c.account, c.id, got)
		}
	}
}

func testConcurrentCustomerEntries(t *testing.T, e *env) {
	account := e.name("acct")
	const n = 16
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.s.RecordCustomerEntry(e.ctx, account, 1, fmt.Sprintf("r%02d", i), "{}")
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		e.must(err)
	}
	got, err := e.s.RecordCustomerEntry(e.ctx, account, 1, "last", "{}")
	e.must(err)
	if len(got) != n+1 {
		t.Fatalf("%d entries after %d concurrent writes and one more, want %d: %v", len(got), n, n+1, got)
	}
}

func testDeletedAndReinstated(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	l := e.linked(conn, rid, e.ticket())
	marked, err := e.s.MarkDeleted(e.ctx, conn, rid)
	e.must(err)
	got := e.getLink(conn, rid)
	if !marked || !got.DeletedAt.Equal(nsT(e.now())) || got.State != link.StateLinked || got.TicketID != l.TicketID {
		t.Fatalf("deleted: marked %v, link %+v", marked, got)
	}
	if again, err := e.s.MarkDeleted(e.ctx, conn, rid); err != nil || again {
		t.Fatalf("second mark: %v %v, want false", again, err)
	}
	e.claim(conn, rid, "w", link.ClaimLinked) // the ticket stays the review's
	back, err := e.s.MarkReinstated(e.ctx, conn, rid)
	e.must(err)
	if !back || !e.getLink(conn, rid).DeletedAt.IsZero() {
		t.Fatal("not reinstated")
	}
	if again, err := e.s.MarkReinstated(e.ctx, conn, rid); err != nil || again {
		t.Fatalf("second reinstate: %v %v", again, err)
	}
	// A set-aside review deleted: its snapshot (the review's text) goes.
	aside := e.review()
	e.claim(conn, aside, "w", link.ClaimGranted)
	e.must(e.s.SetAside(e.ctx, link.Aside{ConnectionID: conn, ReviewID: aside, Owner: "w", Reason: "x", RetryAt: e.now().Add(time.Hour), Failed: true, Snapshot: `{"text":"secret"}`}))
	if marked, err := e.s.MarkDeleted(e.ctx, conn, aside); err != nil || !marked || e.getLink(conn, aside).Snapshot != "" {
		t.Fatalf("set-aside review deleted: %v %v %+v", marked, err, e.getLink(conn, aside))
	}
	if marked, err := e.s.MarkDeleted(e.ctx, conn, e.review()); err != nil || marked {
		t.Fatalf("deleting an unknown review: %v %v", marked, err)
	}
}
