package trustpilot

import (
	"context"
	"strings"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

// Paging trusts the API, not a page size: a perPage Trustpilot caps below ours, links spelled
// in any documented way (or none at all), still read every review exactly once.
func TestPagingVariants(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sw   trustpilotsim.Switches
	}{
		{"default", trustpilotsim.Switches{}},
		{"perPage capped at 20", trustpilotsim.Switches{PerPageCap: 20}},
		{"relative links", trustpilotsim.Switches{Links: trustpilotsim.LinksRelative, PerPageCap: 30}},
		{"list-relative links", trustpilotsim.Switches{Links: trustpilotsim.LinksListRelative, PerPageCap: 30}},
		{"trailing slash, other case", trustpilotsim.Switches{Links: trustpilotsim.LinksTrailingSlash, PerPageCap: 30}},
		{"no links, capped", trustpilotsim.Switches{Links: trustpilotsim.LinksNone, PerPageCap: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := genEnv(t, 130, 70)
			if err := e.sim.SetSwitches(genUnit.ID, tc.sw); err != nil {
				t.Fatal(err)
			}
			c := genClient(t, e)
			seen := map[string]int{}
			for _, p := range collect(t, c, genFrom, "") {
				for _, r := range p.Reviews {
					seen[r.ID]++
				}
			}
			if len(seen) != 130 {
				t.Errorf("%d service reviews read, want 130", len(seen))
			}
			products := map[string]int{}
			for page := 1; page < 100; page++ {
				p, err := c.ListProductReviews(context.Background(), page)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Reviews {
					products[r.ID]++
				}
				if !p.More {
					break
				}
			}
			if len(products) != 70 {
				t.Errorf("%d product reviews read, want 70", len(products))
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("service review %s read %d times", id, n)
				}
			}
		})
	}
}

// An href the client cannot follow (another host) does not stop the sync: the next page number
// is read with our own query, and the token never goes to that host.
func TestUnusableNextLinkFallsBackToThePageNumber(t *testing.T) {
	t.Parallel()
	e := genEnv(t, 250, 0)
	c := genClient(t, e)
	first, err := c.ListServiceReviews(context.Background(), genFrom, "")
	if err != nil {
		t.Fatal(err)
	}
	if pageOf(first.Next) != 2 {
		t.Fatalf("next %q", first.Next)
	}
	// What a server could send: a link elsewhere. The client's fallback continues on our list.
	p, err := c.followable("https://evil.example"+c.serviceListPath()+"?page=2", c.serviceListPath())
	if err == nil {
		t.Fatalf("followed a link to another host: %q", p)
	}
	if got := c.servicePath(first.Next, 3); pageOf(got) != 3 || got[:len(c.serviceListPath())] != c.serviceListPath() {
		t.Fatalf("fallback path %q", got)
	}
}

// FuzzFollowable: whatever href a server sends, the client either refuses it or follows a path
// on its own list with the href's query; it never panics.
func FuzzFollowable(f *testing.F) {
	list := "/v1/private/business-units/" + acmeUnit + "/reviews"
	for _, seed := range []string{
		"https://api.trustpilot.com" + list + "?page=2&perPage=100", list + "?page=2", "reviews?page=3", list + "/?page=2",
		"HTTPS://API.TRUSTPILOT.COM/V1/private/business-units/" + acmeUnit + "/REVIEWS?page=2",
		"https://evil.example" + list + "?page=2", "//evil.example" + list, list + "/../../x?page=2", "%zz", "", "?page=9",
		"javascript:alert(1)", "http://[::1]:80" + list, "../reviews?page=2",
	} {
		f.Add(seed)
	}
	c, err := New(Config{BaseURL: "http://127.0.0.1:9", ConnectionID: "fuzz", Credentials: acmeCreds})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, href string) {
		p, err := c.followable(href, list)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, list+"?") {
			t.Fatalf("followable(%q) = %q: not our list", href, p)
		}
		if strings.ContainsAny(p[len(list)+1:], "#") {
			t.Fatalf("followable(%q) = %q: a fragment in the query", href, p)
		}
	})
}
