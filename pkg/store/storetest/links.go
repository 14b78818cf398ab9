package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// claimedLink is the link a first claim at now creates.
func claimedLink(conn, rid, owner string, now time.Time, attempts int64) link.Link {
	return link.Link{ConnectionID: conn, ReviewID: rid, Kind: review.Service, State: link.StateClaimed, Owner: owner,
		ClaimExpires: msT(now.Add(ttl)), Attempts: attempts, ReplyExpires: epoch, UpdatedAt: nsT(now)}
}

func testClaimGranted(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	c := e.claim(conn, rid, "w1", link.ClaimGranted)
	if c.Recover {
		t.Fatal("first claim asks to recover a ticket no attempt could have created")
	}
	want := claimedLink(conn, rid, "w1", e.now(), 1)
	e.sameLink("claim result", c.Link, want)
	e.sameLink("stored", e.getLink(conn, rid), want)
}

func testClaimBusyUntilExpired(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	first := e.claim(conn, rid, "w1", link.ClaimGranted)
	busy := e.claim(conn, rid, "w2", link.ClaimBusy)
	e.sameLink("busy claim shows the holder's link", busy.Link, first.Link)

	// Expiry is compared in code, to the millisecond: the claim still holds at its expiry.
	e.clk.Add(ttl)
	e.claim(conn, rid, "w2", link.ClaimBusy)
	e.clk.Add(time.Millisecond)
	c := e.claim(conn, rid, "w2", link.ClaimGranted)
	if !c.Recover {
		t.Fatal("takeover of an expired claim must recover: w1 may have created the ticket")
	}
	e.sameLink("takeover", c.Link, claimedLink(conn, rid, "w2", e.now(), 2))
	e.claim(conn, rid, "w1", link.ClaimBusy)
}

func testClaimLinked(t *testing.T, e *env) {
	conn, rid, tk := e.conn(), e.review(), e.ticket()
	l := e.linked(conn, rid, tk)
	c := e.claim(conn, rid, "w2", link.ClaimLinked)
	e.sameLink("linked claim", c.Link, l)
	e.clk.Add(365 * 24 * time.Hour)
	e.claim(conn, rid, "w3", link.ClaimLinked)
}

func testReleaseKeepsAttempts(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	first := e.claim(conn, rid, "w1", link.ClaimGranted)
	e.must(e.s.ReleaseClaim(e.ctx, conn, rid, "w1"))
	want := first.Link
	want.ClaimExpires = epoch
	e.sameLink("released", e.getLink(conn, rid), want)

	e.clk.Add(time.Millisecond)
	c := e.claim(conn, rid, "w2", link.ClaimGranted)
	if !c.Recover || c.Link.Attempts != 2 {
		t.Fatalf("claim after a release: recover %v attempts %d, want true 2", c.Recover, c.Link.Attempts)
	}
}

func testReleaseAndFailByNonOwner(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	held := e.claim(conn, rid, "w1", link.ClaimGranted)
	e.must(e.s.ReleaseClaim(e.ctx, conn, rid, "w2"))
	e.must(e.s.FailClaim(e.ctx, conn, rid, "w2", "not mine", time.Hour))
	e.sameLink("after a stranger's release and fail", e.getLink(conn, rid), held.Link)
	e.claim(conn, rid, "w3", link.ClaimBusy)

	// Nothing to release or fail: no error, and nothing is created.
	missing := e.review()
	e.must(e.s.ReleaseClaim(e.ctx, conn, missing, "w1"))
	e.must(e.s.FailClaim(e.ctx, conn, missing, "w1", "x", time.Hour))
	if _, err := e.s.GetLink(e.ctx, conn, missing); !errs.Is(err, errs.NotExist) {
		t.Fatalf("release/fail of a missing link created it: %v", err)
	}

	// A linked review is no claim any more, not even its creator's.
	lrid := e.review()
	l := e.linked(conn, lrid, e.ticket())
	e.must(e.s.ReleaseClaim(e.ctx, conn, lrid, "creator"))
	e.must(e.s.FailClaim(e.ctx, conn, lrid, "creator", "late", time.Hour))
	e.sameLink("linked after release/fail", e.getLink(conn, lrid), l)
}

func testFailRefusesUntilExpiry(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	first := e.claim(conn, rid, "w1", link.ClaimGranted)
	const wait = 24 * time.Hour
	e.must(e.s.FailClaim(e.ctx, conn, rid, "w1", "400 subject too long", wait))
	want := first.Link
	want.State, want.ClaimExpires = link.StateFailed, msT(e.now().Add(wait))
	got := e.getLink(conn, rid)
	e.sameLink("failed", got, want)
	if !got.RefusedUntil(e.now()) {
		t.Fatal("failed link not refused now")
	}

	c := e.claim(conn, rid, "w2", link.ClaimRefused)
	e.sameLink("refused claim", c.Link, want)
	e.clk.Add(wait)
	e.claim(conn, rid, "w2", link.ClaimRefused)
	e.clk.Add(time.Millisecond)
	c = e.claim(conn, rid, "w2", link.ClaimGranted)
	if !c.Recover {
		t.Fatal("claim after a failure must recover")
	}
	e.sameLink("claim after the wait", c.Link, claimedLink(conn, rid, "w2", e.now(), 2))
}

func testConfirmLinks(t *testing.T, e *env) {
	conn, rid, tk := e.conn(), e.review(), e.ticket()
	claimed := e.claim(conn, rid, "w1", link.ClaimGranted)
	e.clk.Add(10 * time.Second)
	version := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "acme.gorgias.com",
		TicketID: tk, CustomerID: 7, ReviewVersion: version, Stars: 2}))
	want := claimed.Link
	want.State, want.ClaimExpires, want.TicketID, want.CustomerID = link.StateLinked, epoch, tk, 7
	want.Account, want.ReviewVersion, want.Stars, want.UpdatedAt, want.LinkedAt = "acme.gorgias.com", nsT(version), 2, nsT(e.now()), nsT(e.now())
	e.sameLink("confirmed", e.getLink(conn, rid), want)

	byTicket, err := e.s.LinksByTicket(e.ctx, tk)
	e.must(err)
	if len(byTicket) != 1 {
		t.Fatalf("LinksByTicket: %d links, want 1", len(byTicket))
	}
	e.sameLink("by ticket", byTicket[0], want)
	if none, err := e.s.LinksByTicket(e.ctx, e.ticket()); err != nil || len(none) != 0 {
		t.Fatalf("LinksByTicket of an unused ticket: %v %v", none, err)
	}

	err = e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "acme.gorgias.com", TicketID: tk + 1})
	if !errs.Is(err, errs.Conflict) || !errors.Is(err, link.ErrClaimLost) {
		t.Fatalf("second confirm: %v, want a conflict wrapping link.ErrClaimLost", err)
	}
	e.sameLink("after a second confirm", e.getLink(conn, rid), want)
}

func testConfirmAfterTakeover(t *testing.T, e *env) {
	conn, rid, tk := e.conn(), e.review(), e.ticket()
	e.claim(conn, rid, "w1", link.ClaimGranted)
	e.clk.Add(ttl + time.Millisecond)
	taken := e.claim(conn, rid, "w2", link.ClaimGranted)

	err := e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "a", TicketID: tk})
	if !errs.Is(err, errs.Conflict) || !errors.Is(err, link.ErrClaimLost) {
		t.Fatalf("stale confirm: %v, want a conflict wrapping link.ErrClaimLost", err)
	}
	e.sameLink("after a stale confirm", e.getLink(conn, rid), taken.Link)
	if l, err := e.s.LinksByTicket(e.ctx, tk); err != nil || len(l) != 0 {
		t.Fatalf("stale confirm indexed the ticket: %v %v", l, err)
	}
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w2", Account: "a", TicketID: tk}))
	if l := e.getLink(conn, rid); l.State != link.StateLinked || l.Owner != "w2" || l.TicketID != tk {
		t.Fatalf("new owner's confirm: %+v", l)
	}
}

// Only a takeover ends a claim: its owner may still confirm after the expiry when nobody else
// claimed the review meanwhile.
func testConfirmAfterExpiryWithoutTakeover(t *testing.T, e *env) {
	conn, rid, tk := e.conn(), e.review(), e.ticket()
	e.claim(conn, rid, "w1", link.ClaimGranted)
	e.clk.Add(10 * ttl)
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "a", TicketID: tk}))
	if l := e.getLink(conn, rid); l.State != link.StateLinked {
		t.Fatalf("late confirm: %+v", l)
	}
}

func testConfirmWithoutClaim(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	lost := func(what string, err error) {
		t.Helper()
		if !errs.Is(err, errs.Conflict) || !errors.Is(err, link.ErrClaimLost) {
			t.Fatalf("%s: %v, want a conflict wrapping link.ErrClaimLost", what, err)
		}
	}
	lost("confirm of a missing link", e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", TicketID: 1}))
	if _, err := e.s.GetLink(e.ctx, conn, rid); !errs.Is(err, errs.NotExist) {
		t.Fatalf("confirm of a missing link created it: %v", err)
	}
	e.claim(conn, rid, "w1", link.ClaimGranted)
	e.must(e.s.FailClaim(e.ctx, conn, rid, "w1", "refused", time.Hour))
	lost("confirm of a failed claim", e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", TicketID: 1}))
}

func testLinksByTicketOrder(t *testing.T, e *env) {
	// Ticket ids of two helpdesk accounts may collide: all links come back, by account, then
	// connection, then review.
	tk := e.ticket()
	c1, c2 := e.conn(), e.conn()
	r1, r2, r3 := e.review(), e.review(), e.review()
	confirm := func(conn, rid, account string) {
		t.Helper()
		e.claim(conn, rid, "w", link.ClaimGranted)
		e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w", Account: account, TicketID: tk}))
	}
	confirm(c2, r3, "a.gorgias.com")
	confirm(c1, r2, "b.gorgias.com")
	confirm(c1, r1, "b.gorgias.com")
	e.claim(c2, e.review(), "w", link.ClaimGranted) // claimed, not linked: not on the ticket yet

	got, err := e.s.LinksByTicket(e.ctx, tk)
	e.must(err)
	want := [][2]string{{c2, r3}, {c1, r1}, {c1, r2}}
	if len(got) != len(want) {
		t.Fatalf("LinksByTicket: %d links, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].ConnectionID != w[0] || got[i].ReviewID != w[1] || got[i].TicketID != tk {
			t.Fatalf("LinksByTicket[%d] = %s/%s, want %s/%s", i, got[i].ConnectionID, got[i].ReviewID, w[0], w[1])
		}
	}
}

func testGetLinkMissing(t *testing.T, e *env) {
	_, err := e.s.GetLink(e.ctx, e.conn(), e.review())
	e.wantKind("GetLink of a missing link", err, errs.NotExist)
}

func testGetLinksBatches(t *testing.T, e *env) {
	conn := e.conn()
	var ids []string
	want := map[string]link.Link{}
	for i := range 130 { // more than one BatchGetItem call (100 keys)
		id := e.review()
		ids = append(ids, id)
		if i%2 == 0 {
			want[id] = e.claim(conn, id, "w", link.ClaimGranted).Link
		}
	}
	got, err := e.s.GetLinks(e.ctx, conn, append(ids, ids[0], ids[1], ids[128])) // duplicates are fine
	e.must(err)
	if len(got) != len(want) {
		t.Fatalf("GetLinks: %d links, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("GetLinks misses %s", id)
		}
		e.sameLink("GetLinks["+id+"]", g, w)
	}

	other, err := e.s.GetLinks(e.ctx, e.conn(), ids)
	if err != nil || len(other) != 0 {
		t.Fatalf("GetLinks of another connection: %d links, %v", len(other), err)
	}
	empty, err := e.s.GetLinks(e.ctx, conn, nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("GetLinks of no ids: %v %v, want an empty map", empty, err)
	}
}

func testSetReviewVersion(t *testing.T, e *env) {
	conn := e.conn()
	v := e.now().Add(-time.Hour)
	set := func(rid string, version time.Time, stars int, want bool) {
		t.Helper()
		ok, err := e.s.SetReviewVersion(e.ctx, conn, rid, version, stars)
		if err != nil || ok != want {
			t.Fatalf("SetReviewVersion(%s, %v): %v %v, want %v", rid, version, ok, err, want)
		}
	}

	set(e.review(), v, 5, false) // missing: nothing to update, nothing created
	claimed := e.review()
	e.claim(conn, claimed, "w", link.ClaimGranted)
	set(claimed, v, 5, false) // not linked yet: ConfirmLink records the version
	if l := e.getLink(conn, claimed); !l.ReviewVersion.IsZero() || l.Stars != 0 {
		t.Fatalf("version recorded on a claim: %+v", l)
	}

	rid := e.review()
	l := e.linked(conn, rid, e.ticket()) // version now-1h, 4 stars
	set(rid, l.ReviewVersion, 1, false)
	set(rid, l.ReviewVersion.Add(-time.Second), 1, false)
	e.clk.Add(time.Minute)
	newer := l.ReviewVersion.Add(time.Nanosecond)
	set(rid, newer, 5, true)
	want := l
	want.ReviewVersion, want.Stars, want.UpdatedAt = nsT(newer), 5, nsT(e.now())
	e.sameLink("after a newer version", e.getLink(conn, rid), want)
	set(rid, newer, 2, false)
	set(rid, l.ReviewVersion, 2, false)
	e.sameLink("after older versions", e.getLink(conn, rid), want)

	// A link confirmed without a version takes any version.
	bare := e.review()
	e.claim(conn, bare, "w", link.ClaimGranted)
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: bare, Owner: "w", TicketID: e.ticket()}))
	set(bare, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), 3, true)
}
