package gorgiassim

import (
	"bytes"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// Fault changes how the simulator answers matching API requests, to rehearse what goes wrong
// against the real Gorgias. Faults apply after authentication and rate limiting (a failed call
// still counts against the bucket, as it does in Gorgias); the first matching fault wins.
type Fault struct {
	ID      int    `json:"id"`
	Account string `json:"account,omitempty"` // "" = every account
	Method  string `json:"method,omitempty"`  // "" = every method
	// Path is a path.Match pattern ("/api/tickets/*/messages"), or a prefix ending in "/**";
	// "" = every API path.
	Path string `json:"path,omitempty"`
	// BodyContains narrows the fault to requests whose raw body holds this substring, e.g. one
	// ticket's external_id; "" = any body.
	BodyContains string `json:"body_contains,omitempty"`

	Status      int           `json:"status,omitempty"`       // answer this status without applying the request
	RetryAfter  int           `json:"retry_after,omitempty"`  // seconds, sent with Status (429 defaults to 1)
	Body        string        `json:"body,omitempty"`         // raw body for Status; default {"error":{"msg":...}}
	ContentType string        `json:"content_type,omitempty"` // of Body; default application/json
	Latency     time.Duration `json:"latency,omitempty"`      // wait before answering (ns in JSON)
	Drop        bool          `json:"drop,omitempty"`         // close the connection unanswered; the request is not applied (but see CommitAfter)
	DropAfter   bool          `json:"drop_after,omitempty"`   // apply the request, then close the connection unanswered
	Times       int           `json:"times,omitempty"`        // requests affected; 0 = until removed

	// CommitAfter and HiddenFor turn Drop or Latency on a create (POST /api/tickets, POST
	// /api/tickets/{id}/messages) into a late commit: the request is validated at once but applied
	// CommitAfter after it arrived, while the client gets no answer (after Latency); once applied,
	// the ticket or message stays out of the API (lists, filters, reads by id: 404) for HiddenFor
	// more. A request failing validation is answered at once. Without Drop or Latency, or on
	// other requests, they do nothing.
	CommitAfter time.Duration `json:"commit_after,omitempty"`
	HiddenFor   time.Duration `json:"hidden_for,omitempty"`

	Hits int `json:"hits"`
}

type faultState struct{ Fault }

func (f *Fault) matches(a *account, r *http.Request, body []byte) bool {
	if f.Account != "" && f.Account != a.cfg.ID {
		return false
	}
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if f.BodyContains != "" && !bytes.Contains(body, []byte(f.BodyContains)) {
		return false
	}
	switch {
	case f.Path == "":
		return true
	case strings.HasSuffix(f.Path, "/**"):
		return strings.HasPrefix(r.URL.Path+"/", strings.TrimSuffix(f.Path, "**"))
	}
	ok, _ := path.Match(f.Path, r.URL.Path)
	return ok || f.Path == r.URL.Path
}

// lateRoutes are the creates a fault can commit late (Fault.CommitAfter, HiddenFor).
var lateRoutes = map[string]bool{"POST /api/tickets": true, "POST /api/tickets/{id}/messages": true}

// commitsLate reports whether f plays a late commit of a request to the route pattern.
func (f *Fault) commitsLate(pattern string) bool {
	return (f.CommitAfter > 0 || f.HiddenFor > 0) && (f.Drop || f.Latency > 0) && lateRoutes[pattern]
}

// matchFault finds and consumes the first fault matching r, whose body is body.
func (s *Server) matchFault(a *account, r *http.Request, body []byte) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(a, r, body) {
			continue
		}
		f.Hits++
		a.stats.Faults++
		out := f.Fault
		if f.Times > 0 && f.Hits >= f.Times {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

// AddFault installs a fault and returns its id.
func (s *Server) AddFault(f Fault) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFault++
	f.ID, f.Hits = s.nextFault, 0
	s.faults = append(s.faults, &faultState{f})
	return f.ID
}

// RemoveFault removes a fault; it reports whether it was there.
func (s *Server) RemoveFault(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.ID == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults lists the active faults.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = f.Fault
	}
	return out
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.Status == http.StatusTooManyRequests || f.RetryAfter > 0 {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	if f.Body == "" {
		writeError(w, f.Status, cmpOr(http.StatusText(f.Status), "Error"), nil)
		return
	}
	w.Header().Set("Content-Type", cmpOr(f.ContentType, "application/json"))
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}
