package gorgiassim_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
)

func widgetTemplate() map[string]any {
	return map[string]any{"type": "wrapper", "widgets": []any{map[string]any{"path": "", "type": "card", "title": "Trustpilot",
		"widgets": []any{map[string]any{"path": "tier", "type": "text", "title": "Tier"}}}}}
}

func listIDs(t *testing.T, r resp) ([]int64, any) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["object"] != "list" {
		t.Fatalf("list envelope %s", r.body)
	}
	var ids []int64
	for _, w := range m["data"].([]any) {
		ids = append(ids, int64(w.(map[string]any)["id"].(float64)))
	}
	return ids, m["meta"].(map[string]any)["next_cursor"]
}

func TestWidgetsAPI(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	itID := createID(t, s, "/api/integrations", lookupIntegration("http://127.0.0.1:1"))
	r := call(t, s, "POST", "/api/widgets", map[string]any{"type": "http", "integration_id": itID, "context": "customer",
		"order": 2, "template": widgetTemplate()})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	w := r.json(t)
	httpID := int64(w["id"].(float64))
	tmpl, _ := w["template"].(map[string]any)
	if w["uri"] != fmt.Sprintf("/api/widgets/%d/", httpID) || w["context"] != "customer" || w["type"] != "http" ||
		w["integration_id"] != float64(itID) || w["order"] != float64(2) || w["app_id"] != nil ||
		w["deactivated_datetime"] != nil || w["created_datetime"] == nil || tmpl["type"] != "wrapper" {
		t.Fatalf("created %s", r.body)
	}
	customID := createID(t, s, "/api/widgets", map[string]any{"type": "custom", "template": map[string]any{"type": "wrapper"}})
	extID := createID(t, s, "/api/widgets", map[string]any{"type": "customer_external_data", "app_id": "app-1",
		"order": 1, "template": map[string]any{"type": "wrapper", "widgets": []any{}}})
	if got := call(t, s, "GET", fmt.Sprintf("/api/widgets/%d", customID), nil).json(t); got["context"] != "ticket" ||
		got["order"] != float64(0) || got["integration_id"] != nil {
		t.Fatalf("defaults %v", got)
	}

	lists := []struct {
		query string
		want  []int64
	}{
		{"", []int64{httpID, customID, extID}},
		{"?order_by=created_datetime:desc", []int64{extID, customID, httpID}},
		{"?order_by=order:asc", []int64{customID, extID, httpID}},
		{fmt.Sprintf("?integration_id=%d", itID), []int64{httpID}},
		{"?app_id=app-1", []int64{extID}},
	}
	for _, l := range lists {
		if ids, next := listIDs(t, call(t, s, "GET", "/api/widgets"+l.query, nil)); fmt.Sprint(ids) != fmt.Sprint(l.want) || next != nil {
			t.Fatalf("GET /api/widgets%s: %v next %v, want %v", l.query, ids, next, l.want)
		}
	}
	// Cursor pages, ordered by order.
	var paged []int64
	for cursor := ""; ; {
		q := "?order_by=order:asc&limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		ids, next := listIDs(t, call(t, s, "GET", "/api/widgets"+q, nil))
		paged = append(paged, ids...)
		if next == nil {
			break
		}
		cursor = next.(string)
	}
	if fmt.Sprint(paged) != fmt.Sprint([]int64{customID, extID, httpID}) {
		t.Fatalf("paged %v", paged)
	}

	// A partial update: absent fields stay, null clears.
	r = call(t, s, "PUT", fmt.Sprintf("/api/widgets/%d", httpID), map[string]any{"order": 5, "integration_id": nil,
		"deactivated_datetime": "2025-03-01T10:00:00Z"})
	if up := r.json(t); r.status != 200 || up["order"] != float64(5) || up["integration_id"] != nil || up["type"] != "http" ||
		up["context"] != "customer" || up["deactivated_datetime"] != "2025-03-01T10:00:00.000000+00:00" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := call(t, s, "DELETE", fmt.Sprintf("/api/widgets/%d", customID), nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, s, "GET", fmt.Sprintf("/api/widgets/%d", customID), nil); r.status != 404 {
		t.Fatalf("deleted widget: %d", r.status)
	}

	ws := s.Widgets("")
	if len(ws) != 2 || ws[0].ID != httpID || ws[0].Order != 5 || ws[0].IntegrationID != nil || ws[0].DeactivatedDatetime == nil ||
		ws[1].AppID == nil || *ws[1].AppID != "app-1" || len(ws[0].Request) == 0 {
		t.Fatalf("Widgets %+v", ws)
	}
	var overHTTP []gorgiassim.Widget
	if err := json.Unmarshal(ctl(t, s, "GET", "/_sim/widgets", "").body, &overHTTP); err != nil || len(overHTTP) != 2 {
		t.Fatalf("/_sim/widgets %+v %v", overHTTP, err)
	}
	// Widget calls are API calls like any other.
	if st := s.Stats(""); st.ByEndpoint["POST /api/widgets"] != 3 || st.ByEndpoint["GET /api/widgets"] != 7 ||
		st.ByEndpoint["PUT /api/widgets/{id}"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Widgets belong to the account of the API key.
func TestWidgetsPerAccount(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	if err := s.AddAccount(gorgiassim.AccountConfig{ID: "beta", Email: "api@beta.test", APIKey: "k2"}); err != nil {
		t.Fatal(err)
	}
	itID := createID(t, s, "/api/integrations", lookupIntegration("http://127.0.0.1:1"))
	id := createID(t, s, "/api/widgets", map[string]any{"type": "http", "integration_id": itID, "template": widgetTemplate()})
	beta := []string{"api@beta.test", "k2"}
	if ids, _ := listIDs(t, call(t, s, "GET", "/api/widgets", nil, beta...)); len(ids) != 0 {
		t.Fatalf("beta lists %v", ids)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := call(t, s, m, fmt.Sprintf("/api/widgets/%d", id), nil, beta...); r.status != 404 {
			t.Fatalf("beta %s: %d", m, r.status)
		}
	}
	// acme's integration is unknown to beta.
	r := call(t, s, "POST", "/api/widgets", map[string]any{"type": "http", "integration_id": itID, "template": widgetTemplate()}, beta...)
	if r.status != 400 || len(s.Widgets("beta")) != 0 || len(s.Widgets("acme")) != 1 {
		t.Fatalf("beta create with acme's integration: %d %s", r.status, r.body)
	}
}

func TestWidgetsRefused(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{})
	wrapper := map[string]any{"type": "wrapper"}
	tests := []struct {
		name  string
		body  any
		field string // the field error.data names
	}{
		{"missing type", map[string]any{"template": wrapper}, "type"},
		{"unknown type", map[string]any{"type": "zendesk", "template": wrapper}, "type"},
		{"missing template", map[string]any{"type": "custom"}, "template"},
		{"template not an object", map[string]any{"type": "custom", "template": "wrapper"}, "template"},
		{"template not a wrapper", map[string]any{"type": "custom", "template": map[string]any{"type": "card"}}, "template.type"},
		{"template widgets not a list", map[string]any{"type": "custom", "template": map[string]any{"type": "wrapper", "widgets": map[string]any{}}}, "template.widgets"},
		{"bad context", map[string]any{"type": "custom", "template": wrapper, "context": "sidebar"}, "context"},
		{"negative order", map[string]any{"type": "custom", "template": wrapper, "order": -1}, "order"},
		{"order not an integer", map[string]any{"type": "custom", "template": wrapper, "order": "1"}, "order"},
		{"unknown integration", map[string]any{"type": "http", "template": wrapper, "integration_id": 999999}, "integration_id"},
		{"integration_id not an integer", map[string]any{"type": "http", "template": wrapper, "integration_id": "12"}, "integration_id"},
		{"bad deactivated_datetime", map[string]any{"type": "custom", "template": wrapper, "deactivated_datetime": "soon"}, "deactivated_datetime"},
		{"unknown field", map[string]any{"type": "custom", "template": wrapper, "colour": "red"}, "colour"},
	}
	for _, tt := range tests {
		r := call(t, s, "POST", "/api/widgets", tt.body)
		if r.status != 400 {
			t.Fatalf("%s: %d %s", tt.name, r.status, r.body)
		}
		e, _ := r.json(t)["error"].(map[string]any)
		data, _ := e["data"].(map[string]any)
		if e["msg"] != "Failed to create widget" || data[tt.field] == nil {
			t.Fatalf("%s: body %s, want an error on %s", tt.name, r.body, tt.field)
		}
	}
	if r := call(t, s, "POST", "/api/widgets", "{"); r.status != 400 {
		t.Fatalf("bad JSON: %d", r.status)
	}
	if n := len(s.Widgets("")); n != 0 {
		t.Fatalf("%d widgets stored", n)
	}
	id := createID(t, s, "/api/widgets", map[string]any{"type": "custom", "template": wrapper})
	if r := call(t, s, "PUT", fmt.Sprintf("/api/widgets/%d", id), map[string]any{"integration_id": 999999}); r.status != 400 {
		t.Fatalf("PUT unknown integration: %d %s", r.status, r.body)
	}
	if r := call(t, s, "PUT", fmt.Sprintf("/api/widgets/%d", id), map[string]any{"template": map[string]any{"type": "card"}}); r.status != 400 {
		t.Fatalf("PUT bad template: %d %s", r.status, r.body)
	}
	if r := call(t, s, "PUT", "/api/widgets/1", map[string]any{"order": 1}); r.status != 404 {
		t.Fatalf("PUT unknown widget: %d %s", r.status, r.body)
	}
	if w := s.Widgets("")[0]; w.Type != "custom" || w.IntegrationID != nil || string(w.Template) != `{"type":"wrapper"}` {
		t.Fatalf("refused updates changed the widget: %+v", w)
	}
}

func TestWidgetsRateLimited(t *testing.T) {
	t.Parallel()
	s := start(t, gorgiassim.Config{RateCalls: 2})
	createID(t, s, "/api/widgets", map[string]any{"type": "custom", "template": map[string]any{"type": "wrapper"}})
	call(t, s, "GET", "/api/widgets", nil)
	if r := call(t, s, "POST", "/api/widgets", map[string]any{"type": "custom", "template": map[string]any{"type": "wrapper"}}); r.status != 429 {
		t.Fatalf("third call: %d", r.status)
	}
	if n := len(s.Widgets("")); n != 1 {
		t.Fatalf("%d widgets", n)
	}
}
