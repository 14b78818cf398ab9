package trustpilotsim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests fail. Faults are checked in the order added; the first one
// that matches and still has uses applies.
type Fault struct {
	ID     int    `json:"id,omitempty"`     // set by AddFault
	Method string `json:"method,omitempty"` // "" matches any method
	// Path is a path.Match pattern ("/v1/private/reviews/*"); a pattern ending in "/**" matches
	// everything below its prefix, and "" or "**" matches every API path. /_sim/ is never faulted.
	Path string `json:"path,omitempty"`

	Status     int      `json:"status,omitempty"`      // answer with this status (429, 500, 503…) and an error body
	RetryAfter string   `json:"retry_after,omitempty"` // Retry-After header value with Status
	Delay      Duration `json:"delay,omitempty"`       // wait this long first (a slow answer)
	Drop       bool     `json:"drop,omitempty"`        // close the connection without an answer
	// Truncate lets the request be processed, then sends the answer's headers and half its body
	// and closes the connection; an answer without a body is lost entirely (a write whose
	// outcome the client never learns).
	Truncate bool `json:"truncate,omitempty"`
	// DropAfter lets the request be processed (a reply or comment is committed), then closes
	// the connection without sending a byte of the answer, whatever its body.
	DropAfter bool `json:"drop_after,omitempty"`

	After int `json:"after,omitempty"` // let this many matching requests through first
	Times int `json:"times,omitempty"` // apply to this many requests, then expire; 0 = until removed
}

// Duration is a time.Duration that reads "250ms" or nanoseconds in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "250ms".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string like \"250ms\" or nanoseconds")
	}
	*d = Duration(n)
	return nil
}

type faultEntry struct {
	f    Fault
	seen int // matching requests so far
	used int
}

// AddFault switches a fault on and returns its id.
func (s *Sim) AddFault(f Fault) int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.nextFault++
	f.ID = s.nextFault
	s.faults = append(s.faults, &faultEntry{f: f})
	return f.ID
}

// RemoveFault switches one fault off.
func (s *Sim) RemoveFault(id int) bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, e := range s.faults {
		if e.f.ID == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults switches all faults off.
func (s *Sim) ClearFaults() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = nil
}

// Faults lists the active faults.
func (s *Sim) Faults() []Fault {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, e := range s.faults {
		out = append(out, e.f)
	}
	return out
}

func patternMatch(pattern, p string) bool {
	if pattern == "" || pattern == "**" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

func (s *Sim) matchFault(r *http.Request) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i := 0; i < len(s.faults); i++ {
		e := s.faults[i]
		if (e.f.Method != "" && !strings.EqualFold(e.f.Method, r.Method)) || !patternMatch(e.f.Path, r.URL.Path) {
			continue
		}
		e.seen++
		if e.seen <= e.f.After {
			continue
		}
		e.used++
		if e.f.Times > 0 && e.used >= e.f.Times {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return e.f, true
	}
	return Fault{}, false
}

// applyFault acts out f; it reports whether the request has been answered (or dropped).
func (s *Sim) applyFault(w http.ResponseWriter, r *http.Request, f Fault, real http.HandlerFunc) bool {
	if f.Delay > 0 {
		t := time.NewTimer(time.Duration(f.Delay))
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case f.Drop:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return true
	case f.DropAfter:
		real(httptest.NewRecorder(), r)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return true
	case f.Truncate:
		rec := httptest.NewRecorder()
		real(rec, r)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return false
		}
		defer conn.Close()
		if rec.Body.Len() > 0 {
			writeTruncated(buf, rec)
		}
		return true
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Status == http.StatusServiceUnavailable || f.Status == http.StatusGatewayTimeout {
			// Outages come from the gateway, in its shape.
			gatewayError(w, f.Status, "The Service is temporarily unavailable", "messaging.adaptors.http.flow.ServiceUnavailable")
		} else {
			appError(w, f.Status, f.Status, http.StatusText(f.Status), "injected fault")
		}
		return true
	}
	return false
}

// writeTruncated writes rec's status and headers with the full Content-Length, then half the
// body: the client sees a connection closed mid-body.
func writeTruncated(buf *bufio.ReadWriter, rec *httptest.ResponseRecorder) {
	body := rec.Body.Bytes()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	h := rec.Header().Clone()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	_ = h.Write(buf)
	_, _ = buf.WriteString("\r\n")
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
}
