package reviewsync_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// countingStore counts the link protocol's writes, and may act just before a combined one.
type countingStore struct {
	*memstore.Store
	mu                     sync.Mutex
	claims, confirms, both int
	beforeBoth             func(next string)
}

func (s *countingStore) ClaimReview(ctx context.Context, connID, reviewID string, kind review.Kind, owner string, ttl time.Duration) (link.Claim, error) {
	s.mu.Lock()
	s.claims++
	s.mu.Unlock()
	return s.Store.ClaimReview(ctx, connID, reviewID, kind, owner, ttl)
}

func (s *countingStore) ConfirmLink(ctx context.Context, c link.Confirm) error {
	s.mu.Lock()
	s.confirms++
	s.mu.Unlock()
	return s.Store.ConfirmLink(ctx, c)
}

func (s *countingStore) ConfirmAndClaim(ctx context.Context, c link.Confirm, reviewID string, kind review.Kind, ttl time.Duration) (link.Claim, bool, error) {
	s.mu.Lock()
	s.both++
	hook := s.beforeBoth
	s.mu.Unlock()
	if hook != nil {
		hook(reviewID)
	}
	return s.Store.ConfirmAndClaim(ctx, c, reviewID, kind, ttl)
}

func countingRig(t *testing.T, rs []review.Review) (*rig, *countingStore) {
	t.Helper()
	r := newRig(t, &fakeTP{service: rs, perPage: 100}) // one page
	cs := &countingStore{Store: r.st}
	r.s = reviewsync.New(cs, reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		return r.tp, r.hd, nil
	}), r.q, slog.New(slog.NewJSONHandler(io.Discard, nil)), "w1", reviewsync.Config{LeaseRetry: 7 * time.Second})
	r.s.Now = r.clk.Now
	return r, cs
}

// A page of new reviews costs one link write per review: each review's confirm carries the
// claim of the next one when that one runs right after (not when it is filtered out).
func TestNewReviewsCostOneLinkWriteEach(t *testing.T) {
	t.Parallel()
	// Stars 1..5 cycling, min 2: reviews 0 and 5 are filtered out.
	r, cs := countingRig(t, reviews(review.Service, 7))
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 5 {
		t.Fatalf("%d tickets, want 5", len(r.hd.tickets))
	}
	for _, rv := range reviews(review.Service, 7) {
		if rv.Stars < 2 {
			continue
		}
		if l := r.link(t, rv.ID); l.State != link.StateLinked || l.Attempts != 1 {
			t.Fatalf("review %s: %+v, want linked at the first attempt", rv.ID, l)
		}
	}
	// 1 claims, 1-3 confirm and claim the next, 4 confirms alone (5 is filtered), 6 claims
	// and confirms alone (last of the page).
	if cs.claims != 2 || cs.both != 3 || cs.confirms != 2 {
		t.Fatalf("claims %d, confirm-and-claims %d, confirms %d; want 2, 3, 2", cs.claims, cs.both, cs.confirms)
	}
}

// When the next review was claimed elsewhere since the page was read, the combined write does
// nothing: the review's own confirm follows, and the next review is found busy as before.
func TestCombinedWriteRefusedFallsBack(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4) // stars 1, 2, 3, 4: review 0 is filtered out
	r, cs := countingRig(t, rs)
	cs.beforeBoth = func(next string) {
		if next == rs[2].ID {
			if c, err := r.st.ClaimReview(context.Background(), "c1", next, review.Service, "w2", 20*time.Second); err != nil || c.Status != link.ClaimGranted {
				t.Errorf("claim by w2: %v %v", c.Status, err)
			}
		}
	}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, rs[1].ID); l.State != link.StateLinked {
		t.Fatalf("review 1: %+v, want linked by its own confirm", l)
	}
	if l := r.link(t, rs[2].ID); l.State != link.StateClaimed || l.Owner != "w2" {
		t.Fatalf("review 2: %+v, want w2's claim untouched", l)
	}
	if len(r.hd.tickets) != 1 || len(r.q.jobs) != 1 || r.q.delays[0] < 15*time.Second {
		t.Fatalf("tickets %d, continuation %+v delays %v: want one ticket and a continuation after w2's claim", len(r.hd.tickets), r.q.jobs, r.q.delays)
	}
}
