package trustpilotsim

import (
	"cmp"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Application errorCode values. Trustpilot documents only 1001 (malformed request); the others
// are the simulator's own, distinct so tests can tell the refusals apart.
const (
	codeMalformed      = 1001
	codeNotFound       = 1004
	codeForbidden      = 1003
	codeUnsupported    = 1015
	codeConflict       = 1009
	codeTooManyRequest = 1029
	codeInvalidGrant   = 1400
)

func (s *Sim) routes() {
	m := http.NewServeMux()
	h := func(pattern, endpoint string, fn http.HandlerFunc) { m.Handle(pattern, s.endpoint(endpoint, fn)) }
	h("POST /v1/oauth/oauth-business-users-for-applications/accesstoken", "token", s.handleToken)
	h("POST /v1/oauth/oauth-business-users-for-applications/refresh", "refresh", s.handleToken)
	h("GET /v1/private/business-units/{unit}/reviews", "list_service_reviews", s.handleListService)
	h("GET /v1/private/reviews/{id}", "get_service_review", s.handleGetService)
	h("POST /v1/private/reviews/{id}/reply", "reply", s.handleReply)
	h("DELETE /v1/private/reviews/{id}/reply", "delete_reply", s.handleDeleteReply)
	h("GET /v1/private/product-reviews/business-units/{unit}/reviews", "list_product_reviews", s.handleListProduct)
	h("GET /v1/private/product-reviews/{id}", "get_product_review", s.handleGetProduct)
	h("POST /v1/private/product-reviews/{id}/create-conversation", "create_conversation", s.handleCreateConversation)
	h("POST /v1/private/conversations/{id}/comments", "post_comment", s.handleComment)
	h("GET /v1/private/conversations/{id}", "get_conversation", s.handleGetConversation)
	h("POST /v1/private/conversations/{id}/state", "set_conversation_state", s.handleConversationState)
	h("GET /v1/reviews/deletions", "list_deletions", s.handleDeletions)
	h("GET /v1/business-units/find", "find_business_unit", s.handleFindBusinessUnit)
	m.HandleFunc("GET "+LoginPath, s.handleLoginPage)
	m.HandleFunc("POST "+LoginPath, s.handleLogin)
	h("/", "not_found", func(w http.ResponseWriter, r *http.Request) {
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "no such resource: "+r.Method+" "+r.URL.Path)
	})
	s.controlRoutes(m)
	s.mux = m
}

// endpoint counts the call, then applies any fault for it before the real handler.
func (s *Sim) endpoint(name string, fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(name)
		s.logCall(s.callerKey(r))
		if f, ok := s.matchFault(r); ok {
			if s.applyFault(w, r, f, fn) {
				return
			}
		}
		fn(w, r)
	})
}

// --- token endpoint -------------------------------------------------------------------------

func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		appError(w, http.StatusUnsupportedMediaType, codeUnsupported, "Unsupported Media Type", "use application/x-www-form-urlencoded")
		return
	}
	key, secret, ok := r.BasicAuth()
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "")
		return
	}
	if !ok {
		// The auth-code grant also allows the credentials in the form (reference §1.2).
		key, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, found := s.unitByKey[key]
	if !found || u.APISecret != secret || secret == "" {
		// OAuth errors are terse on purpose (reference §5.2).
		appError(w, http.StatusUnauthorized, codeInvalidGrant, "Unauthorized", "")
		return
	}
	now := s.nowLocked()
	var userID, group string
	grant := r.PostForm.Get("grant_type")
	switch grant {
	case "client_credentials":
		group = "app"
	case "password":
		group = "user"
		for _, bu := range u.BusinessUsers {
			if bu.Email != "" && bu.Password != "" && strings.EqualFold(bu.Email, r.PostForm.Get("username")) && bu.Password == r.PostForm.Get("password") {
				userID = bu.ID
			}
		}
		if userID == "" {
			appError(w, http.StatusBadRequest, codeInvalidGrant, "invalid_grant", "")
			return
		}
	case "authorization_code":
		group = "user"
		id, ok := s.takeCodeLocked(r.PostForm.Get("code"), u.ID, r.PostForm.Get("redirect_uri"))
		if !ok {
			// Unknown, spent, expired, another app's, or a different redirect_uri.
			appError(w, http.StatusBadRequest, codeInvalidGrant, "invalid_grant", "")
			return
		}
		userID = id
	case "refresh_token":
		group = "user"
		rt, ok := s.refresh[r.PostForm.Get("refresh_token")]
		if !ok || rt.unit != u.ID || !now.Before(rt.expires) {
			// Refresh tokens are single use: a spent one lands here too (Airbyte #42854).
			appError(w, http.StatusBadRequest, codeInvalidGrant, "invalid_grant", "")
			return
		}
		userID = rt.userID
	default:
		appError(w, http.StatusBadRequest, codeMalformed, "unsupported_grant_type", "")
		return
	}
	gk := u.ID + "|" + group
	if exp, ok := s.newest[gk]; ok && now.Before(exp.Add(-s.opts.RefreshWindow)) {
		// Trustpilot: "Don't request a new token before the current one expires: refreshing too
		// often is rejected with HTTP 429". The refresh token is not spent.
		appError(w, http.StatusTooManyRequests, codeTooManyRequest, "Too Many Requests", "token requested before the current one expires")
		return
	}
	if grant == "refresh_token" {
		delete(s.refresh, r.PostForm.Get("refresh_token"))
	}
	exp := now.Add(s.opts.TokenLifetime)
	at := randToken()
	s.access[at] = &accessToken{unit: u.ID, userID: userID, expires: exp}
	s.newest[gk] = exp
	resp := map[string]string{
		"access_token": at,
		"token_type":   "Bearer",
		// A JSON string, as Trustpilot sends it (reference §1.2).
		"expires_in": strconv.FormatInt(int64(s.opts.TokenLifetime/time.Second), 10),
		"issued_at":  strconv.FormatInt(now.UnixMilli(), 10),
	}
	if group == "user" {
		rt := randToken()
		s.refresh[rt] = &refreshToken{unit: u.ID, userID: userID, expires: now.Add(s.opts.RefreshLifetime)}
		resp["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorize checks the bearer token and the apikey header; it returns the token's grant or
// writes the refusal. The caller holds s.mu.
func (s *Sim) authorizeLocked(w http.ResponseWriter, r *http.Request) (*accessToken, bool) {
	auth := r.Header.Get("Authorization")
	bearer, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || bearer == "" {
		gatewayError(w, http.StatusUnauthorized, "Invalid access token", "oauth.v2.InvalidAccessToken")
		return nil, false
	}
	t, ok := s.access[bearer]
	if !ok {
		gatewayError(w, http.StatusUnauthorized, "Invalid access token", "oauth.v2.InvalidAccessToken")
		return nil, false
	}
	if !s.nowLocked().Before(t.expires) {
		gatewayError(w, http.StatusUnauthorized, "Access Token expired", "keymanagement.service.access_token_expired")
		return nil, false
	}
	u := s.units[t.unit]
	// Decision: whether apikey is required on private calls is unverified (reference §1.1); a
	// wrong one is refused, a missing one only when the unit says RequireAPIKey.
	if k := r.Header.Get("apikey"); (k != "" || u.RequireAPIKey) && k != u.APIKey {
		gatewayError(w, http.StatusUnauthorized, "Invalid ApiKey", "oauth.v2.InvalidApiKey")
		return nil, false
	}
	return t, true
}

func (s *Sim) userOf(unitID, userID string) (BusinessUser, bool) {
	u := s.units[unitID]
	for _, bu := range u.BusinessUsers {
		if bu.ID == userID {
			return bu, true
		}
	}
	return BusinessUser{}, false
}

// --- service reviews ------------------------------------------------------------------------

func (s *Sim) handleListService(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	unit := r.PathValue("unit")
	if t.unit != unit {
		appError(w, http.StatusForbidden, codeForbidden, "Forbidden", "the token does not give access to this business unit")
		return
	}
	q := r.URL.Query()
	page, perPage, ok := paging(w, q)
	sw := s.units[unit].Switches
	if sw.PerPageCap > 0 {
		perPage = min(perPage, sw.PerPageCap)
	}
	if !ok {
		return
	}
	var start, end time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"startDateTime", &start}, {"endDateTime", &end}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", p.name+" is not a date time")
				return
			}
			*p.dst = t
		}
	}
	stars, ok := starsFilter(w, q)
	if !ok {
		return
	}
	orderBy := cmp.Or(q.Get("orderBy"), "createdat.desc")
	var responded *bool
	if v := q.Get("responded"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "responded must be a boolean")
			return
		}
		responded = &b
	}
	now := s.nowLocked()
	var list []*serviceEntry
	for _, e := range s.service {
		switch {
		case e.r.BusinessUnit.ID != unit,
			!start.IsZero() && e.created.Before(start),
			!end.IsZero() && e.created.After(end),
			stars != nil && !stars[e.r.Stars],
			q.Get("language") != "" && !slices.Contains(strings.Split(q.Get("language"), ","), e.r.Language),
			q.Get("referenceId") != "" && (e.r.ReferenceID == nil || *e.r.ReferenceID != q.Get("referenceId")),
			responded != nil && *responded != (e.visible(now).CompanyReply != nil):
			continue
		}
		list = append(list, e)
	}
	less := map[string]func(a, b *serviceEntry) int{
		"createdat.asc": func(a, b *serviceEntry) int {
			return cmp.Or(a.created.Compare(b.created), strings.Compare(a.r.ID, b.r.ID))
		},
		"createdat.desc": func(a, b *serviceEntry) int {
			return cmp.Or(b.created.Compare(a.created), strings.Compare(b.r.ID, a.r.ID))
		},
		"stars.asc":  func(a, b *serviceEntry) int { return cmp.Or(a.r.Stars-b.r.Stars, b.created.Compare(a.created)) },
		"stars.desc": func(a, b *serviceEntry) int { return cmp.Or(b.r.Stars-a.r.Stars, b.created.Compare(a.created)) },
	}[orderBy]
	if less == nil {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "orderBy must be createdat.asc, createdat.desc, stars.asc or stars.desc")
		return
	}
	slices.SortFunc(list, less)
	from, to := pageBounds(len(list), page, perPage)
	out := make([]ServiceReview, 0, to-from)
	for _, e := range list[from:to] {
		out = append(out, e.visible(now))
	}
	style := sw.Links
	if style == LinksNone {
		style = LinksAbsolute
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": pageLinks(r, page, perPage, len(list), style), "reviews": out})
}

// paging reads page (1…2147483647, default 1) and perPage (1…100, default 20).
func paging(w http.ResponseWriter, q url.Values) (page, perPage int, ok bool) {
	page, perPage = 1, 20
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2147483647 {
			appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "page must be between 1 and 2147483647")
			return 0, 0, false
		}
		page = n
	}
	if v := q.Get("perPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPerPage {
			appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "perPage must be between 1 and 100")
			return 0, 0, false
		}
		perPage = n
	}
	return page, perPage, true
}

// starsFilter accepts ?stars=5, ?stars=1,2 (as Pipedream sends) and repeated stars.
func starsFilter(w http.ResponseWriter, q url.Values) (map[int]bool, bool) {
	if len(q["stars"]) == 0 {
		return nil, true
	}
	set := map[int]bool{}
	for _, v := range q["stars"] {
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 1 || n > 5 {
				appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "stars must be between 1 and 5")
				return nil, false
			}
			set[n] = true
		}
	}
	return set, true
}

func pageBounds(total, page, perPage int) (int, int) {
	from := min((page-1)*perPage, total)
	if page-1 > total/perPage { // guards the multiplication for huge pages
		from = total
	}
	return from, min(from+perPage, total)
}

// pageLinks builds the links array with the request's own query and another page number.
// Decision: next-page is present only while more results exist, so the last page (full or not)
// has none; a page past the end is an empty array (reference §2.1).
func pageLinks(r *http.Request, page, perPage, total int, style LinkStyle) []Link {
	links := []Link{}
	mk := func(p int, rel string) Link {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("perPage", strconv.Itoa(perPage))
		href := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		switch style {
		case LinksRelative:
			href = r.URL.Path + "?" + q.Encode()
		case LinksListRelative:
			href = path.Base(r.URL.Path) + "?" + q.Encode()
		case LinksTrailingSlash:
			href = "http://" + r.Host + strings.ToUpper(r.URL.Path[:2]) + r.URL.Path[2:] + "/?" + q.Encode()
		}
		return Link{Href: href, Method: "GET", Rel: rel}
	}
	if page > 1 && (page-2)*perPage < total {
		links = append(links, mk(page-1, "prev-page"))
	}
	if page <= total/perPage && page*perPage < total {
		links = append(links, mk(page+1, "next-page"))
	}
	return links
}

func (s *Sim) handleGetService(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	e, ok := s.service[r.PathValue("id")]
	if !ok || e.r.BusinessUnit.ID != t.unit {
		// Decision: another unit's review is "not found", not "forbidden": no existence leak.
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "review not found")
		return
	}
	writeJSON(w, http.StatusOK, e.visible(s.nowLocked()))
}

// readBody reads a request body before the state lock is taken, so a slow client cannot stall
// the simulator.
func readBody(r *http.Request) ([]byte, error) { return io.ReadAll(io.LimitReader(r.Body, 1<<20)) }

func jsonBody(w http.ResponseWriter, r *http.Request, b []byte, readErr error, dst any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		appError(w, http.StatusUnsupportedMediaType, codeUnsupported, "Unsupported Media Type", "use application/json")
		return false
	}
	if readErr != nil || json.Unmarshal(b, dst) != nil {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "")
		return false
	}
	return true
}

func (s *Sim) handleReply(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AuthorBusinessUserID string `json:"authorBusinessUserId"`
		Message              string `json:"message"`
		SubmittedAt          string `json:"submittedAt"`
	}
	raw, rerr := readBody(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok || !jsonBody(w, r, raw, rerr, &body) {
		return
	}
	if strings.TrimSpace(body.Message) == "" {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "message is required")
		return
	}
	author := cmp.Or(body.AuthorBusinessUserID, t.userID)
	if author == "" {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "authorBusinessUserId is required")
		return
	}
	user, ok := s.userOf(t.unit, author)
	if !ok {
		appError(w, http.StatusForbidden, codeForbidden, "Forbidden", "authorBusinessUserId is not a user of this business unit")
		return
	}
	e, ok := s.service[r.PathValue("id")]
	if !ok || e.r.BusinessUnit.ID != t.unit {
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "review not found")
		return
	}
	if s.units[t.unit].DisableReplying {
		appError(w, http.StatusForbidden, codeForbidden, "Forbidden", "the plan does not include replying through the API")
		return
	}
	if e.r.CompanyReply != nil {
		// Decision (reference §3: what a second POST does is unverified): refuse it with 409 and
		// an application error body, the strictest plausible behaviour. A client that re-reads
		// before posting (§7.4) never sees it; one that retries a POST whose answer it lost does,
		// and must recognise its own reply. With Switches.ReplyVisibilityDelay the reply may not
		// show on a re-read yet, but it is there, so this refusal still applies.
		appError(w, http.StatusConflict, codeConflict, "Conflict", "the review already has a reply")
		return
	}
	now := s.nowLocked()
	sw := s.units[t.unit].Switches
	e.r.CompanyReply = &CompanyReply{Text: sw.ReplyText.normalize(body.Message), AuthorBusinessUserID: author,
		AuthorBusinessUserName: user.Name, CreatedAt: now.Format("2006-01-02T15:04:05.000Z")}
	e.replyVisibleAt = now.Add(time.Duration(sw.ReplyVisibilityDelay))
	s.replies = append(s.replies, Reply{ReviewID: e.r.ID, AuthorBusinessUserID: author, Message: body.Message, At: now})
	// Pipedream notes 201 with a possibly empty body (reference §3).
	w.WriteHeader(http.StatusCreated)
}

func (s *Sim) handleDeleteReply(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	e, ok := s.service[r.PathValue("id")]
	if !ok || e.r.BusinessUnit.ID != t.unit || e.r.CompanyReply == nil {
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "reply not found")
		return
	}
	e.r.CompanyReply = nil
	w.WriteHeader(http.StatusNoContent)
}

// --- product reviews and conversations ------------------------------------------------------

func (s *Sim) handleListProduct(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	unit := r.PathValue("unit")
	if t.unit != unit {
		appError(w, http.StatusForbidden, codeForbidden, "Forbidden", "the token does not give access to this business unit")
		return
	}
	q := r.URL.Query()
	page, perPage, ok := paging(w, q)
	if !ok {
		return
	}
	sw := s.units[unit].Switches
	if sw.PerPageCap > 0 {
		perPage = min(perPage, sw.PerPageCap)
	}
	states := []string{"published"}
	if v := q.Get("state"); v != "" {
		states = strings.Split(v, ",") // comma-separated, not an array (reference §4.1)
	}
	var list []*productEntry
	for _, e := range s.product {
		if e.r.BusinessUnitID != unit || !slices.Contains(states, e.r.State) ||
			(q.Get("sku") != "" && e.r.Product.SKU != q.Get("sku")) ||
			(q.Get("language") != "" && e.r.Language != q.Get("language")) {
			continue
		}
		list = append(list, e)
	}
	// Decision: the order is undocumented (reference §4.1); newest first, so reviews added while
	// a client pages shift later pages, as they would on a live API.
	slices.SortFunc(list, func(a, b *productEntry) int {
		return cmp.Or(b.created.Compare(a.created), strings.Compare(b.r.ID, a.r.ID))
	})
	from, to := pageBounds(len(list), page, perPage)
	out := make([]ProductReview, 0, to-from)
	for _, e := range list[from:to] {
		out = append(out, e.r)
	}
	resp := map[string]any{"productReviews": out}
	if sw.Links != LinksNone {
		resp["links"] = pageLinks(r, page, perPage, len(list), sw.Links)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Sim) handleGetProduct(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	e, ok := s.product[r.PathValue("id")]
	if !ok || e.r.BusinessUnitID != t.unit {
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "product review not found")
		return
	}
	writeJSON(w, http.StatusOK, e.r)
}

func (s *Sim) handleCreateConversation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	e, ok := s.product[r.PathValue("id")]
	if !ok || e.r.BusinessUnitID != t.unit {
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "product review not found")
		return
	}
	if e.r.ConversationID != nil {
		// Decision: unverified; a second conversation for one review is refused with 409, so a
		// client must read conversationId first and recover from a lost answer by re-reading.
		appError(w, http.StatusConflict, codeConflict, "Conflict", "the review already has a conversation")
		return
	}
	id := s.newIDLocked()
	s.conversations[id] = &Conversation{ID: id, BusinessUnitID: t.unit, ConsumerID: e.r.Consumer.ID,
		Source: "Product reviews", SourceID: e.r.ID, State: "public", Comments: []Comment{}}
	e.r.ConversationID = &id
	writeJSON(w, http.StatusCreated, map[string]string{"conversationId": id})
}

// conversationLocked finds a conversation of the token's unit or writes 404.
func (s *Sim) conversationLocked(w http.ResponseWriter, r *http.Request, t *accessToken) (*Conversation, bool) {
	c, ok := s.conversations[r.PathValue("id")]
	if !ok || c.BusinessUnitID != t.unit {
		appError(w, http.StatusNotFound, codeNotFound, "Not found", "conversation not found")
		return nil, false
	}
	return c, true
}

func (s *Sim) handleComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Content       string `json:"content"`
		IntegrationID string `json:"integrationId"`
	}
	raw, rerr := readBody(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	// The business user comes from x-business-user-id; a user-bound token may omit it. A unit
	// id or unknown user there gives 403 (node-trustpilot #104).
	author := cmp.Or(r.Header.Get("x-business-user-id"), t.userID)
	if author == "" {
		appError(w, http.StatusForbidden, codeForbidden, "Forbidden", "x-business-user-id is required with this token")
		return
	}
	if _, ok := s.userOf(t.unit, author); !ok {
		appError(w, http.StatusForbidden, codeForbidden, "Forbidden", "x-business-user-id is not a user of this business unit")
		return
	}
	c, ok := s.conversationLocked(w, r, t)
	if !ok || !jsonBody(w, r, raw, rerr, &body) {
		return
	}
	if strings.TrimSpace(body.Content) == "" {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "content is required")
		return
	}
	now, sw := s.nowLocked(), s.units[t.unit].Switches
	cm := Comment{ID: s.newIDLocked(), CreatedAt: now.Format("2006-01-02T15:04:05.000Z"),
		Author: Author{ID: author, Type: "businessUser"}, Content: sw.ReplyText.normalize(body.Content),
		IntegrationID: body.IntegrationID, visibleAt: now.Add(time.Duration(sw.ReplyVisibilityDelay))}
	c.Comments = append(c.Comments, cm)
	writeJSON(w, http.StatusCreated, map[string]any{"commentId": cm.ID, "createdAt": cm.CreatedAt, "author": cm.Author, "content": cm.Content})
}

func (s *Sim) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	if c, ok := s.conversationLocked(w, r, t); ok {
		// Comments within their visibility delay are not shown yet.
		now := s.nowLocked()
		out := *c
		out.Comments = slices.DeleteFunc(slices.Clone(c.Comments), func(cm Comment) bool { return now.Before(cm.visibleAt) })
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Sim) handleConversationState(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State string `json:"state"`
	}
	raw, rerr := readBody(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authorizeLocked(w, r)
	if !ok {
		return
	}
	c, ok := s.conversationLocked(w, r, t)
	if !ok || !jsonBody(w, r, raw, rerr, &body) {
		return
	}
	if body.State != "public" && body.State != "private" {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "state must be public or private")
		return
	}
	c.State = body.State
	w.WriteHeader(http.StatusOK)
}
