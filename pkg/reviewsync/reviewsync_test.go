package reviewsync_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// The store is the in-memory one: the same claim and cursor rules as DynamoDB, proven alike by
// pkg/store/storetest. These helpers read it back.

func (r *rig) cursor(t testing.TB, kind review.Kind) cursor.Cursor {
	t.Helper()
	c, err := r.st.GetCursor(context.Background(), "c1", kind)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *rig) link(t testing.TB, reviewID string) link.Link {
	t.Helper()
	l, err := r.st.GetLink(context.Background(), "c1", reviewID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// reauth is the reason the connection was flagged for re-authorising ("" when it was not).
func (r *rig) reauth(t testing.TB) string {
	t.Helper()
	rec, err := r.st.GetConnection(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.NeedsReauth {
		return ""
	}
	return rec.ReauthReason
}

// queuedCleared reports whether the run cleared the scheduler's queued mark (a new mark can be
// taken again); it takes the mark, as the next tick would.
func (r *rig) queuedCleared(t testing.TB, kind review.Kind) bool {
	t.Helper()
	first, err := r.st.MarkQueued(context.Background(), "c1", kind, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

// leaseFree reports whether the helpdesk account's lease was given back.
func (r *rig) leaseFree(t testing.TB) bool {
	t.Helper()
	ctx := context.Background()
	ok, err := r.st.AcquireLease(ctx, conn().HelpdeskAccountKey(), "probe", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		if err := r.st.ReleaseLease(ctx, conn().HelpdeskAccountKey(), "probe"); err != nil {
			t.Fatal(err)
		}
	}
	return ok
}

// fakeTP serves reviews oldest first, 2 a page; next-page links are page numbers.
type fakeTP struct {
	service  []review.Review
	product  []review.Review
	rejected []trustpilot.Rejected // sent with the first service page
	perPage  int                   // 0: 2
	deleted  []string              // the Deletions API's ids, one a page
	windows  [][2]time.Time        // the Deletions API windows asked
	err      error
	calls    int
}

var _ reviewsync.Reviews = (*fakeTP)(nil)

func (f *fakeTP) ListServiceReviews(_ context.Context, since time.Time, next string) (trustpilot.ServicePage, error) {
	f.calls++
	if f.err != nil {
		return trustpilot.ServicePage{}, f.err
	}
	var all []review.Review
	for _, r := range f.service {
		if !r.CreatedAt.Before(since) {
			all = append(all, r)
		}
	}
	n := cmp.Or(f.perPage, 2)
	p, _ := strconv.Atoi(next)
	page := all[min(p*n, len(all)):min(p*n+n, len(all))]
	out := trustpilot.ServicePage{Reviews: page}
	if p == 0 {
		out.Rejected = f.rejected
	}
	if p*n+n < len(all) {
		out.Next = strconv.Itoa(p + 1)
	}
	return out, nil
}

func (f *fakeTP) GetServiceReview(_ context.Context, id string) (review.Review, error) {
	f.calls++
	for _, r := range f.service {
		if r.ID == id {
			return r, nil
		}
	}
	return review.Review{}, errs.E(errs.NotExist, "trustpilot", errors.New("404"))
}

func (f *fakeTP) ListDeletedReviews(_ context.Context, from, to time.Time, next string) (trustpilot.Deletions, error) {
	f.calls++
	f.windows = append(f.windows, [2]time.Time{from, to})
	i, _ := strconv.Atoi(next)
	if i >= len(f.deleted) {
		return trustpilot.Deletions{}, nil
	}
	out := trustpilot.Deletions{IDs: []string{f.deleted[i]}}
	if i+1 < len(f.deleted) {
		out.Next = strconv.Itoa(i + 1)
	}
	return out, nil
}

func (f *fakeTP) ListProductReviews(_ context.Context, page int) (trustpilot.ProductPage, error) {
	f.calls++
	lo := min((page-1)*2, len(f.product))
	hi := min(lo+2, len(f.product))
	return trustpilot.ProductPage{Reviews: f.product[lo:hi], Page: page, More: hi-lo == 2}, nil
}

// fakeHD records tickets and notes.
type fakeHD struct {
	mu       sync.Mutex
	tickets  map[string]gorgias.Ticket // by external id
	notes    map[int64][]string
	failOn   map[string]error // by external id: CreateTicket fails
	merges   int
	data     map[int64]json.RawMessage // the last customer data written, by customer
	tags     map[int64][]string        // tags added after creation, by ticket
	finds    int
	createNo int64
	stall    bool // CreateTicket waits until its context ends
	// refuseFields, when set, refuses a create whose ticket fields it does not accept, as
	// Gorgias answers 400 for a field id or value it does not take.
	refuseFields func([]gorgias.CustomField) bool
	sent         []gorgias.NewTicket // every create call, in order
	afterCreate  func(n int64)       // called after the nth ticket is made
}

var _ reviewsync.Helpdesk = (*fakeHD)(nil)

func newFakeHD() *fakeHD {
	return &fakeHD{tickets: map[string]gorgias.Ticket{}, notes: map[int64][]string{}, failOn: map[string]error{}, data: map[int64]json.RawMessage{}, tags: map[int64][]string{}}
}

func (f *fakeHD) CreateTicket(ctx context.Context, t gorgias.NewTicket) (gorgias.Ticket, error) {
	if f.stall {
		// A Retry-After longer than the invocation has left: the client waits for its context.
		<-ctx.Done()
		return gorgias.Ticket{}, errs.E(errs.Transient, "gorgias", ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, t)
	if err, ok := f.failOn[t.ExternalID]; ok {
		return gorgias.Ticket{}, err
	}
	if f.refuseFields != nil && len(t.CustomFields) > 0 && f.refuseFields(t.CustomFields) {
		return gorgias.Ticket{}, errs.E(errs.Invalid, "gorgias.CreateTicket", &gorgias.APIError{Status: 400, Message: "Failed to create ticket",
			Fields: map[string][]string{"custom_fields.0.value": {"Not a valid number."}}})
	}
	f.createNo++
	tk := gorgias.Ticket{ID: 1000 + f.createNo, ExternalID: t.ExternalID, Subject: t.Subject, Tags: t.Tags, CustomerID: 1, CustomerEmail: t.CustomerEmail}
	f.tickets[t.ExternalID] = tk
	if f.afterCreate != nil {
		f.mu.Unlock()
		f.afterCreate(f.createNo)
		f.mu.Lock()
	}
	return tk, nil
}
func (f *fakeHD) FindTicketByExternalID(_ context.Context, ext string) (gorgias.Ticket, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	t, ok := f.tickets[ext]
	return t, ok, nil
}
func (f *fakeHD) PostInternalNote(_ context.Context, id int64, text string) (gorgias.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes[id] = append(f.notes[id], text)
	return gorgias.Message{}, nil
}
func (f *fakeHD) AddTags(_ context.Context, id int64, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[id] = append(f.tags[id], names...)
	return nil
}
func (f *fakeHD) MergeCustomerData(_ context.Context, id int64, _ string, update func(json.RawMessage, int) (json.RawMessage, error)) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.merges++
	// A helpdesk that applies writes late: every read shows no data yet.
	out, err := update(nil, gorgias.MaxCustomerDataBytes)
	if err == nil {
		f.data[id] = out
	}
	return id, err
}

type fakeQueue struct {
	jobs   []queue.Job
	delays []time.Duration
}

func (q *fakeQueue) Send(_ context.Context, jobs []queue.Job, d time.Duration) error {
	q.jobs = append(q.jobs, jobs...)
	for range jobs {
		q.delays = append(q.delays, d)
	}
	return nil
}

func conn() connection.Connection {
	c := connection.Connection{ID: "c1", Helpdesk: connection.Helpdesk{URL: "https://acme.gorgias.com", Email: "o@acme.com"},
		Trustpilot: connection.Trustpilot{BusinessUnitID: "5f0c00000000000000000001", BusinessUserID: "5f0d00000000000000000001"},
		MinStars:   2, Tags: []string{"uk"}, AnonymousEmail: "reviews@acme.com"}
	c.ApplyDefaults()
	c.MinStars = 2
	return c
}

func reviews(kind review.Kind, n int) []review.Review {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []review.Review
	for i := range n {
		r := review.Review{ID: fmt.Sprintf("%024x", i+1), Kind: kind, Stars: 1 + i%5, Title: fmt.Sprintf("t%d", i),
			Text: "<script>x</script>", CreatedAt: base.Add(time.Duration(i) * time.Hour)}
		if i%2 == 0 {
			r.Email = fmt.Sprintf("c%d@example.com", i)
		}
		out = append(out, r)
	}
	return out
}

type rig struct {
	clk *clock
	st  *memstore.Store
	tp  *fakeTP
	hd  *fakeHD
	q   *fakeQueue
	s   *reviewsync.Syncer
}

// withCustomerData turns the connection's customer-data setting on.
func (r *rig) withCustomerData(t testing.TB) {
	t.Helper()
	c := conn()
	c.Helpdesk.CustomerData = true
	if err := r.st.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func newRig(t testing.TB, tp *fakeTP) *rig {
	t.Helper()
	clk := &clock{t: time.Now()}
	r := &rig{clk: clk, st: memstore.New().WithClock(clk.Now), tp: tp, hd: newFakeHD(), q: &fakeQueue{}}
	ctx := context.Background()
	if err := r.st.PutConnection(ctx, conn()); err != nil {
		t.Fatal(err)
	}
	// The scheduler queued the job: its marks are set.
	for _, k := range []review.Kind{review.Service, review.Product} {
		if _, err := r.st.MarkQueued(ctx, "c1", k, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	r.s = reviewsync.New(r.st, reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		return r.tp, r.hd, nil
	}), r.q, slog.New(slog.NewJSONHandler(io.Discard, nil)), "w1", reviewsync.Config{LeaseRetry: 7 * time.Second})
	r.s.Now = clk.Now
	return r
}

// clock is the time the store and the syncer read; tests move it by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestServiceSyncStarFilterTagsAndIdempotence(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{service: reviews(review.Service, 7)})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	// stars 1..5 cycling: reviews 0 and 5 have 1 star and are filtered out (min_stars 2).
	if len(r.hd.tickets) != 5 {
		t.Fatalf("%d tickets, want 5", len(r.hd.tickets))
	}
	for _, tk := range r.hd.tickets {
		for _, tag := range []string{"trustpilot-review", "trustpilot-service", "uk"} {
			found := false
			for _, x := range tk.Tags {
				found = found || x == tag
			}
			if !found {
				t.Fatalf("ticket %s lacks %s: %v", tk.ExternalID, tag, tk.Tags)
			}
		}
	}
	// The sidebar's entries are in the table, one per reviewer with an email (2, 4, 6); the
	// helpdesk's customer data is not written (one helpdesk call per review).
	if r.hd.merges != 0 {
		t.Fatalf("%d customer data merges, want none (the setting is off)", r.hd.merges)
	}
	for i, rv := range reviews(review.Service, 7) {
		got, err := r.st.ReviewerEntries(ctx, conn().HelpdeskAccountKey(), reviewer.Key(rv.Email))
		switch {
		case rv.Email == "":
			continue
		case err != nil || (i >= 2) != (len(got) == 1):
			t.Fatalf("review %d: sidebar entries %v %v", i, got, err)
		case i >= 2:
			e, err := reviewer.Unmarshal(got[rv.ID])
			if err != nil || e.Stars != rv.Stars || e.ConnectionID != "c1" { // written before its ticket: the link holds the ticket id
				t.Fatalf("review %d: entry %+v %v", i, e, err)
			}
		}
	}
	if want, cur := reviews(review.Service, 7)[6].CreatedAt, r.cursor(t, review.Service); !cur.Since.Equal(want) || cur.Resume != "" {
		t.Fatalf("cursor %+v, want since %v", cur, want)
	}
	if !r.leaseFree(t) {
		t.Fatal("lease not released")
	}
	if !r.queuedCleared(t, review.Service) {
		t.Fatalf("finished run did not clear the queued mark")
	}
	// Again: nothing new, no helpdesk call.
	before := len(r.hd.tickets)
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != before || r.hd.finds != 0 {
		t.Fatalf("second run: %d tickets, %d finds", len(r.hd.tickets), r.hd.finds)
	}
}

func TestPermanentErrorDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 5)
	r := newRig(t, &fakeTP{service: rs})
	r.hd.failOn[link.ExternalID(rs[1].ID)] = errs.E(errs.Invalid, "gorgias", errors.New("400 bad subject"))
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if cur := r.cursor(t, review.Service); len(r.hd.tickets) != 3 || cur.Errors != 1 || !strings.Contains(cur.LastError, rs[1].ID) {
		t.Fatalf("tickets %d cursor %+v", len(r.hd.tickets), cur)
	}
}

// A product scan does not retry a review the helpdesk refused on every run.
func TestRefusedProductReviewLeftAlone(t *testing.T) {
	t.Parallel()
	ps := reviews(review.Product, 4)
	r := newRig(t, &fakeTP{product: ps})
	r.hd.failOn[link.ExternalID(ps[1].ID)] = errs.E(errs.Invalid, "gorgias", errors.New("400"))
	for range 3 {
		if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Product)); err != nil {
			t.Fatal(err)
		}
	}
	if cur, l := r.cursor(t, review.Product), r.link(t, ps[1].ID); cur.Errors != 1 || l.State != link.StateFailed {
		t.Fatalf("errors %d link %+v", cur.Errors, l)
	}
}

// A helpdesk that refuses the credentials stops the run and flags the connection; the cursor
// does not move past the reviews.
func TestHelpdeskRefusingCredentialsStopsTheRun(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4)
	r := newRig(t, &fakeTP{service: rs})
	for _, rv := range rs {
		r.hd.failOn[link.ExternalID(rv.ID)] = errs.E(errs.Permission, "gorgias", errors.New("401 unauthorized"))
	}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if reason, cur, cleared := r.reauth(t), r.cursor(t, review.Service), r.queuedCleared(t, review.Service); !strings.Contains(reason, "401") || !cur.Since.IsZero() || !cleared {
		t.Fatalf("reauth %q cursor %+v cleared %v", reason, cur, cleared)
	}
}

// A Trustpilot 404 (a wrong business unit) flags the connection instead of looking like a
// deleted connection to the worker.
func TestTrustpilotNotFoundFlagsTheConnection(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{err: errs.E(errs.NotExist, "trustpilot", errors.New("404 business unit"))})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if reason := r.reauth(t); !strings.Contains(reason, "404") {
		t.Fatalf("not flagged: %q", reason)
	}
}

// Two reviews of one customer while the helpdesk applies data writes late: the second write
// still carries the first review's entry, from the store's list of what was written.
func TestCustomerDataKeepsEntriesTheHelpdeskHasNotAppliedYet(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 5)
	rs[2].Email, rs[4].Email = "same@example.com", "same@example.com" // the fake gives every ticket customer 1
	r := newRig(t, &fakeTP{service: []review.Review{rs[2], rs[4]}})
	r.withCustomerData(t)
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	d, err := gorgias.DecodeReviewData(r.hd.data[1])
	if err != nil || len(d.Reviews) != 2 || r.hd.merges != 2 {
		t.Fatalf("last write %s (%v) after %d merges; want both reviews' entries", r.hd.data[1], err, r.hd.merges)
	}
}

// A review whose create fails is set aside with its error; the run goes on, the cursor passes
// it, and the set-aside pass queued for its retry time recovers the ticket the failed attempt
// may have created (look-up first) without reading Trustpilot.
func TestFailingReviewIsSetAsideAndTheRunGoesOn(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4)
	r := newRig(t, &fakeTP{service: rs})
	ext := link.ExternalID(rs[1].ID)
	r.hd.failOn[ext] = errs.E(errs.Transient, "gorgias", errors.New("503 before the request was read"))
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("one review's failure failed the run: %v", err)
	}
	for _, i := range []int{2, 3} {
		if l := r.link(t, rs[i].ID); l.State != link.StateLinked {
			t.Fatalf("review %d after the failing one not linked: %+v", i, l)
		}
	}
	if cur := r.cursor(t, review.Service); !cur.Since.Equal(rs[3].CreatedAt) {
		t.Fatalf("cursor %v did not pass the set-aside review (want %v)", cur.Since, rs[3].CreatedAt)
	}
	l := r.link(t, rs[1].ID)
	if !l.SetAside() || l.Failures != 1 || !strings.Contains(l.LastError, "503") || l.Snapshot == "" {
		t.Fatalf("set-aside record: %+v", l)
	}
	if len(r.q.jobs) != 1 || r.q.jobs[0].Pass != queue.PassAside || r.q.delays[0] != 31*time.Second {
		t.Fatalf("retry job %+v delays %v, want one set-aside pass in 31 s", r.q.jobs, r.q.delays)
	}
	// Not due yet: the retry job finds nothing to do.
	calls := r.tp.calls
	if err := r.s.Sync(context.Background(), r.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if r.hd.finds != 0 {
		t.Fatal("a review was retried before its time")
	}
	delete(r.hd.failOn, ext)
	r.hd.tickets[ext] = gorgias.Ticket{ID: 55, ExternalID: ext, CustomerID: 1}
	r.clk.Add(31 * time.Second)
	if err := r.s.Sync(context.Background(), r.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, rs[1].ID); r.hd.finds != 1 || l.TicketID != 55 || l.SetAside() {
		t.Fatalf("recovery: finds %d link %+v", r.hd.finds, l)
	}
	if r.tp.calls != calls {
		t.Fatal("the set-aside pass read Trustpilot")
	}
	if !r.queuedCleared(t, review.Service) {
		t.Fatal("the first run did not clear its queued mark")
	}
}

// The helpdesk failing for two reviews in a row is not the reviews' fault: the run stops for a
// job retry instead of setting every review aside, and the cursor stays before them.
func TestTwoFailuresInARowStopTheRun(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 6)
	r := newRig(t, &fakeTP{service: rs})
	for _, rv := range rs {
		r.hd.failOn[link.ExternalID(rv.ID)] = errs.E(errs.Transient, "gorgias", errors.New("502"))
	}
	err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service))
	if !errs.Retryable(err) {
		t.Fatalf("outage: %v, want a transient error for a job retry", err)
	}
	aside := 0
	for _, l := range r.st.Links("c1") {
		if l.SetAside() {
			aside++
		}
	}
	if aside != 2 {
		t.Fatalf("%d reviews set aside, want the 2 that failed before the run stopped", aside)
	}
	// The first failure is on the set-aside list, so the cursor may pass it; not the second.
	if cur := r.cursor(t, review.Service); !cur.Since.Before(rs[2].CreatedAt) {
		t.Fatalf("cursor moved to %v during an outage, past the review that stopped the run", cur.Since)
	}
}

// An invalid review is given up after GiveUpInvalid attempts: listed, no automatic retry, and
// the operator's forced retry gives it a fresh budget.
func TestInvalidReviewIsGivenUp(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 2)[1:]
	r := newRig(t, &fakeTP{service: rs})
	ext := link.ExternalID(rs[0].ID)
	r.hd.failOn[ext] = errs.E(errs.Invalid, "gorgias", errors.New("400 subject: too long"))
	ctx := context.Background()
	for i := range 3 {
		if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
			t.Fatal(err)
		}
		l := r.link(t, rs[0].ID)
		if l.Failures != int64(i+1) || l.GivenUp != (i == 2) {
			t.Fatalf("after attempt %d: failures %d given up %v", i+1, l.Failures, l.GivenUp)
		}
		r.clk.Add(time.Hour)
	}
	r.clk.Add(1000 * time.Hour)
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, rs[0].ID); l.Failures != 3 {
		t.Fatalf("a given-up review was tried again: %+v", l)
	}
	delete(r.hd.failOn, ext)
	if err := r.st.RetrySetAside(ctx, "c1", rs[0].ID); err != nil {
		t.Fatal(err)
	}
	r.clk.Add(time.Millisecond)
	job := queue.SyncJob("c1", review.Service)
	job.Pass = queue.PassAside
	if err := r.s.Sync(ctx, job); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, rs[0].ID); l.State != link.StateLinked {
		t.Fatalf("forced retry: %+v", l)
	}
}

// After a create with an unknown outcome, no second create is sent until look-ups spread over
// the uncertain window have not found the first one's ticket.
func TestUncertainCreateIsLookedForBeforeCreatingAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		appearsAt time.Duration // when the lost create's ticket shows in look-ups; 0 = never
		creates   int64
	}{
		{"committed late", 45 * time.Second, 0},
		{"never committed", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := reviews(review.Service, 2)[1:]
			r := newRig(t, &fakeTP{service: rs})
			ext := link.ExternalID(rs[0].ID)
			r.hd.failOn[ext] = errs.E(errs.Transient, "gorgias", fmt.Errorf("%w: no answer within 20s", gorgias.ErrUncertain))
			ctx := context.Background()
			if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
				t.Fatal(err)
			}
			delete(r.hd.failOn, ext)
			start := r.clk.Now()
			lookups := 0
			for range 10 {
				l := r.link(t, rs[0].ID)
				if l.State == link.StateLinked {
					break
				}
				r.clk.Add(l.ClaimExpires.Sub(r.clk.Now()) + time.Millisecond)
				if tc.appearsAt > 0 && r.clk.Now().Sub(start) >= tc.appearsAt {
					r.hd.tickets[ext] = gorgias.Ticket{ID: 77, ExternalID: ext, CustomerID: 1}
				}
				job := queue.SyncJob("c1", review.Service)
				job.Pass = queue.PassAside
				if err := r.s.Sync(ctx, job); err != nil {
					t.Fatal(err)
				}
				lookups++
			}
			l := r.link(t, rs[0].ID)
			if l.State != link.StateLinked || r.hd.createNo != tc.creates {
				t.Fatalf("link %+v, %d creates after the lost one; want linked and %d", l, r.hd.createNo, tc.creates)
			}
			if tc.appearsAt == 0 && r.clk.Now().Sub(start) < 90*time.Second {
				t.Fatalf("created again %v after the lost create; want at least the 90 s window", r.clk.Now().Sub(start))
			}
			if lookups < 2 {
				t.Fatalf("%d look-ups, want them spread over the window", lookups)
			}
		})
	}
}

// Unreadable reviews with an id are listed as set aside, not only logged.
func TestUnreadableReviewIsListed(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{service: reviews(review.Service, 2), rejected: []trustpilot.Rejected{{ID: "5f0000000000000000000abc", Err: errors.New("stars: 9")}}})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	l := r.link(t, "5f0000000000000000000abc")
	if !l.SetAside() || !strings.Contains(l.LastError, "stars: 9") {
		t.Fatalf("unreadable review: %+v", l)
	}
}

// The deep pass finds a review that appeared after the cursor passed its createdAt (held in
// moderation), without moving the incremental pass's cursor.
func TestDeepPassFindsLateReviews(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 3)
	for i := range rs {
		rs[i].CreatedAt = time.Now().Add(-time.Duration(20-i) * 24 * time.Hour)
	}
	late := rs[0]
	late.Stars, late.CreatedAt = 4, time.Now().Add(-25*24*time.Hour) // a week before the cursor's overlap
	r := newRig(t, &fakeTP{service: rs[1:]})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	before := r.cursor(t, review.Service)
	r.tp.service = append([]review.Review{late}, r.tp.service...)
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.GetLink(ctx, "c1", late.ID); !errs.Is(err, errs.NotExist) {
		t.Fatalf("the incremental pass reached a review older than its overlap: %v", err)
	}
	deep := queue.SyncJob("c1", review.Service)
	deep.Pass = queue.PassDeep
	if _, err := r.st.MarkQueued(ctx, "c1", cursor.DeepKind(review.Service), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Sync(ctx, deep); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, late.ID); l.State != link.StateLinked {
		t.Fatalf("deep pass: %+v", l)
	}
	if after := r.cursor(t, review.Service); !after.Since.Equal(before.Since) {
		t.Fatalf("the deep pass moved the cursor: %v → %v", before.Since, after.Since)
	}
	if d := r.cursor(t, cursor.DeepKind(review.Service)); d.LastRunAt.IsZero() {
		t.Fatal("the deep pass's own cursor records no run")
	}
	if first, err := r.st.MarkQueued(ctx, "c1", cursor.DeepKind(review.Service), time.Hour); err != nil || !first {
		t.Fatalf("the deep pass did not clear its queued mark: %v %v", first, err)
	}
}

func TestBusyReviewContinuesAfterTheClaimExpires(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4)
	r := newRig(t, &fakeTP{service: rs})
	// A crashed worker's claim, alive for 20 s more.
	if c, err := r.st.ClaimReview(context.Background(), "c1", rs[2].ID, review.Service, "crashed", 20*time.Second); err != nil || c.Status != link.ClaimGranted {
		t.Fatalf("claim: %v %v", c.Status, err)
	}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.q.jobs) != 1 || r.q.jobs[0].Resume != "1" || r.q.delays[0] < 15*time.Second {
		t.Fatalf("continuation %+v delays %v", r.q.jobs, r.q.delays)
	}
	// The high-water mark must not pass the review left behind.
	if cur := r.cursor(t, review.Service); !cur.Since.Before(rs[2].CreatedAt) {
		t.Fatalf("cursor %v passed the busy review (%v)", cur.Since, rs[2].CreatedAt)
	}
}

func TestDeadlineEnqueuesContinuation(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{service: reviews(review.Service, 6)})
	// Under the smallest margin a short invocation keeps (1 s, see TestShortInvocationStillSyncs).
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 0 || len(r.q.jobs) != 1 || r.q.jobs[0].Continuation != 1 {
		t.Fatalf("tickets %d jobs %+v", len(r.hd.tickets), r.q.jobs)
	}
	if r.queuedCleared(t, review.Service) {
		t.Fatal("a run that continues must keep the queued mark")
	}
}

// A job whose account is synced by another worker waits beside the account, once however
// often it is delivered, and is sent on when that worker's run ends.
func TestLeaseHeldElsewhereParksTheJob(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{service: reviews(review.Service, 2)})
	ctx := context.Background()
	acct := conn().HelpdeskAccountKey()
	if ok, err := r.st.AcquireLease(ctx, acct, "other-worker", time.Minute); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	for range 3 { // delivered three times (duplicates, redeliveries)
		if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.q.jobs) != 0 || r.tp.calls != 0 {
		t.Fatalf("jobs %+v calls %d: the job went back to the queue", r.q.jobs, r.tp.calls)
	}
	// The other worker's run ends: its release sends the parked job on, once.
	if err := r.st.ReleaseLease(ctx, acct, "other-worker"); err != nil {
		t.Fatal(err)
	}
	r.s.Unpark(ctx, acct, slog.New(slog.DiscardHandler))
	if len(r.q.jobs) != 1 || r.q.jobs[0].Kind != review.Service || r.q.delays[0] != 0 {
		t.Fatalf("after the release: jobs %+v delays %v", r.q.jobs, r.q.delays)
	}
	// A run of this worker sends on what was parked while it ran.
	j := queue.SyncJob("c1", review.Product)
	body, _ := json.Marshal(j)
	if err := r.st.ParkJob(ctx, acct, "p", string(body)); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if n := len(r.q.jobs); n != 2 || r.q.jobs[1].Kind != review.Product {
		t.Fatalf("jobs after a run: %+v", r.q.jobs)
	}
}

func TestReauthMarksTheConnection(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{err: errs.E(errs.Reauth, "trustpilot", errors.New("refresh token refused"))})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("reauth must drop the job, got %v", err)
	}
	if reason := r.reauth(t); !strings.Contains(reason, "refresh token refused") {
		t.Fatalf("connection not marked: %q", reason)
	}
}

func TestDeletedConnection(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{})
	if err := r.s.Sync(context.Background(), queue.SyncJob("gone", review.Service)); !errs.Is(err, errs.NotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestProductScanAndEditNote(t *testing.T) {
	t.Parallel()
	ps := reviews(review.Product, 5)
	r := newRig(t, &fakeTP{product: ps})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Product)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 4 { // review 0 has 1 star
		t.Fatalf("%d tickets", len(r.hd.tickets))
	}
	// An edit: newer updatedAt, new stars → one note, no new ticket, and only once.
	ps[3].UpdatedAt = ps[3].CreatedAt.Add(48 * time.Hour)
	ps[3].Stars = 5
	for range 2 {
		if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Product)); err != nil {
			t.Fatal(err)
		}
	}
	tk := r.hd.tickets[link.ExternalID(ps[3].ID)]
	if len(r.hd.tickets) != 4 || len(r.hd.notes[tk.ID]) != 1 || !strings.Contains(r.hd.notes[tk.ID][0], "4★ → 5★") {
		t.Fatalf("tickets %d notes %v", len(r.hd.tickets), r.hd.notes)
	}
}

func TestNewTicketEscapesAndAnonymous(t *testing.T) {
	t.Parallel()
	c := conn()
	rv := review.Review{ID: "aaaaaaaaaaaaaaaaaaaaaaaa", Kind: review.Service, Stars: 3, Title: "<img src=x onerror=alert(1)>",
		Text: "<script>alert(1)</script> & more", Link: `https://example.com/r?a="b"`}
	nt := reviewsync.NewTicket(c, rv)
	if strings.Contains(nt.BodyHTML, "<script") || strings.Contains(nt.BodyHTML, "<img") || strings.Contains(nt.BodyHTML, `"b"`) {
		t.Fatalf("unescaped HTML: %s", nt.BodyHTML)
	}
	if nt.CustomerEmail != c.AnonymousEmail || nt.ExternalID != link.ExternalID(rv.ID) || !strings.HasPrefix(nt.Subject, "Trustpilot review (3★): ") {
		t.Fatalf("%+v", nt)
	}
	if !strings.Contains(nt.BodyText, "<script>alert(1)</script>") {
		t.Fatal("plain text must keep the review text as written")
	}
}

func FuzzNewTicket(f *testing.F) {
	f.Add("title", "text <b>x</b>", 3, "SKU", "Name")
	f.Add("", "", 0, "", "")
	f.Add("\xff\xfe", "🙂 عربي", 9, "<sku>", "</p>")
	f.Fuzz(func(t *testing.T, title, text string, stars int, sku, name string) {
		kinds := []review.Kind{review.Service, review.Product}
		for _, k := range kinds {
			nt := reviewsync.NewTicket(conn(), review.Review{ID: "aaaaaaaaaaaaaaaaaaaaaaaa", Kind: k, Stars: stars, Title: title, Text: text, ProductSKU: sku, ProductName: name})
			for _, bad := range []string{"<script", "<b>", "</p><", "<sku>"} {
				if strings.Contains(title+text+sku+name, bad) && strings.Contains(strings.ReplaceAll(nt.BodyHTML, "</p><p>", ""), bad) && bad != "</p><" {
					t.Fatalf("%q reached body_html unescaped: %s", bad, nt.BodyHTML)
				}
			}
			if _, err := gorgias.BuildTicketPayload(nt); err != nil && !errs.Is(err, errs.Invalid) {
				t.Fatalf("payload: %v", err)
			}
		}
	})
}

type rejectingTP struct{ fakeTP }

func (f *rejectingTP) ListServiceReviews(ctx context.Context, since time.Time, next string) (trustpilot.ServicePage, error) {
	p, err := f.fakeTP.ListServiceReviews(ctx, since, next)
	if next == "" {
		p.Rejected = []trustpilot.Rejected{{ID: "bad0000000000000000000ff", Err: errors.New("stars: 9 out of range")}}
	}
	return p, err
}

func TestUnreadableReviewIsRecorded(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	tp := &rejectingTP{fakeTP{service: reviews(review.Service, 2)}}
	r.s.Open = reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		return tp, r.hd, nil
	})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if cur := r.cursor(t, review.Service); cur.Errors != 1 || !strings.Contains(cur.LastError, "bad0000000000000000000ff") {
		t.Fatalf("cursor %+v", cur)
	}
}

// A helpdesk that makes every call wait longer than the invocation has left: the run stops
// before the deadline, releases its claim, and continues from its checkpoint in a new
// invocation instead of being killed by the Lambda timeout.
func TestRunEndsBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{service: reviews(review.Service, 4)})
	r.s = reviewsync.New(r.st, r.s.Open, r.q, slog.New(slog.DiscardHandler), "w1", reviewsync.Config{Margin: time.Second})
	r.hd.stall = true
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // the margin is 1 s
	defer cancel()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run used the whole invocation")
	}
	if len(r.q.jobs) != 1 || r.q.jobs[0].Continuation != 1 {
		t.Fatalf("jobs %+v, want one continuation", r.q.jobs)
	}
	// The review it was creating is not left claimed for the claim's life.
	for _, l := range r.st.Links("c1") {
		if l.State == link.StateClaimed && l.ClaimExpires.After(time.Now()) {
			t.Fatalf("claim of %s left held until %v", l.ReviewID, l.ClaimExpires)
		}
	}
}

// A call's own timeout is not the run's bound: the review whose create timed out is set aside
// as uncertain (looked for before any new create) and the run goes on, with no continuation.
func TestCallTimeoutIsNotTheRunBound(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 3)
	r := newRig(t, &fakeTP{service: rs})
	r.hd.failOn[link.ExternalID(rs[1].ID)] = errs.E(errs.Transient, "gorgias", fmt.Errorf("%w: %w", gorgias.ErrUncertain, context.DeadlineExceeded))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.q.jobs) != 1 || r.q.jobs[0].Pass != queue.PassAside {
		t.Fatalf("jobs %+v; want only the set-aside retry, no continuation", r.q.jobs)
	}
	if l := r.link(t, rs[1].ID); !l.SetAside() || l.Uncertain.IsZero() {
		t.Fatalf("timed-out create: %+v", l)
	}
	if l := r.link(t, rs[2].ID); l.State != link.StateLinked {
		t.Fatalf("the next review waited: %+v", l)
	}
}

// BenchmarkDeepPassCost reports what the daily deep pass costs a shop with 1 000 service
// reviews a month, all synced already: Trustpilot calls per day (pages of 100 over the 30-day
// window) and helpdesk calls (none: links are read from the store).
func BenchmarkDeepPassCost(b *testing.B) {
	var rs []review.Review
	for i := range 1000 {
		rs = append(rs, review.Review{ID: fmt.Sprintf("%024x", i+1), Kind: review.Service, Stars: 4, Text: "x",
			CreatedAt: time.Now().Add(-30 * 24 * time.Hour).Add(time.Duration(i) * 43 * time.Minute)})
	}
	r := newRig(b, &fakeTP{service: rs, perPage: 100})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		b.Fatal(err)
	}
	created := r.hd.createNo
	deep := queue.SyncJob("c1", review.Service)
	deep.Pass = queue.PassDeep
	b.ResetTimer()
	r.tp.calls = 0
	for range b.N {
		if err := r.s.Sync(ctx, deep); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(r.tp.calls)/float64(b.N), "trustpilot_calls/day")
	b.ReportMetric(float64(r.hd.createNo-created+int64(r.hd.finds)), "helpdesk_calls")
}

// A webhook batch: each review is read again from the API before anything is created; a
// forged id and another business unit's review create nothing; an update of a linked review
// adds its edit note; the batch sent twice makes nothing new.
func TestWebhookEventsReadTheReviewFirst(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 5)
	for i := range rs {
		rs[i].Stars, rs[i].BusinessUnitID = 4, conn().Trustpilot.BusinessUnitID
	}
	rs[4].BusinessUnitID = "5f0c0000000000000000ffff"
	r := newRig(t, &fakeTP{service: rs[:1]})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	edited := rs[0]
	edited.UpdatedAt, edited.Stars = edited.CreatedAt.Add(time.Hour), 2
	r.tp.service = []review.Review{edited, rs[1], rs[2], rs[4]}
	job := queue.SyncJob("c1", review.Service)
	job.Pass = queue.PassEvents
	for _, e := range []struct{ id, name string }{{rs[1].ID, trustpilot.EventCreated}, {rs[2].ID, trustpilot.EventCreated},
		{rs[0].ID, trustpilot.EventUpdated}, {"5f0000000000000000000bad", trustpilot.EventCreated}, {rs[4].ID, trustpilot.EventCreated}} {
		job.Events = append(job.Events, queue.Event{ReviewID: e.id, Name: e.name})
	}
	for range 2 {
		if err := r.s.Sync(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.hd.tickets) != 3 {
		t.Fatalf("%d tickets, want 3 (the polled one and the two created events)", len(r.hd.tickets))
	}
	if _, err := r.st.GetLink(ctx, "c1", rs[4].ID); !errs.Is(err, errs.NotExist) {
		t.Fatal("another business unit's review was linked")
	}
	first := r.link(t, rs[0].ID)
	if notes := r.hd.notes[first.TicketID]; len(notes) != 1 || !strings.Contains(notes[0], "2★") {
		t.Fatalf("edit notes %q, want one", notes)
	}
	if r.tp.calls < 10 {
		t.Fatalf("%d Trustpilot calls: every event's review must be read from the API", r.tp.calls)
	}
}

// A batch of created events that give createdAt is read from the review list: one call for
// the page, one more for the id the list does not hold (forged), which creates nothing.
func TestWebhookBatchIsReadFromTheList(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 8)
	for i := range rs {
		rs[i].Stars, rs[i].BusinessUnitID = 4, conn().Trustpilot.BusinessUnitID
	}
	r := newRig(t, &fakeTP{service: rs[:2], perPage: 100})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	r.tp.service, r.tp.calls = rs, 0
	job := queue.SyncJob("c1", review.Service)
	job.Pass = queue.PassEvents
	for _, rv := range rs[2:] {
		job.Events = append(job.Events, queue.Event{ReviewID: rv.ID, Name: trustpilot.EventCreated, CreatedAt: rv.CreatedAt.Format(time.RFC3339Nano)})
	}
	job.Events = append(job.Events, queue.Event{ReviewID: "5f0000000000000000000bad", Name: trustpilot.EventCreated, CreatedAt: rs[7].CreatedAt.Format(time.RFC3339Nano)})
	if err := r.s.Sync(ctx, job); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 8 || r.tp.calls != 2 {
		t.Fatalf("%d tickets (want 8), %d Trustpilot calls (want 2: the list page, the forged id alone)", len(r.hd.tickets), r.tp.calls)
	}
}

func TestInboxChecksTheKeyAndQueuesOneJobPerBatch(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	ctx := context.Background()
	c := conn()
	c.Trustpilot.WebhookHash = connection.WebhookHash("right-key")
	if err := st.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	q := &fakeQueue{}
	in := &reviewsync.Inbox{Connections: st, Queue: q, Log: slog.New(slog.DiscardHandler)}
	var evs []trustpilot.Event
	for i := range 150 {
		evs = append(evs, trustpilot.Event{Name: trustpilot.EventCreated, ReviewID: fmt.Sprintf("%024x", i+1)})
	}
	for _, bad := range []struct{ conn, key string }{{"c1", "wrong-key"}, {"c1", ""}, {"nope", "right-key"}} {
		if _, err := in.Receive(ctx, bad.conn, bad.key, evs); !errs.Is(err, errs.Permission) {
			t.Fatalf("Receive(%s, %q) = %v, want errs.Permission", bad.conn, bad.key, err)
		}
	}
	if len(q.jobs) != 0 {
		t.Fatal("a refused call queued work")
	}
	n, err := in.Receive(ctx, "c1", "right-key", evs)
	if err != nil || n != 150 {
		t.Fatalf("Receive = %d %v", n, err)
	}
	if len(q.jobs) != 2 || len(q.jobs[0].Events) != 100 || len(q.jobs[1].Events) != 50 || q.jobs[0].Pass != queue.PassEvents {
		t.Fatalf("jobs %+v, want 2 event jobs of 100 and 50", q.jobs)
	}
	for _, j := range q.jobs {
		if err := j.Validate(); err != nil {
			t.Fatal(err)
		}
	}
}

// A deleted event Trustpilot confirms (the review is gone from its API): note and tag on the
// ticket, the sidebar entry and the stored entry removed, the link kept; the event again does
// nothing more; the review back on Trustpilot returns to the same ticket.
func TestDeletedReviewIsScrubbedAndReinstatedToItsTicket(t *testing.T) {
	t.Parallel()
	for _, customerData := range []bool{false, true} {
		t.Run(fmt.Sprintf("customer-data-%v", customerData), func(t *testing.T) {
			t.Parallel()
			testDeletedReview(t, customerData)
		})
	}
}

func testDeletedReview(t *testing.T, customerData bool) {
	rs := reviews(review.Service, 3)[2:]
	rs[0].Stars = 4
	r := newRig(t, &fakeTP{service: rs})
	if customerData {
		r.withCustomerData(t)
	}
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	before := r.link(t, rs[0].ID)
	acct, who := conn().HelpdeskAccountKey(), reviewer.Key(rs[0].Email)
	sidebar := func() int {
		got, err := r.st.ReviewerEntries(ctx, acct, who)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if d, _ := gorgias.DecodeReviewData(r.hd.data[1]); len(d.Reviews) != map[bool]int{false: 0, true: 1}[customerData] || sidebar() != 1 || before.Reviewer != who {
		t.Fatalf("sidebar before: %d entries, customer data %s, link's reviewer %q", sidebar(), r.hd.data[1], before.Reviewer)
	}
	job := queue.SyncJob("c1", review.Service)
	job.Pass, job.Events = queue.PassEvents, []queue.Event{{ReviewID: rs[0].ID, Name: trustpilot.EventDeleted}}
	// Trustpilot still serves it: a forged deletion changes nothing.
	if err := r.s.Sync(ctx, job); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, rs[0].ID); !l.DeletedAt.IsZero() || len(r.hd.notes[before.TicketID]) != 0 {
		t.Fatalf("a deletion Trustpilot does not confirm was applied: %+v", l)
	}
	r.tp.service = nil
	for range 2 {
		if err := r.s.Sync(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	l := r.link(t, rs[0].ID)
	if l.DeletedAt.IsZero() || l.TicketID != before.TicketID {
		t.Fatalf("after the deletion: %+v", l)
	}
	if notes := r.hd.notes[before.TicketID]; len(notes) != 1 || !strings.Contains(notes[0], "removed from Trustpilot") {
		t.Fatalf("notes %q, want the one deletion note", notes)
	}
	if tags := r.hd.tags[before.TicketID]; !slices.Contains(tags, reviewsync.TagDeleted) {
		t.Fatalf("tags %v", tags)
	}
	if d, _ := gorgias.DecodeReviewData(r.hd.data[1]); len(d.Reviews) != 0 || sidebar() != 0 {
		t.Fatalf("sidebar still shows the deleted review: %d entries, customer data %s", sidebar(), r.hd.data[1])
	}
	if !customerData && r.hd.merges != 0 {
		t.Fatalf("%d customer data writes with the setting off", r.hd.merges)
	}
	if list, _ := r.st.RecordCustomerEntry(ctx, conn().HelpdeskAccountKey(), 1, "probe", "{}"); len(list) != 1 {
		t.Fatalf("stored entries after the deletion: %v", list)
	}
	// Reinstated: the next sync finds it linked, notes its return, no second ticket.
	r.tp.service = rs
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if l := r.link(t, rs[0].ID); !l.DeletedAt.IsZero() || len(r.hd.tickets) != 1 || len(r.hd.notes[before.TicketID]) != 2 || sidebar() != 1 {
		t.Fatalf("reinstated: %+v, %d tickets, notes %q, %d sidebar entries", l, len(r.hd.tickets), r.hd.notes[before.TicketID], sidebar())
	}
}

// The deletions pass reads the Deletions API page by page from where the last pass ended and
// removes the connection's deleted reviews; other ids are skipped.
func TestDeletionsPass(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4)
	for i := range rs {
		rs[i].Stars = 4
	}
	r := newRig(t, &fakeTP{service: rs})
	ctx := context.Background()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	r.tp.deleted = []string{rs[1].ID, "5f00000000000000000000aa", rs[3].ID}
	job := queue.SyncJob("c1", review.Service)
	job.Pass = queue.PassDeletions
	if err := r.s.Sync(ctx, job); err != nil {
		t.Fatal(err)
	}
	for i, rv := range rs {
		l := r.link(t, rv.ID)
		if deleted := i == 1 || i == 3; deleted != !l.DeletedAt.IsZero() || (deleted && len(r.hd.notes[l.TicketID]) != 1) {
			t.Fatalf("review %d: deleted at %v, notes %q", i, l.DeletedAt, r.hd.notes[l.TicketID])
		}
	}
	if _, err := r.st.GetLink(ctx, "c1", "5f00000000000000000000aa"); !errs.Is(err, errs.NotExist) {
		t.Fatal("another connection's deleted review was recorded")
	}
	first := r.tp.windows[0]
	if len(r.tp.windows) != 3 || first[1].Sub(first[0]) != reviewsync.DeletionsLookBack {
		t.Fatalf("windows %v, want 3 pages of the first 30-day window", r.tp.windows)
	}
	r.clk.Add(24 * time.Hour)
	r.tp.deleted, r.tp.windows = nil, nil
	if err := r.s.Sync(ctx, job); err != nil {
		t.Fatal(err)
	}
	if w := r.tp.windows; len(w) != 1 || !w[0][0].Equal(first[1].Add(-reviewsync.DeletionsOverlap)) || w[0][1].Sub(first[1]) != 24*time.Hour {
		t.Fatalf("second window %v, want from an hour before the first ended (%v) to a day after", w, first[1])
	}
}

// Triage rides on the create call: priority from the stars, the review's language, the
// product's SKU tag, the ticket fields, and positive reviews created closed.
func TestTriageGoesIntoTheCreateCall(t *testing.T) {
	t.Parallel()
	c := conn()
	c.MinStars = 1
	c.Triage = connection.Triage{Fields: connection.TicketFields{Stars: 11, Kind: 12, BusinessUnit: 13, SKU: 14}, CloseStars: []int{5}}
	svc := review.Review{ID: "a1", Kind: review.Service, Stars: 1, Language: "en-GB", Text: "late", Email: "x@example.com"}
	tk := reviewsync.NewTicket(c, svc)
	if tk.Priority != "high" || tk.Language != "en" || tk.Closed || slices.ContainsFunc(tk.Tags, func(s string) bool { return strings.HasPrefix(s, "sku-") }) {
		t.Fatalf("1★ service review: %+v", tk)
	}
	want := []gorgias.CustomField{{ID: 11, Value: 1}, {ID: 12, Value: "service"}, {ID: 13, Value: c.Trustpilot.BusinessUnitID}}
	if !reflect.DeepEqual(tk.CustomFields, want) {
		t.Fatalf("fields %+v, want %+v", tk.CustomFields, want)
	}
	prod := review.Review{ID: "p1", Kind: review.Product, Stars: 5, Language: "de", Text: "gut", ProductSKU: "LAMP 12/Blue", BusinessUnitID: "5f0c0000000000000000000b"}
	tk = reviewsync.NewTicket(c, prod)
	if tk.Priority != "low" || tk.Language != "de" || !tk.Closed || !slices.Contains(tk.Tags, "sku-lamp-12-blue") {
		t.Fatalf("5★ product review: %+v", tk)
	}
	want = []gorgias.CustomField{{ID: 11, Value: 5}, {ID: 12, Value: "product"}, {ID: 13, Value: "5f0c0000000000000000000b"}, {ID: 14, Value: "LAMP 12/Blue"}}
	if !reflect.DeepEqual(tk.CustomFields, want) {
		t.Fatalf("fields %+v, want %+v", tk.CustomFields, want)
	}
	c.Triage = connection.Triage{Priority: map[string]string{"5": "none"}, Language: "off", SKUTags: "off"}
	tk = reviewsync.NewTicket(c, prod)
	if tk.Priority != "" || tk.Language != "" || tk.Closed || tk.CustomFields != nil || slices.Contains(tk.Tags, "sku-lamp-12-blue") {
		t.Fatalf("triage turned off: %+v", tk)
	}
	for in, want := range map[string]string{"": "", "en": "en", "pt_BR": "pt", "zh-Hant-TW": "zh", "e": "", "english": "", "1a": "", " FR ": "fr"} {
		if got := reviewsync.TicketLanguage(in); got != want {
			t.Errorf("TicketLanguage(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"AB-12": "sku-ab-12", "  ": "", "--x--": "sku-x", "Été 2024": "sku-été-2024", "a,b;c": "sku-a-b-c",
		strings.Repeat("x", 100): "sku-" + strings.Repeat("x", 60)} {
		if got := reviewsync.SKUTag(in); got != want {
			t.Errorf("SKUTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// A helpdesk that refuses the ticket fields (a number for a text field, a field id that does
// not exist) still gets every ticket: as text, then without fields and tagged; and the run
// keeps what worked instead of paying the refusal again for every review.
func TestRefusedTicketFieldsStillMakeTheTicket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		refuse func([]gorgias.CustomField) bool
		calls  int // create calls for 4 reviews
		tagged bool
	}{
		{"numbers refused", func(fs []gorgias.CustomField) bool {
			return slices.ContainsFunc(fs, func(f gorgias.CustomField) bool { _, isText := f.Value.(string); return !isText })
		}, 5, false},
		{"every field refused", func([]gorgias.CustomField) bool { return true }, 6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := reviews(review.Service, 5)[1:] // 2★ to 5★: all pass min_stars
			r := newRig(t, &fakeTP{service: rs})
			c := conn()
			c.Triage.Fields = connection.TicketFields{Stars: 11, Kind: 12}
			if err := r.st.PutConnection(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			r.hd.refuseFields = tc.refuse
			if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
				t.Fatal(err)
			}
			if len(r.hd.tickets) != 4 || len(r.hd.sent) != tc.calls {
				t.Fatalf("%d tickets in %d create calls, want 4 in %d", len(r.hd.tickets), len(r.hd.sent), tc.calls)
			}
			for _, tk := range r.hd.tickets {
				if slices.Contains(tk.Tags, reviewsync.TagFieldsRefused) != tc.tagged {
					t.Fatalf("ticket tags %v (want the refused-fields tag: %v)", tk.Tags, tc.tagged)
				}
			}
		})
	}
}

// An invocation shorter than three margins still syncs: the margin shrinks with it, so a run
// never only queues a continuation of itself (a 15 s function once looped that way).
func TestShortInvocationStillSyncs(t *testing.T) {
	t.Parallel()
	r := newRig(t, &fakeTP{service: reviews(review.Service, 5)}) // 4 pass the star filter
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
	defer cancel()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 4 {
		t.Fatalf("%d tickets in a 9 s invocation (margin 10 s), want 4; jobs %+v", len(r.hd.tickets), r.q.jobs)
	}
}
