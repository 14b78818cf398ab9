package gorgiassim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MergeCustomers merges customer source into target, as merging two customers in the Gorgias
// UI does: the source's tickets move to the target, the target keeps its data and gains the
// data keys and integrations entries only the source had, the source's email finds the
// target, and the source's paths answer 301 to the target's (redirectMerged). A target that
// was itself merged stands for the customer it was merged into. It fails when source and
// target are the same customer, either is unknown, the source was already merged, or they
// belong to different accounts.
func (s *Server) MergeCustomers(source, target int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, dst := s.customers[source], s.customers[target]
	switch {
	case src == nil:
		return fmt.Errorf("gorgiassim: no customer %d", source)
	case dst == nil:
		return fmt.Errorf("gorgiassim: no customer %d", target)
	case src.MergedInto != 0:
		return fmt.Errorf("gorgiassim: customer %d was already merged into %d", source, src.MergedInto)
	}
	dst = s.finalCustomer(dst)
	switch {
	case dst == src:
		return fmt.Errorf("gorgiassim: customer %d cannot be merged into itself", source)
	case dst.Account != src.Account:
		return fmt.Errorf("gorgiassim: customers %d and %d are in different accounts", source, dst.ID)
	}
	now := time.Now().UTC()
	for _, t := range s.tickets {
		if t.CustomerID == src.ID {
			t.CustomerID = dst.ID
			touch(t, now)
		}
	}
	if src.Email != "" {
		dst.mergedEmails = append(dst.mergedEmails, src.Email)
	}
	dst.mergedEmails = append(dst.mergedEmails, src.mergedEmails...)
	dst.Data = mergeData(dst.Data, src.Data)
	for k, v := range src.Integrations {
		// Like data: what the target has stays, what only the source had moves over.
		if _, has := dst.Integrations[k]; !has {
			if dst.Integrations == nil {
				dst.Integrations = map[string]json.RawMessage{}
			}
			dst.Integrations[k] = v
		}
	}
	dst.UpdatedDatetime = now
	src.MergedInto = dst.ID
	return nil
}

// finalCustomer follows merges from c to the live customer standing for it; the caller holds s.mu.
func (s *Server) finalCustomer(c *Customer) *Customer {
	for c.MergedInto != 0 {
		c = s.customers[c.MergedInto]
	}
	return c
}

func (c *Customer) hasEmail(email string) bool {
	return strings.EqualFold(c.Email, email) || slices.ContainsFunc(c.mergedEmails, func(e string) bool { return strings.EqualFold(e, email) })
}

// mergeData adds to the data object dst the keys of src it lacks; dst is kept as it is when
// there are none (or either is not an object).
func mergeData(dst, src json.RawMessage) json.RawMessage {
	var d, add map[string]json.RawMessage
	if json.Unmarshal(src, &add) != nil || (len(dst) > 0 && json.Unmarshal(dst, &d) != nil) {
		return dst
	}
	if d == nil {
		d = map[string]json.RawMessage{}
	}
	changed := false
	for k, v := range add {
		if _, has := d[k]; !has {
			d[k], changed = v, true
		}
	}
	if !changed {
		return dst
	}
	b, _ := json.Marshal(d)
	return b
}

// redirectMerged answers a GET or PUT of /api/customers/{id} or /api/customers/{id}/data of a
// merged customer with 301, an empty JSON object and the same path on the customer it was
// merged into as Location: absolute on the simulator's host, or only the path with the
// account's MergeLocation switch. It reports whether it answered.
func (s *Server) redirectMerged(w http.ResponseWriter, r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/customers/")
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodPut) {
		return false
	}
	idStr, sub, _ := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || (sub != "" && sub != "data") {
		return false
	}
	a := accountOf(r)
	s.mu.Lock()
	c := s.customers[id]
	if c == nil || c.Account != a.cfg.ID || c.MergedInto == 0 {
		s.mu.Unlock()
		return false
	}
	loc := strings.TrimSuffix(fmt.Sprintf("/api/customers/%d/%s", s.finalCustomer(c).ID, sub), "/")
	relative := a.cfg.MergeLocation == MergeLocationRelative
	s.mu.Unlock()
	if !relative {
		loc = s.baseURL(r) + loc
	}
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusMovedPermanently, struct{}{})
	return true
}

// baseURL is the simulator's own URL, or the request's host when it serves without Start.
func (s *Server) baseURL(r *http.Request) string {
	if s.url != "" {
		return s.url
	}
	return "http://" + r.Host
}
