package storetest

import (
	"fmt"
	"maps"
	"sync"
	"testing"
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
