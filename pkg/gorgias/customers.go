package gorgias

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// FindCustomerByEmail finds the customer with that email (case-insensitive).
func (c *Client) FindCustomerByEmail(ctx context.Context, email string) (Customer, bool, error) {
	const op = "gorgias.FindCustomerByEmail"
	email = strings.TrimSpace(email)
	if email == "" {
		return Customer{}, false, errs.E(errs.Invalid, op, errors.New("empty email"))
	}
	var page listPage[Customer]
	q := url.Values{"email": {email}, "limit": {"30"}}
	if err := c.do(ctx, call{op: op, method: http.MethodGet, path: "/api/customers", query: q, out: &page, idempotent: true}); err != nil {
		return Customer{}, false, err
	}
	for _, cu := range page.Data {
		if strings.EqualFold(cu.Email, email) {
			return cu, true, nil
		}
	}
	return Customer{}, false, nil
}

// GetCustomer reads a customer with its custom data.
func (c *Client) GetCustomer(ctx context.Context, id int64) (Customer, error) {
	var cu Customer
	err := c.do(ctx, call{op: "gorgias.GetCustomer", method: http.MethodGet, path: idPath("/api/customers/%s", id), out: &cu, idempotent: true})
	return cu, err
}

// MergeCustomerData reads the customer's data, replaces only data[key] with update(old value)
// (old is nil when the key is absent; returning nil removes the key), keeps every other key, and
// PUTs {data, version} with version = now. Gorgias applies writes last-write-wins by version, so
// two merges racing on one customer can lose one update; Pilotdesk's writers for a customer are
// the sync of its reviews, and the next sync of a review rewrites its entry.
func (c *Client) MergeCustomerData(ctx context.Context, customerID int64, key string,
	update func(old json.RawMessage) (json.RawMessage, error)) error {
	const op = "gorgias.MergeCustomerData"
	if key == "" {
		return errs.E(errs.Invalid, op, errors.New("empty key"))
	}
	cu, err := c.GetCustomer(ctx, customerID)
	if err != nil {
		return err
	}
	data := maps.Clone(cu.Data)
	if data == nil {
		data = map[string]json.RawMessage{}
	}
	val, err := update(data[key])
	if err != nil {
		if errs.KindOf(err) == errs.Other {
			err = errs.E(errs.Invalid, op, err)
		}
		return err
	}
	if val == nil {
		delete(data, key)
	} else {
		if !json.Valid(val) {
			return errs.E(errs.Invalid, op, errors.New("update returned invalid JSON"))
		}
		data[key] = val
	}
	body := struct {
		Data    map[string]json.RawMessage `json:"data"`
		Version string                     `json:"version"`
	}{data, time.Now().UTC().Format(time.RFC3339Nano)}
	return c.do(ctx, call{op: op, method: http.MethodPut, path: idPath("/api/customers/%s/data", customerID), body: body, idempotent: true})
}
