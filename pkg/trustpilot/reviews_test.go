package trustpilot

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// genUnit is a unit with no seeded reviews, so generated counts are exact.
var genUnit = trustpilotsim.BusinessUnit{ID: "5f0c0000000000000000e003", Name: "gen.example", APIKey: "gen-key", APISecret: "gen-secret",
	BusinessUsers: []trustpilotsim.BusinessUser{{ID: "5f0d0000000000000000e003", Name: "Gen"}}}

func genClient(t *testing.T, e *env, mod ...func(*Config)) *Client {
	return e.client(t, append([]func(*Config){func(c *Config) {
		c.Credentials = Credentials{APIKey: genUnit.APIKey, APISecret: genUnit.APISecret, BusinessUnitID: genUnit.ID, BusinessUserID: genUnit.BusinessUsers[0].ID}
	}}, mod...)...)
}

var genFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func genEnv(t *testing.T, nService, nProduct int) *env {
	f := trustpilotsim.Generate(genUnit.ID, nService, nProduct, genFrom, genFrom.AddDate(0, 6, 0), 42)
	f.BusinessUnits = []trustpilotsim.BusinessUnit{genUnit}
	return newEnv(t, trustpilotsim.Options{}, f)
}

func collect(t *testing.T, c *Client, since time.Time, checkpoint string) (pages []ServicePage) {
	t.Helper()
	for p, err := range c.ServicePages(context.Background(), since, checkpoint) {
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	return pages
}

func TestServicePagination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n     int
		sizes []int
	}{
		{0, []int{0}},
		{1, []int{1}},
		{100, []int{100}},
		{101, []int{100, 1}},
		{250, []int{100, 100, 50}},
	}
	for _, tt := range tests {
		t.Run("n"+strconv.Itoa(tt.n), func(t *testing.T) {
			t.Parallel()
			e := genEnv(t, tt.n, 0)
			pages := collect(t, genClient(t, e), time.Time{}, "")
			var sizes []int
			var all []review.Review
			for _, p := range pages {
				sizes = append(sizes, len(p.Reviews))
				all = append(all, p.Reviews...)
				if len(p.Rejected) > 0 {
					t.Errorf("rejected: %v", p.Rejected[0].Err)
				}
			}
			if !slices.Equal(sizes, tt.sizes) {
				t.Fatalf("page sizes = %v, want %v", sizes, tt.sizes)
			}
			if pages[len(pages)-1].Next != "" {
				t.Errorf("last page has Next %q", pages[len(pages)-1].Next)
			}
			seen := map[string]bool{}
			for i, r := range all {
				if seen[r.ID] {
					t.Fatalf("duplicate %s", r.ID)
				}
				seen[r.ID] = true
				if i > 0 && r.CreatedAt.Before(all[i-1].CreatedAt) {
					t.Fatalf("review %d older than the one before: not oldest first", i)
				}
			}
			if n := e.sim.Calls("list_service_reviews"); n != len(tt.sizes) {
				t.Errorf("list calls = %d, want %d", n, len(tt.sizes))
			}
		})
	}
}

func TestServiceResumeFromCheckpoint(t *testing.T) {
	t.Parallel()
	e := genEnv(t, 250, 0)
	c := genClient(t, e)
	ctx := context.Background()
	first, err := c.ListServiceReviews(ctx, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	// A new job (a new client, as after a Lambda restart) continues from the stored checkpoint.
	rest := collect(t, genClient(t, e), time.Time{}, first.Next)
	if len(rest) != 2 || len(rest[0].Reviews) != 100 || len(rest[1].Reviews) != 50 {
		t.Fatalf("resumed pages = %d", len(rest))
	}
	if !rest[0].Reviews[0].CreatedAt.After(first.Reviews[99].CreatedAt) {
		t.Error("resumed page does not continue after the checkpoint")
	}
	// since: only reviews created at or after it.
	since := rest[0].Reviews[50].CreatedAt
	pages := collect(t, c, since, "")
	if got := len(pages[0].Reviews); got != 100 || !pages[0].Reviews[0].CreatedAt.Equal(since) {
		t.Errorf("since page: %d reviews from %v, want 100 from %v", got, pages[0].Reviews[0].CreatedAt, since)
	}
	// A checkpoint past the end (a job resumed after the last page was emptied) ends cleanly.
	u, _ := url.Parse(first.Next)
	q := u.Query()
	q.Set("page", "99")
	u.RawQuery = q.Encode()
	p, err := c.ListServiceReviews(ctx, time.Time{}, u.String())
	if err != nil || len(p.Reviews) != 0 || p.Next != "" {
		t.Errorf("page past the end: %d reviews, next %q, err %v", len(p.Reviews), p.Next, err)
	}
}

func TestServiceTokenExpiresMidIteration(t *testing.T) {
	t.Parallel()
	f := trustpilotsim.Generate(genUnit.ID, 250, 0, genFrom, genFrom.AddDate(0, 1, 0), 7)
	f.BusinessUnits = []trustpilotsim.BusinessUnit{genUnit}
	e := newEnv(t, trustpilotsim.Options{TokenLifetime: time.Hour, RefreshWindow: time.Minute}, f)
	c := genClient(t, e, func(c *Config) { c.TokenMargin = time.Minute })
	n := 0
	for p, err := range c.ServicePages(context.Background(), time.Time{}, "") {
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Reviews)
		e.clock.Advance(2 * time.Hour) // every token dies between pages
	}
	if n != 250 {
		t.Errorf("got %d reviews, want 250", n)
	}
	if tok := e.sim.Calls("token"); tok != 3 {
		t.Errorf("token calls = %d, want 3", tok)
	}
}

func TestNextLinkMustStayOnTheList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	c := e.client(t)
	list := "/v1/private/business-units/" + acmeUnit + "/reviews"
	tests := []struct {
		href string
		ok   bool
	}{
		{"https://api.trustpilot.com" + list + "?page=2&perPage=100", true},
		{list + "?page=2", true},
		{"https://evil.example/v1/other?page=2", false},
		{"https://api.trustpilot.com/v1/private/reviews/65a000000000000000000001", false},
		{"https://api.trustpilot.com" + list + "/../../../v1/private/reviews/x", false},
	}
	for _, tt := range tests {
		p, err := c.followable(tt.href, list)
		if (err == nil) != tt.ok {
			t.Errorf("followable(%q) = %q, %v; want ok=%v", tt.href, p, err, tt.ok)
		}
		if err == nil && !strings.HasPrefix(p, list+"?") {
			t.Errorf("followable(%q) = %q: not on our list", tt.href, p)
		}
	}
}

func TestProductPaging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n     int
		sizes []int
	}{
		{0, []int{0}},
		{99, []int{99}},
		{200, []int{100, 100}}, // the last page has no next-page link: no empty page is read
		{250, []int{100, 100, 50}},
	}
	for _, tt := range tests {
		t.Run("n"+strconv.Itoa(tt.n), func(t *testing.T) {
			t.Parallel()
			e := genEnv(t, 0, tt.n)
			c := genClient(t, e)
			var sizes []int
			ids := map[string]bool{}
			for page := 1; ; page++ {
				p, err := c.ListProductReviews(context.Background(), page)
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(p.Reviews))
				for _, r := range p.Reviews {
					ids[r.ID] = true
					if r.Kind != review.Product || r.Email == "" || r.ProductSKU == "" {
						t.Fatalf("product review not normalised: %+v", r)
					}
				}
				if !p.More {
					break
				}
			}
			if !slices.Equal(sizes, tt.sizes) || len(ids) != tt.n {
				t.Errorf("page sizes = %v (%d ids), want %v", sizes, len(ids), tt.sizes)
			}
		})
	}
}

func TestGetReviews(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	c := e.client(t)
	ctx := context.Background()
	r, err := c.GetServiceReview(ctx, "65a000000000000000000008")
	if err != nil {
		t.Fatal(err)
	}
	if r.Email != "bob@example.org" || r.ReferenceID != "ORDER-1002" || r.UpdatedAt.IsZero() || r.Link != "https://www.trustpilot.com/reviews/65a000000000000000000008" {
		t.Errorf("service review = %+v", r)
	}
	p, err := c.GetProductReview(ctx, "66b000000000000000000002")
	if err != nil {
		t.Fatal(err)
	}
	if p.ConversationID != "67c000000000000000000001" || p.ReviewerName != "" || p.Email != "sam@example.net" {
		t.Errorf("product review = %+v", p)
	}
	tests := []struct {
		name string
		id   string
		kind errs.Kind
	}{
		{"unknown", "65a0000000000000000000ff", errs.NotExist},
		{"other unit's review", "65a000000000000000000009", errs.NotExist},
		{"not an id", "../reviews", errs.Invalid},
	}
	for _, tt := range tests {
		_, err := c.GetServiceReview(ctx, tt.id)
		if errs.KindOf(err) != tt.kind {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.kind)
		}
	}
	if n := e.sim.Calls("get_service_review"); n != 3 {
		t.Errorf("get calls = %d, want 3 (404 is not retried, a bad id is not sent)", n)
	}
}

func TestBusinessUnitsAreSeparate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	ctx := context.Background()
	globex := e.client(t, func(c *Config) {
		c.Credentials = Credentials{APIKey: "globex-key", APISecret: "globex-secret", BusinessUnitID: globexUnit, BusinessUserID: globexUser}
	})
	p, err := globex.ListServiceReviews(ctx, time.Time{}, "")
	if err != nil || len(p.Reviews) != 1 || p.Reviews[0].BusinessUnitID != globexUnit {
		t.Fatalf("globex page = %+v, %v", p.Reviews, err)
	}
	// Acme's application asking for Globex's unit.
	wrong := e.client(t, func(c *Config) { c.Credentials.BusinessUnitID = globexUnit })
	if _, err := wrong.ListServiceReviews(ctx, time.Time{}, ""); errs.KindOf(err) != errs.Permission {
		t.Errorf("err = %v, want permission", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no connection", Config{Credentials: acmeCreds}},
		{"no key", Config{ConnectionID: "x", Credentials: Credentials{APISecret: "s", BusinessUnitID: acmeUnit}}},
		{"plain http to a remote host", Config{ConnectionID: "x", Credentials: acmeCreds, BaseURL: "http://api.trustpilot.com"}},
		{"bad unit id", Config{ConnectionID: "x", Credentials: Credentials{APIKey: "k", APISecret: "s", BusinessUnitID: "a/b"}}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("%s: New accepted it", tt.name)
		} else if strings.Contains(err.Error(), "acme-secret") {
			t.Errorf("%s: error leaks the secret", tt.name)
		}
	}
	if _, err := New(Config{ConnectionID: "x", Credentials: acmeCreds}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestBadReviewDoesNotBlockThePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	bad := trustpilotsim.ServiceReview{ID: "65a0000000000000000000bb", BusinessUnit: trustpilotsim.BusinessUnitRef{ID: acmeUnit},
		Stars: 9, CreatedAt: "2024-01-02T05:00:00Z"}
	if err := e.sim.PutServiceReview(bad); err != nil {
		t.Fatal(err)
	}
	p, err := e.client(t).ListServiceReviews(context.Background(), time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rejected) != 1 || p.Rejected[0].ID != bad.ID || len(p.Reviews) != 8 {
		t.Fatalf("%d reviews, rejected %+v", len(p.Reviews), p.Rejected)
	}
	if errs.KindOf(p.Rejected[0].Err) != errs.Invalid {
		t.Errorf("rejection kind = %s", errs.KindOf(p.Rejected[0].Err))
	}
}

// The Deletions API through the client, against the simulator in both answer shapes.
func TestListDeletedReviews(t *testing.T) {
	t.Parallel()
	for _, shape := range []trustpilotsim.DeletionsShape{trustpilotsim.DeletionsObjects, trustpilotsim.DeletionsIDs} {
		e := newEnv(t, trustpilotsim.Options{})
		unit := acmeCreds.BusinessUnitID
		if err := e.sim.SetSwitches(unit, trustpilotsim.Switches{Deletions: shape}); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range trustpilotsim.DefaultFixture().ServiceReviews {
			if r.BusinessUnit.ID == unit && len(want) < 2 {
				if err := e.sim.DeleteServiceReview(r.ID); err != nil {
					t.Fatal(err)
				}
				want = append(want, r.ID)
			}
		}
		c := e.client(t)
		got, err := c.ListDeletedReviews(context.Background(), e.clock.Now().Add(-time.Hour), e.clock.Now().Add(time.Minute), "")
		if err != nil || len(got.IDs) != len(want) || got.Next != "" {
			t.Fatalf("shape %q: %+v %v, want %v", shape, got, err, want)
		}
	}
}

// fakeLedger is a shared call count, as the store keeps it, without minute buckets.
type fakeLedger struct {
	mu    sync.Mutex
	n     int
	takes int // grants (ledger writes)
}

func (l *fakeLedger) TakeCalls(_ context.Context, _ string, n, limit int, _ time.Duration) (bool, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n+n > limit {
		return false, time.Now().Add(time.Hour), nil
	}
	l.takes++
	l.n += n
	return true, time.Time{}, nil
}

// Two instances (each its own client and reservations) share one ledger: together they never
// make more calls than its limit, and reservations keep ledger writes below one per call.
func TestSharedBudgetAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, trustpilotsim.Options{})
	l, toks := &fakeLedger{}, newMemStore()
	mk := func() *Client {
		return isolate(e.client(t, func(c *Config) {
			c.Ledger, c.BudgetCalls, c.BudgetMaxWait, c.Tokens = l, 10, 50*time.Millisecond, toks
		}))
	}
	a, b := mk(), mk()
	calls0 := e.sim.Counters()
	ok, refused := 0, 0
	for i := range 20 {
		c := a
		if i%2 == 1 {
			c = b
		}
		_, err := c.ListProductReviews(context.Background(), 1)
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrBudgetExhausted):
			refused++
		default:
			t.Fatal(err)
		}
	}
	made := 0
	for k, v := range e.sim.Counters() {
		made += v - calls0[k]
	}
	if made > 10 || refused == 0 || l.n > 10 {
		t.Fatalf("%d calls reached Trustpilot (%d ok, %d refused, ledger %d), want at most the 10 allowed", made, ok, refused, l.n)
	}
	if l.takes >= made {
		t.Fatalf("%d ledger writes for %d calls: reservations should batch them", l.takes, made)
	}
}
