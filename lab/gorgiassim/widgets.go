package gorgiassim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Widget is a sidebar widget (reference §7): it renders, on ticket or customer pages, data an
// integration stored on the customer — an HTTP integration's JSON answer is under
// integrations[<IntegrationID>] (Customer.Integrations). The simulator stores and validates
// widgets; it renders nothing.
type Widget struct {
	ID                  int64           `json:"id"`
	Account             string          `json:"account"`
	Context             string          `json:"context"` // "ticket" (default), "customer" or the deprecated "user"
	Type                string          `json:"type"`
	Template            json.RawMessage `json:"template"` // {"type":"wrapper","widgets":[…]}, compacted
	Order               int             `json:"order"`    // lower first
	IntegrationID       *int64          `json:"integration_id"`
	AppID               *string         `json:"app_id"`
	DeactivatedDatetime *time.Time      `json:"deactivated_datetime"`
	CreatedDatetime     time.Time       `json:"created_datetime"`
	UpdatedDatetime     time.Time       `json:"updated_datetime"`
	// Request is the body of the create, then of the last update, as received.
	Request json.RawMessage `json:"request,omitempty"`
}

// widgetTypes is the documented `type` enum of POST /api/widgets (reference §7).
var widgetTypes = []string{"bigcommerce", "custom", "customer_external_data", "http", "magento2", "recharge",
	"shopify", "smile", "standalone", "yotpo", "klaviyo", "stripe", "woocommerce"}

// widgetContexts: "user" is deprecated but still documented (reference §7), so it is accepted.
var widgetContexts = []string{"ticket", "customer", "user"}

type inWidget struct {
	Type     *string         `json:"type"`
	Template json.RawMessage `json:"template"`
	Context  *string         `json:"context"`
	Order    *int            `json:"order"`
	// The nullable fields: absent keeps (on PUT), null clears, a value sets.
	IntegrationID       json.RawMessage `json:"integration_id"`
	AppID               json.RawMessage `json:"app_id"`
	DeactivatedDatetime json.RawMessage `json:"deactivated_datetime"`
}

// nullable is a field of a request that may be absent (set false), null (val nil) or a value.
type nullable[T any] struct {
	set bool
	val *T
}

// readNullable reads a nullable field, adding an error naming what it should be.
func readNullable[T any](errs fieldErrs, field string, raw json.RawMessage, what string) nullable[T] {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nullable[T]{}
	}
	if string(raw) == "null" {
		return nullable[T]{set: true}
	}
	var v T
	if json.Unmarshal(raw, &v) != nil {
		errs.add(field, "Not a valid "+what+".")
		return nullable[T]{}
	}
	return nullable[T]{set: true, val: &v}
}

// widgetChange is a validated create or update.
type widgetChange struct {
	typ, context  *string
	template      json.RawMessage // compacted; nil when absent
	order         *int
	integrationID nullable[int64]
	appID         nullable[string]
	deactivated   nullable[time.Time]
}

// checkWidget validates a body; a create needs type and template.
func checkWidget(in *inWidget, create bool) (widgetChange, fieldErrs) {
	errs := fieldErrs{}
	ch := widgetChange{typ: in.Type, context: in.Context, order: in.Order}
	switch {
	case in.Type == nil && create:
		errs.add("type", "Missing data for required field.")
	case in.Type != nil && !slices.Contains(widgetTypes, *in.Type):
		errs.add("type", "Must be one of: "+strings.Join(widgetTypes, ", ")+".")
	}
	switch t := bytes.TrimSpace(in.Template); {
	case len(t) == 0 && create:
		errs.add("template", "Missing data for required field.")
	case len(t) > 0:
		ch.template = checkTemplate(errs, t)
	}
	if in.Context != nil && !slices.Contains(widgetContexts, *in.Context) {
		errs.add("context", "Must be one of: ticket, customer.")
	}
	if in.Order != nil && *in.Order < 0 {
		errs.add("order", "Must be greater than or equal to 0.")
	}
	ch.integrationID = readNullable[int64](errs, "integration_id", in.IntegrationID, "integer")
	ch.appID = readNullable[string](errs, "app_id", in.AppID, "string")
	if d := readNullable[string](errs, "deactivated_datetime", in.DeactivatedDatetime, "datetime"); d.val != nil {
		t, err := parseTime(*d.val)
		if err != nil {
			errs.add("deactivated_datetime", msgDatetime)
		}
		ch.deactivated = nullable[time.Time]{set: true, val: &t}
	} else {
		ch.deactivated.set = d.set
	}
	return ch, errs
}

// checkTemplate checks a template's root: an object of type "wrapper" whose widgets, if any,
// are a list. It returns the template compacted.
func checkTemplate(errs fieldErrs, t json.RawMessage) json.RawMessage {
	var root map[string]json.RawMessage
	if json.Unmarshal(t, &root) != nil || root == nil {
		errs.add("template", "Must be an object.")
		return nil
	}
	var typ string
	if json.Unmarshal(root["type"], &typ) != nil || typ != "wrapper" {
		errs.add("template.type", `Must be "wrapper".`)
	}
	if ws, has := root["widgets"]; has {
		var list []json.RawMessage
		if json.Unmarshal(ws, &list) != nil {
			errs.add("template.widgets", "Not a valid list.")
		}
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, t)
	return compact.Bytes()
}

// apply writes a validated change to w.
func (ch widgetChange) apply(w *Widget) {
	if ch.typ != nil {
		w.Type = *ch.typ
	}
	if ch.context != nil {
		w.Context = *ch.context
	}
	if ch.template != nil {
		w.Template = ch.template
	}
	if ch.order != nil {
		w.Order = *ch.order
	}
	if ch.integrationID.set {
		w.IntegrationID = ch.integrationID.val
	}
	if ch.appID.set {
		w.AppID = ch.appID.val
	}
	if ch.deactivated.set {
		w.DeactivatedDatetime = ch.deactivated.val
	}
}

// integrationMissing reports whether a change binds the widget to an integration the account
// does not have; the caller holds s.mu.
func (s *Server) integrationMissing(a *account, ch widgetChange) bool {
	id := ch.integrationID.val
	if id == nil {
		return false
	}
	it := s.integrations[*id]
	return it == nil || it.Account != a.cfg.ID
}

func (s *Server) createWidget(w http.ResponseWriter, r *http.Request) {
	const what = "Failed to create widget"
	var in inWidget
	raw, ok := decodeBody(w, r, &in, what)
	if !ok {
		return
	}
	ch, errs := checkWidget(&in, true)
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, what, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := accountOf(r)
	if s.integrationMissing(a, ch) {
		writeError(w, http.StatusBadRequest, what, fieldErrs{"integration_id": {"Integration not found."}})
		return
	}
	now := time.Now().UTC()
	wg := &Widget{ID: s.newID("widget"), Account: a.cfg.ID, Context: "ticket", CreatedDatetime: now,
		UpdatedDatetime: now, Request: raw}
	ch.apply(wg)
	s.widgets[wg.ID] = wg
	writeJSON(w, http.StatusCreated, widgetJSON(wg))
}

func (s *Server) widgetOf(r *http.Request) *Widget {
	id, ok := pathID(r, "id")
	if !ok {
		return nil
	}
	wg := s.widgets[id]
	if wg == nil || wg.Account != accountOf(r).cfg.ID {
		return nil
	}
	return wg
}

func (s *Server) getWidget(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wg := s.widgetOf(r)
	if wg == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, widgetJSON(wg))
}

// updateWidget is a partial update (reference §1: send only what changes): fields absent stay,
// null clears integration_id, app_id or deactivated_datetime. It answers 200 with the widget;
// the status Gorgias uses here is not documented, and clients accept any 2xx.
func (s *Server) updateWidget(w http.ResponseWriter, r *http.Request) {
	const what = "Failed to update widget"
	var in inWidget
	raw, ok := decodeBody(w, r, &in, what)
	if !ok {
		return
	}
	ch, errs := checkWidget(&in, false)
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, what, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wg := s.widgetOf(r)
	if wg == nil {
		notFound(w)
		return
	}
	if s.integrationMissing(accountOf(r), ch) {
		writeError(w, http.StatusBadRequest, what, fieldErrs{"integration_id": {"Integration not found."}})
		return
	}
	ch.apply(wg)
	wg.UpdatedDatetime, wg.Request = time.Now().UTC(), raw
	writeJSON(w, http.StatusOK, widgetJSON(wg))
}

func (s *Server) deleteWidget(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wg := s.widgetOf(r)
	if wg == nil {
		notFound(w)
		return
	}
	delete(s.widgets, wg.ID)
	writeEmpty(w, http.StatusNoContent)
}

// listWidgets lists the account's widgets, cursor-paginated, by created_datetime or order,
// filtered by integration_id and app_id.
func (s *Server) listWidgets(w http.ResponseWriter, r *http.Request) {
	a := accountOf(r)
	p := s.readListParams(r, "created_datetime", "order")
	if p.errMsg != "" {
		writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"query": {p.errMsg}})
		return
	}
	q := r.URL.Query()
	var integrationID int64
	if v := q.Get("integration_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid query.", fieldErrs{"integration_id": {"Not a valid integer."}})
			return
		}
		integrationID = id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []*Widget
	for _, wg := range s.widgets {
		if wg.Account != a.cfg.ID ||
			(integrationID != 0 && (wg.IntegrationID == nil || *wg.IntegrationID != integrationID)) ||
			(q.Get("app_id") != "" && (wg.AppID == nil || *wg.AppID != q.Get("app_id"))) {
			continue
		}
		items = append(items, wg)
	}
	key := func(wg *Widget) sortKey {
		if p.field == "order" {
			// A sort key is a time and an id; the order rides in the time, cursors included.
			return sortKey{time.Unix(0, int64(wg.Order)), wg.ID}
		}
		return sortKey{wg.CreatedDatetime, wg.ID}
	}
	page, next := paginate(items, key, p)
	data := make([]any, 0, len(page))
	for _, wg := range page {
		data = append(data, widgetJSON(wg))
	}
	writeJSON(w, http.StatusOK, listJSON(r, data, next))
}

func widgetJSON(w *Widget) map[string]any {
	return map[string]any{
		"id": w.ID, "uri": fmt.Sprintf("/api/widgets/%d/", w.ID), "context": w.Context, "type": w.Type,
		"template": rawOrNull(w.Template), "order": w.Order, "integration_id": w.IntegrationID, "app_id": w.AppID,
		"deactivated_datetime": gtimep(w.DeactivatedDatetime), "created_datetime": gtime(w.CreatedDatetime),
		"updated_datetime": gtime(w.UpdatedDatetime),
	}
}

func widgetSnapshot(w *Widget) Widget {
	c := *w
	c.Template, c.Request = bytes.Clone(w.Template), bytes.Clone(w.Request)
	c.IntegrationID, c.AppID, c.DeactivatedDatetime = clonePtr(w.IntegrationID), clonePtr(w.AppID), clonePtr(w.DeactivatedDatetime)
	return c
}

// Widgets returns the account's widgets ("" = the first account), oldest first.
func (s *Server) Widgets(account string) []Widget {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Widget
	a := s.accountByID(account)
	for _, wg := range s.widgets {
		if a != nil && wg.Account == a.cfg.ID {
			out = append(out, widgetSnapshot(wg))
		}
	}
	slices.SortFunc(out, func(x, y Widget) int { return cmp.Compare(x.ID, y.ID) })
	return out
}
