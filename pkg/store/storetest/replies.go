package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
)

// heldSlot is l with its reply slot claimed by msg at now.
func heldSlot(l link.Link, msg int64, owner string, now time.Time) link.Link {
	l.ReplyState, l.ReplyMessage, l.ReplyOwner, l.ReplyExpires, l.UpdatedAt = link.ReplyClaimed, msg, owner, msT(now.Add(ttl)), nsT(now)
	return l
}

func testReplySlotNeedsLink(t *testing.T, e *env) {
	conn := e.conn()
	c := e.slot(conn, e.review(), 100, "h", link.SlotNoLink)
	if c.Link != (link.Link{}) {
		t.Fatalf("no link, yet a link came back: %+v", c.Link)
	}

	claimed := e.review()
	held := e.claim(conn, claimed, "w", link.ClaimGranted)
	c = e.slot(conn, claimed, 100, "h", link.SlotNoLink)
	e.sameLink("slot on a claim", c.Link, held.Link)
	e.sameLink("claim after a refused slot", e.getLink(conn, claimed), held.Link)

	failed := e.review()
	e.claim(conn, failed, "w", link.ClaimGranted)
	e.must(e.s.SetAside(e.ctx, aside(conn, failed, "w", e.now().Add(time.Hour))))
	e.slot(conn, failed, 100, "h", link.SlotNoLink)
}

func testReplySlotGranted(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	l := e.linked(conn, rid, e.ticket())
	e.clk.Add(time.Second)
	c := e.slot(conn, rid, 100, "h1", link.SlotGranted)
	held := heldSlot(l, 100, "h1", e.now())
	e.sameLink("granted", c.Link, held)
	e.sameLink("stored", e.getLink(conn, rid), held)

	e.sameLink("other message", e.slot(conn, rid, 101, "h2", link.SlotUsed).Link, held)
	e.sameLink("same message, live claim", e.slot(conn, rid, 100, "h2", link.SlotBusy).Link, held)

	// The claim expires to the millisecond; then only its own message may take the slot again.
	e.clk.Add(ttl)
	e.slot(conn, rid, 100, "h2", link.SlotBusy)
	e.clk.Add(time.Millisecond)
	e.slot(conn, rid, 101, "h2", link.SlotUsed)
	c = e.slot(conn, rid, 100, "h2", link.SlotGranted)
	e.sameLink("retaken after expiry", c.Link, heldSlot(l, 100, "h2", e.now()))
}

func testReleaseReply(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	l := e.linked(conn, rid, e.ticket())
	held := e.slot(conn, rid, 100, "h1", link.SlotGranted).Link

	e.must(e.s.ReleaseReply(e.ctx, conn, rid, 101)) // not the holder: nothing happens
	e.sameLink("after a stranger's release", e.getLink(conn, rid), held)
	e.slot(conn, rid, 100, "h2", link.SlotBusy)

	e.must(e.s.ReleaseReply(e.ctx, conn, rid, 100))
	released := held
	released.ReplyExpires = epoch
	e.sameLink("released", e.getLink(conn, rid), released)
	e.slot(conn, rid, 101, "h2", link.SlotUsed)
	c := e.slot(conn, rid, 100, "retry", link.SlotGranted)
	e.sameLink("retry", c.Link, heldSlot(l, 100, "retry", e.now()))

	e.must(e.s.ReleaseReply(e.ctx, conn, e.review(), 100)) // missing link: nothing to release
}

func testFinishReplyPosted(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.linked(conn, rid, e.ticket())
	held := e.slot(conn, rid, 100, "h1", link.SlotGranted).Link

	e.wantKind("finish by a message without the claim", e.s.FinishReply(e.ctx, conn, rid, 101, link.ReplyPosted, "x"), errs.Conflict)
	for _, bad := range []link.ReplyState{link.ReplyClaimed, link.ReplyNone, "bogus"} {
		e.wantKind("finish with state "+string(bad), e.s.FinishReply(e.ctx, conn, rid, 100, bad, "x"), errs.Invalid)
	}
	e.sameLink("after refused finishes", e.getLink(conn, rid), held)

	e.clk.Add(time.Second)
	e.must(e.s.FinishReply(e.ctx, conn, rid, 100, link.ReplyPosted, "posted as reply 1"))
	posted := held
	posted.ReplyState, posted.ReplyResult, posted.ReplyExpires, posted.UpdatedAt = link.ReplyPosted, "posted as reply 1", epoch, nsT(e.now())
	posted.RepliedAt = nsT(e.now())
	got := e.getLink(conn, rid)
	e.sameLink("posted", got, posted)
	if !got.Handled(100) || got.Handled(101) {
		t.Fatal("Handled: the posted message is handled, no other is")
	}

	e.clk.Add(24 * time.Hour)
	e.sameLink("late duplicate", e.slot(conn, rid, 100, "h2", link.SlotUsed).Link, posted)
	e.slot(conn, rid, 101, "h2", link.SlotUsed)
	e.wantKind("second finish", e.s.FinishReply(e.ctx, conn, rid, 100, link.ReplyPosted, "again"), errs.Conflict)
	e.must(e.s.ReleaseReply(e.ctx, conn, rid, 100))
	e.must(e.s.ReopenReply(e.ctx, conn, rid, 100, "too late"))
	e.sameLink("release and reopen after the end", e.getLink(conn, rid), posted)
}

func testFinishReplyFailed(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.linked(conn, rid, e.ticket())
	held := e.slot(conn, rid, 100, "h1", link.SlotGranted).Link
	e.must(e.s.FinishReply(e.ctx, conn, rid, 100, link.ReplyFailed, "422 reply too long"))
	failed := held
	failed.ReplyState, failed.ReplyResult, failed.ReplyExpires = link.ReplyFailed, "422 reply too long", epoch
	e.sameLink("failed", e.getLink(conn, rid), failed)
	e.slot(conn, rid, 101, "h2", link.SlotUsed) // refused for good: the slot stays used
	e.slot(conn, rid, 100, "h2", link.SlotUsed)
}

func testFinishReplyNotHeld(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.wantKind("finish on a missing link", e.s.FinishReply(e.ctx, conn, rid, 100, link.ReplyPosted, "x"), errs.Conflict)
	e.linked(conn, rid, e.ticket())
	e.wantKind("finish on a free slot", e.s.FinishReply(e.ctx, conn, rid, 100, link.ReplyPosted, "x"), errs.Conflict)
}

func testReopenReply(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	l := e.linked(conn, rid, e.ticket())
	held := e.slot(conn, rid, 10, "h1", link.SlotGranted).Link

	e.must(e.s.ReopenReply(e.ctx, conn, rid, 11, "not mine"))
	e.sameLink("after a stranger's reopen", e.getLink(conn, rid), held)

	e.clk.Add(time.Second)
	e.must(e.s.ReopenReply(e.ctx, conn, rid, 10, "no API access"))
	reopened := l
	reopened.ReplyResult, reopened.ReplyRefused, reopened.ReplyExpires, reopened.UpdatedAt = "no API access", 10, epoch, nsT(e.now())
	got := e.getLink(conn, rid)
	e.sameLink("reopened", got, reopened)
	if !got.Handled(10) {
		t.Fatal("the refused message is not Handled")
	}

	e.sameLink("redelivery of the refused message", e.slot(conn, rid, 10, "h2", link.SlotRefusedBefore).Link, reopened)
	c := e.slot(conn, rid, 11, "h2", link.SlotGranted)
	next := heldSlot(reopened, 11, "h2", e.now())
	e.sameLink("next message", c.Link, next)
	e.slot(conn, rid, 10, "h3", link.SlotRefusedBefore)
	e.must(e.s.FinishReply(e.ctx, conn, rid, 11, link.ReplyPosted, "posted"))
	e.slot(conn, rid, 10, "h3", link.SlotRefusedBefore)
	e.slot(conn, rid, 12, "h3", link.SlotUsed)
	e.must(e.s.ReopenReply(e.ctx, conn, e.review(), 10, "missing link")) // nothing to reopen
}

func testHoldReply(t *testing.T, e *env) {
	conn, rid := e.conn(), e.review()
	e.linked(conn, rid, e.ticket())
	e.slot(conn, rid, 10, "h1", link.SlotGranted)
	e.must(e.s.HoldReply(e.ctx, conn, rid, 11, "not mine")) // a message that holds nothing
	if got := e.getLink(conn, rid); got.Held != 0 || got.ReplyState != link.ReplyClaimed {
		t.Fatalf("a stranger's hold changed the link: %+v", got)
	}
	e.must(e.s.HoldReply(e.ctx, conn, rid, 10, "held: a phone number"))
	got := e.getLink(conn, rid)
	if got.Held != 1 || got.ReplyState != link.ReplyNone || got.ReplyRefused != 10 || !got.Handled(10) || got.ReplyResult != "held: a phone number" {
		t.Fatalf("held: %+v", got)
	}
	e.slot(conn, rid, 10, "h2", link.SlotRefusedBefore) // the held message is not tried again
	e.slot(conn, rid, 11, "h2", link.SlotGranted)       // the next one may take the slot
	e.must(e.s.HoldReply(e.ctx, conn, rid, 11, "held again"))
	if got := e.getLink(conn, rid); got.Held != 2 {
		t.Fatalf("second hold: %+v", got)
	}
	e.slot(conn, rid, 12, "h3", link.SlotGranted)
	e.must(e.s.FinishReply(e.ctx, conn, rid, 12, link.ReplyPosted, "posted"))
	if got := e.getLink(conn, rid); got.Held != 2 || got.ReplyState != link.ReplyPosted || !got.RepliedAt.Equal(nsT(e.now())) {
		t.Fatalf("posted after two holds: %+v", got)
	}
}

// The report reads every link of a connection with the review's creation, language, stars and
// the reply's time; the reference id (personal data) goes when the review is deleted.
func testLinkReportFields(t *testing.T, e *env) {
	conn := e.conn()
	created := e.now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	var ids []string
	for i := range 3 {
		rid := e.review()
		ids = append(ids, rid)
		e.claim(conn, rid, "creator", link.ClaimGranted)
		e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "creator", Account: "acme.gorgias.com",
			TicketID: e.ticket(), Stars: i + 1, ReviewCreatedAt: created, Language: "fr", ReferenceID: fmt.Sprintf("ORD-%d", i)}))
	}
	e.claim(e.conn(), e.review(), "creator", link.ClaimGranted) // another connection's
	e.slot(conn, ids[0], 5, "h", link.SlotGranted)
	e.clk.Add(time.Minute)
	e.must(e.s.FinishReply(e.ctx, conn, ids[0], 5, link.ReplyPosted, "posted"))
	if ok, err := e.s.MarkDeleted(e.ctx, conn, ids[2]); err != nil || !ok {
		t.Fatalf("MarkDeleted: %v %v", ok, err)
	}
	links, err := e.s.ListLinks(e.ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 3 {
		t.Fatalf("%d links listed, want 3: %+v", len(links), links)
	}
	for _, l := range links {
		i := slices.Index(ids, l.ReviewID)
		if i < 0 || l.ConnectionID != conn || l.Stars != i+1 || !l.ReviewCreatedAt.Equal(created) || l.Language != "fr" {
			t.Fatalf("link %d: %+v", i, l)
		}
		switch {
		case i == 0 && !l.RepliedAt.Equal(nsT(e.now())):
			t.Fatalf("replied link without its reply time: %+v", l)
		case i == 1 && (!l.RepliedAt.IsZero() || l.ReferenceID != "ORD-1"):
			t.Fatalf("unreplied link: %+v", l)
		case i == 2 && l.ReferenceID != "":
			t.Fatalf("a deleted review kept its reference id: %+v", l)
		}
	}
	if links, err := e.s.ListLinks(e.ctx, "st-none"); err != nil || len(links) != 0 {
		t.Fatalf("a connection without links: %v %v", links, err)
	}
}
