// Package webhook is the HTTP function's handler for the helpdesk's calls to
// POST /helpdesk/events and Trustpilot's to POST /trustpilot/events: it authenticates the
// caller in constant time (the helpdesk's shared header secret; the connection's URL key for
// Trustpilot, which signs nothing), bounds the body, and maps the use case's outcome to a
// status. Bad input is a 4xx with a JSON message, never a 5xx.
package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/connect"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/loopback"
	"github.com/pilotdesk/pilotdesk/pkg/sidebar"
	"github.com/pilotdesk/pilotdesk/pkg/trustpilot"
)

// SecretHeader carries the shared secret: the header the installer configures.
const SecretHeader = gorgias.SecretHeader

// MaxBody is the largest body accepted (1 MiB), the same bound the payload parser keeps.
const MaxBody = gorgias.MaxWebhookBytes

// Secrets reads the shared secret (cached by the implementation).
type Secrets interface {
	Value(ctx context.Context, id string) (string, error)
}

// Processor handles an authenticated, parsed helpdesk event. It returns a short outcome for the
// response; errors map to a status in statusFor.
type Processor interface {
	Process(ctx context.Context, ev gorgias.WebhookEvent) (outcome string, err error)
}

// TrustpilotInbox takes an authenticated Trustpilot webhook batch for a connection: it checks
// secret against the connection's (errs.Permission when it is wrong or the connection unknown)
// and queues the events.
type TrustpilotInbox interface {
	Receive(ctx context.Context, connID, secret string, evs []trustpilot.Event) (queued int, err error)
}

// TrustpilotPath is the route of Trustpilot's webhook calls.
const TrustpilotPath = trustpilot.WebhookPath

// SidebarPath is the route of the helpdesk's sidebar integration (GET, the shared secret in
// SecretHeader, query account, email, ticket and external_id).
const SidebarPath = "/helpdesk/sidebar"

// Routes of the Trustpilot login.
const (
	ConnectPath  = "/connect/trustpilot"
	CallbackPath = "/connect/trustpilot/callback"
)

// Connector runs the Trustpilot login: where to send the browser, and the callback.
type Connector interface {
	Start(ctx context.Context, connID, redirectURI string) (string, error)
	Callback(ctx context.Context, code, state, redirectURI string) (connect.Result, error)
}

// SidebarAnswerer answers the sidebar integration's calls from the table.
type SidebarAnswerer interface {
	Answer(ctx context.Context, c sidebar.Call) (sidebar.Answer, error)
}

// Handler is the webhook function.
type Handler struct {
	SecretID   string
	Secrets    Secrets
	Processor  Processor
	Trustpilot TrustpilotInbox
	Sidebar    SidebarAnswerer
	Connect    Connector
	Log        *slog.Logger
}

type response struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message"`
}

func reply(code int, status, msg string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(response{Status: status, Message: msg})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(b),
	}
}

// Handle answers one API Gateway HTTP API (v2) request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	log := h.Log.With("request_id", req.RequestContext.RequestID)
	switch strings.TrimSuffix(req.RawPath, "/") {
	case SidebarPath:
		return h.sidebar(ctx, req, log), nil
	case ConnectPath, CallbackPath:
		return h.connect(ctx, req, log), nil
	}
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodPost {
		r := reply(http.StatusMethodNotAllowed, "error", "use POST")
		r.Headers["Allow"] = http.MethodPost
		return r, nil
	}
	if strings.TrimSuffix(req.RawPath, "/") == TrustpilotPath {
		return h.trustpilot(ctx, req, log), nil
	}
	if bad := h.authorised(ctx, req, log); bad != nil {
		return *bad, nil
	}
	body, bad := readBody(req)
	if bad != nil {
		return *bad, nil
	}
	ev, err := gorgias.ParseWebhook(body)
	if err != nil {
		log.Info("webhook call refused: unreadable event", "reason", err.Error())
		return reply(http.StatusBadRequest, "error", clientMessage(err)), nil
	}
	outcome, err := h.Processor.Process(ctx, ev)
	if err != nil {
		code := statusFor(err)
		if code >= 500 {
			log.Error("webhook processing failed", "error", err.Error())
			return reply(code, "error", "temporarily unavailable; retry later"), nil
		}
		if code == http.StatusOK {
			log.Warn("webhook event not processed", "reason", err.Error(), "kind_of_error", errs.KindOf(err).String())
			return reply(code, "not processed", clientMessage(err)), nil
		}
		log.Info("webhook call refused", "status", code, "reason", err.Error())
		return reply(code, "error", clientMessage(err)), nil
	}
	return reply(http.StatusOK, "ok", outcome), nil
}

// authorised checks the helpdesk's shared secret header; a refusal gets its answer.
func (h *Handler) authorised(ctx context.Context, req events.APIGatewayV2HTTPRequest, log *slog.Logger) *events.APIGatewayV2HTTPResponse {
	secret, err := h.Secrets.Value(ctx, h.SecretID)
	if err != nil {
		// Our own failure, not the caller's: 503 lets the helpdesk retry.
		log.Error("cannot read the webhook secret", "error", err.Error())
		r := reply(http.StatusServiceUnavailable, "error", "temporarily unavailable")
		return &r
	}
	if !validSecret(header(req.Headers, SecretHeader), secret) {
		log.Warn("webhook call rejected: bad or missing secret", "source_ip", req.RequestContext.HTTP.SourceIP)
		r := reply(http.StatusUnauthorized, "error", "missing or wrong "+SecretHeader+" header")
		return &r
	}
	return nil
}

// sidebar answers the sidebar integration's GET: the reviews of the ticket's customer.
func (h *Handler) sidebar(ctx context.Context, req events.APIGatewayV2HTTPRequest, log *slog.Logger) events.APIGatewayV2HTTPResponse {
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodGet {
		r := reply(http.StatusMethodNotAllowed, "error", "use GET")
		r.Headers["Allow"] = http.MethodGet
		return r
	}
	if bad := h.authorised(ctx, req, log); bad != nil {
		return *bad
	}
	q := req.QueryStringParameters
	if !hasParam(req, "email") {
		// The installed URL lacks it (an empty value is a customer without an email).
		return reply(http.StatusBadRequest, "error", "the email parameter is required (email={{ticket.customer.email}})")
	}
	var ticket int64
	if t := strings.TrimSpace(q["ticket"]); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return reply(http.StatusBadRequest, "error", "ticket must be the ticket's numeric id ({{ticket.id}})")
		}
		ticket = n
	}
	ans, err := h.Sidebar.Answer(ctx, sidebar.Call{Account: q["account"], Email: q["email"], TicketID: ticket, ExternalID: q["external_id"]})
	if err != nil {
		code := statusFor(err)
		if code >= 500 {
			log.Error("sidebar answer failed", "error", err.Error())
			return reply(code, "error", "temporarily unavailable; retry later")
		}
		return reply(http.StatusBadRequest, "error", clientMessage(err))
	}
	b, _ := json.Marshal(ans)
	log.Info("sidebar answered", "ticket_id", ticket, "reviews", len(ans.Reviews), "anonymous", ans.Anonymous)
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: string(b),
		Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}}
}

// hasParam says whether the query names the parameter, even with an empty value: the raw query
// string decides too, in case a gateway leaves empty values out of the parsed parameters.
func hasParam(req events.APIGatewayV2HTTPRequest, name string) bool {
	if _, ok := req.QueryStringParameters[name]; ok {
		return true
	}
	raw, _ := url.ParseQuery(req.RawQueryString) // a malformed pair: it still returns the others
	_, ok := raw[name]
	return ok
}

// connect serves the Trustpilot login: the start redirects the browser to Trustpilot, the
// callback answers a small page saying what was connected (or why not, 400).
func (h *Handler) connect(ctx context.Context, req events.APIGatewayV2HTTPRequest, log *slog.Logger) events.APIGatewayV2HTTPResponse {
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodGet {
		return page(http.StatusMethodNotAllowed, "Use GET", "This address is opened in a browser.")
	}
	redirect := callbackURL(req)
	q := req.QueryStringParameters
	if strings.TrimSuffix(req.RawPath, "/") == ConnectPath {
		to, err := h.Connect.Start(ctx, q["connection"], redirect)
		if err != nil {
			if statusFor(err) >= 500 {
				log.Error("login start failed", "error", err.Error())
				return page(http.StatusServiceUnavailable, "Try again", "Pilotdesk could not start the login; try again in a minute.")
			}
			return page(http.StatusBadRequest, "Cannot start the login", clientMessage(err))
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusFound, Headers: map[string]string{"Location": to, "Cache-Control": "no-store"}}
	}
	if e := q["error"]; e != "" {
		return page(http.StatusBadRequest, "Not connected", "Trustpilot did not grant access ("+e+"). Nothing was stored.")
	}
	res, err := h.Connect.Callback(ctx, q["code"], q["state"], redirect)
	if err != nil {
		if statusFor(err) >= 500 {
			log.Error("login callback failed", "error", err.Error())
			return page(http.StatusServiceUnavailable, "Try again", "Pilotdesk could not finish the login; nothing was stored. Start it again in a minute.")
		}
		log.Info("login callback refused", "reason", err.Error())
		return page(http.StatusBadRequest, "Not connected", clientMessage(err)+" Nothing was stored.")
	}
	log.Info("Trustpilot login connected", "connection_id", res.ConnectionID)
	return page(http.StatusOK, "Connected", fmt.Sprintf("Connection %s now uses your Trustpilot login (business unit %s). You can close this page.",
		res.ConnectionID, res.BusinessUnitID))
}

// callbackURL is the login's redirect URI on this API: https, plain http only on loopback.
func callbackURL(req events.APIGatewayV2HTTPRequest) string {
	host := req.RequestContext.DomainName
	if host == "" {
		host = header(req.Headers, "Host")
	}
	scheme := "https"
	if h, _, err := net.SplitHostPort(host); (err == nil && loopback.Host(h)) || loopback.Host(host) {
		scheme = "http"
	}
	return scheme + "://" + host + CallbackPath
}

// page is a small HTML answer for a browser; its text is escaped.
func page(code int, title, text string) events.APIGatewayV2HTTPResponse {
	body := "<!doctype html><meta charset=utf-8><title>Pilotdesk — " + html.EscapeString(title) + "</title><h1>" +
		html.EscapeString(title) + "</h1><p>" + html.EscapeString(text) + "</p>"
	return events.APIGatewayV2HTTPResponse{StatusCode: code, Body: body,
		Headers: map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}}
}

// readBody decodes and bounds a request's body; a bad one gets its answer.
func readBody(req events.APIGatewayV2HTTPRequest) ([]byte, *events.APIGatewayV2HTTPResponse) {
	fail := func(code int, msg string) ([]byte, *events.APIGatewayV2HTTPResponse) {
		r := reply(code, "error", msg)
		return nil, &r
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		if len(req.Body) > base64.StdEncoding.EncodedLen(MaxBody)+4 {
			return fail(http.StatusRequestEntityTooLarge, "body larger than 1 MiB")
		}
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return fail(http.StatusBadRequest, "body is not valid base64")
		}
		body = b
	}
	if len(body) > MaxBody {
		return fail(http.StatusRequestEntityTooLarge, "body larger than 1 MiB")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return fail(http.StatusBadRequest, "empty body: expected the JSON event")
	}
	return body, nil
}

// trustpilot answers one Trustpilot webhook call: the key first (nothing is read or done for
// a wrong one), then the body, then the batch is queued.
func (h *Handler) trustpilot(ctx context.Context, req events.APIGatewayV2HTTPRequest, log *slog.Logger) events.APIGatewayV2HTTPResponse {
	if h.Trustpilot == nil {
		return reply(http.StatusNotFound, "error", "Trustpilot webhooks are not enabled on this deployment")
	}
	connID, key := req.QueryStringParameters["connection"], req.QueryStringParameters["key"]
	if connID == "" || key == "" {
		return reply(http.StatusUnauthorized, "error", "the URL needs its connection and key (`pilotdesk trustpilot webhook-url ID` prints it)")
	}
	log = log.With("connection_id", connID)
	body, bad := readBody(req)
	if bad != nil {
		return *bad
	}
	evs, err := trustpilot.ParseEvents(body)
	if err != nil {
		log.Info("Trustpilot webhook refused: unreadable body", "reason", err.Error())
		return reply(http.StatusBadRequest, "error", clientMessage(err))
	}
	n, err := h.Trustpilot.Receive(ctx, connID, key, evs.Events)
	switch {
	case errs.Is(err, errs.Permission):
		log.Warn("Trustpilot webhook rejected: unknown connection or wrong key", "source_ip", req.RequestContext.HTTP.SourceIP)
		return reply(http.StatusUnauthorized, "error", clientMessage(err))
	case err != nil:
		log.Error("Trustpilot webhook batch not queued", "error", err.Error())
		return reply(http.StatusServiceUnavailable, "error", "temporarily unavailable; retry later")
	}
	return reply(http.StatusOK, "ok", fmt.Sprintf("%d event(s) queued, %d ignored", n, evs.Ignored))
}

// statusFor maps a processing error: the caller's mistakes are 4xx; what a retry cannot fix
// (a connection whose credentials were refused, a purged link) is acknowledged, so the helpdesk
// does not retry it forever and disable the integration; only our transient failures are 503.
func statusFor(err error) int {
	switch errs.KindOf(err) {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Conflict, errs.NotExist, errs.Permission, errs.Reauth:
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// clientMessage is the error without the operation prefix chain: what a caller can act on.
func clientMessage(err error) string {
	var e *errs.Error
	msg := err.Error()
	for u := err; u != nil; {
		if x, ok := u.(*errs.Error); ok {
			e = x
		}
		uw, ok := u.(interface{ Unwrap() error })
		if !ok {
			break
		}
		u = uw.Unwrap()
	}
	if e != nil && e.Err != nil {
		msg = e.Err.Error()
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// validSecret compares in constant time; hashing first makes the time independent of the
// lengths too.
func validSecret(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// header finds a header case-insensitively (API Gateway v2 lower-cases them; tests may not).
func header(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
