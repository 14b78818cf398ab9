// Package gorgiassim simulates the Gorgias REST API and its HTTP-integration webhooks for tests
// and the local run: the paths, JSON shapes, status codes, cursor pagination, error bodies and
// leaky-bucket rate limit of shared/reference/gorgias-api.md (following its §9 decisions), several
// accounts on one server (selected by Basic-auth credentials), switches to inject faults, and an
// inspection API in Go and under /_sim/.
//
// # Switches
//
// Where the reference marks a behaviour UNVERIFIED the simulator can play each variant. Per
// account (AccountConfig.Switches at start, Server.SetSwitches or the control API while running):
//
//   - webhook_message_vars (Switches.WebhookMessageVars): "" renders `{{message.*}}` from the
//     triggering message; "empty" (MessageVarsEmpty) leaves message undefined, so
//     `{{message.id}}` renders ""; "none" (MessageVarsNone) makes every message.* None, rendered
//     "None" (null with Config.TypedWebhookValues). ticket.* and event.object_id stay.
//   - no_redelivery (Switches.NoRedelivery): a failed delivery (no answer, timeout, any non-2xx)
//     is not resent, whatever Config.DeliveryRetries says.
//   - customer_data_apply_delay (Switches.CustomerDataApplyDelay): PUT /api/customers/{id}/data
//     is validated and answered 202 at once but applied that long later, writes to a customer in
//     arrival order, last write by version winning when applied; GET /api/customers/{id} shows
//     the old data until then.
//   - merge_location (Switches.MergeLocation): the Location of a merged customer's 301 (below):
//     "" an absolute URL on the simulator's host (http://127.0.0.1:PORT/api/customers/M/data),
//     "relative" (MergeLocationRelative) the path alone (/api/customers/M/data).
//   - other_calls (Switches.OtherCalls): another API-key integration of the shop makes that
//     many calls per RateWindow, evenly spread, in the account's bucket (reference §10: the
//     limit is shared). They are played lazily when a request (or Stats) comes; the call-limit
//     header's "used" counts them, so a client that does not leave room for them is throttled.
//     Stats.OtherCalls and Stats.OtherThrottled count them; Stats.Requests and MaxInWindow
//     (the client's own requests in any sliding RateWindow) never do.
//
// Over HTTP: GET /_sim/accounts/{id}/switches, and PUT /_sim/accounts/{id}/switches with
// {"webhook_message_vars":"empty","no_redelivery":true,"customer_data_apply_delay":"2s",
// "merge_location":"relative","other_calls":10} (replaces all switches; unknown fields are
// refused; a delay is a Go duration string or nanoseconds); POST /_sim/accounts adds an
// account, switches given at the top level.
//
// # HTTP integrations and widgets
//
// An HTTP integration (POST /api/integrations) is called on its triggers: ticket-created,
// ticket-message-created, and ticket-updated on every applied PUT /api/tickets/{id} and
// POST/PUT/DELETE /api/tickets/{id}/tags (not on the simulator's own bookkeeping: new
// messages, merges, sending, AgentReply, RemoveTag). Values rendered into its URL are
// percent-encoded for the path or the query, so "?email={{ticket.customer.email}}" delivers
// jane+tp@example.com intact. When its response_content_type is application/json (whatever
// its method), a 2xx JSON answer to ticket-created or ticket-updated is stored on the ticket's
// customer under integrations["<integration id>"] (Customer.Integrations, "integrations" of GET
// /api/customers/{id}), replacing the previous answer; a non-2xx or non-JSON answer leaves it.
// Delivery.Stored says whether an answer was stored. Widgets (reference §7) are kept per
// account under /api/widgets (POST 201, GET list, GET/PUT/DELETE /api/widgets/{id});
// Server.Widgets and GET /_sim/widgets list them.
//
// Customers merge (Server.MergeCustomers, POST /_sim/customers/merge with
// {"source_id":N,"target_id":M}; 409 when N == M, either is unknown, N was already merged or
// they are in different accounts): the source's tickets move to the target, which keeps its data
// and gains the data keys only the source had; a target that was merged itself stands for the
// customer it was merged into. From then on GET and PUT of /api/customers/N and
// /api/customers/N/data answer 301 with an empty JSON object and the same path on the target as
// Location, and GET /api/customers?email= of the source's email finds the target.
//
// Per message, AgentReply (POST /_sim/agent-reply) writes the agent reply variants: plain, with
// stripped_text/stripped_html set (default); "quote": true, a body quoting the previous message
// ("On <date>, <customer> wrote:" and ">" lines; a <div class="gmail_quote"> block in HTML) with
// stripped_* null; "stripped": "set"|"null" to choose the stripped fields independently, and
// "signature" for stripped_signature. Messages carry stripped_text, stripped_html and
// stripped_signature, null unless set (by the client on create, or by AgentReply).
//
// Faults (Fault, POST /_sim/faults) cover failed reads, e.g. failing one message read:
// {"method":"GET","path":"/api/tickets/*/messages/*","status":503,"times":1} or
// {"method":"GET","path":"/api/messages","status":503,"times":1}. They can single out one
// request body: {"method":"POST","path":"/api/tickets","body_contains":"trustpilot:REVIEW123",
// "status":500} fails every create of that review's ticket while other creates succeed. And they
// play a create Gorgias commits after the client gave up:
// {"method":"POST","path":"/api/tickets","drop":true,"commit_after":"25s","hidden_for":"10s"}
// (or "latency" instead of "drop": held that long, then dropped) validates the create at once
// but applies it (ids, webhooks) 25 s after it arrived, and keeps the ticket out of the API
// (lists, external_id filters; GET /api/tickets/{id} and the paths below it answer 404) for 10 s
// more, while /_sim/tickets shows it as soon as it is committed; the same for POST
// /api/tickets/{id}/messages and its message. The request counts as unanswered (status 0) in
// Stats. A request failing validation is answered as usual. Durations ("latency", "commit_after",
// "hidden_for") are Go duration strings or nanoseconds. Server.ApplyPending does every late
// commit and delayed data write now; Server.WaitPending waits for them.
//
// Every new message moves its ticket's updated_datetime (strictly, by at least the 1µs Gorgias
// prints) and last_message_datetime, so GET /api/tickets?order_by=updated_datetime:desc finds
// the ticket; GET /api/messages?ticket_id=X&order_by=created_datetime:asc pages a ticket's
// messages in creation order with cursors.
//
// It does not import pkg/gorgias on purpose: it must model Gorgias, not Pilotdesk's client.
package gorgiassim

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/loopback"
)

// Defaults for Config.
const (
	DefaultRateCalls          = gorgias.DefaultCalls // reference §6: API keys, 40 calls per 20 s per account
	DefaultRateWindow         = gorgias.DefaultWindow
	DefaultMaxLimit           = 100 // largest page a list returns
	DefaultPageLimit          = 30
	DefaultSendDelay          = 50 * time.Millisecond
	DefaultDeliveryRetries    = 3
	DefaultDeliveryRetryDelay = 200 * time.Millisecond
	DefaultDeliveryTimeout    = 10 * time.Second
	DefaultDisableAfter       = 100 // reference §5.4: disabled after 100 consecutive failures
	DefaultMaxCustomerData    = 250_000
)

// The account a zero Config gets, so `make dev` and quick tests need no setup.
const (
	DefaultAccountID    = "acme"
	DefaultAccountEmail = "api@acme.test"
	DefaultAccountKey   = "sim-api-key"
)

// AccountConfig is one helpdesk account. Requests are matched to it by Basic-auth credentials.
type AccountConfig struct {
	ID         string        `json:"id"` // the subdomain
	Email      string        `json:"email"`
	APIKey     string        `json:"api_key"`
	RateCalls  int           `json:"rate_calls,omitempty"`  // default Config.RateCalls
	RateWindow time.Duration `json:"rate_window,omitempty"` // default Config.RateWindow
	// Switches are the account's behaviour variants for what the reference leaves unverified;
	// in JSON their fields sit at the top level of the account. Server.SetSwitches and
	// PUT /_sim/accounts/{id}/switches change them while the server runs.
	Switches
}

// Switches select, per account, among the behaviours the reference could not settle, so a
// client can be tested against each variant. The zero value is the default behaviour.
type Switches struct {
	// WebhookMessageVars says what `{{message.*}}` variables render to in HTTP-integration
	// templates (url, headers, form). Reference §5.2: they are de-facto, not documented.
	WebhookMessageVars MessageVarsMode `json:"webhook_message_vars,omitempty"`
	// NoRedelivery: a failed webhook delivery (no answer, timeout, non-2xx) is never resent;
	// reference §5.4 leaves Gorgias' retry policy open.
	NoRedelivery bool `json:"no_redelivery,omitempty"`
	// CustomerDataApplyDelay makes PUT /api/customers/{id}/data answer 202 at once but apply the
	// data this long later (in arrival order, last write by version still winning then), as an
	// eventually consistent store would; GET /api/customers/{id} shows the old data meanwhile.
	CustomerDataApplyDelay time.Duration `json:"customer_data_apply_delay,omitempty"`
	// MergeLocation is the form of the Location header of the 301 a merged customer's paths
	// answer (MergeCustomers): "" an absolute URL on the simulator's host, MergeLocationRelative
	// a path.
	MergeLocation string `json:"merge_location,omitempty"`
	// OtherCalls is how many calls per RateWindow another API-key integration of the shop
	// makes, spread evenly: they fill the same bucket (reference §10: the limit is per account
	// and authentication type), so the call-limit header's "used" counts them and the client
	// is throttled unless it leaves room for them. They are not the client's requests: they
	// count in Stats.OtherCalls (and Stats.OtherThrottled when the bucket had no room), never
	// in Stats.Requests or MaxInWindow.
	OtherCalls int `json:"other_calls,omitempty"`
	// TicketFields are the account's ticket field definitions. Nil accepts any custom_fields
	// on a created ticket (the reference does not say how Gorgias checks them); set, a field id
	// that is not defined is a 400, and so is a value of the wrong type: a "number" field
	// refuses a string, a "text" or "dropdown" field a number (reference §10: ticket fields).
	TicketFields []TicketField `json:"ticket_fields,omitempty"`
}

// TicketField is one ticket field definition of Switches.TicketFields.
type TicketField struct {
	ID   int64  `json:"id"`
	Type string `json:"type"` // "text", "dropdown" or "number"
}

// MergeLocationRelative is the Switches.MergeLocation value for a path-only Location.
const MergeLocationRelative = "relative"

// MessageVarsMode is the value of Switches.WebhookMessageVars.
type MessageVarsMode string

// The MessageVarsMode values.
const (
	MessageVarsPresent MessageVarsMode = ""      // message.* is the triggering message (default)
	MessageVarsEmpty   MessageVarsMode = "empty" // variant a: message is undefined, {{message.id}} renders ""
	MessageVarsNone    MessageVarsMode = "none"  // variant b: every message.* renders "None" (null when typed)
)

func (sw Switches) check() error {
	switch sw.WebhookMessageVars {
	case MessageVarsPresent, MessageVarsEmpty, MessageVarsNone:
	default:
		return fmt.Errorf("gorgiassim: webhook_message_vars %q is not one of \"\", %q, %q",
			sw.WebhookMessageVars, MessageVarsEmpty, MessageVarsNone)
	}
	if sw.CustomerDataApplyDelay < 0 {
		return fmt.Errorf("gorgiassim: customer_data_apply_delay %s is negative", sw.CustomerDataApplyDelay)
	}
	if sw.MergeLocation != "" && sw.MergeLocation != MergeLocationRelative {
		return fmt.Errorf("gorgiassim: merge_location %q is not one of \"\", %q", sw.MergeLocation, MergeLocationRelative)
	}
	if sw.OtherCalls < 0 {
		return fmt.Errorf("gorgiassim: other_calls %d is negative", sw.OtherCalls)
	}
	return nil
}

// Config configures a Server. The zero value serves one default account with Gorgias' limits.
type Config struct {
	Accounts   []AccountConfig
	RateCalls  int           // default DefaultRateCalls
	RateWindow time.Duration // default DefaultRateWindow
	MaxLimit   int           // default DefaultMaxLimit; tests lower it to exercise pagination
	SendDelay  time.Duration // how long "sending" an agent message takes; default DefaultSendDelay

	// Webhook deliveries.
	DeliveryClient     *http.Client  // default: a client with DeliveryTimeout
	DeliveryTimeout    time.Duration // default DefaultDeliveryTimeout
	DeliveryRetries    int           // resends of a failed delivery; default DefaultDeliveryRetries, <0 none
	DeliveryRetryDelay time.Duration // before the first resend, doubling; default DefaultDeliveryRetryDelay
	DisableAfter       int           // consecutive failed requests that disable an integration; default 100
	// TypedWebhookValues renders a form value made of a single {{expr}} as the JSON value itself
	// (true, 123, null) instead of its string rendering, as some integrations report receiving.
	TypedWebhookValues bool

	MaxCustomerDataBytes int // default DefaultMaxCustomerData; data larger than this is refused
	Logger               *slog.Logger
}

// Server is the simulator. Its zero value is not usable; call New.
type Server struct {
	cfg Config
	log *slog.Logger

	mu           sync.Mutex
	accounts     []*account
	nextID       map[string]int64
	tickets      map[int64]*Ticket
	messages     map[int64]*Message
	customers    map[int64]*Customer
	integrations map[int64]*Integration
	widgets      map[int64]*Widget
	deliveries   []*Delivery
	delivered    int           // deliveries finished (success or given up)
	delivChanged chan struct{} // closed when delivered changes
	faults       []*faultState
	nextFault    int
	pending      []*pending // work due later, in due order (later.go)
	nextPending  int64
	pendChanged  chan struct{} // closed when pending shrinks
	closed       bool

	ctx    context.Context // ends on Close: stops delivery retries
	cancel context.CancelFunc
	wg     sync.WaitGroup
	api    *http.ServeMux
	ctl    *http.ServeMux

	httpSrv *http.Server
	url     string
}

// New builds a server.
func New(cfg Config) (*Server, error) {
	cfg.RateCalls = cmp.Or(cfg.RateCalls, DefaultRateCalls)
	cfg.RateWindow = cmp.Or(cfg.RateWindow, DefaultRateWindow)
	cfg.MaxLimit = cmp.Or(cfg.MaxLimit, DefaultMaxLimit)
	cfg.SendDelay = cmp.Or(cfg.SendDelay, DefaultSendDelay)
	cfg.DeliveryTimeout = cmp.Or(cfg.DeliveryTimeout, DefaultDeliveryTimeout)
	if cfg.DeliveryRetries == 0 {
		cfg.DeliveryRetries = DefaultDeliveryRetries
	}
	cfg.DeliveryRetries = max(cfg.DeliveryRetries, 0)
	cfg.DeliveryRetryDelay = cmp.Or(cfg.DeliveryRetryDelay, DefaultDeliveryRetryDelay)
	cfg.DisableAfter = cmp.Or(cfg.DisableAfter, DefaultDisableAfter)
	cfg.MaxCustomerDataBytes = cmp.Or(cfg.MaxCustomerDataBytes, DefaultMaxCustomerData)
	if cfg.DeliveryClient == nil {
		cfg.DeliveryClient = &http.Client{Timeout: cfg.DeliveryTimeout}
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []AccountConfig{{ID: DefaultAccountID, Email: DefaultAccountEmail, APIKey: DefaultAccountKey}}
	}
	s := &Server{
		cfg:          cfg,
		log:          cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		nextID:       map[string]int64{"ticket": 1000, "message": 50000, "customer": 200, "integration": 10, "tag": 1, "user": 1, "widget": 300},
		tickets:      map[int64]*Ticket{},
		messages:     map[int64]*Message{},
		customers:    map[int64]*Customer{},
		integrations: map[int64]*Integration{},
		widgets:      map[int64]*Widget{},
		delivChanged: make(chan struct{}),
		pendChanged:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, ac := range cfg.Accounts {
		if err := s.addAccountLocked(ac); err != nil {
			return nil, err
		}
	}
	s.api = s.apiRoutes()
	s.ctl = s.controlRoutes()
	return s, nil
}

// AddAccount adds an account while the server runs.
func (s *Server) AddAccount(ac AccountConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addAccountLocked(ac)
}

func (s *Server) addAccountLocked(ac AccountConfig) error {
	if ac.ID == "" || ac.Email == "" || ac.APIKey == "" {
		return errors.New("gorgiassim: an account needs id, email and api_key")
	}
	if err := ac.Switches.check(); err != nil {
		return err
	}
	for _, a := range s.accounts {
		if a.cfg.ID == ac.ID {
			return fmt.Errorf("gorgiassim: duplicate account %q", ac.ID)
		}
		if strings.EqualFold(a.cfg.Email, ac.Email) && a.cfg.APIKey == ac.APIKey {
			return fmt.Errorf("gorgiassim: accounts %q and %q have the same credentials", a.cfg.ID, ac.ID)
		}
	}
	ac.RateCalls = cmp.Or(ac.RateCalls, s.cfg.RateCalls)
	ac.RateWindow = cmp.Or(ac.RateWindow, s.cfg.RateWindow)
	a := newAccount(ac, time.Now())
	a.userID = s.newID("user")
	s.accounts = append(s.accounts, a)
	return nil
}

// SetSwitches replaces the switches of an account ("" = the first account) while the server
// runs; deliveries already queued keep their rendered body, their resends follow the new value.
func (s *Server) SetSwitches(account string, sw Switches) error {
	if err := sw.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByID(account)
	if a == nil {
		return fmt.Errorf("gorgiassim: no account %q", account)
	}
	// The other integration's calls due so far were made at the old rate.
	a.setOtherCalls(sw.OtherCalls, time.Now())
	a.cfg.Switches = sw
	return nil
}

// Switches returns the switches of an account ("" = the first account).
func (s *Server) Switches(account string) (Switches, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByID(account)
	if a == nil {
		return Switches{}, false
	}
	return a.cfg.Switches, true
}

// Start serves on 127.0.0.1 on a free port and returns the base URL (http://127.0.0.1:PORT).
func (s *Server) Start() (string, error) { return s.StartOn("127.0.0.1:0") }

// StartOn serves on addr, which must be a loopback address: the simulator has no real security.
func (s *Server) StartOn(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if !loopback.Host(host) {
		return "", fmt.Errorf("gorgiassim: refusing to listen on non-loopback address %q", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.url = "http://" + l.Addr().String()
	go func() { _ = s.httpSrv.Serve(l) }()
	return s.url, nil
}

// URL is the base URL Start returned.
func (s *Server) URL() string { return s.url }

// Close stops serving and waits for deliveries in flight (their retries are abandoned); late
// commits and customer-data writes still waiting are dropped.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.dropPending()
	s.mu.Unlock()
	s.cancel()
	var err error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err = s.httpSrv.Shutdown(ctx); err != nil {
			err = s.httpSrv.Close()
		}
	}
	s.wg.Wait()
	return err
}

// ServeHTTP serves the API under /api/ and the control API under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.ctl.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api":
		s.serveAPI(w, r)
	default:
		writeError(w, http.StatusNotFound, "Resource not found.", nil)
	}
}

type ctxKey struct{}

func accountOf(r *http.Request) *account { return r.Context().Value(ctxKey{}).(*account) }

// authenticate finds the account of the request's Basic-auth credentials.
func (s *Server) authenticate(r *http.Request) *account {
	email, key, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if strings.EqualFold(a.cfg.Email, email) && subtle.ConstantTimeCompare([]byte(a.cfg.APIKey), []byte(key)) == 1 {
			return a
		}
	}
	return nil
}

// serveAPI authenticates, rate-limits, applies faults, counts, then routes.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	a := s.authenticate(r)
	if a == nil {
		writeError(w, http.StatusUnauthorized, "Not authenticated.", nil)
		return
	}
	_, pattern := s.api.Handler(r)
	endpoint := pattern
	if endpoint == "" {
		endpoint = r.Method + " (unknown)"
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.count(a, endpoint, rec.status) }()

	used, retryAfter, ok := s.admit(a)
	w.Header().Set(CallLimitHeader, fmt.Sprintf("%d/%d", used, a.cfg.RateCalls))
	if !ok {
		w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
		writeError(rec, http.StatusTooManyRequests, "Too many requests. Please retry later.", nil)
		return
	}
	body, err := bufferBody(r)
	if err != nil {
		writeError(rec, http.StatusBadRequest, "Could not read the request body.", nil)
		return
	}
	f, faulty := s.matchFault(a, r, body)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, a))
	if faulty && f.commitsLate(pattern) {
		s.serveLate(rec, r, f, arrived)
		return
	}
	if faulty {
		sleep(r.Context(), f.Latency)
		if f.Drop {
			rec.status = 0 // counted as "no answer"
			panic(http.ErrAbortHandler)
		}
		if f.Status != 0 {
			writeFault(rec, f)
			return
		}
	}
	if s.redirectMerged(rec, r) {
		return
	}
	if pattern == "" {
		// Let the mux say 404 or 405, in Gorgias' JSON shape.
		probe := &statusRecorder{ResponseWriter: discardWriter{h: http.Header{}}, status: http.StatusOK}
		s.api.ServeHTTP(probe, r)
		msg := "Resource not found."
		if probe.status == http.StatusMethodNotAllowed {
			msg = "Method not allowed."
		}
		writeError(rec, probe.status, msg, nil)
		return
	}
	if faulty && f.DropAfter {
		// Applied, but the client never hears of it: the crash-recovery case.
		s.api.ServeHTTP(discardWriter{h: http.Header{}}, r)
		rec.status = 0
		panic(http.ErrAbortHandler)
	}
	s.api.ServeHTTP(rec, r)
}

// bufferBody reads the request body, so a fault can match on it (Fault.BodyContains), and puts
// it back for the handler; a body over the limit is cut just past it, for decodeBody to refuse.
func bufferBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

// CallLimitHeader is the header telling "used/limit" of the account's bucket.
const CallLimitHeader = "X-Gorgias-Account-Api-Call-Limit"

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
