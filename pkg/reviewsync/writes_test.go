package reviewsync_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// countingStore counts the link protocol's writes, and may act just before a batched one.
type countingStore struct {
	*memstore.Store
	mu                               sync.Mutex
	claims, confirms, batches, drops int
	batchSizes                       [][2]int // confirms and claims of each batch
	beforeBatch                      func(b link.Batch)
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

func (s *countingStore) ConfirmAndClaim(ctx context.Context, b link.Batch) ([]link.Claim, bool, error) {
	s.mu.Lock()
	s.batches++
	s.batchSizes = append(s.batchSizes, [2]int{len(b.Confirms), len(b.Claims)})
	hook := s.beforeBatch
	s.mu.Unlock()
	if hook != nil {
		hook(b)
	}
	return s.Store.ConfirmAndClaim(ctx, b)
}

func (s *countingStore) DropClaim(ctx context.Context, connID, reviewID, owner string) error {
	s.mu.Lock()
	s.drops++
	s.mu.Unlock()
	return s.Store.DropClaim(ctx, connID, reviewID, owner)
}

func countingRig(t *testing.T, rs []review.Review, cfg reviewsync.Config) (*rig, *countingStore) {
	t.Helper()
	r := newRig(t, &fakeTP{service: rs, perPage: 100}) // one page
	cs := &countingStore{Store: r.st}
	cfg.LeaseRetry = 7 * time.Second
	r.s = reviewsync.New(cs, reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		return r.tp, r.hd, nil
	}), r.q, slog.New(slog.NewJSONHandler(io.Discard, nil)), "w1", cfg)
	r.s.Now = r.clk.Now
	return r, cs
}

// A page of new reviews shares its link writes: the first WriteGroup reviews are claimed in
// one write, each later write records a group's confirms with the next group's claims, and
// the last records the last confirms. Filtered reviews are neither claimed nor waited for.
func TestNewReviewsShareLinkWrites(t *testing.T) {
	t.Parallel()
	// Stars 1..5 cycling, min 2: reviews 0, 5, 10 and 15 are filtered out; 16 get tickets.
	rs := reviews(review.Service, 20)
	r, cs := countingRig(t, rs, reviewsync.Config{WriteGroup: 8})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 16 {
		t.Fatalf("%d tickets, want 16", len(r.hd.tickets))
	}
	for _, rv := range rs {
		l, err := r.st.GetLink(context.Background(), "c1", rv.ID)
		if rv.Stars < 2 {
			if err == nil {
				t.Fatalf("filtered review %s has a link: %+v", rv.ID, l)
			}
			continue
		}
		if err != nil || l.State != link.StateLinked || l.Attempts != 1 {
			t.Fatalf("review %s: %+v %v, want linked at the first attempt", rv.ID, l, err)
		}
	}
	want := [][2]int{{0, 8}, {8, 8}, {8, 0}}
	if cs.claims != 0 || cs.confirms != 0 || cs.drops != 0 || !slices.Equal(cs.batchSizes, want) {
		t.Fatalf("claims %d, confirms %d, drops %d, batches (confirms, claims) %v; want 0, 0, 0, %v",
			cs.claims, cs.confirms, cs.drops, cs.batchSizes, want)
	}
	if hd := r.hd.finds; hd != 0 {
		t.Fatalf("%d look-ups, want none (no create was uncertain)", hd)
	}
}

// WriteGroup 1 is the old pairing: each review's confirm carries the next review's claim.
func TestWriteGroupOnePairsConfirmAndNextClaim(t *testing.T) {
	t.Parallel()
	r, cs := countingRig(t, reviews(review.Service, 7), reviewsync.Config{WriteGroup: 1})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 5 {
		t.Fatalf("%d tickets, want 5", len(r.hd.tickets))
	}
	// 1 claims alone, 1-4 confirm and claim the next (4 claims 6: 5 is filtered out), 6
	// confirms alone (last of the page).
	want := [][2]int{{1, 1}, {1, 1}, {1, 1}, {1, 1}}
	if cs.claims != 1 || cs.confirms != 1 || !slices.Equal(cs.batchSizes, want) {
		t.Fatalf("claims %d, confirms %d, batches %v; want 1, 1, %v", cs.claims, cs.confirms, cs.batchSizes, want)
	}
}

// When a review of the next group was claimed elsewhere since the page was read, the batch
// writes nothing: the group's confirms follow one at a time, and the taken review is found
// busy as before (the run continues after that claim).
func TestRefusedBatchFallsBack(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 12) // eligible: 1-4, 6-9, 11
	r, cs := countingRig(t, rs, reviewsync.Config{WriteGroup: 8})
	cs.beforeBatch = func(b link.Batch) {
		if len(b.Confirms) > 0 && len(b.Claims) > 0 && b.Claims[0].ReviewID == rs[11].ID {
			if c, err := r.st.ClaimReview(context.Background(), "c1", rs[11].ID, review.Service, "w2", 20*time.Second); err != nil || c.Status != link.ClaimGranted {
				t.Errorf("claim by w2: %v %v", c.Status, err)
			}
		}
	}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2, 3, 4, 6, 7, 8, 9} {
		if l := r.link(t, rs[i].ID); l.State != link.StateLinked {
			t.Fatalf("review %d: %+v, want linked by its own confirm", i, l)
		}
	}
	if l := r.link(t, rs[11].ID); l.State != link.StateClaimed || l.Owner != "w2" {
		t.Fatalf("review 11: %+v, want w2's claim untouched", l)
	}
	if cs.confirms != 8 || cs.claims != 1 {
		t.Fatalf("confirms %d, claims %d; want the 8 confirms one at a time and review 11's own claim", cs.confirms, cs.claims)
	}
	if len(r.hd.tickets) != 8 || len(r.q.jobs) != 1 || r.q.delays[0] < 15*time.Second {
		t.Fatalf("tickets %d, continuation %+v delays %v: want 8 tickets and a continuation after w2's claim", len(r.hd.tickets), r.q.jobs, r.q.delays)
	}
}

// A run that stops inside a group (the helpdesk failing for two reviews in a row) records the
// tickets it made and gives the claims it took ahead back unused: those reviews have no link,
// so the next run creates their tickets without a look-up first.
func TestStopInsideAGroupDropsUnusedClaims(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 10) // eligible: 1-4, 6-9, claimed in one write
	r, cs := countingRig(t, rs, reviewsync.Config{WriteGroup: 8})
	for _, i := range []int{3, 4} {
		r.hd.failOn[link.ExternalID(rs[i].ID)] = errs.E(errs.Transient, "gorgias", errors.New("503 from the helpdesk"))
	}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err == nil {
		t.Fatal("sync went on with the helpdesk failing")
	}
	for _, i := range []int{1, 2} {
		if l := r.link(t, rs[i].ID); l.State != link.StateLinked {
			t.Fatalf("review %d: %+v, want its ticket recorded", i, l)
		}
	}
	for _, i := range []int{3, 4} {
		if l := r.link(t, rs[i].ID); !l.SetAside() {
			t.Fatalf("review %d: %+v, want set aside", i, l)
		}
	}
	for _, i := range []int{6, 7, 8, 9} {
		if l, err := r.st.GetLink(context.Background(), "c1", rs[i].ID); !errs.Is(err, errs.NotExist) {
			t.Fatalf("review %d: %+v %v, want its unused claim dropped", i, l, err)
		}
	}
	if cs.drops != 4 {
		t.Fatalf("%d drops, want 4", cs.drops)
	}
	// The next run links them all: the two whose creates failed are looked for first, the
	// dropped ones are not.
	delete(r.hd.failOn, link.ExternalID(rs[3].ID))
	delete(r.hd.failOn, link.ExternalID(rs[4].ID))
	r.clk.Add(time.Hour)
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{6, 7, 8, 9} {
		if l := r.link(t, rs[i].ID); l.State != link.StateLinked || l.Attempts != 1 {
			t.Fatalf("review %d: %+v, want linked at its first counted attempt", i, l)
		}
	}
	if r.hd.finds != 2 {
		t.Fatalf("%d look-ups, want 2 (reviews 3 and 4, whose creates were sent)", r.hd.finds)
	}
}
