package gorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
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

// MaxCustomerDataBytes is the limit of a customer's whole data object (every app's keys
// together; reference §10: 250 kB). Merges keep the object a little under it.
const MaxCustomerDataBytes = 250_000

// dataHeadroom is what a merge leaves under MaxCustomerDataBytes: the version field, JSON
// punctuation, and another app growing its key meanwhile.
const dataHeadroom = 4_000

// maxMergeHops bounds how many merged customers a write follows (a merge of a merge...).
const maxMergeHops = 3

// MergeCustomerData reads the customer's data, replaces only data[key] with update(old, room)
// (old is nil when the key is absent; room is how many bytes the value may take so that the
// whole object stays under MaxCustomerDataBytes with the other keys as they are; returning nil
// removes the key), keeps every other key, and PUTs {data, version} with version = now.
//
// A customer merged into another (301 with Location, on the read or the write) is followed to
// the customer it was merged into; the merged-into id is returned, so the caller can record it.
// When the other keys alone leave no room, nothing is written: errs.Invalid says so, and the
// caller's entry is kept elsewhere (the ticket shows the review). Gorgias applies writes
// last-write-wins by version, and may apply them after its 202: the caller keeps its own
// list of what it wrote, so a read that does not show an earlier write yet loses nothing.
func (c *Client) MergeCustomerData(ctx context.Context, customerID int64, key string,
	update func(old json.RawMessage, room int) (json.RawMessage, error)) (int64, error) {
	const op = "gorgias.MergeCustomerData"
	if key == "" {
		return customerID, errs.E(errs.Invalid, op, errors.New("empty key"))
	}
	for hop := 0; ; hop++ {
		err := c.mergeData(ctx, customerID, key, update)
		to, moved := mergedInto(err)
		if !moved {
			return customerID, err
		}
		if hop+1 >= maxMergeHops || to == customerID {
			return customerID, errs.E(errs.Invalid, op, fmt.Errorf("customer %d: merged customers lead nowhere after %d hops: %w", customerID, hop+1, err))
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "customer merged into another; writing its data there",
			slog.Int64("customer_id", customerID), slog.Int64("merged_into", to))
		customerID = to
	}
}

func (c *Client) mergeData(ctx context.Context, customerID int64, key string,
	update func(old json.RawMessage, room int) (json.RawMessage, error)) error {
	const op = "gorgias.MergeCustomerData"
	cu, err := c.GetCustomer(ctx, customerID)
	if err != nil {
		return err
	}
	data := maps.Clone(cu.Data)
	if data == nil {
		data = map[string]json.RawMessage{}
	}
	old := data[key]
	delete(data, key)
	others, err := json.Marshal(data)
	if err != nil {
		return errs.E(errs.Invalid, op, err)
	}
	room := MaxCustomerDataBytes - dataHeadroom - len(others) - len(key) - 4 // "key": and a comma
	if room <= 0 {
		return errs.E(errs.Invalid, op, fmt.Errorf("customer %d: other apps' data takes %d bytes of the %d allowed; no room for ours", customerID, len(others), MaxCustomerDataBytes))
	}
	val, err := update(old, room)
	if err != nil {
		if errs.KindOf(err) == errs.Other {
			err = errs.E(errs.Invalid, op, err)
		}
		return err
	}
	if val != nil {
		if !json.Valid(val) {
			return errs.E(errs.Invalid, op, errors.New("update returned invalid JSON"))
		}
		if len(val) > room {
			return errs.E(errs.Invalid, op, fmt.Errorf("update returned %d bytes, room for %d", len(val), room))
		}
		data[key] = val
	}
	body := struct {
		Data    map[string]json.RawMessage `json:"data"`
		Version string                     `json:"version"`
	}{data, time.Now().UTC().Format(time.RFC3339Nano)}
	return c.do(ctx, call{op: op, method: http.MethodPut, path: idPath("/api/customers/%s/data", customerID), body: body, idempotent: true})
}

// customerPath matches the customer id in a merge's Location, absolute or relative; only the
// id is used, so the write never leaves the account's own base URL.
var customerPath = regexp.MustCompile(`/api/customers/([0-9]+)(?:/data)?/?(?:[?#].*)?$`)

// mergedInto reads the customer a 301 points to.
func mergedInto(err error) (int64, bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusMovedPermanently {
		return 0, false
	}
	loc := ae.Location
	if u, perr := url.Parse(loc); perr == nil {
		loc = u.Path
	}
	m := customerPath.FindStringSubmatch(loc)
	if m == nil {
		return 0, false
	}
	id, perr := strconv.ParseInt(m[1], 10, 64)
	if perr != nil || id <= 0 {
		return 0, false
	}
	return id, true
}
