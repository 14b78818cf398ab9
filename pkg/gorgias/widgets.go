package gorgias

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// Widget is a sidebar widget (reference §7): for an HTTP integration it renders the answer
// Gorgias stored on the customer under integrations[<integration id>].
type Widget struct {
	ID            int64           `json:"id,omitempty"`
	Type          string          `json:"type"`
	Context       string          `json:"context"`
	IntegrationID int64           `json:"integration_id,omitempty"`
	Order         int             `json:"order"`
	Template      json.RawMessage `json:"template"`
}

// ListWidgets returns the account's widgets (every page).
func (c *Client) ListWidgets(ctx context.Context) ([]Widget, error) {
	var all []Widget
	cursor := ""
	for range 20 {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page listPage[Widget]
		if err := c.do(ctx, call{op: "gorgias.ListWidgets", method: http.MethodGet, path: "/api/widgets", query: q, out: &page, idempotent: true}); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if cursor = page.next(); cursor == "" {
			return all, nil
		}
	}
	return nil, errs.E(errs.Other, "gorgias.ListWidgets", errors.New("too many widgets to look through"))
}

// EnsureWidget makes the account hold one ticket-sidebar widget of type http bound to the
// integration with template: created when there is none, its template replaced when it
// differs, left alone otherwise.
func (c *Client) EnsureWidget(ctx context.Context, integrationID int64, template json.RawMessage) (Widget, string, error) {
	const op = "gorgias.EnsureWidget"
	if integrationID == 0 || !json.Valid(template) {
		return Widget{}, "", errs.E(errs.Invalid, op, errors.New("an integration id and a JSON template are required"))
	}
	list, err := c.ListWidgets(ctx)
	if err != nil {
		return Widget{}, "", err
	}
	want := Widget{Type: "http", Context: "ticket", IntegrationID: integrationID, Template: template}
	for _, w := range list {
		if w.Type != "http" || w.IntegrationID != integrationID {
			continue
		}
		if w.Context == want.Context && sameJSON(w.Template, template) {
			return w, Unchanged, nil
		}
		want.Order = w.Order
		var out Widget
		err := c.do(ctx, call{op: op, method: http.MethodPut, path: idPath("/api/widgets/%s", w.ID), body: want, out: &out, idempotent: true})
		return out, Updated, err
	}
	var out Widget
	err = c.createOnce(ctx, call{op: op, method: http.MethodPost, path: "/api/widgets", body: want, out: &out},
		func(ctx context.Context) (bool, error) {
			list, err := c.ListWidgets(ctx)
			for _, w := range list {
				if w.Type == "http" && w.IntegrationID == integrationID {
					out = w
					return true, nil
				}
			}
			return false, err
		})
	return out, Created, err
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
