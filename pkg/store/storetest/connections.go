package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/token"
)

// bare is a connection without secrets, as PutConnection takes it.
func bare(id string) connection.Connection {
	c := connection.Connection{
		ID:             id,
		Helpdesk:       connection.Helpdesk{Type: "gorgias", URL: "https://acme.gorgias.com", Email: "ops@acme.com"},
		Trustpilot:     connection.Trustpilot{BusinessUnitID: "5f0c00000000000000000001", BusinessUserID: "5f0d00000000000000000001"},
		AnonymousEmail: "reviews@acme.com",
		Tags:           []string{"trustpilot", "reviews"},
	}
	c.ApplyDefaults()
	return c
}

func (e *env) put(c connection.Connection) {
	e.t.Helper()
	if err := e.s.PutConnection(e.ctx, c); err != nil {
		e.t.Fatalf("PutConnection %s: %v", c.ID, err)
	}
}

func (e *env) record(id string, forReplies bool) connection.Record {
	e.t.Helper()
	get := e.s.GetConnection
	if forReplies {
		get = e.s.GetConnectionForReplies
	}
	r, err := get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("get connection %s (for replies %v): %v", id, forReplies, err)
	}
	return r
}

func (e *env) sameRecord(what string, got, want connection.Record) {
	e.t.Helper()
	if d := diff(got, want); d != "" {
		e.t.Fatalf("%s: record differs:%s", what, d)
	}
}

// listed returns the listed records among ids (the table is shared), in the order listed.
func (e *env) listed(ids ...string) []connection.Record {
	e.t.Helper()
	all, err := e.s.ListConnections(e.ctx)
	if err != nil {
		e.t.Fatalf("ListConnections: %v", err)
	}
	var out []connection.Record
	for _, r := range all {
		if slices.Contains(ids, r.Connection.ID) {
			out = append(out, r)
		}
	}
	return out
}

func testPutRefusesSecrets(t *testing.T, e *env) {
	id := e.conn()
	for field, set := range map[string]func(*connection.Connection){
		"helpdesk.api_key":         func(c *connection.Connection) { c.Helpdesk.APIKey = "k" },
		"trustpilot.api_key":       func(c *connection.Connection) { c.Trustpilot.APIKey = "k" },
		"trustpilot.api_secret":    func(c *connection.Connection) { c.Trustpilot.APISecret = "s" },
		"trustpilot.refresh_token": func(c *connection.Connection) { c.Trustpilot.RefreshToken = "r" },
	} {
		c := bare(id)
		set(&c)
		e.wantKind("PutConnection with "+field, e.s.PutConnection(e.ctx, c), errs.Invalid)
	}
	_, err := e.s.GetConnectionForReplies(e.ctx, id)
	e.wantKind("a refused connection was stored", err, errs.NotExist)
}

func testPutGetList(t *testing.T, e *env) {
	a, b := e.conn(), e.conn()
	e.put(bare(b))
	e.clk.Add(time.Second)
	e.put(bare(a))
	wantA := connection.Record{Connection: bare(a), UpdatedAt: nsT(e.now())}
	e.sameRecord("get", e.record(a, false), wantA)
	e.sameRecord("get for replies", e.record(a, true), wantA)

	got := e.listed(a, b)
	order := []string{a, b}
	slices.Sort(order)
	if len(got) != 2 || got[0].Connection.ID != order[0] || got[1].Connection.ID != order[1] {
		t.Fatalf("ListConnections: %+v, want %v in this order", got, order)
	}
	for _, r := range got {
		if r.Connection.ID == a {
			e.sameRecord("listed", r, wantA)
		}
	}

	e.clk.Add(time.Second)
	changed := bare(a)
	changed.MinStars, changed.Tags = 4, nil
	e.put(changed)
	e.sameRecord("replaced", e.record(a, false), connection.Record{Connection: changed, UpdatedAt: nsT(e.now())})
}

func testGetConnectionMissing(t *testing.T, e *env) {
	id := e.conn()
	_, err := e.s.GetConnection(e.ctx, id)
	e.wantKind("GetConnection", err, errs.NotExist)
	_, err = e.s.GetConnectionForReplies(e.ctx, id)
	e.wantKind("GetConnectionForReplies", err, errs.NotExist)
	if l := e.listed(id); len(l) != 0 {
		t.Fatalf("missing connection listed: %+v", l)
	}
}

func testSetReauth(t *testing.T, e *env) {
	id := e.conn()
	e.put(bare(id))
	put := e.record(id, false)
	e.clk.Add(time.Second)
	e.must(e.s.SetReauth(e.ctx, id, true, "refresh token rejected"))
	want := put
	want.NeedsReauth, want.ReauthReason = true, "refresh token rejected"
	e.sameRecord("flagged", e.record(id, false), want)
	if l := e.listed(id); len(l) != 1 || !l[0].NeedsReauth {
		t.Fatalf("flag not listed: %+v", l)
	}
	e.must(e.s.SetReauth(e.ctx, id, false, ""))
	e.sameRecord("cleared", e.record(id, false), put)

	e.must(e.s.SetReauth(e.ctx, id, true, "again"))
	e.put(bare(id)) // a new document (new credentials) clears the flag
	if r := e.record(id, false); r.NeedsReauth || r.ReauthReason != "" {
		t.Fatalf("put kept the reauth flag: %+v", r)
	}

	e.wantKind("SetReauth on a missing connection", e.s.SetReauth(e.ctx, e.conn(), true, "x"), errs.NotExist)
}

// withData gives a connection a record, a linked review, a token, a cursor and a queued mark.
func (e *env) withData(id string) (link.Link, int64) {
	e.t.Helper()
	e.put(bare(id))
	rid, tk := e.review(), e.ticket()
	l := e.linked(id, rid, tk)
	e.must(e.s.SaveToken(e.ctx, id, token.Token{AccessToken: "at", RefreshToken: "rt", ExpiresAt: e.now().Add(time.Hour)}))
	e.must(e.s.SaveCheckpoint(e.ctx, id, review.Service, cursor.Checkpoint{Since: e.now(), Seen: 1}))
	if ok, err := e.s.MarkQueued(e.ctx, id, review.Service, time.Hour); err != nil || !ok {
		e.t.Fatalf("MarkQueued: %v %v", ok, err)
	}
	return l, tk
}

func (e *env) byTicket(tk int64) []link.Link {
	e.t.Helper()
	l, err := e.s.LinksByTicket(e.ctx, tk)
	if err != nil {
		e.t.Fatalf("LinksByTicket: %v", err)
	}
	return l
}

func (e *env) hasToken(id string) bool {
	e.t.Helper()
	_, ok, err := e.s.LoadToken(e.ctx, id)
	if err != nil {
		e.t.Fatalf("LoadToken: %v", err)
	}
	return ok
}

func testDeleteKeepsTombstone(t *testing.T, e *env) {
	id := e.conn()
	l, tk := e.withData(id)
	e.must(e.s.SetReauth(e.ctx, id, true, "expired"))
	e.clk.Add(time.Second)
	e.must(e.s.DeleteConnection(e.ctx, id, false))

	_, err := e.s.GetConnection(e.ctx, id)
	e.wantKind("GetConnection after delete", err, errs.NotExist)
	e.sameRecord("tombstone", e.record(id, true), connection.Record{Connection: bare(id), NeedsReauth: true,
		ReauthReason: "expired", UpdatedAt: nsT(e.now()), Deleted: true})
	if got := e.listed(id); len(got) != 0 {
		t.Fatalf("deleted connection listed: %+v", got)
	}

	// Replies on existing tickets keep working: links and the Trustpilot token stay.
	e.sameLink("link after delete", e.getLink(id, l.ReviewID), l)
	if got := e.byTicket(tk); len(got) != 1 || got[0].ReviewID != l.ReviewID {
		t.Fatalf("LinksByTicket after delete: %+v", got)
	}
	if !e.hasToken(id) {
		t.Fatal("delete without purge removed the token replies need")
	}
	e.slot(id, l.ReviewID, 100, "h", link.SlotGranted)
	e.must(e.s.SetReauth(e.ctx, id, false, ""))

	// Sync state goes.
	e.sameCursor("cursor after delete", e.cursor(id, review.Service), cursor.Cursor{ConnectionID: id, Kind: review.Service})
	if ok, err := e.s.MarkQueued(e.ctx, id, review.Service, time.Hour); err != nil || !ok {
		t.Fatalf("queued mark kept after delete: %v %v", ok, err)
	}

	e.wantKind("second delete", e.s.DeleteConnection(e.ctx, id, false), errs.NotExist)
	e.must(e.s.DeleteConnection(e.ctx, id, true))
	_, err = e.s.GetConnectionForReplies(e.ctx, id)
	e.wantKind("tombstone after purge", err, errs.NotExist)
	_, err = e.s.GetLink(e.ctx, id, l.ReviewID)
	e.wantKind("link after purge", err, errs.NotExist)
	if got := e.byTicket(tk); len(got) != 0 {
		t.Fatalf("LinksByTicket after purge: %+v", got)
	}
	if e.hasToken(id) {
		t.Fatal("token kept after purge")
	}
}

func testDeleteMissing(t *testing.T, e *env) {
	id := e.conn()
	e.wantKind("delete", e.s.DeleteConnection(e.ctx, id, false), errs.NotExist)
	e.wantKind("purge", e.s.DeleteConnection(e.ctx, id, true), errs.NotExist)
}

func testPurge(t *testing.T, e *env) {
	id, other := e.conn(), e.conn()
	l, tk := e.withData(id)
	ol, otk := e.withData(other)
	e.must(e.s.DeleteConnection(e.ctx, id, true))

	_, err := e.s.GetConnectionForReplies(e.ctx, id)
	e.wantKind("record after purge", err, errs.NotExist)
	_, err = e.s.GetLink(e.ctx, id, l.ReviewID)
	e.wantKind("link after purge", err, errs.NotExist)
	if got := e.byTicket(tk); len(got) != 0 {
		t.Fatalf("LinksByTicket after purge: %+v", got)
	}
	if e.hasToken(id) {
		t.Fatal("token kept after purge")
	}
	e.sameCursor("cursor after purge", e.cursor(id, review.Service), cursor.Cursor{ConnectionID: id, Kind: review.Service})
	e.wantKind("purge twice", e.s.DeleteConnection(e.ctx, id, true), errs.NotExist)

	// Another connection keeps everything.
	e.record(other, false)
	e.sameLink("other connection's link", e.getLink(other, ol.ReviewID), ol)
	if got := e.byTicket(otk); len(got) != 1 || !e.hasToken(other) || e.cursor(other, review.Service).ReviewSeen != 1 {
		t.Fatal("purge touched another connection")
	}
}

func testPutAfterDelete(t *testing.T, e *env) {
	id := e.conn()
	e.put(bare(id))
	e.must(e.s.DeleteConnection(e.ctx, id, false))
	e.clk.Add(time.Second)
	e.put(bare(id))
	e.sameRecord("revived", e.record(id, false), connection.Record{Connection: bare(id), UpdatedAt: nsT(e.now())})
	if got := e.listed(id); len(got) != 1 {
		t.Fatalf("revived connection not listed: %+v", got)
	}
}

// Callers may change what they get back without changing what is stored.
func testCopies(t *testing.T, e *env) {
	id := e.conn()
	e.put(bare(id))
	r := e.record(id, false)
	r.Connection.Tags[0], r.Connection.ReviewKinds[0] = "changed", "changed"
	for _, l := range e.listed(id) {
		l.Connection.Tags[1] = "changed"
	}
	if got := e.record(id, false); !slices.Equal(got.Connection.Tags, bare(id).Tags) || !slices.Equal(got.Connection.ReviewKinds, bare(id).ReviewKinds) {
		t.Fatalf("stored connection changed through a returned one: %+v", got.Connection)
	}

	rid, tk := e.review(), e.ticket()
	l := e.linked(id, rid, tk)
	m, err := e.s.GetLinks(e.ctx, id, []string{rid})
	e.must(err)
	m[rid] = link.Link{}
	delete(m, rid)
	e.byTicket(tk)[0].State = link.StateNone
	e.sameLink("after changing returned links", e.getLink(id, rid), l)
}

// DynamoDB refuses an empty string as a key, so an empty id is a caller's bug that must not
// pass on the in-memory store either. (Only reads and puts are checked here: moto, unlike
// DynamoDB, accepts an empty key in UpdateItem and BatchGetItem; memstore refuses those too.)
func testEmptyKeys(t *testing.T, e *env) {
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || errs.Is(err, errs.NotExist) {
			t.Fatalf("%s: %v, want an error that is not NotExist", what, err)
		}
	}
	_, err := e.s.GetLink(e.ctx, e.conn(), "")
	refused("GetLink", err)
	refused("PutConnection", e.s.PutConnection(e.ctx, bare("")))
	_, err = e.s.GetConnection(e.ctx, "")
	refused("GetConnection", err)
	_, err = e.s.GetConnectionForReplies(e.ctx, "")
	refused("GetConnectionForReplies", err)
}

func testCancelledContext(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	conn := e.conn()
	_, err := e.s.ClaimReview(ctx, conn, e.review(), review.Service, "w", ttl)
	e.wantKind("ClaimReview", err, errs.Transient)
	_, err = e.s.GetLink(ctx, conn, e.review())
	e.wantKind("GetLink", err, errs.Transient)
	_, err = e.s.GetConnection(ctx, conn)
	e.wantKind("GetConnection", err, errs.Transient)
	_, err = e.s.ListConnections(ctx)
	e.wantKind("ListConnections", err, errs.Transient)
	_, err = e.s.GetCursor(ctx, conn, review.Service)
	e.wantKind("GetCursor", err, errs.Transient)
	_, err = e.s.AcquireLease(ctx, e.name("lease"), "w", ttl)
	e.wantKind("AcquireLease", err, errs.Transient)
	e.wantKind("SaveToken", e.s.SaveToken(ctx, conn, token.Token{AccessToken: "x"}), errs.Transient)
}

// A purge removes the sidebar entries of the connection's reviews, wherever they are (a linked
// review's, one indexed before its ticket exists, another helpdesk account's), and nothing
// another connection's reviews wrote: connections of one helpdesk account share its reviewers,
// and a review both of them saw keeps the entry the other wrote last. A plain delete keeps them
// (replies and the sidebar still work); purging twice changes nothing.
func testPurgeSidebarEntries(t *testing.T, e *env) {
	a, b, c := e.conn(), e.conn(), e.conn()
	for _, id := range []string{a, b, c} {
		e.put(bare(id))
	}
	acct, moved := bare(a).HelpdeskAccountKey(), e.name("moved.gorgias.com")
	both, onlyA := reviewer.Key(e.name("both")+"@example.com"), reviewer.Key(e.name("only-a")+"@example.com")
	entry := func(conn, rid string) string {
		return reviewer.EntryOf(conn, review.Review{ID: rid, Kind: review.Service, Stars: 4, Title: "title " + rid,
			Text: "what " + conn + " saw", CreatedAt: start}, 0).Marshal()
	}
	linkTo := func(conn, rid, who string) {
		e.t.Helper()
		e.claim(conn, rid, "creator", link.ClaimGranted)
		e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "creator", Account: acct,
			TicketID: e.ticket(), CustomerID: 3, Reviewer: who}))
	}
	entries := func(what, account, who string, want map[string]string) {
		e.t.Helper()
		got, err := e.s.ReviewerEntries(e.ctx, account, who)
		e.must(err)
		if !reflect.DeepEqual(got, want) {
			e.t.Fatalf("%s: entries %v, want %v", what, got, want)
		}
	}

	// A's: a linked review, one indexed before its ticket (claimed, never confirmed), more of
	// one reviewer than a batch holds, one under another helpdesk account.
	linkedA, aheadA, sharedR, movedA := e.review(), e.review(), e.review(), e.review()
	linkTo(a, linkedA, both)
	e.must(e.s.PutReviewerEntry(e.ctx, acct, both, linkedA, entry(a, linkedA)))
	e.claim(a, aheadA, "creator", link.ClaimGranted)
	recs := []reviewer.Record{{Reviewer: both, ReviewID: aheadA, Entry: entry(a, aheadA)}}
	wantOnlyA := map[string]string{}
	for range 30 {
		rid := e.review()
		linkTo(a, rid, onlyA)
		recs = append(recs, reviewer.Record{Reviewer: onlyA, ReviewID: rid, Entry: entry(a, rid)})
		wantOnlyA[rid] = entry(a, rid)
	}
	e.must(e.s.PutReviewerEntries(e.ctx, acct, recs))
	e.must(e.s.PutReviewerEntry(e.ctx, moved, onlyA, movedA, entry(a, movedA)))
	// A review both A and B saw (one business unit twice), whose entry B wrote last.
	linkTo(a, sharedR, both)
	e.must(e.s.PutReviewerEntry(e.ctx, acct, both, sharedR, entry(a, sharedR)))
	linkTo(b, sharedR, both)
	e.must(e.s.PutReviewerEntry(e.ctx, acct, both, sharedR, entry(b, sharedR)))
	// B's own, and C's, deleted without purge first.
	linkedB, linkedC := e.review(), e.review()
	linkTo(b, linkedB, both)
	e.must(e.s.PutReviewerEntry(e.ctx, acct, both, linkedB, entry(b, linkedB)))
	linkTo(c, linkedC, both)
	e.must(e.s.PutReviewerEntry(e.ctx, acct, both, linkedC, entry(c, linkedC)))
	lb := e.getLink(b, linkedB)

	e.must(e.s.DeleteConnection(e.ctx, c, false))
	entries("after C's plain delete", acct, both, map[string]string{linkedA: entry(a, linkedA), aheadA: entry(a, aheadA),
		sharedR: entry(b, sharedR), linkedB: entry(b, linkedB), linkedC: entry(c, linkedC)})
	entries("another reviewer", acct, onlyA, wantOnlyA)

	e.must(e.s.DeleteConnection(e.ctx, a, true))
	e.must(e.s.DeleteConnection(e.ctx, c, true))
	for round := range 2 {
		what := fmt.Sprintf("after purge %d", round+1)
		entries(what+": reviewer of A and B", acct, both, map[string]string{sharedR: entry(b, sharedR), linkedB: entry(b, linkedB)})
		entries(what+": reviewer of A alone", acct, onlyA, map[string]string{})
		entries(what+": A's reviewer under another account", moved, onlyA, map[string]string{})
		e.sameLink(what+": B's link", e.getLink(b, linkedB), lb)
		e.record(b, false)
		if round == 0 {
			e.wantKind("purge again", e.s.DeleteConnection(e.ctx, a, true), errs.NotExist)
			e.wantKind("purge C again", e.s.DeleteConnection(e.ctx, c, true), errs.NotExist)
		}
	}
	_, err := e.s.GetLink(e.ctx, a, aheadA)
	e.wantKind("A's claim after purge", err, errs.NotExist)
}

// A delete (with or without purge) marks the connection deleted, then waits while a sync of it
// holds its helpdesk account's lease, so nothing the sync writes outlives the delete: the
// sync looks for its connection every few seconds and stops. Another connection's sync on the
// account is not waited for, nor an expired lease; a lease without a holder (an earlier
// version's worker) is, until it expires. Each case has a helpdesk account of its own (the
// lease is per account).
func testDeleteWaitsForSync(t *testing.T, e *env) {
	setup := func() (string, string, string) {
		id := e.conn()
		c := bare(id)
		c.Helpdesk.URL = "https://" + e.name("shop") + ".gorgias.com"
		e.put(c)
		rid := e.review()
		e.linked(id, rid, e.ticket())
		return id, rid, c.HelpdeskAccountKey()
	}
	purge := func(id string) <-chan error {
		done := make(chan error, 1)
		go func() { done <- e.s.DeleteConnection(e.ctx, id, true) }()
		return done
	}
	finished := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			e.must(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the purge still waits", what)
		}
	}
	stillWaits := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("%s: the delete did not wait for the sync (%v)", what, err)
		case <-time.After(400 * time.Millisecond):
		}
	}
	waiting := func(what string, done <-chan error, id, rid string) {
		t.Helper()
		// Marked deleted first (no sync starts on it any more)...
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, err := e.s.GetConnection(e.ctx, id); errs.Is(err, errs.NotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the delete never marked the connection deleted", what)
			}
		}
		// ...then it waits, having removed nothing.
		stillWaits(what, done)
		e.getLink(id, rid)
	}

	// The connection's own sync: waited for until it gives the lease up.
	id, rid, acct := setup()
	ok, err := e.s.AcquireLeaseFor(e.ctx, acct, "worker-1", id, time.Minute)
	if err != nil || !ok {
		t.Fatalf("AcquireLeaseFor: %v %v", ok, err)
	}
	holder, until, held, err := e.s.LeaseHolder(e.ctx, acct)
	e.must(err)
	if holder != id || !held || !until.Equal(time.UnixMilli(e.now().Add(time.Minute).UnixMilli())) {
		t.Fatalf("LeaseHolder: %q %v %v, want %q until %v", holder, until, held, id, e.now().Add(time.Minute))
	}
	done := purge(id)
	waiting("own sync", done, id, rid)
	e.must(e.s.ReleaseLease(e.ctx, acct, "worker-1"))
	finished("own sync released", done)
	_, err = e.s.GetLink(e.ctx, id, rid)
	e.wantKind("link after the purge", err, errs.NotExist)
	if _, _, held, err := e.s.LeaseHolder(e.ctx, acct); err != nil || held {
		t.Fatalf("LeaseHolder after release: %v %v", held, err)
	}

	// Another connection's sync on the same account: not waited for.
	id, _, acct = setup()
	if ok, err := e.s.AcquireLeaseFor(e.ctx, acct, "worker-2", e.conn(), time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLeaseFor: %v %v", ok, err)
	}
	finished("another connection's sync", purge(id))

	// A lease without a holder: waited for until it expires, and a while more (the worker's
	// clock and the deletion's may differ).
	id, rid, acct = setup()
	if ok, err := e.s.AcquireLease(e.ctx, acct, "worker-3", time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	done = purge(id)
	waiting("lease without a holder", done, id, rid)
	e.clk.Add(time.Minute + time.Millisecond)
	if _, _, held, err := e.s.LeaseHolder(e.ctx, acct); err != nil || held {
		t.Fatalf("LeaseHolder past the expiry: %v %v", held, err)
	}
	stillWaits("just expired lease", done)
	e.clk.Add(time.Minute)
	finished("expired lease", done)

	// Given up while it waits (the operator's Ctrl-C): nothing is deleted, the connection syncs
	// on as before.
	id, rid, acct = setup()
	if ok, err := e.s.AcquireLeaseFor(e.ctx, acct, "worker-5", id, time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLeaseFor: %v %v", ok, err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	given := make(chan error, 1)
	go func() { given <- e.s.DeleteConnection(ctx, id, true) }()
	waiting("given up", given, id, rid)
	cancel()
	select {
	case err := <-given:
		if err == nil {
			t.Fatal("a delete given up while it waited reported success")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a delete given up still waits")
	}
	if _, err := e.s.GetConnection(e.ctx, id); err != nil {
		t.Fatalf("connection after a delete given up: %v, want it as it was", err)
	}
	e.getLink(id, rid)

	// Put again while the delete waits: the delete refuses to remove it.
	done = purge(id)
	waiting("put again", done, id, rid)
	c := bare(id)
	c.Helpdesk.URL = "https://" + acct
	e.put(c)
	e.must(e.s.ReleaseLease(e.ctx, acct, "worker-5"))
	select {
	case err := <-done:
		e.wantKind("delete of a connection put again", err, errs.Conflict)
	case <-time.After(10 * time.Second):
		t.Fatal("the purge still waits after the sync gave the lease up")
	}
	if _, err := e.s.GetConnection(e.ctx, id); err != nil {
		t.Fatalf("connection put again: %v, want it kept", err)
	}
	e.getLink(id, rid)

	// A plain delete waits the same way.
	id, rid, acct = setup()
	if ok, err := e.s.AcquireLeaseFor(e.ctx, acct, "worker-4", id, time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLeaseFor: %v %v", ok, err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- e.s.DeleteConnection(e.ctx, id, false) }()
	waiting("plain delete", deleted, id, rid)
	e.must(e.s.ReleaseLease(e.ctx, acct, "worker-4"))
	finished("plain delete released", deleted)
	e.getLink(id, rid) // a plain delete keeps links
}
