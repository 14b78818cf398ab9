package gorgias

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	Form         map[string]string // default WebhookForm()
}

// CreateHTTPIntegration installs the integration. After an unknown outcome it looks for an
// integration with the same name and URL before creating again.
func (c *Client) CreateHTTPIntegration(ctx context.Context, in NewHTTPIntegration) (Integration, error) {
	const op = "gorgias.CreateHTTPIntegration"
	if strings.TrimSpace(in.Name) == "" {
		return Integration{}, errs.E(errs.Invalid, op, errors.New("a name is required"))
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopback.Host(u.Hostname())) {
		return Integration{}, errs.E(errs.Invalid, op, errors.New("the URL must be https (http only for loopback hosts)"))
	}
	if in.Secret == "" {
		return Integration{}, errs.E(errs.Invalid, op, errors.New("a secret is required"))
	}
	header := in.SecretHeader
	if header == "" {
		header = SecretHeader
	}
	triggers := in.Triggers
	if len(triggers) == 0 {
		triggers = []string{EventMessageCreated}
	}
	form := in.Form
	if form == nil {
		form = WebhookForm()
	}
	tmap := make(map[string]bool, len(triggers))
	for _, t := range triggers {
		tmap[t] = true
	}
	body := map[string]any{
		"name":        in.Name,
		"type":        "http",
		"description": in.Description,
		"http": map[string]any{
			"url":                   in.URL,
			"method":                http.MethodPost,
			"request_content_type":  "application/json",
			"response_content_type": "application/json",
			"headers":               map[string]string{header: in.Secret},
			"form":                  form,
			"triggers":              tmap,
		},
	}
	var out Integration
	err = c.createOnce(ctx, call{op: op, method: http.MethodPost, path: "/api/integrations", body: body, out: &out},
		func(ctx context.Context) (bool, error) {
			cursor := ""
			for range 20 {
				list, next, err := c.ListIntegrations(ctx, cursor)
				if err != nil {
					return false, err
				}
				for _, it := range list {
					if it.Type == "http" && it.Name == in.Name && it.URL == in.URL {
						out = it
						return true, nil
					}
				}
				if next == "" {
					return false, nil
				}
				cursor = next
			}
			return false, fmt.Errorf("too many integrations to look through")
		})
	return out, err
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
