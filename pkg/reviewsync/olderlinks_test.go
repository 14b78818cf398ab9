package reviewsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
)

// Reviews linked before the sidebar's index existed have no entry in it (their links name no
// reviewer). When a sync reads such a review again (the cursor's overlap, the deep pass,
// every product page), it writes the entry with the review's ticket and names the reviewer on
// the link, once: no helpdesk call, no second ticket; a review without an email gets none.
func TestOlderLinksGetTheirSidebarEntries(t *testing.T) {
	rvs := reviews(review.Service, 4) // 0 and 2 have an email
	r := newRig(t, &fakeTP{service: rvs, perPage: 4})
	ctx := context.Background()
	old := map[string]int64{rvs[0].ID: 500, rvs[1].ID: 501}
	for id, tk := range old {
		if _, err := r.st.ClaimReview(ctx, "c1", id, review.Service, "old-worker", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := r.st.ConfirmLink(ctx, link.Confirm{ConnectionID: "c1", ReviewID: id, Owner: "old-worker", Account: conn().HelpdeskAccountKey(), TicketID: tk}); err != nil {
			t.Fatal(err)
		}
	}
	acct, who := conn().HelpdeskAccountKey(), reviewer.Key(rvs[0].Email)
	entry := func() (reviewer.Entry, bool) {
		t.Helper()
		got, err := r.st.ReviewerEntries(ctx, acct, who)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := got[rvs[0].ID]
		if !ok {
			return reviewer.Entry{}, false
		}
		e, err := reviewer.Unmarshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return e, true
	}
	if _, ok := entry(); ok {
		t.Fatal("an entry before the sync")
	}
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	e, ok := entry()
	if !ok || e.TicketID != 500 || e.ReviewID != rvs[0].ID {
		t.Fatalf("older linked review's entry: %+v %v, want review %s on ticket 500", e, ok, rvs[0].ID)
	}
	if l := r.link(t, rvs[0].ID); l.Reviewer != who || l.TicketID != 500 {
		t.Fatalf("older link after the sync: reviewer %q ticket %d, want %q and 500 kept", l.Reviewer, l.TicketID, who)
	}
	if l := r.link(t, rvs[1].ID); l.Reviewer != "" {
		t.Fatalf("a review without an email got reviewer %q", l.Reviewer)
	}
	for _, nt := range r.hd.sent {
		if nt.ExternalID == rvs[0].ID || nt.ExternalID == rvs[1].ID {
			t.Fatalf("a ticket was created for an already linked review: %+v", nt)
		}
	}

	// Once: the link names its reviewer now, so a later read writes nothing (an entry removed
	// by hand stays removed).
	if err := r.st.ForgetReviewerEntry(ctx, acct, who, rvs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.MarkQueued(ctx, "c1", review.Service, time.Hour); err != nil {
		t.Fatal(err)
	}
	r.tp.calls = 0
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if r.tp.calls == 0 {
		t.Fatal("the second sync read nothing: the test proves nothing")
	}
	if _, ok := entry(); ok {
		t.Fatal("the entry was written again although the link names its reviewer")
	}
}
