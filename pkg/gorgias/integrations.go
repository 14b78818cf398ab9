package gorgias

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/loopback"
)

// NewHTTPIntegration is the HTTP integration the installer creates so Gorgias calls Pilotdesk's
// webhook on every new ticket message.
type NewHTTPIntegration struct {
	Name         string
	Description  string
	URL          string            // Pilotdesk's webhook: https (http only for loopback hosts)
	SecretHeader string            // default SecretHeader (§9.5)
	Secret       string            // required; sent by Gorgias on every call, compared in constant time
	Triggers     []string          // default [EventMessageCreated]
	Form         map[string]string // default WebhookForm() for POST; none for GET
	Method       string            // default POST
}

// CreateHTTPIntegration installs the integration. After an unknown outcome it looks for an
// integration with the same name and URL before creating again.
func (c *Client) CreateHTTPIntegration(ctx context.Context, in NewHTTPIntegration) (Integration, error) {
	const op = "gorgias.CreateHTTPIntegration"
	if err := in.check(); err != nil {
		return Integration{}, errs.E(errs.Invalid, op, err)
	}
	body := in.body()
	var out Integration
	err := c.createOnce(ctx, call{op: op, method: http.MethodPost, path: "/api/integrations", body: body, out: &out},
		func(ctx context.Context) (bool, error) {
			found, err := c.findIntegration(ctx, func(it Integration) bool { return it.Type == "http" && it.Name == in.Name && it.URL == in.URL })
			if found != nil {
				out = *found
			}
			return found != nil, err
		})
	return out, err
}

func (in NewHTTPIntegration) check() error {
	if strings.TrimSpace(in.Name) == "" {
		return errors.New("a name is required")
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopback.Host(u.Hostname())) {
		return errors.New("the URL must be https (http only for loopback hosts)")
	}
	if in.Secret == "" {
		return errors.New("a secret is required")
	}
	return nil
}

// defaults fills what in leaves out.
func (in NewHTTPIntegration) defaults() NewHTTPIntegration {
	in.SecretHeader = cmp.Or(in.SecretHeader, SecretHeader)
	in.Method = cmp.Or(in.Method, http.MethodPost)
	if len(in.Triggers) == 0 {
		in.Triggers = []string{EventMessageCreated}
	}
	if in.Form == nil && in.Method != http.MethodGet {
		in.Form = WebhookForm()
	}
	return in
}

// body is the integration object POST and PUT /api/integrations take.
func (in NewHTTPIntegration) body() map[string]any {
	in = in.defaults()
	tmap := make(map[string]bool, len(in.Triggers))
	for _, t := range in.Triggers {
		tmap[t] = true
	}
	h := map[string]any{
		"url":                   in.URL,
		"method":                in.Method,
		"request_content_type":  "application/json",
		"response_content_type": "application/json",
		"headers":               map[string]string{in.SecretHeader: in.Secret},
		"triggers":              tmap,
	}
	if in.Form != nil {
		h["form"] = in.Form
	}
	return map[string]any{"name": in.Name, "type": "http", "description": in.Description, "http": h}
}

// matches reports whether an installed integration already is in (its secret's value cannot be
// read back, only that the header is there), and active.
func (in NewHTTPIntegration) matches(it Integration) bool {
	in = in.defaults()
	want := slices.Clone(in.Triggers)
	slices.Sort(want)
	return it.Type == "http" && it.Active() && it.Name == in.Name && it.URL == in.URL && strings.EqualFold(it.Method, in.Method) &&
		slices.Equal(it.Triggers, want) && slices.Contains(it.HeaderNames, in.SecretHeader) && maps.Equal(it.Form, in.Form)
}

// Install outcomes.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// EnsureHTTPIntegration makes the account hold in, by name (or URL): created when absent, updated
// (and re-activated: Gorgias deactivates one after 100 failed calls) when it differs, left
// alone when it matches — running it twice changes nothing. It says which.
func (c *Client) EnsureHTTPIntegration(ctx context.Context, in NewHTTPIntegration) (Integration, string, error) {
	const op = "gorgias.EnsureHTTPIntegration"
	if err := in.check(); err != nil {
		return Integration{}, "", errs.E(errs.Invalid, op, err)
	}
	// By name; or by URL, so that one installed under an older name (before the name carried
	// the stack's base URL) is updated rather than doubled (every event delivered twice).
	all, err := c.AllIntegrations(ctx)
	if err != nil {
		return Integration{}, "", err
	}
	var found *Integration
	for i := range all {
		if it := all[i]; it.Type == "http" && (it.Name == in.Name || (found == nil && it.URL == in.URL)) {
			found = &all[i]
			if it.Name == in.Name {
				break
			}
		}
	}
	if found == nil {
		it, err := c.CreateHTTPIntegration(ctx, in)
		return it, Created, err
	}
	if in.matches(*found) {
		return *found, Unchanged, nil
	}
	body := in.body()
	body["deactivated_datetime"] = nil
	var out Integration
	if err := c.do(ctx, call{op: op, method: http.MethodPut, path: idPath("/api/integrations/%s", found.ID), body: body, out: &out, idempotent: true}); err != nil {
		return Integration{}, "", err
	}
	if out.ID == 0 {
		out = *found
	}
	return out, Updated, nil
}

// findIntegration returns the first integration match accepts, or nil.
func (c *Client) findIntegration(ctx context.Context, match func(Integration) bool) (*Integration, error) {
	all, err := c.AllIntegrations(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range all {
		if match(it) {
			return &it, nil
		}
	}
	return nil, nil
}

// AllIntegrations lists every integration of the account, page by page (at most 20 pages).
func (c *Client) AllIntegrations(ctx context.Context) ([]Integration, error) {
	var all []Integration
	cursor := ""
	for range 20 {
		list, next, err := c.ListIntegrations(ctx, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
		if cursor = next; cursor == "" {
			return all, nil
		}
	}
	return nil, errs.E(errs.Other, "gorgias.AllIntegrations", errors.New("too many integrations to look through"))
}

// ListIntegrations returns one page of the account's integrations and the next cursor.
func (c *Client) ListIntegrations(ctx context.Context, cursor string) ([]Integration, string, error) {
	q := url.Values{"limit": {"100"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page listPage[Integration]
	if err := c.do(ctx, call{op: "gorgias.ListIntegrations", method: http.MethodGet, path: "/api/integrations", query: q, out: &page, idempotent: true}); err != nil {
		return nil, "", err
	}
	return page.Data, page.next(), nil
}

// GetIntegration reads one integration.
func (c *Client) GetIntegration(ctx context.Context, id int64) (Integration, error) {
	var it Integration
	err := c.do(ctx, call{op: "gorgias.GetIntegration", method: http.MethodGet, path: idPath("/api/integrations/%s", id), out: &it, idempotent: true})
	return it, err
}

// DeleteIntegration removes an integration; one already gone is not an error.
func (c *Client) DeleteIntegration(ctx context.Context, id int64) error {
	err := c.do(ctx, call{op: "gorgias.DeleteIntegration", method: http.MethodDelete, path: idPath("/api/integrations/%s", id), idempotent: true})
	if errs.Is(err, errs.NotExist) {
		return nil
	}
	return err
}
