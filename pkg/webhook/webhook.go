// Package webhook is the HTTP function's handler for the helpdesk's calls to
// POST /helpdesk/events: it authenticates the shared secret in constant time, bounds the body,
// and maps the reply use case's outcome to a status. Bad input is a 4xx with a JSON message,
// never a 5xx.
package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
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

// Handler is the webhook function.
type Handler struct {
	SecretID  string
	Secrets   Secrets
	Processor Processor
	Log       *slog.Logger
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
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodPost {
		r := reply(http.StatusMethodNotAllowed, "error", "use POST")
		r.Headers["Allow"] = http.MethodPost
		return r, nil
	}
	secret, err := h.Secrets.Value(ctx, h.SecretID)
	if err != nil {
		// Our own failure, not the caller's: 503 lets the helpdesk retry.
		log.Error("cannot read the webhook secret", "error", err.Error())
		return reply(http.StatusServiceUnavailable, "error", "temporarily unavailable"), nil
	}
	if !validSecret(header(req.Headers, SecretHeader), secret) {
		log.Warn("webhook call rejected: bad or missing secret", "source_ip", req.RequestContext.HTTP.SourceIP)
		return reply(http.StatusUnauthorized, "error", "missing or wrong "+SecretHeader+" header"), nil
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		if len(req.Body) > base64.StdEncoding.EncodedLen(MaxBody)+4 {
			return reply(http.StatusRequestEntityTooLarge, "error", "body larger than 1 MiB"), nil
		}
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return reply(http.StatusBadRequest, "error", "body is not valid base64"), nil
		}
		body = b
	}
	if len(body) > MaxBody {
		return reply(http.StatusRequestEntityTooLarge, "error", "body larger than 1 MiB"), nil
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return reply(http.StatusBadRequest, "error", "empty body: expected the JSON event"), nil
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
