package trustpilotsim

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The login of the authorization-code grant (reference §1.2): GET /authenticate shows a page
// for client_id (the app's API key), redirect_uri, response_type=code and an opaque state; the
// business user signs in (POST /authenticate with email and password); the browser is sent to
// redirect_uri?code=…&state=…. The code is single use, lives 5 minutes, and the token endpoint
// takes it only with the same redirect_uri.

// LoginPath is the login page's path on the simulator (TRUSTPILOT_AUTH_URL = URL()+LoginPath).
const LoginPath = "/authenticate"

// CodeLifetime is how long a login's code may be exchanged.
const CodeLifetime = 5 * time.Minute

type authCode struct {
	unit, userID, redirect string
	expires                time.Time
}

func (s *Sim) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") == "" || !validRedirect(q.Get("redirect_uri")) {
		http.Error(w, "invalid login request: client_id, an http(s) redirect_uri and response_type=code are required", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	_, known := s.unitByKey[q.Get("client_id")]
	s.mu.Unlock()
	if !known {
		http.Error(w, "unknown application", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	hidden := ""
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "state"} {
		hidden += `<input type="hidden" name="` + k + `" value="` + html.EscapeString(q.Get(k)) + `">`
	}
	_, _ = w.Write([]byte(`<!doctype html><title>Log in to Trustpilot Business</title><form method="post" action="` + LoginPath + `">` +
		hidden + `<label>Email <input name="email"></label><label>Password <input name="password" type="password"></label><button>Log in</button></form>`))
}

func (s *Sim) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	redirect := f.Get("redirect_uri")
	if f.Get("response_type") != "code" || !validRedirect(redirect) {
		http.Error(w, "invalid login request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	u, ok := s.unitByKey[f.Get("client_id")]
	userID := ""
	if ok {
		for _, bu := range u.BusinessUsers {
			if bu.Email != "" && bu.Password != "" && strings.EqualFold(bu.Email, f.Get("email")) && bu.Password == f.Get("password") {
				userID = bu.ID
			}
		}
	}
	if userID == "" {
		s.mu.Unlock()
		http.Error(w, "wrong email or password", http.StatusUnauthorized)
		return
	}
	code := randToken()
	s.codes[code] = &authCode{unit: u.ID, userID: userID, redirect: redirect, expires: s.nowLocked().Add(CodeLifetime)}
	s.mu.Unlock()
	to, _ := url.Parse(redirect)
	q := to.Query()
	q.Set("code", code)
	if st := f.Get("state"); st != "" {
		q.Set("state", st)
	}
	to.RawQuery = q.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// takeCode spends a login's code for unit and redirect; the caller holds s.mu.
func (s *Sim) takeCodeLocked(code, unit, redirect string) (userID string, ok bool) {
	c, found := s.codes[code]
	if !found || c.unit != unit || c.redirect != redirect || !s.nowLocked().Before(c.expires) {
		return "", false
	}
	delete(s.codes, code)
	return c.userID, true
}

func validRedirect(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// handleFindBusinessUnit is the public GET /v1/business-units/find?name=<domain>: any known
// API key in the apikey header; the unit whose name (its domain) matches.
func (s *Sim) handleFindBusinessUnit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.unitByKey[r.Header.Get("apikey")]; !ok {
		appError(w, http.StatusUnauthorized, codeInvalidGrant, "Invalid API key", "")
		return
	}
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	for _, u := range s.units {
		if name != "" && strings.EqualFold(u.Name, name) {
			writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "displayName": u.DisplayName,
				"name": map[string]any{"identifying": u.Name, "referring": []string{u.Name}}})
			return
		}
	}
	appError(w, http.StatusNotFound, codeNotFound, "Not found", "no business unit named "+name)
}
