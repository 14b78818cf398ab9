package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pilotdesk/pilotdesk/pkg/cli"
)

// What the rejected --url forms below carry that must never come back in an error or output.
const (
	urlPassword = "URL-PW-s3cr3t-7c1e"
	urlKey      = "URL-KEY-s3cr3t-7c1e"
)

func init() { addSecret(urlPassword, urlKey) }

func TestWebhookBase(t *testing.T) {
	t.Parallel()
	const api = "https://abc.execute-api.eu-west-1.amazonaws.com"
	accepted := map[string]string{
		// The stack's ApiUrl and WebhookUrl outputs, and the sidebar route, each with and
		// without a trailing slash.
		api:                        api,
		api + "/":                  api,
		api + "/helpdesk/events":   api,
		api + "/helpdesk/events/":  api,
		api + "/helpdesk/sidebar":  api,
		api + "/helpdesk/sidebar/": api,
		"HTTPS://abc.execute-api.eu-west-1.amazonaws.com/helpdesk/events": api,
		"https://ABC.Execute-API.eu-west-1.amazonaws.com/helpdesk/events": api,
		"  " + api + "/helpdesk/events\n":                                 api,
		// A base with a path (a stage, a custom domain's mapping) and a port.
		"https://api.example.com/prod/helpdesk/events": "https://api.example.com/prod",
		"https://api.example.com/prod/":                "https://api.example.com/prod",
		"https://api.example.com:8443/":                "https://api.example.com:8443",
		// Plain http on loopback (tests, `make dev`).
		"http://127.0.0.1:3000/helpdesk/events": "http://127.0.0.1:3000",
		"http://127.4.5.6:3000":                 "http://127.4.5.6:3000",
		"http://localhost:3000/":                "http://localhost:3000",
		"http://[::1]:3000/helpdesk/events/":    "http://[::1]:3000",
	}
	for in, want := range accepted {
		got, err := cli.WebhookBase(in)
		if err != nil || got != want {
			t.Errorf("WebhookBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	rejected := map[string]string{
		"": "absolute",
		"abc.execute-api.eu-west-1.amazonaws.com/helpdesk/events": "absolute",
		"/helpdesk/events":                                                 "absolute",
		"//abc.example/helpdesk/events":                                    "absolute",
		"ftp://abc.example/helpdesk/events":                                "absolute",
		"mailto:ops@acme.test":                                             "absolute",
		"https:abc.example/helpdesk/events":                                "no host",
		"https:///helpdesk/events":                                         "no host",
		"https://:443/helpdesk/events":                                     "no host",
		"https://abc.example:port/":                                        "not a URL",
		"https://abc.example/\n" + urlKey:                                  "not a URL",
		"https://ops:" + urlPassword + "@abc.example/helpdesk/events":      "user info",
		"https://" + urlKey + "@abc.example":                               "user info",
		"https://abc.example/helpdesk/events?key=" + urlKey:                "query",
		"https://abc.example/helpdesk/events?":                             "query",
		"https://abc.example/?x=1":                                         "query",
		"https://abc.example/trustpilot/events?connection=a&key=" + urlKey: "query",
		"https://abc.example/helpdesk/events#" + urlKey:                    "fragment",
		"https://abc.example/#":                                            "fragment",
		"http://abc.example/helpdesk/events":                               "plain http",
		"http://127.0.0.1.nip.io/helpdesk/events":                          "loopback",
		"http://0.0.0.0:3000":                                              "loopback",
		"https://abc.example/trustpilot/events":                            "route",
		"https://abc.example/connect/trustpilot":                           "route",
		"https://abc.example/connect/trustpilot/callback/":                 "route",
		"https://abc.example/helpdesk":                                     "route",
		"https://abc.example/helpdesk/":                                    "route",
		"https://abc.example/helpdesk/events/helpdesk/events":              "route",
		"https://abc.example/helpdesk/sidebar/helpdesk/events":             "route",
	}
	for in, want := range rejected {
		got, err := cli.WebhookBase(in)
		if err == nil {
			t.Errorf("WebhookBase(%q) = %q, want an error containing %q", in, got, want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.HasPrefix(msg, "--url: ") || !strings.Contains(msg, "ApiUrl or WebhookUrl") {
			t.Errorf("WebhookBase(%q): error %q, want one starting --url: and containing %q and what --url takes", in, msg, want)
		}
		for _, s := range []string{urlPassword, urlKey} {
			if strings.Contains(msg, s) {
				t.Errorf("WebhookBase(%q): error %q repeats a secret of the URL", in, msg)
			}
		}
	}
}

// installs returns the HTTP integrations of the helpdesk account under base, and how many
// widgets are bound to them.
func installs(base string) (replies, sidebars []string, widgets int) {
	ids := map[int64]bool{}
	for _, it := range hd.Integrations(hdAccount) {
		if u := it.HTTP.URL; u != base && !strings.HasPrefix(u, base+"/") {
			continue
		}
		ids[it.ID] = true
		if it.HTTP.Method == "GET" {
			sidebars = append(sidebars, it.HTTP.URL)
		} else {
			replies = append(replies, it.HTTP.URL)
		}
	}
	for _, w := range hd.Widgets(hdAccount) {
		if w.IntegrationID != nil && ids[*w.IntegrationID] {
			widgets++
		}
	}
	return replies, sidebars, widgets
}

// TestInstallWebhookURLForms: every form of --url installs the same two integrations (reply at
// base/helpdesk/events, sidebar at base/helpdesk/sidebar?…); after the first, each reports all
// three unchanged.
func TestInstallWebhookURLForms(t *testing.T) {
	t.Parallel()
	put(t, doc("hookforms", newUnit(t), nil))
	n := units.Add(1) // the simulator outlives one run of the test (-count=N): new URLs each run
	for _, base := range []string{
		fmt.Sprintf("https://forms-%d.example/prod", n),
		fmt.Sprintf("http://127.0.0.1:9/forms-%d", n),
		fmt.Sprintf("http://[::1]:9/forms-%d", n),
	} {
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			forms := []string{
				base + "/helpdesk/events", // the WebhookUrl output first, then the ApiUrl output
				base, base + "/", base + "/helpdesk/events/", base + "/helpdesk/sidebar", base + "/helpdesk/sidebar/",
				strings.ToUpper(base[:5]) + base[5:] + "/helpdesk/events",
			}
			for i, form := range forms {
				r := run(t, "helpdesk", "install-webhook", "hookforms", "--url", form)
				wantRunErr(t, r, "")
				want := "unchanged"
				if i == 0 {
					want = "created"
				}
				if strings.Count(r.out, "\" "+want+" in ") != 2 || !strings.Contains(r.out, "widget "+want+" (id") || strings.Count(r.out, "\n") != 3 {
					t.Fatalf("--url %s: %q, want three lines %s", form, r.out, want)
				}
				for _, line := range []string{"→ " + base + "/helpdesk/events\n", "→ " + base + "/helpdesk/sidebar\n"} {
					if !strings.Contains(r.out, line) {
						t.Fatalf("--url %s: %q does not name %q", form, r.out, line)
					}
				}
			}
			replies, sidebars, widgets := installs(base)
			if len(replies) != 1 || replies[0] != base+"/helpdesk/events" {
				t.Fatalf("reply integrations %q, want one to %s/helpdesk/events", replies, base)
			}
			if len(sidebars) != 1 || !strings.HasPrefix(sidebars[0], base+"/helpdesk/sidebar?account=") {
				t.Fatalf("sidebar integrations %q, want one to %s/helpdesk/sidebar?…", sidebars, base)
			}
			if widgets != 1 {
				t.Fatalf("%d widgets bound to them, want 1", widgets)
			}
		})
	}
}

// TestInstallWebhookFixesTypedURL: a reply integration installed before with --url as typed
// (the API root, or the events route with a trailing slash) is updated to the events route.
func TestInstallWebhookFixesTypedURL(t *testing.T) {
	t.Parallel()
	put(t, doc("hookfix", newUnit(t), nil))
	secret, err := sec.Value(context.Background(), webhook)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.GetConnection(context.Background(), "hookfix")
	if err != nil {
		t.Fatal(err)
	}
	n := units.Add(1)
	for _, typed := range []string{"", "/", "/helpdesk/events/"} {
		t.Run("base"+typed, func(t *testing.T) {
			t.Parallel()
			base := fmt.Sprintf("https://fix-%d-%d.example", n, len(typed))
			// What the command installed before: the reply integration to --url as typed.
			if _, _, err := checker.EnsureIntegration(context.Background(), r.Connection, cli.WebhookIntegration(base+typed, secret)); err != nil {
				t.Fatal(err)
			}
			out := run(t, "helpdesk", "install-webhook", "hookfix", "--url", base+typed)
			wantRunErr(t, out, "")
			if !strings.Contains(out.out, "replies to Trustpilot · "+base+"\" updated") {
				t.Fatalf("%q, want the reply integration updated", out.out)
			}
			if replies, _, _ := installs(base); len(replies) != 1 || replies[0] != base+"/helpdesk/events" {
				t.Fatalf("reply integrations %q, want one to %s/helpdesk/events", replies, base)
			}
		})
	}
}

// TestInstallWebhookRejectsURL: a bad --url is an error naming what is wrong, and nothing is
// installed.
func TestInstallWebhookRejectsURL(t *testing.T) {
	t.Parallel()
	put(t, doc("hookbad", newUnit(t), nil))
	n := units.Add(1)
	host := fmt.Sprintf("bad-%d.example", n)
	tests := []struct{ name, url, wantErr string }{
		{"query", "https://" + host + "/helpdesk/events?x=1", "query"},
		{"query with a key", "https://" + host + "/helpdesk/events?key=" + urlKey, "query"},
		{"empty query", "https://" + host + "/?", "query"},
		{"fragment", "https://" + host + "/helpdesk/events#" + urlKey, "fragment"},
		{"user info", "https://ops:" + urlPassword + "@" + host + "/helpdesk/events", "user info"},
		{"plain http", "http://" + host + "/helpdesk/events", "plain http"},
		{"other scheme", "ftp://" + host + "/helpdesk/events", "absolute"},
		{"no scheme", host + "/helpdesk/events", "absolute"},
		{"no host", "https:///" + host + "/helpdesk/events", "no host"},
		{"opaque", "https:" + host + "/helpdesk/events", "no host"},
		{"not a URL", "https://" + host + ":port/helpdesk/events", "not a URL"},
		{"another route", "https://" + host + "/trustpilot/events", "route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "helpdesk", "install-webhook", "hookbad", "--url", tc.url)
			wantRunErr(t, r, tc.wantErr)
			if r.out != "" {
				t.Fatalf("stdout %q on a refused --url", r.out)
			}
		})
	}
	t.Cleanup(func() {
		for _, it := range hd.Integrations(hdAccount) {
			if strings.Contains(it.HTTP.URL, host) || strings.Contains(it.Name, host) {
				t.Errorf("integration installed from a refused --url: %s %s", it.Name, it.HTTP.URL)
			}
		}
	})
}
