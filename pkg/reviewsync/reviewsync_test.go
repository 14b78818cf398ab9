package reviewsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/pilotdesk/pilotdesk/pkg/reviewsync"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// fakeStore keeps links and cursors in memory with the claim semantics of the DynamoDB store.
type fakeStore struct {
	mu      sync.Mutex
	conn    connection.Record
	links   map[string]*link.Link
	cursor  cursor.Cursor
	reauth  string
	leaseBy string
	cleared int
}

var _ reviewsync.Store = (*fakeStore)(nil)

func newFakeStore(c connection.Connection) *fakeStore {
	return &fakeStore{conn: connection.Record{Connection: c}, links: map[string]*link.Link{}}
}

func (f *fakeStore) GetConnection(_ context.Context, id string) (connection.Record, error) {
	if id != f.conn.Connection.ID {
		return connection.Record{}, errs.E(errs.NotExist, "fake", errors.New("gone"))
	}
	return f.conn, nil
}
func (f *fakeStore) SetReauth(_ context.Context, _ string, needs bool, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if needs {
		f.reauth = reason
	}
	return nil
}
func (f *fakeStore) GetCursor(context.Context, string, review.Kind) (cursor.Cursor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor, nil
}
func (f *fakeStore) SaveCheckpoint(_ context.Context, _ string, _ review.Kind, cp cursor.Checkpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cp.Since.After(f.cursor.Since) {
		f.cursor.Since = cp.Since
	}
	f.cursor.Resume = cp.Resume
	f.cursor.ReviewSeen += cp.Seen
	f.cursor.Tickets += cp.Created
	f.cursor.Errors += cp.Errors
	if cp.LastError != "" {
		f.cursor.LastError = cp.LastError
	}
	return nil
}
func (f *fakeStore) ClaimReview(_ context.Context, connID, id string, kind review.Kind, owner string, ttl time.Duration) (link.Claim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.links[id]
	now := time.Now()
	switch {
	case l == nil:
		l = &link.Link{ConnectionID: connID, ReviewID: id, Kind: kind}
		f.links[id] = l
	case l.State == link.StateLinked:
		return link.Claim{Status: link.ClaimLinked, Link: *l}, nil
	case l.State == link.StateFailed && l.ClaimExpires.After(now):
		return link.Claim{Status: link.ClaimRefused, Link: *l}, nil
	case l.ClaimExpires.After(now):
		return link.Claim{Status: link.ClaimBusy, Link: *l}, nil
	}
	l.State, l.Owner, l.ClaimExpires = link.StateClaimed, owner, now.Add(ttl)
	l.Attempts++
	return link.Claim{Status: link.ClaimGranted, Recover: l.Attempts > 1, Link: *l}, nil
}
func (f *fakeStore) FailClaim(_ context.Context, _, id, owner, _ string, retry time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.links[id]; l != nil && l.State == link.StateClaimed && l.Owner == owner {
		l.State, l.ClaimExpires = link.StateFailed, time.Now().Add(retry)
	}
	return nil
}
func (f *fakeStore) RecordError(_ context.Context, _ string, _ review.Kind, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursor.LastError = msg
	return nil
}
func (f *fakeStore) ReleaseClaim(_ context.Context, _, id, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.links[id]; l != nil && l.State == link.StateClaimed && l.Owner == owner {
		l.ClaimExpires = time.Time{}
	}
	return nil
}
func (f *fakeStore) ConfirmLink(_ context.Context, c link.Confirm) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.links[c.ReviewID]
	if l == nil || l.State != link.StateClaimed || l.Owner != c.Owner {
		return errs.E(errs.Conflict, "fake", link.ErrClaimLost)
	}
	l.State, l.TicketID, l.ReviewVersion, l.Stars = link.StateLinked, c.TicketID, c.ReviewVersion, c.Stars
	return nil
}
func (f *fakeStore) GetLinks(_ context.Context, _ string, ids []string) (map[string]link.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]link.Link{}
	for _, id := range ids {
		if l := f.links[id]; l != nil {
			out[id] = *l
		}
	}
	return out, nil
}
func (f *fakeStore) SetReviewVersion(_ context.Context, _, id string, v time.Time, stars int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.links[id]
	if l == nil || !v.After(l.ReviewVersion) {
		return false, nil
	}
	l.ReviewVersion, l.Stars = v, stars
	return true, nil
}
func (f *fakeStore) ClearQueued(context.Context, string, review.Kind) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleared++
	return nil
}
func (f *fakeStore) AcquireLease(_ context.Context, _, owner string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leaseBy != "" && f.leaseBy != owner {
		return false, nil
	}
	f.leaseBy = owner
	return true, nil
}
func (f *fakeStore) ReleaseLease(_ context.Context, _, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leaseBy == owner {
		f.leaseBy = ""
	}
	return nil
}

// fakeTP serves reviews oldest first, 2 a page; next-page links are page numbers.
type fakeTP struct {
	service []review.Review
	product []review.Review
	err     error
	calls   int
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
	p, _ := strconv.Atoi(next)
	page := all[min(p*2, len(all)):min(p*2+2, len(all))]
	out := trustpilot.ServicePage{Reviews: page}
	if p*2+2 < len(all) {
		out.Next = strconv.Itoa(p + 1)
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
	finds    int
	createNo int64
}

var _ reviewsync.Helpdesk = (*fakeHD)(nil)

func newFakeHD() *fakeHD {
	return &fakeHD{tickets: map[string]gorgias.Ticket{}, notes: map[int64][]string{}, failOn: map[string]error{}}
}

func (f *fakeHD) CreateTicket(_ context.Context, t gorgias.NewTicket) (gorgias.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.failOn[t.ExternalID]; ok {
		return gorgias.Ticket{}, err
	}
	f.createNo++
	tk := gorgias.Ticket{ID: 1000 + f.createNo, ExternalID: t.ExternalID, Subject: t.Subject, Tags: t.Tags, CustomerID: 1, CustomerEmail: t.CustomerEmail}
	f.tickets[t.ExternalID] = tk
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
func (f *fakeHD) MergeCustomerData(_ context.Context, _ int64, _ string, update func(json.RawMessage) (json.RawMessage, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.merges++
	_, err := update(nil)
	return err
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
	st *fakeStore
	tp *fakeTP
	hd *fakeHD
	q  *fakeQueue
	s  *reviewsync.Syncer
}

func newRig(tp *fakeTP) *rig {
	r := &rig{st: newFakeStore(conn()), tp: tp, hd: newFakeHD(), q: &fakeQueue{}}
	r.s = &reviewsync.Syncer{
		Store: r.st, Queue: r.q, Owner: "w1", Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Open: reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
			return r.tp, r.hd, nil
		}),
		Config: reviewsync.Config{LeaseRetry: 7 * time.Second},
	}
	return r
}

func TestServiceSyncStarFilterTagsAndIdempotence(t *testing.T) {
	t.Parallel()
	r := newRig(&fakeTP{service: reviews(review.Service, 7)})
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
	if r.hd.merges != 3 { // email reviews among those synced: 2, 4, 6
		t.Fatalf("%d customer data merges, want 3", r.hd.merges)
	}
	if want := reviews(review.Service, 7)[6].CreatedAt; !r.st.cursor.Since.Equal(want) || r.st.cursor.Resume != "" {
		t.Fatalf("cursor %+v, want since %v", r.st.cursor, want)
	}
	if r.st.leaseBy != "" {
		t.Fatal("lease not released")
	}
	if r.st.cleared != 1 {
		t.Fatalf("finished run cleared the queued mark %d times", r.st.cleared)
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
	r := newRig(&fakeTP{service: rs})
	r.hd.failOn[link.ExternalID(rs[1].ID)] = errs.E(errs.Invalid, "gorgias", errors.New("400 bad subject"))
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 3 || r.st.cursor.Errors != 1 || !strings.Contains(r.st.cursor.LastError, rs[1].ID) {
		t.Fatalf("tickets %d cursor %+v", len(r.hd.tickets), r.st.cursor)
	}
}

// A product scan does not retry a review the helpdesk refused on every run.
func TestRefusedProductReviewLeftAlone(t *testing.T) {
	t.Parallel()
	ps := reviews(review.Product, 4)
	r := newRig(&fakeTP{product: ps})
	r.hd.failOn[link.ExternalID(ps[1].ID)] = errs.E(errs.Invalid, "gorgias", errors.New("400"))
	for range 3 {
		if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Product)); err != nil {
			t.Fatal(err)
		}
	}
	if r.st.cursor.Errors != 1 || r.st.links[ps[1].ID].State != link.StateFailed {
		t.Fatalf("errors %d link %+v", r.st.cursor.Errors, r.st.links[ps[1].ID])
	}
}

// A helpdesk that refuses the credentials stops the run and flags the connection; the cursor
// does not move past the reviews.
func TestHelpdeskRefusingCredentialsStopsTheRun(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4)
	r := newRig(&fakeTP{service: rs})
	for _, rv := range rs {
		r.hd.failOn[link.ExternalID(rv.ID)] = errs.E(errs.Permission, "gorgias", errors.New("401 unauthorized"))
	}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.st.reauth, "401") || !r.st.cursor.Since.IsZero() || r.st.cleared != 1 {
		t.Fatalf("reauth %q cursor %+v cleared %d", r.st.reauth, r.st.cursor, r.st.cleared)
	}
}

// A Trustpilot 404 (a wrong business unit) flags the connection instead of looking like a
// deleted connection to the worker.
func TestTrustpilotNotFoundFlagsTheConnection(t *testing.T) {
	t.Parallel()
	r := newRig(&fakeTP{err: errs.E(errs.NotExist, "trustpilot", errors.New("404 business unit"))})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.st.reauth, "404") {
		t.Fatalf("not flagged: %q", r.st.reauth)
	}
}

func TestTransientErrorRetriesAndRecovers(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 3)
	r := newRig(&fakeTP{service: rs})
	ext := link.ExternalID(rs[1].ID)
	r.hd.failOn[ext] = errs.E(errs.Transient, "gorgias", errors.New("connection reset after the request was sent"))
	err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service))
	if !errs.Retryable(err) {
		t.Fatalf("transient failure: %v", err)
	}
	// The failed attempt may have created the ticket: the retry must look it up first.
	delete(r.hd.failOn, ext)
	r.hd.tickets[ext] = gorgias.Ticket{ID: 55, ExternalID: ext, CustomerID: 1}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if r.hd.finds != 1 || r.st.links[rs[1].ID].TicketID != 55 {
		t.Fatalf("recovery: finds %d link %+v", r.hd.finds, r.st.links[rs[1].ID])
	}
}

func TestBusyReviewContinuesAfterTheClaimExpires(t *testing.T) {
	t.Parallel()
	rs := reviews(review.Service, 4)
	r := newRig(&fakeTP{service: rs})
	r.st.links[rs[2].ID] = &link.Link{ReviewID: rs[2].ID, State: link.StateClaimed, Owner: "crashed", ClaimExpires: time.Now().Add(20 * time.Second)}
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.q.jobs) != 1 || r.q.jobs[0].Resume != "1" || r.q.delays[0] < 15*time.Second {
		t.Fatalf("continuation %+v delays %v", r.q.jobs, r.q.delays)
	}
	// The high-water mark must not pass the review left behind.
	if !r.st.cursor.Since.Before(rs[2].CreatedAt) {
		t.Fatalf("cursor %v passed the busy review (%v)", r.st.cursor.Since, rs[2].CreatedAt)
	}
}

func TestDeadlineEnqueuesContinuation(t *testing.T) {
	t.Parallel()
	r := newRig(&fakeTP{service: reviews(review.Service, 6)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // under the 10 s margin
	defer cancel()
	if err := r.s.Sync(ctx, queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.hd.tickets) != 0 || len(r.q.jobs) != 1 || r.q.jobs[0].Continuation != 1 {
		t.Fatalf("tickets %d jobs %+v", len(r.hd.tickets), r.q.jobs)
	}
	if r.st.cleared != 0 {
		t.Fatal("a run that continues must keep the queued mark")
	}
}

func TestLeaseHeldElsewhereDelaysTheJob(t *testing.T) {
	t.Parallel()
	r := newRig(&fakeTP{service: reviews(review.Service, 2)})
	r.st.leaseBy = "other-worker"
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if len(r.q.jobs) != 1 || r.q.delays[0] != 7*time.Second || r.tp.calls != 0 {
		t.Fatalf("jobs %+v delays %v calls %d", r.q.jobs, r.q.delays, r.tp.calls)
	}
}

func TestReauthMarksTheConnection(t *testing.T) {
	t.Parallel()
	r := newRig(&fakeTP{err: errs.E(errs.Reauth, "trustpilot", errors.New("refresh token refused"))})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatalf("reauth must drop the job, got %v", err)
	}
	if !strings.Contains(r.st.reauth, "refresh token refused") {
		t.Fatalf("connection not marked: %q", r.st.reauth)
	}
}

func TestDeletedConnection(t *testing.T) {
	t.Parallel()
	r := newRig(&fakeTP{})
	if err := r.s.Sync(context.Background(), queue.SyncJob("gone", review.Service)); !errs.Is(err, errs.NotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestProductScanAndEditNote(t *testing.T) {
	t.Parallel()
	ps := reviews(review.Product, 5)
	r := newRig(&fakeTP{product: ps})
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
	if nt.CustomerEmail != c.AnonymousEmail || nt.ExternalID != "trustpilot:"+rv.ID || !strings.HasPrefix(nt.Subject, "Trustpilot review (3★): ") {
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
	r := newRig(nil)
	tp := &rejectingTP{fakeTP{service: reviews(review.Service, 2)}}
	r.s.Open = reviewsync.OpenerFunc(func(context.Context, connection.Connection) (reviewsync.Reviews, reviewsync.Helpdesk, error) {
		return tp, r.hd, nil
	})
	if err := r.s.Sync(context.Background(), queue.SyncJob("c1", review.Service)); err != nil {
		t.Fatal(err)
	}
	if r.st.cursor.Errors != 1 || !strings.Contains(r.st.cursor.LastError, "bad0000000000000000000ff") {
		t.Fatalf("cursor %+v", r.st.cursor)
	}
}
