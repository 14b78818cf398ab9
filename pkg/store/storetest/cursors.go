package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/token"
)

func (e *env) cursor(conn string, kind review.Kind) cursor.Cursor {
	e.t.Helper()
	c, err := e.s.GetCursor(e.ctx, conn, kind)
	if err != nil {
		e.t.Fatalf("GetCursor: %v", err)
	}
	return c
}

func (e *env) sameCursor(what string, got, want cursor.Cursor) {
	e.t.Helper()
	if d := diff(got, want); d != "" {
		e.t.Fatalf("%s: cursor differs:%s", what, d)
	}
}

func testCursorZero(t *testing.T, e *env) {
	conn := e.conn()
	e.sameCursor("absent", e.cursor(conn, review.Service), cursor.Cursor{ConnectionID: conn, Kind: review.Service})
}

func testCheckpoints(t *testing.T, e *env) {
	conn := e.conn()
	t0 := time.Date(2025, 5, 1, 12, 0, 0, 987654321, time.FixedZone("EEST", 3*3600))
	steps := []cursor.Checkpoint{
		{Since: t0, Resume: "page-2", Seen: 100, Created: 90},
		{Since: t0.Add(-time.Hour), Resume: "page-3", Seen: 100, Created: 100, Errors: 1, LastError: "review x: invalid"},
		{Resume: "page-4", Seen: 7}, // no new mark
		{Since: t0.Add(time.Nanosecond), Resume: "", Seen: 5, Created: 5},
		{Since: t0, Seen: 1, LastError: "review y: invalid"},
	}
	want := cursor.Cursor{ConnectionID: conn, Kind: review.Product}
	for i, cp := range steps {
		e.clk.Add(time.Minute)
		e.must(e.s.SaveCheckpoint(e.ctx, conn, review.Product, cp))
		want = want.Apply(cp)
		want.Since, want.LastRunAt = nsT(want.Since), nsT(e.now())
		e.sameCursor(fmt.Sprintf("after checkpoint %d", i+1), e.cursor(conn, review.Product), want)
	}
	if want.Since != nsT(t0.Add(time.Nanosecond)) || want.LastError != "review y: invalid" || want.ReviewSeen != 213 {
		t.Fatalf("the expected cursor itself is off (cursor.Apply changed?): %+v", want)
	}
	e.sameCursor("other kind", e.cursor(conn, review.Service), cursor.Cursor{ConnectionID: conn, Kind: review.Service})
}

func testRecordError(t *testing.T, e *env) {
	conn := e.conn()
	e.must(e.s.SaveCheckpoint(e.ctx, conn, review.Service, cursor.Checkpoint{Since: e.now(), Resume: "p2", Seen: 3}))
	before := e.cursor(conn, review.Service)
	e.clk.Add(time.Minute)
	e.must(e.s.RecordError(e.ctx, conn, review.Service, "helpdesk 503"))
	want := before
	want.LastError, want.LastRunAt = "helpdesk 503", nsT(e.now())
	e.sameCursor("after RecordError", e.cursor(conn, review.Service), want)

	e.must(e.s.SaveCheckpoint(e.ctx, conn, review.Service, cursor.Checkpoint{Seen: 1}))
	if c := e.cursor(conn, review.Service); c.LastError != "helpdesk 503" || c.ReviewSeen != 4 || c.Resume != "" {
		t.Fatalf("checkpoint after RecordError: %+v", c)
	}

	fresh := e.conn() // RecordError on a connection that never checkpointed
	e.must(e.s.RecordError(e.ctx, fresh, review.Product, "boom"))
	e.sameCursor("RecordError first", e.cursor(fresh, review.Product),
		cursor.Cursor{ConnectionID: fresh, Kind: review.Product, LastError: "boom", LastRunAt: nsT(e.now())})
}

func testMarkQueued(t *testing.T, e *env) {
	conn := e.conn()
	const stale = time.Hour
	mark := func(what string, kind review.Kind, want bool) {
		t.Helper()
		got, err := e.s.MarkQueued(e.ctx, conn, kind, stale)
		if err != nil || got != want {
			t.Fatalf("MarkQueued %s: %v %v, want %v", what, got, err, want)
		}
	}
	e.must(e.s.ClearQueued(e.ctx, conn, review.Service)) // nothing queued: fine
	mark("first", review.Service, true)
	e.clk.Add(time.Minute)
	mark("already queued", review.Service, false)
	mark("other kind", review.Product, true)
	e.must(e.s.ClearQueued(e.ctx, conn, review.Service))
	mark("after the run finished", review.Service, true)

	// A mark older than stale is replaced (a lost job must not stop the connection for good);
	// one exactly stale old is not yet.
	e.clk.Add(stale)
	mark("exactly stale", review.Service, false)
	e.clk.Add(time.Millisecond)
	mark("stale", review.Service, true)

	e.sameCursor("marks leave the cursor alone", e.cursor(conn, review.Service), cursor.Cursor{ConnectionID: conn, Kind: review.Service})
}

func testLease(t *testing.T, e *env) {
	name := e.name("acme.gorgias.com")
	const leaseTTL = 30 * time.Second
	steps := []struct {
		what  string
		owner string
		after time.Duration
		want  bool
	}{
		{"first owner takes it", "a", 0, true},
		{"second owner refused", "b", 0, false},
		{"owner renews", "a", 10 * time.Second, true},
		{"renewed lease outlives the first", "b", 25 * time.Second, false},
		{"held up to its expiry", "b", 5 * time.Second, false},
		{"expired: taken over", "b", time.Millisecond, true},
		{"old owner refused", "a", 0, false},
	}
	for _, st := range steps {
		e.clk.Add(st.after)
		got, err := e.s.AcquireLease(e.ctx, name, st.owner, leaseTTL)
		if err != nil || got != st.want {
			t.Fatalf("%s: %v %v, want %v", st.what, got, err, st.want)
		}
	}
	e.must(e.s.ReleaseLease(e.ctx, name, "a")) // not the holder: nothing happens
	if ok, err := e.s.AcquireLease(e.ctx, name, "c", leaseTTL); err != nil || ok {
		t.Fatalf("release by a non-owner freed the lease: %v %v", ok, err)
	}
	e.must(e.s.ReleaseLease(e.ctx, name, "b"))
	if ok, err := e.s.AcquireLease(e.ctx, name, "c", leaseTTL); err != nil || !ok {
		t.Fatalf("released lease not free: %v %v", ok, err)
	}
	e.must(e.s.ReleaseLease(e.ctx, e.name("never-held"), "c"))

	// An expired lease is still its owner's to release.
	e.clk.Add(time.Hour)
	e.must(e.s.ReleaseLease(e.ctx, name, "c"))
	if ok, err := e.s.AcquireLease(e.ctx, name, "d", leaseTTL); err != nil || !ok {
		t.Fatalf("after releasing an expired lease: %v %v", ok, err)
	}
}

func testMarkOnce(t *testing.T, e *env) {
	key, other := e.name("note#1#2"), e.name("note#1#3")
	mark := func(what, key string, want bool) {
		t.Helper()
		got, err := e.s.MarkOnce(e.ctx, key, time.Hour)
		if err != nil || got != want {
			t.Fatalf("MarkOnce %s: %v %v, want %v", what, got, err, want)
		}
	}
	mark("first", key, true)
	mark("again", key, false)
	mark("other key", other, true)
	e.clk.Add(time.Hour)
	mark("at the expiry", key, false)
	e.clk.Add(time.Millisecond)
	mark("after the expiry", key, true)
	mark("renewed", key, false)
}

func testTokens(t *testing.T, e *env) {
	conn := e.conn()
	if tok, ok, err := e.s.LoadToken(e.ctx, conn); ok || err != nil || tok != (token.Token{}) {
		t.Fatalf("absent token: %v %v %v", tok, ok, err)
	}
	exp := time.Date(2026, 4, 1, 10, 0, 0, 111222333, time.FixedZone("PDT", -7*3600))
	load := func(what string, want token.Token) {
		t.Helper()
		got, ok, err := e.s.LoadToken(e.ctx, conn)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", what, ok, err)
		}
		if d := diff(got, want); d != "" {
			t.Fatalf("%s: token differs:%s", what, d)
		}
	}
	e.must(e.s.SaveToken(e.ctx, conn, token.Token{AccessToken: "at1", RefreshToken: "rt1", ExpiresAt: exp}))
	load("saved", token.Token{AccessToken: "at1", RefreshToken: "rt1", ExpiresAt: nsT(exp)})
	e.must(e.s.SaveToken(e.ctx, conn, token.Token{AccessToken: "at2", RefreshToken: "rt2", ExpiresAt: exp.Add(time.Hour)}))
	load("replaced", token.Token{AccessToken: "at2", RefreshToken: "rt2", ExpiresAt: nsT(exp.Add(time.Hour))})
	// A slower instance's older token never replaces the newer one (its refresh token is spent).
	e.must(e.s.SaveToken(e.ctx, conn, token.Token{AccessToken: "at-old", RefreshToken: "rt-old", ExpiresAt: exp.Add(-time.Hour)}))
	load("older not stored", token.Token{AccessToken: "at2", RefreshToken: "rt2", ExpiresAt: nsT(exp.Add(time.Hour))})
	e.must(e.s.SaveToken(e.ctx, conn, token.Token{AccessToken: "at-same", RefreshToken: "rt-same", ExpiresAt: exp.Add(time.Hour)}))
	load("same expiry not stored", token.Token{AccessToken: "at2", RefreshToken: "rt2", ExpiresAt: nsT(exp.Add(time.Hour))})
	e.must(e.s.SaveToken(e.ctx, conn, token.Token{AccessToken: "at3", ExpiresAt: exp.Add(2 * time.Hour)}))
	load("newer without refresh token", token.Token{AccessToken: "at3", ExpiresAt: nsT(exp.Add(2 * time.Hour))})
	if _, ok, err := e.s.LoadToken(e.ctx, e.conn()); ok || err != nil {
		t.Fatalf("another connection's token: %v %v", ok, err)
	}
}
