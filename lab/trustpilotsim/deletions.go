package trustpilotsim

import (
	"net/http"
	"strconv"
	"time"
)

type deletion struct {
	id, unit string
	at       time.Time
}

// DeletionsShape is the value of Switches.Deletions: how the Deletions API spells its answer,
// which reference §8 does not give.
type DeletionsShape string

// The DeletionsShape values.
const (
	DeletionsObjects DeletionsShape = ""    // {"reviews":[{"id","deletedAt"}],"nextToken":...} (default)
	DeletionsIDs     DeletionsShape = "ids" // {"deletions":["id",...],"nextPageToken":...}
)

// handleDeletions serves GET /v1/reviews/deletions (API key only): the service reviews of the
// key's business unit deleted in [startDate, endDate), oldest first, limit a page (default 100,
// at most 1000), the next page by nextToken.
func (s *Sim) handleDeletions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.unitByKey[r.Header.Get("apikey")]
	if !ok {
		appError(w, http.StatusUnauthorized, codeMalformed, "Invalid API key", "")
		return
	}
	from, err1 := parseTime(q.Get("startDate"))
	to, err2 := parseTime(q.Get("endDate"))
	if err1 != nil || err2 != nil {
		appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "startDate and endDate are required ISO 8601 times")
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			appError(w, http.StatusBadRequest, codeMalformed, "The request was malformed", "limit must be 1 to 1000")
			return
		}
		limit = n
	}
	start, _ := strconv.Atoi(q.Get("nextToken"))
	var match []deletion
	for _, d := range s.deletions {
		if d.unit == u.ID && !d.at.Before(from) && d.at.Before(to) {
			match = append(match, d)
		}
	}
	page := match[min(start, len(match)):min(start+limit, len(match))]
	next := ""
	if start+limit < len(match) {
		next = strconv.Itoa(start + limit)
	}
	if u.Switches.Deletions == DeletionsIDs {
		ids := []string{}
		for _, d := range page {
			ids = append(ids, d.id)
		}
		out := map[string]any{"deletions": ids, "nextPageToken": nil}
		if next != "" {
			out["nextPageToken"] = next
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	items := []map[string]string{}
	for _, d := range page {
		items = append(items, map[string]string{"id": d.id, "deletedAt": d.at.UTC().Format(time.RFC3339)})
	}
	out := map[string]any{"reviews": items}
	if next != "" {
		out["nextToken"] = next
	}
	writeJSON(w, http.StatusOK, out)
}
