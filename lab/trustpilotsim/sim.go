// Package trustpilotsim is a simulator of the Trustpilot Business API for tests and the local
// run: the same paths, methods, headers, JSON field names, status codes, pagination and error
// bodies as shared/reference/trustpilot-api.md, following its §7 decisions where Trustpilot's
// behaviour is unverified, plus switchable faults (429 with and without Retry-After, 5xx, slow
// answers, dropped connections, truncated bodies), call counters, and a control API under
// /_sim/ so out-of-process tests and `make dev` can drive it.
//
// Where the reference leaves a behaviour open the simulator picks the stricter plausible one,
// so that a client passing against it is robust against the real API; each such choice is
// commented "Decision:".
//
// # Switches
//
// Other open behaviours are switches, per business unit: the Switches fields of BusinessUnit
// (in a fixture or POST /_sim/business-units, at the unit's top level), Sim.SetSwitches, or
// PUT /_sim/business-units/{id}/switches while running:
//
//   - replyText (Switches.ReplyText): how a service reply's text and a comment's content are
//     stored and returned on re-read. "" verbatim; "lines" (TextLines): CRLF and CR become \n,
//     whitespace runs within a line one space, at most one blank line in a row, trimmed;
//     "flat" (TextFlatten): every whitespace run, line breaks included, one space, trimmed.
//   - replyVisibilityDelay (Switches.ReplyVisibilityDelay, "30s" or ns in JSON): a committed
//     service reply or comment is not seen by reads (GET review, the review list and its
//     responded filter, GET conversation) for that long on the simulator's clock (Advance or
//     /_sim/clock/advance moves it); a second service-reply POST meanwhile is still refused
//     with 409. Sim.ServiceReview, Sim.Replies, Sim.Comments and /_sim/ show what is stored.
//
// # Webhooks
//
// A business unit with a webhook subscription (BusinessUnit.WebhookURL, Sim.SetWebhookURL,
// PUT /_sim/business-units/{id}/webhook {"url":...}) has every created, edited
// (PutServiceReview of a known id) and deleted (DeleteServiceReview, DELETE
// /_sim/service-reviews/{id}) service review queued as an event of the documented shape
// (reference §5.3: {"events":[{"eventName","version","eventData":{...}}]}, no email, the
// deleted event's data only {id}); FlushWebhooks (POST /_sim/webhooks/flush[?duplicate=true])
// sends each unit's queue as one batch, twice with duplicate. SendWebhook and SendWebhookBody
// send any batch or body to any URL: forged events, wrong keys, oversized bodies.
//
// The Deletions API (GET /v1/reviews/deletions, API key; startDate, endDate, limit, nextToken)
// lists the unit's service reviews deleted in the window; switch deletions ("" or "ids")
// chooses its unverified answer shape.
//
// And per request, as a Fault (Sim.AddFault, POST /_sim/faults): drop_after (Fault.DropAfter)
// applies the request — a reply or comment is committed — then closes the connection without
// an answer, e.g. {"method":"POST","path":"/v1/private/conversations/*/comments","drop_after":true,"times":1}.
// (truncate does the same for an answer without a body, like the 201 of a service reply, and
// sends half of one that has a body.)
package trustpilotsim

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultTokenLifetime   = 359999 * time.Second // reference §1.2: 100 hours, expires_in "359999"
	DefaultRefreshLifetime = 30 * 24 * time.Hour
	DefaultRefreshWindow   = time.Hour // token requests are accepted this close to the current token's expiry
	MaxPerPage             = 100
)

// Options configures a Sim.
type Options struct {
	// TokenLifetime is how long an access token lives; tests shorten it.
	TokenLifetime time.Duration
	// RefreshLifetime is how long a refresh token lives.
	RefreshLifetime time.Duration
	// RefreshWindow: a token request made while the newest token of the same credentials has
	// more than this left is refused with 429 (Trustpilot: "refreshing too often"). It matches
	// the client's one-hour margin (reference §7.2).
	RefreshWindow time.Duration
	// Now is the simulator's clock; nil => time.Now. Advance moves it further.
	Now func() time.Time
}

// Sim is a simulated Trustpilot API. Its zero value is not usable; call New.
type Sim struct {
	opts Options
	mux  *http.ServeMux

	mu            sync.Mutex
	offset        time.Duration
	units         map[string]*BusinessUnit // by id
	unitByKey     map[string]*BusinessUnit // by API key
	service       map[string]*serviceEntry
	product       map[string]*productEntry
	conversations map[string]*Conversation
	replies       []Reply
	access        map[string]*accessToken
	refresh       map[string]*refreshToken
	codes         map[string]*authCode // the login's authorization codes, single use
	newest        map[string]time.Time // unit id + grant group → expiry of the newest token
	seq           uint64
	pending       map[string][]WebhookEvent // unit id → events for its webhook subscription
	deletions     []deletion                // every service review deleted, in order

	fmu       sync.Mutex
	faults    []*faultEntry
	nextFault int

	cmu    sync.Mutex
	counts map[string]int
	calls  map[string][]time.Time // API key → its calls' times (simulator clock)

	srv *http.Server
	url string
}

type serviceEntry struct {
	r       ServiceReview
	created time.Time
	// replyVisibleAt: reads show r.CompanyReply from then on (Switches.ReplyVisibilityDelay).
	replyVisibleAt time.Time
}

// visible is the review as reads see it at now: a reply still within its visibility delay is
// not there yet.
func (e *serviceEntry) visible(now time.Time) ServiceReview {
	r := e.r
	if r.CompanyReply != nil && now.Before(e.replyVisibleAt) {
		r.CompanyReply = nil
	}
	return r
}

type productEntry struct {
	r       ProductReview
	created time.Time
}

type accessToken struct {
	unit    string
	userID  string // set for user-bound grants (password, refresh_token)
	expires time.Time
}

type refreshToken struct {
	unit    string
	userID  string
	expires time.Time
}

// New returns a simulator with no business units; Load a Fixture or AddBusinessUnit.
func New(opts Options) *Sim {
	opts.TokenLifetime = cmp.Or(opts.TokenLifetime, DefaultTokenLifetime)
	opts.RefreshLifetime = cmp.Or(opts.RefreshLifetime, DefaultRefreshLifetime)
	opts.RefreshWindow = cmp.Or(opts.RefreshWindow, DefaultRefreshWindow)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sim{
		opts:          opts,
		units:         map[string]*BusinessUnit{},
		unitByKey:     map[string]*BusinessUnit{},
		service:       map[string]*serviceEntry{},
		pending:       map[string][]WebhookEvent{},
		product:       map[string]*productEntry{},
		conversations: map[string]*Conversation{},
		access:        map[string]*accessToken{},
		codes:         map[string]*authCode{},
		refresh:       map[string]*refreshToken{},
		newest:        map[string]time.Time{},
		counts:        map[string]int{},
		calls:         map[string][]time.Time{},
	}
	s.routes()
	return s
}

// ServeHTTP serves the simulated API and the /_sim/ control API.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start listens on 127.0.0.1 on a free port and serves; it returns the base URL.
func (s *Sim) Start() (string, error) { return s.Listen("127.0.0.1:0") }

// Listen serves on addr and returns the base URL.
func (s *Sim) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return s.url, nil
}

// URL is the base URL after Start or Listen.
func (s *Sim) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the server started by Start or Listen, closing open connections (slow faults
// included) so tests end promptly.
func (s *Sim) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Shutdown stops the server gracefully.
func (s *Sim) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// Now is the simulator's current time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Sim) nowLocked() time.Time { return s.opts.Now().Add(s.offset) }

// Advance moves the simulator's clock forward, to expire tokens without waiting.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// AddBusinessUnit adds or replaces a business unit.
func (s *Sim) AddBusinessUnit(u BusinessUnit) error {
	if u.ID == "" || u.APIKey == "" || u.APISecret == "" {
		return errors.New("business unit needs id, apiKey and apiSecret")
	}
	if err := u.Switches.check(); err != nil {
		return fmt.Errorf("business unit %s: %w", u.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.units[u.ID]; ok {
		delete(s.unitByKey, old.APIKey)
	}
	if other, ok := s.unitByKey[u.APIKey]; ok && other.ID != u.ID {
		return fmt.Errorf("api key already used by business unit %s", other.ID)
	}
	u.BusinessUsers = slices.Clone(u.BusinessUsers)
	s.units[u.ID] = &u
	s.unitByKey[u.APIKey] = &u
	for _, rt := range u.RefreshTokens {
		var user string
		if len(u.BusinessUsers) > 0 {
			user = u.BusinessUsers[0].ID
		}
		s.refresh[rt] = &refreshToken{unit: u.ID, userID: user, expires: s.nowLocked().Add(s.opts.RefreshLifetime)}
	}
	return nil
}

// SetSwitches replaces a business unit's switches while the simulator runs. Replies and
// comments already posted keep the text and visibility they were stored with.
func (s *Sim) SetSwitches(unitID string, sw Switches) error {
	if err := sw.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[unitID]
	if !ok {
		return fmt.Errorf("unknown business unit %q", unitID)
	}
	u.Switches = sw
	return nil
}

// Switches returns a business unit's switches.
func (s *Sim) Switches(unitID string) (Switches, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[unitID]
	if !ok {
		return Switches{}, false
	}
	return u.Switches, true
}

// Load adds a fixture's business units and reviews.
func (s *Sim) Load(f Fixture) error {
	for _, u := range f.BusinessUnits {
		if err := s.AddBusinessUnit(u); err != nil {
			return fmt.Errorf("business unit %s: %w", u.ID, err)
		}
	}
	for _, r := range f.ServiceReviews {
		if err := s.PutServiceReview(r); err != nil {
			return err
		}
	}
	for _, r := range f.ProductReviews {
		if err := s.PutProductReview(r); err != nil {
			return err
		}
	}
	return nil
}

// PutServiceReview adds a service review or replaces the one with its id (an edit, as sync
// tests need). Its businessUnit.id must name a known unit.
func (s *Sim) PutServiceReview(r ServiceReview) error {
	created, err := parseTime(r.CreatedAt)
	if err != nil {
		return fmt.Errorf("service review %s: createdAt: %w", r.ID, err)
	}
	if !validID(r.ID) {
		return fmt.Errorf("service review id %q is not 24 lowercase hex", r.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[r.BusinessUnit.ID]
	if !ok {
		return fmt.Errorf("service review %s: unknown business unit %q", r.ID, r.BusinessUnit.ID)
	}
	r.BusinessUnit.IdentifyingName = cmp.Or(r.BusinessUnit.IdentifyingName, u.Name)
	r.BusinessUnit.DisplayName = cmp.Or(r.BusinessUnit.DisplayName, u.DisplayName)
	event := EventCreated
	if _, exists := s.service[r.ID]; exists {
		event = EventUpdated
	}
	s.service[r.ID] = &serviceEntry{r: r.withDefaults(), created: created}
	s.queueEventLocked(u.ID, event, &s.service[r.ID].r)
	return nil
}

// DeleteServiceReview removes a service review (the reviewer or Trustpilot deleted it) and
// queues its deleted event.
func (s *Sim) DeleteServiceReview(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.service[id]
	if !ok {
		return fmt.Errorf("no service review %q", id)
	}
	delete(s.service, id)
	s.deletions = append(s.deletions, deletion{id: id, unit: e.r.BusinessUnit.ID, at: s.nowLocked()})
	s.queueEventLocked(e.r.BusinessUnit.ID, EventDeleted, &e.r)
	return nil
}

// PutProductReview adds a product review or replaces the one with its id.
func (s *Sim) PutProductReview(r ProductReview) error {
	created, err := parseTime(r.CreatedAt)
	if err != nil {
		return fmt.Errorf("product review %s: createdAt: %w", r.ID, err)
	}
	if !validID(r.ID) {
		return fmt.Errorf("product review id %q is not 24 lowercase hex", r.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.units[r.BusinessUnitID]; !ok {
		return fmt.Errorf("product review %s: unknown business unit %q", r.ID, r.BusinessUnitID)
	}
	s.product[r.ID] = &productEntry{r: r.withDefaults(), created: created}
	if r.ConversationID != nil {
		if _, ok := s.conversations[*r.ConversationID]; !ok {
			s.conversations[*r.ConversationID] = &Conversation{ID: *r.ConversationID, BusinessUnitID: r.BusinessUnitID,
				ConsumerID: r.Consumer.ID, Source: "Product reviews", SourceID: r.ID, State: "public", Comments: []Comment{}}
		}
	}
	return nil
}

// ServiceReview returns a copy of a stored service review.
func (s *Sim) ServiceReview(id string) (ServiceReview, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.service[id]
	if !ok {
		return ServiceReview{}, false
	}
	return e.r, true
}

// ProductReview returns a copy of a stored product review.
func (s *Sim) ProductReview(id string) (ProductReview, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.product[id]
	if !ok {
		return ProductReview{}, false
	}
	return e.r, true
}

// Replies returns the service-review replies received for reviewID ("" = all), oldest first.
func (s *Sim) Replies(reviewID string) []Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Reply
	for _, r := range s.replies {
		if reviewID == "" || r.ReviewID == reviewID {
			out = append(out, r)
		}
	}
	return out
}

// Conversation returns a copy of a conversation with its comments.
func (s *Sim) Conversation(id string) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conversations[id]
	if !ok {
		return Conversation{}, false
	}
	cp := *c
	cp.Comments = slices.Clone(c.Comments)
	return cp, true
}

// Comments returns the comments of a conversation, oldest first.
func (s *Sim) Comments(conversationID string) []Comment {
	c, _ := s.Conversation(conversationID)
	return c.Comments
}

// RevokeTokens invalidates every access token of a business unit and forgets their expiry,
// as if they had been revoked: the next private call gets 401 and a new token may be requested.
func (s *Sim) RevokeTokens(unitID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.access {
		if t.unit == unitID {
			delete(s.access, k)
		}
	}
	for k := range s.newest {
		if strings.HasPrefix(k, unitID+"|") {
			delete(s.newest, k)
		}
	}
}

// RotateSecret gives a business unit's API key a new secret, as regenerating it in Trustpilot
// Business does: the old secret's token requests get 401 and every issued token is revoked.
// It returns the new secret, for the fix.
func (s *Sim) RotateSecret(unitID string) (string, error) {
	s.mu.Lock()
	u, ok := s.units[unitID]
	if ok {
		u.APISecret = "rotated-" + randToken()
	}
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("unknown business unit %q", unitID)
	}
	s.RevokeTokens(unitID)
	return u.APISecret, nil
}

// IssueRefreshToken returns a new live refresh token for a unit's first business user, as a
// completed login flow would leave a connection with.
func (s *Sim) IssueRefreshToken(unitID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[unitID]
	if !ok {
		return "", fmt.Errorf("unknown business unit %q", unitID)
	}
	var user string
	if len(u.BusinessUsers) > 0 {
		user = u.BusinessUsers[0].ID
	}
	rt := randToken()
	s.refresh[rt] = &refreshToken{unit: unitID, userID: user, expires: s.nowLocked().Add(s.opts.RefreshLifetime)}
	return rt, nil
}

// Calls returns how many requests reached the named endpoint (see Counters for the names).
func (s *Sim) Calls(endpoint string) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.counts[endpoint]
}

// Counters returns a copy of all call counters by endpoint name: token, refresh,
// list_service_reviews, get_service_review, reply, delete_reply, list_product_reviews,
// get_product_review, create_conversation, post_comment, get_conversation,
// set_conversation_state, not_found.
func (s *Sim) Counters() map[string]int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetCounters zeroes the counters.
func (s *Sim) ResetCounters() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	clear(s.counts)
}

func (s *Sim) count(endpoint string) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.counts[endpoint]++
}

func (s *Sim) newIDLocked() string {
	s.seq++
	// Time-ordered like a Mongo ObjectId, unique within the simulator.
	return fmt.Sprintf("%08x%016x", uint32(s.nowLocked().Unix()), 0xfeed000000000000|s.seq)
}

func randToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newCorrelationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// appError writes the application error body: {message, errorCode, details, correlationId}.
func appError(w http.ResponseWriter, status, code int, message, details string) {
	writeJSON(w, status, map[string]any{
		"message": message, "errorCode": code, "details": details, "correlationId": newCorrelationID(),
	})
}

// gatewayError writes the Apigee gateway body Trustpilot answers auth failures with.
func gatewayError(w http.ResponseWriter, status int, faultString, code string) {
	writeJSON(w, status, map[string]any{
		"fault": map[string]any{"faultstring": faultString, "detail": map[string]string{"errorcode": code}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// parseTime accepts what Trustpilot sends and accepts as query values: with or without a zone
// and fractional seconds, or a bare date (midnight); zone-less is UTC (reference §7.3). It is
// written apart from the client's parser so one's bug does not hide the other's.
func parseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, strings.TrimSpace(s), time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}
