package trustpilotsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	acme     = "5f0c0000000000000000a001"
	globex   = "5f0c0000000000000000b002"
	acmeUser = "5f0d0000000000000000c001"
	tokenURL = "/v1/oauth/oauth-business-users-for-applications/accesstoken"
)

// server is a simulator seeded with the default fixture, behind a real listener.
type server struct {
	*Sim
	base string
}

func start(t *testing.T, opts Options) *server {
	t.Helper()
	s := New(opts)
	if err := s.Load(DefaultFixture()); err != nil {
		t.Fatal(err)
	}
	u, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &server{s, u}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (s *server) do(t *testing.T, method, path string, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// token gets a client_credentials token for acme.
func (s *server) token(t *testing.T, key, secret string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.base+tokenURL, strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth(key, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var j map[string]any
	_ = json.NewDecoder(res.Body).Decode(&j)
	if res.StatusCode != 200 {
		t.Fatalf("token: %d %v", res.StatusCode, j)
	}
	return j["access_token"].(string)
}

func TestFixtureLoads(t *testing.T) {
	t.Parallel()
	f := DefaultFixture()
	if len(f.BusinessUnits) != 2 || len(f.ServiceReviews) < 9 || len(f.ProductReviews) < 2 {
		t.Fatalf("fixture: %d units, %d service, %d product", len(f.BusinessUnits), len(f.ServiceReviews), len(f.ProductReviews))
	}
	var long, noEmail, email, reply, location, nullTitle bool
	for _, r := range f.ServiceReviews {
		long = long || (r.Text != nil && len(*r.Text) >= 10000)
		noEmail = noEmail || r.ReferralEmail == nil
		email = email || r.ReferralEmail != nil
		reply = reply || r.CompanyReply != nil
		location = location || r.Location != nil
		nullTitle = nullTitle || (r.Title == nil && r.Text == nil && r.Consumer.DisplayName == nil)
	}
	if !(long && noEmail && email && reply && location && nullTitle) {
		t.Error("the seed lost one of the shapes it exists for")
	}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := start(t, Options{TokenLifetime: time.Hour, RefreshWindow: time.Minute})
	basic := func(k, sec string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(k, sec)
		return r.Header.Get("Authorization")
	}
	form := "application/x-www-form-urlencoded"
	rt, _ := s.IssueRefreshToken(acme)
	tests := []struct {
		name   string
		body   string
		auth   string
		ctype  string
		status int
	}{
		{"no basic auth", "grant_type=client_credentials", "", form, 401},
		{"wrong secret", "grant_type=client_credentials", basic("acme-key", "nope"), form, 401},
		{"json body", `{"grant_type":"client_credentials"}`, basic("acme-key", "acme-secret"), "application/json", 415},
		{"unknown grant", "grant_type=magic", basic("acme-key", "acme-secret"), form, 400},
		{"client credentials", "grant_type=client_credentials", basic("acme-key", "acme-secret"), form, 200},
		{"again: too early", "grant_type=client_credentials", basic("acme-key", "acme-secret"), form, 429},
		{"bad password", "grant_type=password&username=support@acme.example&password=x", basic("acme-key", "acme-secret"), form, 400},
		{"password", "grant_type=password&username=support@acme.example&password=acme-password", basic("acme-key", "acme-secret"), form, 200},
		{"refresh too early", "grant_type=refresh_token&refresh_token=" + rt, basic("acme-key", "acme-secret"), form, 429},
		{"unknown refresh", "grant_type=refresh_token&refresh_token=nope", basic("acme-key", "acme-secret"), form, 400},
		{"other app's refresh token", "grant_type=refresh_token&refresh_token=" + rt, basic("globex-key", "globex-secret"), form, 400},
	}
	for _, tt := range tests {
		r := s.do(t, "POST", tokenURL, tt.body, "Authorization", tt.auth, "Content-Type", tt.ctype)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.raw)
			continue
		}
		if r.status == 200 {
			if _, isString := r.body["expires_in"].(string); !isString || r.body["expires_in"] != "3600" {
				t.Errorf("%s: expires_in = %#v, want the string \"3600\"", tt.name, r.body["expires_in"])
			}
			if _, has := r.body["refresh_token"]; has != strings.Contains(tt.body, "password") {
				t.Errorf("%s: refresh_token presence wrong: %s", tt.name, r.raw)
			}
		} else if r.body["correlationId"] == nil {
			t.Errorf("%s: not an application error body: %s", tt.name, r.raw)
		}
	}
	// After expiry the refresh token works once, and rotates.
	s.Advance(time.Hour)
	auth := basic("acme-key", "acme-secret")
	r := s.do(t, "POST", "/v1/oauth/oauth-business-users-for-applications/refresh", "grant_type=refresh_token&refresh_token="+rt, "Authorization", auth, "Content-Type", form)
	if r.status != 200 || r.body["refresh_token"] == rt || r.body["refresh_token"] == nil {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	s.Advance(time.Hour)
	if r := s.do(t, "POST", tokenURL, "grant_type=refresh_token&refresh_token="+rt, "Authorization", auth, "Content-Type", form); r.status != 400 {
		t.Errorf("spent refresh token: %d, want 400", r.status)
	}
}

func TestPrivateAuth(t *testing.T) {
	t.Parallel()
	s := start(t, Options{TokenLifetime: time.Hour})
	tok := s.token(t, "acme-key", "acme-secret")
	list := "/v1/private/business-units/" + acme + "/reviews"
	tests := []struct {
		name   string
		path   string
		hdr    []string
		status int
		fault  bool
	}{
		{"no bearer", list, nil, 401, true},
		{"unknown bearer", list, []string{"Authorization", "Bearer nope"}, 401, true},
		{"wrong apikey", list, []string{"Authorization", "Bearer " + tok, "apikey", "globex-key"}, 401, true},
		{"other unit", "/v1/private/business-units/" + globex + "/reviews", []string{"Authorization", "Bearer " + tok}, 403, false},
		{"ok", list, []string{"Authorization", "Bearer " + tok, "apikey", "acme-key"}, 200, false},
		{"unknown path", "/v1/private/nothing", []string{"Authorization", "Bearer " + tok}, 404, false},
	}
	for _, tt := range tests {
		r := s.do(t, "GET", tt.path, "", tt.hdr...)
		if r.status != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.name, r.status, tt.status, r.raw)
		}
		if _, isFault := r.body["fault"]; isFault != tt.fault {
			t.Errorf("%s: gateway fault body = %v, want %v: %s", tt.name, isFault, tt.fault, r.raw)
		}
	}
	s.Advance(time.Hour)
	if r := s.do(t, "GET", list, "", "Authorization", "Bearer "+tok); r.status != 401 {
		t.Errorf("expired token: %d, want 401", r.status)
	}
}

func TestListServiceReviews(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	gen := Generate(acme, 45, 0, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), 3)
	if err := s.Load(gen); err != nil {
		t.Fatal(err)
	}
	tok := s.token(t, "acme-key", "acme-secret")
	get := func(q string) resp {
		return s.do(t, "GET", "/v1/private/business-units/"+acme+"/reviews?"+q, "", "Authorization", "Bearer "+tok)
	}
	count := func(r resp) int { l, _ := r.body["reviews"].([]any); return len(l) }
	tests := []struct {
		q      string
		status int
		n      int
	}{
		{"", 200, 20}, // default perPage
		{"perPage=100", 200, 53},
		{"perPage=101", 400, 0},
		{"perPage=0", 400, 0},
		{"page=0", 400, 0},
		{"page=x", 400, 0},
		{"page=3&perPage=20", 200, 13},
		{"page=4&perPage=20", 200, 0}, // past the end: empty, not an error
		{"page=2147483647&perPage=100", 200, 0},
		{"orderBy=updatedat.asc", 400, 0},
		{"startDateTime=2025-01-01T00:00:00&perPage=100", 200, 45},
		{"startDateTime=2025-01-01T00:00:00Z&endDateTime=2025-01-15&perPage=100", 200, -1},
		{"startDateTime=yesterday", 400, 0},
		{"stars=1,2&perPage=100", 200, -1},
		{"stars=9", 400, 0},
		{"responded=false&perPage=100", 200, -1},
	}
	for _, tt := range tests {
		r := get(tt.q)
		if r.status != tt.status || (tt.n >= 0 && r.status == 200 && count(r) != tt.n) {
			t.Errorf("?%s: %d with %d reviews, want %d with %d", tt.q, r.status, count(r), tt.status, tt.n)
		}
		if r.status == 400 && r.body["errorCode"] != float64(codeMalformed) {
			t.Errorf("?%s: error body %s", tt.q, r.raw)
		}
	}
	// Filters do filter.
	for _, r := range get("stars=1,2&perPage=100").body["reviews"].([]any) {
		if st := r.(map[string]any)["stars"].(float64); st > 2 {
			t.Errorf("stars filter let %v through", st)
		}
	}
	for _, r := range get("responded=false&perPage=100").body["reviews"].([]any) {
		if r.(map[string]any)["companyReply"] != nil {
			t.Error("responded=false returned an answered review")
		}
	}
	// Order and next-page links.
	var prev string
	next := "/v1/private/business-units/" + acme + "/reviews?orderBy=createdat.asc&perPage=20"
	pages := 0
	for next != "" {
		pages++
		r := s.do(t, "GET", next, "", "Authorization", "Bearer "+tok)
		if r.status != 200 {
			t.Fatalf("page %d: %d", pages, r.status)
		}
		for _, rv := range r.body["reviews"].([]any) {
			c, _ := parseTime(rv.(map[string]any)["createdAt"].(string))
			if cur := c.Format(time.RFC3339Nano); prev != "" && cur < prev {
				t.Fatalf("not oldest first: %s after %s", cur, prev)
			} else {
				prev = cur
			}
		}
		next = ""
		for _, l := range r.body["links"].([]any) {
			if l := l.(map[string]any); l["rel"] == "next-page" && l["method"] == "GET" {
				u, _ := url.Parse(l["href"].(string))
				next = u.RequestURI()
			}
		}
	}
	if pages != 3 {
		t.Errorf("followed %d pages, want 3", pages)
	}
}

func TestReplyRules(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := s.token(t, "acme-key", "acme-secret")
	reply := func(id, ctype, body string) resp {
		return s.do(t, "POST", "/v1/private/reviews/"+id+"/reply", body, "Authorization", "Bearer "+tok, "Content-Type", ctype)
	}
	const open, answered = "65a000000000000000000002", "65a000000000000000000007"
	ok := fmt.Sprintf(`{"authorBusinessUserId":%q,"message":"Thanks!"}`, acmeUser)
	tests := []struct {
		name, id, ctype, body string
		status, code          int
	}{
		{"form body", open, "application/x-www-form-urlencoded", "message=hi", 415, codeUnsupported},
		{"malformed", open, "application/json", `{"message":`, 400, codeMalformed},
		{"no message", open, "application/json", fmt.Sprintf(`{"authorBusinessUserId":%q}`, acmeUser), 400, codeMalformed},
		{"no author with an app token", open, "application/json", `{"message":"hi"}`, 400, codeMalformed},
		{"unit id as author", open, "application/json", fmt.Sprintf(`{"authorBusinessUserId":%q,"message":"hi"}`, acme), 403, codeForbidden},
		{"unknown review", "65a0000000000000000000ff", "application/json", ok, 404, codeNotFound},
		{"already answered", answered, "application/json", ok, 409, codeConflict},
		{"ok", open, "application/json", ok, 201, 0},
		{"second reply", open, "application/json", ok, 409, codeConflict},
	}
	for _, tt := range tests {
		r := reply(tt.id, tt.ctype, tt.body)
		if r.status != tt.status || (tt.code != 0 && r.body["errorCode"] != float64(tt.code)) {
			t.Errorf("%s: %d %s, want %d code %d", tt.name, r.status, r.raw, tt.status, tt.code)
		}
	}
	if rs := s.Replies(open); len(rs) != 1 || rs[0].Message != "Thanks!" {
		t.Errorf("replies = %+v", rs)
	}
	got, _ := s.ServiceReview(open)
	if got.CompanyReply == nil || got.CompanyReply.AuthorBusinessUserName != "Acme Support" {
		t.Errorf("companyReply = %+v", got.CompanyReply)
	}
}

func TestConversationFlow(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := s.token(t, "acme-key", "acme-secret")
	auth := []string{"Authorization", "Bearer " + tok}
	const review = "66b000000000000000000001"
	r := s.do(t, "POST", "/v1/private/product-reviews/"+review+"/create-conversation", "", auth...)
	conv, _ := r.body["conversationId"].(string)
	if r.status != 201 || !validID(conv) {
		t.Fatalf("create-conversation: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/private/product-reviews/"+review+"/create-conversation", "", auth...); r.status != 409 {
		t.Errorf("second create-conversation: %d, want 409", r.status)
	}
	comment := func(user, body string) resp {
		h := append([]string{"Content-Type", "application/json"}, auth...)
		if user != "" {
			h = append(h, "x-business-user-id", user)
		}
		return s.do(t, "POST", "/v1/private/conversations/"+conv+"/comments", body, h...)
	}
	tests := []struct {
		name, user, body string
		status           int
	}{
		{"no business user", "", `{"content":"hi"}`, 403},
		{"unit id as user", acme, `{"content":"hi"}`, 403},
		{"other unit's user", "5f0d0000000000000000d001", `{"content":"hi"}`, 403},
		{"empty content", acmeUser, `{"content":""}`, 400},
		{"ok", acmeUser, `{"content":"Sorry!","integrationId":"pilotdesk"}`, 201},
	}
	for _, tt := range tests {
		if r := comment(tt.user, tt.body); r.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.raw, tt.status)
		}
	}
	r = s.do(t, "GET", "/v1/private/conversations/"+conv, "", auth...)
	cs, _ := r.body["comments"].([]any)
	if r.status != 200 || len(cs) != 1 || r.body["sourceId"] != review || r.body["source"] != "Product reviews" {
		t.Errorf("conversation: %d %s", r.status, r.raw)
	}
	pr, _ := s.ProductReview(review)
	if pr.ConversationID == nil || *pr.ConversationID != conv {
		t.Error("review does not point at its conversation")
	}
}

func TestFaultsAndControlAPI(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := s.token(t, "acme-key", "acme-secret")
	get := "/v1/private/reviews/65a000000000000000000001"
	r := s.do(t, "POST", "/_sim/faults", `{"path":"/v1/private/reviews/*","status":429,"retry_after":"7","times":1,"after":1}`)
	if r.status != 201 || r.body["id"] == nil {
		t.Fatalf("add fault: %d %s", r.status, r.raw)
	}
	statuses := []int{}
	for range 3 {
		r := s.do(t, "GET", get, "", "Authorization", "Bearer "+tok)
		statuses = append(statuses, r.status)
		if r.status == 429 && r.header.Get("Retry-After") != "7" {
			t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
		}
	}
	if !reflect.DeepEqual(statuses, []int{200, 429, 200}) {
		t.Errorf("statuses = %v, want after=1 then times=1", statuses)
	}
	s.do(t, "POST", "/_sim/faults", `{"path":"/v1/private/**","status":503}`)
	if r := s.do(t, "GET", get, "", "Authorization", "Bearer "+tok); r.status != 503 || r.body["fault"] == nil {
		t.Errorf("503 fault: %d %s", r.status, r.raw)
	}
	s.do(t, "DELETE", "/_sim/faults", "")
	// Truncated and dropped answers reach the client as broken reads.
	for _, f := range []Fault{{Path: get, Truncate: true, Times: 1}, {Path: get, Drop: true, Times: 1}} {
		s.AddFault(f)
		req, _ := http.NewRequest("GET", s.base+get, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Close = true // no transport-level retry on a fresh connection
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		if err == nil {
			t.Errorf("%+v: read succeeded", f)
		}
	}
	r = s.do(t, "GET", "/_sim/counters", "")
	if r.body["get_service_review"] != float64(6) || r.body["token"] != float64(1) {
		t.Errorf("counters = %s", r.raw)
	}
	// Add and edit a review at run time.
	rv := `{"id":"65a0000000000000000000aa","businessUnit":{"id":"` + acme + `"},"stars":2,"title":"new","text":"t","createdAt":"2030-01-01T00:00:00Z","consumer":{"id":"6a00000000000000000000aa"}}`
	if r := s.do(t, "PUT", "/_sim/service-reviews", rv); r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	rv = strings.Replace(rv, `"stars":2`, `"stars":5,"updatedAt":"2030-01-02T00:00:00Z"`, 1)
	s.do(t, "PUT", "/_sim/service-reviews", rv)
	r = s.do(t, "GET", "/v1/private/reviews/65a0000000000000000000aa", "", "Authorization", "Bearer "+tok)
	if r.body["stars"] != float64(5) || r.body["tags"] == nil {
		t.Errorf("edited review: %s", r.raw)
	}
	if r := s.do(t, "PUT", "/_sim/service-reviews", `{"id":"bad"}`); r.status != 400 {
		t.Errorf("bad review accepted: %d", r.status)
	}
	// Replies, conversations, clock and token control.
	s.do(t, "POST", "/v1/private/reviews/65a0000000000000000000aa/reply", `{"authorBusinessUserId":"`+acmeUser+`","message":"ok"}`,
		"Authorization", "Bearer "+tok, "Content-Type", "application/json")
	var replies []Reply
	_ = json.Unmarshal(s.do(t, "GET", "/_sim/replies?reviewId=65a0000000000000000000aa", "").raw, &replies)
	if len(replies) != 1 {
		t.Errorf("replies via control API = %+v", replies)
	}
	if r := s.do(t, "GET", "/_sim/conversations/67c000000000000000000001", ""); r.status != 200 {
		t.Errorf("conversation via control API: %d", r.status)
	}
	s.do(t, "POST", "/_sim/tokens/revoke?businessUnitId="+acme, "")
	if r := s.do(t, "GET", get, "", "Authorization", "Bearer "+tok); r.status != 401 {
		t.Errorf("revoked token: %d", r.status)
	}
	before := s.Now()
	s.do(t, "POST", "/_sim/clock/advance", `{"by":"2h"}`)
	if d := s.Now().Sub(before); d < 2*time.Hour {
		t.Errorf("clock advanced by %s", d)
	}
	if r := s.do(t, "POST", "/_sim/generate", `{"businessUnitId":"`+globex+`","service":10,"product":5,"seed":1}`); r.status != 200 {
		t.Errorf("generate: %d %s", r.status, r.raw)
	}
	s.do(t, "DELETE", "/_sim/counters", "")
	if len(s.Counters()) != 0 {
		t.Error("counters not reset")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	from, to := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
	a := Generate(acme, 300, 120, from, to, 9)
	b := Generate(acme, 300, 120, from, to, 9)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same arguments, different fixtures")
	}
	c := Generate(globex, 300, 120, from, to, 9)
	if a.ServiceReviews[0].ID == c.ServiceReviews[0].ID {
		t.Error("two units share review ids")
	}
	ids := map[string]bool{}
	for i, r := range a.ServiceReviews {
		if ids[r.ID] || !validID(r.ID) {
			t.Fatalf("id %q duplicate or invalid", r.ID)
		}
		ids[r.ID] = true
		ct, err := parseTime(r.CreatedAt)
		if err != nil || ct.Before(from) || ct.After(to) {
			t.Fatalf("review %d createdAt %q outside the range", i, r.CreatedAt)
		}
	}
	s := New(Options{})
	if err := s.Load(Fixture{BusinessUnits: DefaultFixture().BusinessUnits}); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(a); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse hammers the simulator from many goroutines while faults and reviews change;
// run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := s.token(t, "acme-key", "acme-secret")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				switch (i + j) % 4 {
				case 0:
					s.do(t, "GET", "/v1/private/business-units/"+acme+"/reviews?perPage=100", "", "Authorization", "Bearer "+tok)
				case 1:
					id := s.AddFault(Fault{Path: "/nothing", Status: 500})
					s.RemoveFault(id)
				case 2:
					_ = s.PutServiceReview(ServiceReview{ID: fmt.Sprintf("65a0000000000000%08x", i*100+j), BusinessUnit: BusinessUnitRef{ID: acme},
						Stars: 3, CreatedAt: "2024-06-01T00:00:00Z"})
				case 3:
					_ = s.Counters()
					_ = s.Replies("")
				}
			}
		}()
	}
	wg.Wait()
	if s.Calls("list_service_reviews") == 0 {
		t.Error("no list calls counted")
	}
}

func TestFaultPatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"", "/v1/x", true},
		{"**", "/v1/x/y", true},
		{"/v1/private/**", "/v1/private/reviews/1/reply", true},
		{"/v1/private/**", "/v1/privateer", false},
		{"/v1/private/reviews/*", "/v1/private/reviews/1", true},
		{"/v1/private/reviews/*", "/v1/private/reviews/1/reply", false},
	}
	for _, tt := range tests {
		if got := patternMatch(tt.pattern, tt.path); got != tt.want {
			t.Errorf("patternMatch(%q, %q) = %v", tt.pattern, tt.path, got)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"250ms"`), &d); err != nil || time.Duration(d) != 250*time.Millisecond {
		t.Errorf("Duration: %v %v", d, err)
	}
	if b, _ := json.Marshal(Fault{Delay: Duration(time.Second)}); !bytes.Contains(b, []byte(`"1s"`)) {
		t.Errorf("Fault JSON %s", b)
	}
}

func TestProductReviewsAndReplyDeletion(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	gen := Generate(acme, 0, 30, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), 5)
	if err := s.Load(gen); err != nil {
		t.Fatal(err)
	}
	hidden := gen.ProductReviews[0]
	hidden.State = "archived"
	_ = s.PutProductReview(hidden)
	tok := s.token(t, "acme-key", "acme-secret")
	auth := []string{"Authorization", "Bearer " + tok}
	list := "/v1/private/product-reviews/business-units/" + acme + "/reviews?"
	count := func(r resp) int { l, _ := r.body["productReviews"].([]any); return len(l) }
	tests := []struct {
		q      string
		status int
		n      int
	}{
		{"perPage=100", 200, 31}, // 30 generated + 2 seeded - 1 archived
		{"perPage=101", 400, 0},
		{"page=2&perPage=20", 200, 11},
		{"page=3&perPage=20", 200, 0},
		{"state=archived", 200, 1},
		{"state=published,archived&perPage=100", 200, 32},
		{"sku=MUG-1", 200, 1},
	}
	for _, tt := range tests {
		r := s.do(t, "GET", list+tt.q, "", auth...)
		if r.status != tt.status || (r.status == 200 && count(r) != tt.n) {
			t.Errorf("?%s: %d with %d, want %d with %d", tt.q, r.status, count(r), tt.status, tt.n)
		}
	}
	if r := s.do(t, "GET", "/v1/private/product-reviews/66b000000000000000000001", "", auth...); r.status != 200 || r.body["consumer"] == nil {
		t.Errorf("get product review: %d", r.status)
	}
	globexTok := s.token(t, "globex-key", "globex-secret")
	if r := s.do(t, "GET", "/v1/private/product-reviews/66b000000000000000000001", "", "Authorization", "Bearer "+globexTok); r.status != 404 {
		t.Errorf("other unit's product review: %d, want 404", r.status)
	}
	// Conversation state, and reply deletion.
	conv := "/v1/private/conversations/67c000000000000000000001/state"
	h := append([]string{"Content-Type", "application/json"}, auth...)
	if r := s.do(t, "POST", conv, `{"state":"private"}`, h...); r.status != 200 {
		t.Errorf("state: %d", r.status)
	}
	if r := s.do(t, "POST", conv, `{"state":"secret"}`, h...); r.status != 400 {
		t.Errorf("bad state: %d", r.status)
	}
	if c, _ := s.Conversation("67c000000000000000000001"); c.State != "private" {
		t.Errorf("state = %q", c.State)
	}
	const answered = "65a000000000000000000007"
	if r := s.do(t, "DELETE", "/v1/private/reviews/"+answered+"/reply", "", auth...); r.status != 204 {
		t.Errorf("delete reply: %d", r.status)
	}
	if r := s.do(t, "DELETE", "/v1/private/reviews/"+answered+"/reply", "", auth...); r.status != 404 {
		t.Errorf("delete missing reply: %d", r.status)
	}
	if rv, _ := s.ServiceReview(answered); rv.CompanyReply != nil {
		t.Error("reply not deleted")
	}
}

func TestReadFixtureRejectsTypos(t *testing.T) {
	t.Parallel()
	if _, err := ReadFixture("testdata/seed.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFixture([]byte(`{"serviceReview":[]}`)); err == nil {
		t.Error("unknown field accepted")
	}
	s := New(Options{})
	if err := s.Load(Fixture{ServiceReviews: []ServiceReview{{ID: "65a000000000000000000001", CreatedAt: "2024-01-01"}}}); err == nil {
		t.Error("review of an unknown unit accepted")
	}
	if err := s.AddBusinessUnit(BusinessUnit{ID: "x"}); err == nil {
		t.Error("unit without credentials accepted")
	}
}
