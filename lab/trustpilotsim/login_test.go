package trustpilotsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The authorization-code login: the page for a known app, a wrong password refused, the
// redirect with code and state, the code exchanged once and only with its redirect_uri.
func TestLoginAndCodeGrant(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	back := "http://127.0.0.1:9/connect/trustpilot/callback"
	q := url.Values{"client_id": {"acme-key"}, "redirect_uri": {back}, "response_type": {"code"}, "state": {"st-1"}}
	page, err := noRedirect.Get(s.base + LoginPath + "?" + q.Encode())
	if err != nil || page.StatusCode != 200 {
		t.Fatalf("login page: %v %v", page, err)
	}
	page.Body.Close()
	if r, _ := noRedirect.Get(s.base + LoginPath + "?client_id=nope&response_type=code&redirect_uri=" + url.QueryEscape(back)); r.StatusCode != 400 {
		t.Fatalf("unknown app: %d", r.StatusCode)
	}
	login := func(password string) *http.Response {
		f := url.Values{"client_id": {"acme-key"}, "redirect_uri": {back}, "response_type": {"code"}, "state": {"st-1"},
			"email": {"support@acme.example"}, "password": {password}}
		r, err := noRedirect.PostForm(s.base+LoginPath, f)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := login("wrong"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	r := login("acme-password")
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), back+"?") || loc.Query().Get("state") != "st-1" || loc.Query().Get("code") == "" {
		t.Fatalf("after the login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	code := loc.Query().Get("code")
	form := "application/x-www-form-urlencoded"
	basic := func(k, sec string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(k, sec)
		return r.Header.Get("Authorization")
	}
	exchange := func(redirect string) resp {
		return s.do(t, "POST", tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}.Encode(),
			"Authorization", basic("acme-key", "acme-secret"), "Content-Type", form)
	}
	if got := exchange("http://elsewhere.example/cb"); got.status != 400 {
		t.Fatalf("another redirect_uri: %d", got.status)
	}
	got := exchange(back)
	if got.status != 200 || got.body["refresh_token"] == nil || got.body["access_token"] == nil {
		t.Fatalf("exchange: %d %s", got.status, got.raw)
	}
	if again := exchange(back); again.status != 400 {
		t.Fatalf("the code used twice: %d", again.status)
	}
}

func TestFindBusinessUnit(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	u := DefaultFixture().BusinessUnits[0]
	if got := s.do(t, "GET", "/v1/business-units/find?name="+url.QueryEscape(strings.ToUpper(u.Name)), "", "apikey", u.APIKey); got.status != 200 || got.body["id"] != u.ID {
		t.Fatalf("find: %d %s", got.status, got.raw)
	}
	if got := s.do(t, "GET", "/v1/business-units/find?name=nope.example", "", "apikey", u.APIKey); got.status != 404 {
		t.Fatalf("unknown name: %d", got.status)
	}
	if got := s.do(t, "GET", "/v1/business-units/find?name="+u.Name, "", "apikey", "bad"); got.status != 401 {
		t.Fatalf("bad key: %d", got.status)
	}
}
