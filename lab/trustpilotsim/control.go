package trustpilotsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// controlRoutes mounts the control API under /_sim/, for `make dev` and out-of-process tests.
// It has no authentication: the simulator listens on loopback only.
//
//	GET    /_sim/health                       → {"ok":true}
//	GET    /_sim/counters                     → {"token":1,"list_service_reviews":3,…}
//	DELETE /_sim/counters                     reset counters
//	GET    /_sim/faults                       → [Fault…]
//	POST   /_sim/faults            Fault      → Fault with its id
//	DELETE /_sim/faults                       remove all faults
//	DELETE /_sim/faults/{id}                  remove one fault
//	PUT    /_sim/service-reviews   review     add or replace (edit) a service review
//	PUT    /_sim/product-reviews   review     add or replace a product review
//	GET    /_sim/service-reviews/{id}         the stored review
//	POST   /_sim/business-units    unit       add or replace a business unit (switches at its top level)
//	GET    /_sim/business-units/{id}/switches → Switches
//	PUT    /_sim/business-units/{id}/switches Switches  replace the unit's switches
//	       e.g. {"replyText":"lines","replyVisibilityDelay":"2m"}; unknown fields are refused
//	POST   /_sim/generate          {"businessUnitId","service","product","from","to","seed"}
//	GET    /_sim/replies[?reviewId=]          → [Reply…]
//	GET    /_sim/conversations/{id}           → Conversation with comments
//	POST   /_sim/tokens/revoke?businessUnitId=  revoke the unit's access tokens
//	POST   /_sim/refresh-tokens?businessUnitId= → {"refresh_token":…} as after a login flow
//	POST   /_sim/clock/advance     {"by":"2h"} → {"now":…}
func (s *Sim) controlRoutes(m *http.ServeMux) {
	ok := func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }
	bad := func(w http.ResponseWriter, err error) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	decode := func(r *http.Request, v any) error {
		return json.NewDecoder(io.LimitReader(r.Body, 32<<20)).Decode(v)
	}
	m.HandleFunc("GET /_sim/health", func(w http.ResponseWriter, r *http.Request) { ok(w) })
	m.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counters())
	})
	m.HandleFunc("DELETE /_sim/counters", func(w http.ResponseWriter, r *http.Request) { s.ResetCounters(); ok(w) })
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decode(r, &f); err != nil {
			bad(w, err)
			return
		}
		f.ID = s.AddFault(f)
		writeJSON(w, http.StatusCreated, f)
	})
	m.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) { s.ClearFaults(); ok(w) })
	m.HandleFunc("DELETE /_sim/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		if !s.RemoveFault(id) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such fault"})
			return
		}
		ok(w)
	})
	m.HandleFunc("PUT /_sim/service-reviews", func(w http.ResponseWriter, r *http.Request) {
		var rv ServiceReview
		if err := decode(r, &rv); err != nil {
			bad(w, err)
			return
		}
		if err := s.PutServiceReview(rv); err != nil {
			bad(w, err)
			return
		}
		got, _ := s.ServiceReview(rv.ID)
		writeJSON(w, http.StatusOK, got)
	})
	m.HandleFunc("GET /_sim/service-reviews/{id}", func(w http.ResponseWriter, r *http.Request) {
		got, found := s.ServiceReview(r.PathValue("id"))
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such review"})
			return
		}
		writeJSON(w, http.StatusOK, got)
	})
	m.HandleFunc("PUT /_sim/product-reviews", func(w http.ResponseWriter, r *http.Request) {
		var rv ProductReview
		if err := decode(r, &rv); err != nil {
			bad(w, err)
			return
		}
		if err := s.PutProductReview(rv); err != nil {
			bad(w, err)
			return
		}
		got, _ := s.ProductReview(rv.ID)
		writeJSON(w, http.StatusOK, got)
	})
	m.HandleFunc("POST /_sim/business-units", func(w http.ResponseWriter, r *http.Request) {
		var u BusinessUnit
		if err := decode(r, &u); err != nil {
			bad(w, err)
			return
		}
		if err := s.AddBusinessUnit(u); err != nil {
			bad(w, err)
			return
		}
		ok(w)
	})
	m.HandleFunc("GET /_sim/business-units/{id}/switches", func(w http.ResponseWriter, r *http.Request) {
		sw, found := s.Switches(r.PathValue("id"))
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such business unit"})
			return
		}
		writeJSON(w, http.StatusOK, sw)
	})
	m.HandleFunc("PUT /_sim/business-units/{id}/switches", func(w http.ResponseWriter, r *http.Request) {
		var sw Switches
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields() // a misspelt switch must not pass silently
		if err := dec.Decode(&sw); err != nil {
			bad(w, err)
			return
		}
		if _, found := s.Switches(r.PathValue("id")); !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such business unit"})
			return
		}
		if err := s.SetSwitches(r.PathValue("id"), sw); err != nil {
			bad(w, err)
			return
		}
		writeJSON(w, http.StatusOK, sw)
	})
	m.HandleFunc("POST /_sim/generate", func(w http.ResponseWriter, r *http.Request) {
		var g struct {
			BusinessUnitID string    `json:"businessUnitId"`
			Service        int       `json:"service"`
			Product        int       `json:"product"`
			From           time.Time `json:"from"`
			To             time.Time `json:"to"`
			Seed           int64     `json:"seed"`
		}
		if err := decode(r, &g); err != nil {
			bad(w, err)
			return
		}
		if g.Service < 0 || g.Product < 0 || g.Service+g.Product > 1_000_000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "service and product must be 0…1000000 in total"})
			return
		}
		if g.To.IsZero() {
			g.To = s.Now()
		}
		if g.From.IsZero() {
			g.From = g.To.AddDate(0, -1, 0)
		}
		if err := s.Load(Generate(g.BusinessUnitID, g.Service, g.Product, g.From, g.To, g.Seed)); err != nil {
			bad(w, err)
			return
		}
		ok(w)
	})
	m.HandleFunc("PUT /_sim/business-units/{id}/webhook", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			URL string `json:"url"`
		}
		if err := decode(r, &in); err != nil {
			bad(w, err)
			return
		}
		if err := s.SetWebhookURL(r.PathValue("id"), in.URL); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		ok(w)
	})
	m.HandleFunc("POST /_sim/webhooks/flush", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.FlushWebhooks(r.Context(), r.URL.Query().Get("duplicate") == "true")})
	})
	m.HandleFunc("DELETE /_sim/service-reviews/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteServiceReview(r.PathValue("id")); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		ok(w)
	})
	m.HandleFunc("GET /_sim/replies", func(w http.ResponseWriter, r *http.Request) {
		rs := s.Replies(r.URL.Query().Get("reviewId"))
		if rs == nil {
			rs = []Reply{}
		}
		writeJSON(w, http.StatusOK, rs)
	})
	m.HandleFunc("GET /_sim/conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, found := s.Conversation(r.PathValue("id"))
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such conversation"})
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	m.HandleFunc("POST /_sim/tokens/revoke", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeTokens(r.URL.Query().Get("businessUnitId"))
		ok(w)
	})
	m.HandleFunc("POST /_sim/refresh-tokens", func(w http.ResponseWriter, r *http.Request) {
		rt, err := s.IssueRefreshToken(r.URL.Query().Get("businessUnitId"))
		if err != nil {
			bad(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"refresh_token": rt})
	})
	m.HandleFunc("POST /_sim/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			By Duration `json:"by"`
		}
		if err := decode(r, &a); err != nil || a.By < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"by":"2h"}`})
			return
		}
		s.Advance(time.Duration(a.By))
		writeJSON(w, http.StatusOK, map[string]time.Time{"now": s.Now()})
	})
}
