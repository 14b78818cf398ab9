package reviewsync_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// A connection purged while its sync runs: the purge marks it deleted and waits for the run's
// lease; the run sees it gone at its next look (GoneCheck), makes no further ticket, queues no
// continuation and gives the lease up; the purge then removes everything, what the run wrote
// included (links, the sidebar entries of the page's reviewers), and nothing is written after.
func TestRunStopsWhenItsConnectionIsPurged(t *testing.T) {
	rvs := reviews(review.Service, 12)
	r := newRig(t, &fakeTP{service: rvs, perPage: 12})
	ctx := context.Background()
	purged := make(chan error, 1)
	r.hd.afterCreate = func(n int64) {
		if n != 3 {
			return
		}
		go func() { purged <- r.st.DeleteConnection(ctx, "c1", true) }()
		// The purge marks the connection deleted at once, then waits for the run.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, err := r.st.GetConnection(ctx, "c1"); errs.Is(err, errs.NotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Error("the purge never marked the connection deleted")
				return
			}
		}
		r.clk.Add(11 * time.Second) // the run's next look is due (GoneCheck, 10 s)
	}
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	select {
	case err := <-purged:
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the purge still waits after the run ended")
	}
	if n := len(r.hd.sent); n != 3 {
		t.Fatalf("%d tickets created, want 3 (none after the purge began)", n)
	}
	if len(r.q.jobs) != 0 {
		t.Fatalf("the run queued %+v for a purged connection", r.q.jobs)
	}
	if !r.leaseFree(t) {
		t.Fatal("the run kept the account's lease")
	}
	if got := r.cursor(t, review.Service); got != (cursor.Cursor{ConnectionID: "c1", Kind: review.Service}) {
		t.Fatalf("the run's progress was written after the purge: %+v", got)
	}
	if links, err := r.st.ListLinks(ctx, "c1"); err != nil || len(links) != 0 {
		t.Fatalf("links after the purge: %+v %v", links, err)
	}
	for _, rv := range rvs {
		if rv.Email == "" {
			continue
		}
		if got, err := r.st.ReviewerEntries(ctx, conn().HelpdeskAccountKey(), reviewer.Key(rv.Email)); err != nil || len(got) != 0 {
			t.Fatalf("sidebar entries of %s after the purge: %v %v", rv.ID, got, err)
		}
	}
}

// A connection disabled while its sync runs: the run stops at its next look and queues no
// continuation; what it linked stays linked, and the next sync, once it is enabled again,
// carries on from there.
func TestRunStopsWhenItsConnectionIsDisabled(t *testing.T) {
	rvs := reviews(review.Service, 12)
	r := newRig(t, &fakeTP{service: rvs, perPage: 12})
	ctx := context.Background()
	r.hd.afterCreate = func(n int64) {
		if n != 2 {
			return
		}
		c := conn()
		c.Disabled = true
		if err := r.st.PutConnection(ctx, c); err != nil {
			t.Error(err)
		}
		r.clk.Add(11 * time.Second)
	}
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if n := len(r.hd.sent); n != 2 {
		t.Fatalf("%d tickets created, want 2 (none after the connection was disabled)", n)
	}
	if len(r.q.jobs) != 0 {
		t.Fatalf("the run queued %+v for a disabled connection", r.q.jobs)
	}
	if !r.leaseFree(t) || !r.queuedCleared(t, review.Service) {
		t.Fatal("the run kept the lease or the queued mark")
	}

	r.hd.afterCreate = nil
	if err := r.st.PutConnection(ctx, conn()); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("Sync after enabling: %v", err)
	}
	want := 0
	for _, rv := range rvs {
		if rv.Stars >= conn().MinStars {
			want++
		}
	}
	if len(r.hd.tickets) != want || len(r.hd.sent) != want {
		t.Fatalf("after enabling: %d tickets from %d creates, want %d of each (one per review kept)", len(r.hd.tickets), len(r.hd.sent), want)
	}
}

// failingLook fails the nth GetConnection (1-based) with a transient error.
type failingLook struct {
	*memstore.Store
	n, calls int
}

func (f *failingLook) GetConnection(ctx context.Context, id string) (connection.Record, error) {
	f.calls++
	if f.calls == f.n {
		return connection.Record{}, errs.E(errs.Transient, "store.GetConnection", errors.New("throttled"))
	}
	return f.Store.GetConnection(ctx, id)
}

// The look a run takes once it has the lease is what a deletion relies on (it waits only for a
// lease held for the connection): when that look fails, the run makes nothing and the job
// comes back, instead of syncing on unseen.
func TestRunWhoseFirstLookFailsMakesNothing(t *testing.T) {
	r := newRig(t, &fakeTP{service: reviews(review.Service, 4), perPage: 4})
	st := &failingLook{Store: r.st, n: 2} // the job's read of the connection, then the look
	s := reviewsync.New(st, reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		return r.tp, r.hd, nil
	}), r.q, slog.New(slog.NewJSONHandler(io.Discard, nil)), "w1", reviewsync.Config{})
	s.Now = r.clk.Now
	err := s.Sync(context.Background(), queue.SyncJob("c1", review.Service))
	if !errs.Is(err, errs.Transient) {
		t.Fatalf("Sync: %v, want the look's transient error (the job is tried again)", err)
	}
	if len(r.hd.sent) != 0 || len(r.q.jobs) != 0 {
		t.Fatalf("%d tickets made, %d jobs queued after the failed look; want none", len(r.hd.sent), len(r.q.jobs))
	}
	if !r.leaseFree(t) {
		t.Fatal("the lease was kept")
	}
}
