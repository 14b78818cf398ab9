package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
)

// The reviewer index: entries under a reviewer within an account, replaced by review id,
// removed one by one; another account's reviewer of the same key is another reviewer. The key
// of a linked review's reviewer is kept on its link.
func testReviewerEntries(t *testing.T, e *env) {
	acct, other, who := e.name("acct"), e.name("acct"), e.name("who")
	e.must(e.s.PutReviewerEntry(e.ctx, acct, who, "r1", `{"v":1}`))
	e.must(e.s.PutReviewerEntry(e.ctx, acct, who, "r2", `{"v":2}`))
	e.must(e.s.PutReviewerEntry(e.ctx, acct, who, "r1", `{"v":3}`))
	e.must(e.s.PutReviewerEntry(e.ctx, other, who, "r9", `{"v":9}`))
	// A page's entries in batches (30: more than one batch; one written twice).
	var recs []reviewer.Record
	for i := range 30 {
		recs = append(recs, reviewer.Record{Reviewer: e.name("many"), ReviewID: fmt.Sprintf("p%d", i), Entry: fmt.Sprintf(`{"p":%d}`, i)})
	}
	recs = append(recs, reviewer.Record{Reviewer: recs[3].Reviewer, ReviewID: "p3", Entry: `{"p":3}`})
	e.must(e.s.PutReviewerEntries(e.ctx, acct, recs))
	for _, r := range recs[:2] {
		got, err := e.s.ReviewerEntries(e.ctx, acct, r.Reviewer)
		if err != nil || got[r.ReviewID] != r.Entry {
			t.Fatalf("batched entry %s: %v %v", r.ReviewID, got, err)
		}
	}
	got, err := e.s.ReviewerEntries(e.ctx, acct, who)
	e.must(err)
	if len(got) != 2 || got["r1"] != `{"v":3}` || got["r2"] != `{"v":2}` {
		t.Fatalf("entries %v", got)
	}
	e.must(e.s.ForgetReviewerEntry(e.ctx, acct, who, "r1"))
	e.must(e.s.ForgetReviewerEntry(e.ctx, acct, who, "r1"))
	if got, err = e.s.ReviewerEntries(e.ctx, acct, who); err != nil || len(got) != 1 || got["r2"] == "" {
		t.Fatalf("after forgetting r1: %v %v", got, err)
	}
	if got, err = e.s.ReviewerEntries(e.ctx, acct, e.name("nobody")); err != nil || len(got) != 0 {
		t.Fatalf("an unknown reviewer: %v %v", got, err)
	}
	if err := e.s.PutReviewerEntry(e.ctx, acct, "", "r1", "{}"); err == nil || errs.Is(err, errs.NotExist) {
		t.Fatalf("an empty reviewer key: %v", err)
	}

	conn := e.conn()
	id := e.name("rv")
	_, err = e.s.ClaimReview(e.ctx, conn, id, review.Service, "me", time.Minute)
	e.must(err)
	e.must(e.s.ConfirmLink(e.ctx, link.Confirm{ConnectionID: conn, ReviewID: id, Owner: "me", Account: acct, TicketID: 7, Reviewer: who}))
	if l, err := e.s.GetLink(e.ctx, conn, id); err != nil || l.Reviewer != who {
		t.Fatalf("link %+v %v: want reviewer %s", l, err, who)
	}
}
