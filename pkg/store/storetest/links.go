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
	e.must(e.s.SetAside(e.ctx, aside(conn, rid, "w2", e.now().Add(time.Hour))))
	e.sameLink("after a stranger's release and set-aside", e.getLink(conn, rid), held.Link)
	e.claim(conn, rid, "w3", link.ClaimBusy)

	// Nothing to release or fail: no error, and nothing is created.
	missing := e.review()
	e.must(e.s.ReleaseClaim(e.ctx, conn, missing, "w1"))
	e.must(e.s.SetAside(e.ctx, aside(conn, missing, "w1", e.now().Add(time.Hour))))
	if _, err := e.s.GetLink(e.ctx, conn, missing); !errs.Is(err, errs.NotExist) {
		t.Fatalf("release/set-aside of a missing link created it: %v", err)
	}

	// A linked review is no claim any more, not even its creator's.
	lrid := e.review()
	l := e.linked(conn, lrid, e.ticket())
	e.must(e.s.ReleaseClaim(e.ctx, conn, lrid, "creator"))
	e.must(e.s.SetAside(e.ctx, aside(conn, lrid, "creator", e.now().Add(time.Hour))))
	e.sameLink("linked after release/set-aside", e.getLink(conn, lrid), l)
}

// aside is a set-aside of a failed attempt with a snapshot, due at retry.
func aside(conn, rid, owner string, retry time.Time) link.Aside {
	return link.Aside{ConnectionID: conn, ReviewID: rid, Owner: owner, Reason: "500 from the helpdesk",
		RetryAt: retry, Failed: true, Snapshot: `{"id":"` + rid + `"}`}
}

func testSetAsideRefusesUntilRetry(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	first := e.claim(conn, rid, "w1", link.ClaimGranted)
	const wait = 24 * time.Hour
	e.must(e.s.SetAside(e.ctx, aside(conn, rid, "w1", e.now().Add(wait))))
	want := first.Link
	want.State, want.ClaimExpires, want.UpdatedAt = link.StateFailed, msT(e.now().Add(wait)), nsT(e.now())
	want.Failures, want.LastError, want.Snapshot = 1, "500 from the helpdesk", `{"id":"`+rid+`"}`
	got := e.getLink(conn, rid)
	e.sameLink("set aside", got, want)
	if !got.RefusedUntil(e.now()) || !got.SetAside() || got.AsideDue(e.now()) {
		t.Fatalf("set-aside link: refused %v, set aside %v, due %v; want true, true, false", got.RefusedUntil(e.now()), got.SetAside(), got.AsideDue(e.now()))
	}

	c := e.claim(conn, rid, "w2", link.ClaimRefused)
	e.sameLink("refused claim", c.Link, want)
	e.clk.Add(wait)
	e.claim(conn, rid, "w2", link.ClaimRefused)
	if !e.getLink(conn, rid).AsideDue(e.now()) {
		t.Fatal("set-aside review not due at its retry time")
	}
	e.clk.Add(time.Millisecond)
	c = e.claim(conn, rid, "w2", link.ClaimGranted)
	if !c.Recover {
		t.Fatal("claim after a failure must recover")
	}
	// The retry's claim keeps what the set-aside recorded: a crash now leaves it on the list.
	want = claimedLink(conn, rid, "w2", e.now(), 2)
	want.Failures, want.LastError, want.Snapshot = 1, "500 from the helpdesk", `{"id":"`+rid+`"}`
	want.UpdatedAt = nsT(e.now())
	e.sameLink("claim after the wait", c.Link, want)
	if !c.Link.SetAside() {
		t.Fatal("a retry's claim is off the set-aside list")
	}
}

func testSetAsideList(t *testing.T, e *env) {
	conn, other := e.conn(), e.conn()
	r1, r2, r3, linked := e.review(), e.review(), e.review(), e.review()
	for _, rid := range []string{r1, r2, r3, linked} {
		e.claim(conn, rid, "w", link.ClaimGranted)
		e.must(e.s.SetAside(e.ctx, aside(conn, rid, "w", e.now().Add(time.Minute))))
	}
	e.claim(other, r1, "w", link.ClaimGranted)
	e.must(e.s.SetAside(e.ctx, aside(other, r1, "w", e.now().Add(time.Minute))))
	e.claim(conn, e.review(), "w", link.ClaimGranted) // claimed, never set aside: not listed

	// A set-aside review that is linked leaves the list; its attempt record goes with it.
	e.clk.Add(time.Minute + time.Millisecond)
	e.claim(conn, linked, "w", link.ClaimGranted)
	tk := e.ticket()
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: linked, Owner: "w", Account: "a", TicketID: tk}))
	l := e.getLink(conn, linked)
	if l.SetAside() || l.Failures != 0 || l.LastError != "" || l.Snapshot != "" || !l.Uncertain.IsZero() {
		t.Fatalf("linked review keeps its set-aside record: %+v", l)
	}
	if got, err := e.s.LinksByTicket(e.ctx, tk); err != nil || len(got) != 1 {
		t.Fatalf("LinksByTicket after a set-aside review was linked: %v %+v", err, got)
	}

	got, err := e.s.ListSetAside(e.ctx, conn)
	e.must(err)
	ids := map[string]bool{}
	for _, l := range got {
		if l.ConnectionID != conn || l.State != link.StateFailed || l.Failures != 1 {
			t.Fatalf("listed: %+v", l)
		}
		ids[l.ReviewID] = true
	}
	if len(got) != 3 || !ids[r1] || !ids[r2] || !ids[r3] {
		t.Fatalf("ListSetAside = %v, want %s %s %s", ids, r1, r2, r3)
	}
	empty, err := e.s.ListSetAside(e.ctx, e.conn())
	e.must(err)
	if len(empty) != 0 {
		t.Fatalf("ListSetAside of a connection without any: %+v", empty)
	}
}

func testSetAsideGivenUpAndForcedRetry(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.claim(conn, rid, "w", link.ClaimGranted)
	a := aside(conn, rid, "w", time.Time{})
	a.GivenUp = true
	e.must(e.s.SetAside(e.ctx, a))
	e.clk.Add(100 * 365 * 24 * time.Hour)
	e.claim(conn, rid, "w2", link.ClaimRefused)
	if l := e.getLink(conn, rid); !l.GivenUp || l.AsideDue(e.now()) || !l.SetAside() {
		t.Fatalf("given up: %+v", l)
	}
	e.must(e.s.RetrySetAside(e.ctx, conn, rid))
	l := e.getLink(conn, rid)
	if l.GivenUp || l.Failures != 0 || !l.AsideDue(e.now()) || l.Snapshot == "" {
		t.Fatalf("after a forced retry: %+v", l)
	}
	e.clk.Add(time.Millisecond)
	e.claim(conn, rid, "w2", link.ClaimGranted)

	linked := e.review()
	e.linked(conn, linked, e.ticket())
	e.wantKind("retry of a linked review", e.s.RetrySetAside(e.ctx, conn, linked), errs.NotExist)
	e.wantKind("retry of a missing review", e.s.RetrySetAside(e.ctx, conn, e.review()), errs.NotExist)
}

func testSetAsideUncertain(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.claim(conn, rid, "w", link.ClaimGranted)
	sent := e.now()
	a := aside(conn, rid, "w", sent.Add(20*time.Second))
	a.Uncertain, a.Failed = sent, false
	e.must(e.s.SetAside(e.ctx, a))
	l := e.getLink(conn, rid)
	if !l.Uncertain.Equal(msT(sent)) || l.Failures != 0 {
		t.Fatalf("uncertain set-aside: uncertain %v failures %d", l.Uncertain, l.Failures)
	}
	// A look-up that finds nothing yet keeps the time of the create it waits on.
	e.clk.Add(21 * time.Second)
	e.claim(conn, rid, "w", link.ClaimGranted)
	e.must(e.s.SetAside(e.ctx, link.Aside{ConnectionID: conn, ReviewID: rid, Owner: "w", Reason: "not found yet", RetryAt: e.now().Add(30 * time.Second)}))
	l = e.getLink(conn, rid)
	if !l.Uncertain.Equal(msT(sent)) || l.Snapshot == "" || l.LastError != "not found yet" {
		t.Fatalf("after a look-up: %+v", l)
	}
	// Proven absent, the create fails for sure this time: the pending create is forgotten.
	e.clk.Add(31 * time.Second)
	e.claim(conn, rid, "w", link.ClaimGranted)
	e.must(e.s.SetAside(e.ctx, link.Aside{ConnectionID: conn, ReviewID: rid, Owner: "w", Reason: "400", RetryAt: e.now().Add(time.Hour), Failed: true, Settled: true}))
	if l = e.getLink(conn, rid); !l.Uncertain.IsZero() || l.Failures != 1 {
		t.Fatalf("after a settled failure: %+v", l)
	}
}

func testRecordUnreadable(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.must(e.s.RecordUnreadable(e.ctx, conn, rid, review.Product, "stars: 9 is not 1 to 5"))
	l := e.getLink(conn, rid)
	if !l.SetAside() || !l.GivenUp || l.LastError != "stars: 9 is not 1 to 5" || l.AsideDue(e.now()) || l.Kind != review.Product {
		t.Fatalf("unreadable: %+v", l)
	}
	listed, err := e.s.ListSetAside(e.ctx, conn)
	e.must(err)
	if len(listed) != 1 || listed[0].ReviewID != rid {
		t.Fatalf("unreadable review not listed: %+v", listed)
	}
	// Readable later, it is claimed and linked at once like any other.
	c := e.claim(conn, rid, "w", link.ClaimGranted)
	if c.Recover {
		t.Fatal("an unreadable review was never sent to the helpdesk: nothing to recover")
	}
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w", Account: "a", TicketID: e.ticket()}))
	if listed, _ = e.s.ListSetAside(e.ctx, conn); len(listed) != 0 {
		t.Fatalf("linked review still listed: %+v", listed)
	}
	// Linked or claimed reviews are not set aside by a late unreadable copy.
	e.must(e.s.RecordUnreadable(e.ctx, conn, rid, review.Product, "x"))
	if l := e.getLink(conn, rid); l.State != link.StateLinked {
		t.Fatalf("unreadable copy of a linked review: %+v", l)
	}
	busy := e.review()
	e.claim(conn, busy, "w", link.ClaimGranted)
	e.must(e.s.RecordUnreadable(e.ctx, conn, busy, review.Product, "x"))
	if l := e.getLink(conn, busy); l.State != link.StateClaimed {
		t.Fatalf("unreadable copy of a claimed review: %+v", l)
	}
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
func testConfirmAfterExpiryOnlyWhenRecovered(t *testing.T, e *env) {
	conn, rid, tk := e.conn(), e.review(), e.ticket()
	e.claim(conn, rid, "w1", link.ClaimGranted)
	e.clk.Add(ttl)
	e.clk.Add(time.Millisecond)
	// Created under an expired claim: another worker may have made a twin meanwhile.
	err := e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "a", TicketID: tk})
	if !errs.Is(err, errs.Conflict) || !errors.Is(err, link.ErrClaimLost) {
		t.Fatalf("confirm of a created ticket after the claim expired: %v, want link.ErrClaimLost", err)
	}
	// Found by its external id, the ticket is the one: recorded even late.
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "a", TicketID: tk, Recovered: true}))
	if l := e.getLink(conn, rid); l.State != link.StateLinked {
		t.Fatalf("late confirm of a recovered ticket: %+v", l)
	}
	// At its expiry to the millisecond the claim still holds.
	r2 := e.review()
	e.claim(conn, r2, "w1", link.ClaimGranted)
	e.clk.Add(ttl)
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: r2, Owner: "w1", Account: "a", TicketID: e.ticket()}))
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
	e.must(e.s.SetAside(e.ctx, aside(conn, rid, "w1", e.now().Add(time.Hour))))
	lost("confirm of a set-aside claim", e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", TicketID: 1}))
}

// ConfirmAndClaim writes a batch whole or not at all: each confirm as ConfirmLink would, each
// claim as a first ClaimReview would; one lost claim or one review to claim that has a link
// already leaves every item as it was.
func testConfirmAndClaim(t *testing.T, e *env) {
	conn := e.conn()
	rids, tks := []string{e.review(), e.review(), e.review()}, []int64{e.ticket(), e.ticket(), e.ticket()}
	next := []string{e.review(), e.review()}
	for _, rid := range rids {
		e.claim(conn, rid, "w1", link.ClaimGranted)
	}
	e.clk.Add(time.Second)
	b := link.Batch{ConnectionID: conn, Owner: "w1", ClaimTTL: ttl}
	for i, rid := range rids {
		b.Confirms = append(b.Confirms, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w1", Account: "a", TicketID: tks[i], Stars: 4})
	}
	for _, id := range next {
		b.Claims = append(b.Claims, link.Want{ReviewID: id, Kind: review.Service})
	}
	cs, ok, err := e.s.ConfirmAndClaim(e.ctx, b)
	e.must(err)
	if !ok || len(cs) != len(next) {
		t.Fatalf("ConfirmAndClaim: %+v %v, want %d first claims granted", cs, ok, len(next))
	}
	for i, id := range next {
		want := claimedLink(conn, id, "w1", e.now(), 1)
		if cs[i].Status != link.ClaimGranted || cs[i].Recover {
			t.Fatalf("claim %d: %+v, want a first claim granted", i, cs[i])
		}
		e.sameLink("claim result", cs[i].Link, want)
		e.sameLink("claimed", e.getLink(conn, id), want)
	}
	for i, rid := range rids {
		if l := e.getLink(conn, rid); l.State != link.StateLinked || l.TicketID != tks[i] || l.Stars != 4 || !l.LinkedAt.Equal(nsT(e.now())) {
			t.Fatalf("confirmed %d: %+v", i, l)
		}
		if byTicket, err := e.s.LinksByTicket(e.ctx, tks[i]); err != nil || len(byTicket) != 1 || byTicket[0].ReviewID != rid {
			t.Fatalf("LinksByTicket after ConfirmAndClaim: %v %v", byTicket, err)
		}
	}
	// Claims alone (the first group of a page) and a confirm alone are batches too.
	alone := e.review()
	if cs, ok, err := e.s.ConfirmAndClaim(e.ctx, link.Batch{ConnectionID: conn, Owner: "w1", ClaimTTL: ttl,
		Claims: []link.Want{{ReviewID: alone, Kind: review.Product}}}); err != nil || !ok || len(cs) != 1 || cs[0].Link.Kind != review.Product {
		t.Fatalf("claims alone: %+v %v %v", cs, ok, err)
	}

	// One review to claim has a link (here: one just linked): nothing is written, the other
	// confirm and claim included.
	third, fourth, fifth := e.review(), e.review(), e.review()
	e.claim(conn, third, "w1", link.ClaimGranted)
	before := e.getLink(conn, third)
	b = link.Batch{ConnectionID: conn, Owner: "w1", ClaimTTL: ttl,
		Confirms: []link.Confirm{{ConnectionID: conn, ReviewID: third, Owner: "w1", Account: "a", TicketID: e.ticket()}},
		Claims:   []link.Want{{ReviewID: fourth, Kind: review.Service}, {ReviewID: rids[0], Kind: review.Service}}}
	if _, ok, err := e.s.ConfirmAndClaim(e.ctx, b); err != nil || ok {
		t.Fatalf("ConfirmAndClaim of a linked review: %v %v, want false", ok, err)
	}
	e.sameLink("confirm not written", e.getLink(conn, third), before)
	if _, err := e.s.GetLink(e.ctx, conn, fourth); !errs.Is(err, errs.NotExist) {
		t.Fatalf("claim written in a refused batch: %v", err)
	}
	// A lost claim among the confirms: nothing is written.
	e.claim(conn, fifth, "w1", link.ClaimGranted)
	e.clk.Add(ttl + time.Millisecond)
	e.claim(conn, fifth, "w2", link.ClaimGranted) // taken over
	b = link.Batch{ConnectionID: conn, Owner: "w1", ClaimTTL: ttl,
		Confirms: []link.Confirm{{ConnectionID: conn, ReviewID: fifth, Owner: "w1", Account: "a", TicketID: e.ticket(), Recovered: true}},
		Claims:   []link.Want{{ReviewID: fourth, Kind: review.Service}}}
	if _, ok, err := e.s.ConfirmAndClaim(e.ctx, b); err != nil || ok {
		t.Fatalf("ConfirmAndClaim after a takeover: %v %v, want false", ok, err)
	}
	if _, err := e.s.GetLink(e.ctx, conn, fourth); !errs.Is(err, errs.NotExist) {
		t.Fatalf("claim written with a lost confirm: %v", err)
	}
	// An expired claim whose ticket was created under it: nothing is written.
	b.Confirms = []link.Confirm{{ConnectionID: conn, ReviewID: third, Owner: "w1", Account: "a", TicketID: e.ticket()}}
	if _, ok, err := e.s.ConfirmAndClaim(e.ctx, b); err != nil || ok {
		t.Fatalf("ConfirmAndClaim after the claim expired: %v %v, want false", ok, err)
	}
	e.sameLink("expired confirm not written", e.getLink(conn, third), before)

	// Malformed batches are refused as invalid, never half written.
	for name, bad := range map[string]link.Batch{
		"empty":        {ConnectionID: conn, Owner: "w1"},
		"no owner":     {ConnectionID: conn, Claims: []link.Want{{ReviewID: e.review()}}, ClaimTTL: ttl},
		"twice":        {ConnectionID: conn, Owner: "w1", ClaimTTL: ttl, Claims: []link.Want{{ReviewID: fourth}, {ReviewID: fourth}}},
		"other owner":  {ConnectionID: conn, Owner: "w1", Confirms: []link.Confirm{{ConnectionID: conn, ReviewID: third, Owner: "w2"}}},
		"no claim ttl": {ConnectionID: conn, Owner: "w1", Claims: []link.Want{{ReviewID: e.review()}}},
		"too many":     {ConnectionID: conn, Owner: "w1", ClaimTTL: ttl, Claims: wants(e, link.MaxBatch+1)},
	} {
		if _, ok, err := e.s.ConfirmAndClaim(e.ctx, bad); !errs.Is(err, errs.Invalid) || ok {
			t.Errorf("%s batch: %v %v, want an invalid-input error", name, ok, err)
		}
	}
	if _, err := e.s.GetLink(e.ctx, conn, fourth); !errs.Is(err, errs.NotExist) {
		t.Fatalf("a refused batch wrote a claim: %v", err)
	}
}

func wants(e *env, n int) []link.Want {
	w := make([]link.Want, n)
	for i := range w {
		w[i] = link.Want{ReviewID: e.review(), Kind: review.Service}
	}
	return w
}

// DropClaim removes only an unused first claim of its owner: the review then has no link, and
// its next claim is a first one (no look-up for a ticket). A claim of another owner, a claim
// after a failed attempt, and a linked review are left alone.
func testDropClaim(t *testing.T, e *env) {
	conn, ahead, other, linked, retried := e.conn(), e.review(), e.review(), e.review(), e.review()
	e.claim(conn, ahead, "w1", link.ClaimGranted)
	e.claim(conn, other, "w2", link.ClaimGranted)
	e.claim(conn, linked, "w1", link.ClaimGranted)
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: linked, Owner: "w1", Account: "a", TicketID: e.ticket()}))
	e.claim(conn, retried, "w1", link.ClaimGranted)
	e.must(e.s.ReleaseClaim(e.ctx, conn, retried, "w1"))
	e.claim(conn, retried, "w1", link.ClaimGranted) // attempt 2: a create may have been sent under the first
	for _, id := range []string{ahead, other, linked, retried} {
		e.must(e.s.DropClaim(e.ctx, conn, id, "w1"))
	}
	if _, err := e.s.GetLink(e.ctx, conn, ahead); !errs.Is(err, errs.NotExist) {
		t.Fatalf("unused claim not dropped: %v", err)
	}
	if c := e.claim(conn, ahead, "w3", link.ClaimGranted); c.Recover {
		t.Fatalf("claim after a dropped one asks for recovery: %+v", c)
	}
	if l := e.getLink(conn, other); l.Owner != "w2" || l.State != link.StateClaimed {
		t.Fatalf("another owner's claim dropped: %+v", l)
	}
	if l := e.getLink(conn, linked); l.State != link.StateLinked {
		t.Fatalf("linked review dropped: %+v", l)
	}
	if l := e.getLink(conn, retried); l.State != link.StateClaimed || l.Attempts != 2 {
		t.Fatalf("a second attempt's claim dropped: %+v", l)
	}
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

// A link made before the sidebar's index names no reviewer: SetReviewer names one (and the
// account, where the link has none), once. A link naming one already, a review only claimed
// and no link at all are left alone.
func testSetReviewer(t *testing.T, e *env) {
	conn := e.conn()
	rid := e.review()
	e.linked(conn, rid, e.ticket()) // no reviewer, account acme.gorgias.com
	set := func(what, reviewID, who string, want bool) {
		t.Helper()
		got, err := e.s.SetReviewer(e.ctx, conn, reviewID, "other.gorgias.com", who)
		if err != nil || got != want {
			t.Fatalf("SetReviewer %s: %v %v, want %v", what, got, err, want)
		}
	}
	set("old link", rid, "rv-1", true)
	if l := e.getLink(conn, rid); l.Reviewer != "rv-1" || l.Account != "acme.gorgias.com" {
		t.Fatalf("link after SetReviewer: reviewer %q account %q, want rv-1 and the link's own account", l.Reviewer, l.Account)
	}
	set("link naming one", rid, "rv-2", false)
	if l := e.getLink(conn, rid); l.Reviewer != "rv-1" {
		t.Fatalf("reviewer %q after a second SetReviewer, want rv-1 kept", l.Reviewer)
	}
	claimed := e.review()
	e.claim(conn, claimed, "w", link.ClaimGranted)
	set("claimed review", claimed, "rv-3", false)
	set("no link", e.review(), "rv-4", false)
	if _, err := e.s.SetReviewer(e.ctx, conn, rid, "", "rv-5"); err == nil {
		t.Fatal("SetReviewer without an account: no error")
	}
}
