package store_test

// The rules every store keeps are in pkg/store/storetest, run here against moto. What stays in
// this file is DynamoDB's own: the items' key layout against template.yaml, the batch reads'
// unprocessed keys, and how DynamoDB's errors are classified.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/store"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
	"github.com/pilotdesk/pilotdesk/pkg/store/storetest"
)

var _ storetest.Store = (*store.Store)(nil)

var env *localaws.Env

func TestMain(m *testing.M) {
	var err error
	env, err = localaws.Start(context.Background(), "store-test", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests need moto:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

func newStore(opts ...func(*dynamodb.Options)) *store.Store {
	return store.New(dynamodb.NewFromConfig(env.AWS, opts...), env.TableName())
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newStore().WithClock(now)
	})
}

// ClaimReview and ClaimReply read the refused write's old item from the
// ConditionalCheckFailedException; when DynamoDB leaves it out they read the item instead.
// The suite runs once more with the old items stripped from every refusal, through that path.
func TestConformanceWithoutOldItems(t *testing.T) {
	t.Parallel()
	strip := &intercept{after: func(op string, status int, body []byte) []byte {
		if status == http.StatusOK || !bytes.Contains(body, []byte("ConditionalCheckFailedException")) {
			return nil
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return nil
		}
		if _, ok := m["Item"]; !ok {
			return nil
		}
		delete(m, "Item")
		b, _ := json.Marshal(m)
		return b
	}}
	t.Cleanup(func() { // after the parallel subtests
		if strip.rewrites.Load() == 0 {
			t.Error("no refusal carried an old item to strip: the fallback path was not what ran")
		}
	})
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newStore(strip.install).WithClock(now)
	})
}

// storetest.Store, *store.Store and *memstore.Store must offer the same methods: a method added
// to the DynamoDB store without the in-memory one (or the suite) fails here.
func TestMethodSetsMatch(t *testing.T) {
	t.Parallel()
	contract := map[string]string{}
	it := reflect.TypeFor[storetest.Store]()
	for i := range it.NumMethod() {
		contract[it.Method(i).Name] = it.Method(i).Type.String()
	}
	check := func(name string, v any, extra ...string) {
		t.Helper()
		got := map[string]string{}
		rv := reflect.ValueOf(v)
		for i := range rv.NumMethod() {
			m := rv.Type().Method(i).Name
			if m == "WithClock" || slices.Contains(extra, m) {
				continue
			}
			got[m] = rv.Method(i).Type().String()
		}
		if !reflect.DeepEqual(got, contract) {
			for m, sig := range got {
				if contract[m] != sig {
					t.Errorf("%s.%s %s: storetest.Store has %q", name, m, sig, contract[m])
				}
			}
			for m := range contract {
				if _, ok := got[m]; !ok {
					t.Errorf("%s lacks %s", name, m)
				}
			}
		}
		wc, ok := rv.Type().MethodByName("WithClock")
		if !ok || wc.Type.NumIn() != 2 || wc.Type.In(1) != reflect.TypeFor[func() time.Time]() || wc.Type.Out(0) != rv.Type() {
			t.Errorf("%s.WithClock: want func(func() time.Time) %s", name, rv.Type())
		}
	}
	check("store.Store", (*store.Store)(nil), "Table")
	check("memstore.Store", (*memstore.Store)(nil), "Links") // Links is a test helper
}

// The items carry the key, index and TTL attributes template.yaml declares, with its types:
// DynamoDB checks neither a GSI's keys nor the TTL attribute on write, it just leaves the item
// out of the index or never expires it.
func TestItemsUseTemplateKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, err := samtemplate.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var tb samtemplate.Table
	for id := range env.Stack.Tables {
		if tb, err = tpl.Table(id); err != nil {
			t.Fatal(err)
		}
	}
	if len(tb.GSIs) != 1 {
		t.Fatalf("template has %d indexes, the store queries one", len(tb.GSIs))
	}
	gsi := tb.GSIs[0]
	s := newStore()
	db := dynamodb.NewFromConfig(env.AWS)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	raw := func(pk, sk string) map[string]types.AttributeValue {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.TableName()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{tb.HashKey: &types.AttributeValueMemberS{Value: pk}, tb.RangeKey: &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || out.Item == nil {
			t.Fatalf("raw item %s/%s: %v", pk, sk, err)
		}
		return out.Item
	}
	typeOf := func(v types.AttributeValue) string {
		switch v.(type) {
		case *types.AttributeValueMemberS:
			return "S"
		case *types.AttributeValueMemberN:
			return "N"
		case *types.AttributeValueMemberB:
			return "B"
		}
		return fmt.Sprintf("%T", v)
	}
	hasAttr := func(item map[string]types.AttributeValue, name string) {
		t.Helper()
		v, ok := item[name]
		if !ok {
			t.Fatalf("item lacks %s: %v", name, item)
		}
		if got, want := typeOf(v), tb.Attributes[name]; got != want {
			t.Fatalf("%s is %s, template declares %s", name, got, want)
		}
	}

	conn, rid, tk := "layout-"+suffix, "aaaaaaaaaaaa"+suffix, time.Now().UnixNano()
	if _, err := s.ClaimReview(ctx, conn, rid, review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmLink(ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w", Account: "acme.gorgias.com", TicketID: tk}); err != nil {
		t.Fatal(err)
	}
	item := raw("LINK#"+conn, rid)
	for _, a := range []string{tb.HashKey, tb.RangeKey, gsi.HashKey, gsi.RangeKey} {
		hasAttr(item, a)
	}
	// A sidebar entry is indexed under its connection (what a purge finds it by).
	who := reviewer.Key("layout-" + suffix + "@example.com")
	if err := s.PutReviewerEntry(ctx, "acme.gorgias.com", who, rid, reviewer.EntryOf(conn, review.Review{ID: rid}, tk).Marshal()); err != nil {
		t.Fatal(err)
	}
	item = raw("REVIEWER#acme.gorgias.com#"+who, rid)
	for _, a := range []string{tb.HashKey, tb.RangeKey, gsi.HashKey, gsi.RangeKey} {
		hasAttr(item, a)
	}

	// TTL attributes hold epoch seconds: milliseconds would keep the item for 50,000 years.
	ttlSeconds := func(item map[string]types.AttributeValue, ttl time.Duration) {
		t.Helper()
		n, ok := item[tb.TTLAttribute].(*types.AttributeValueMemberN)
		if !ok {
			t.Fatalf("item lacks the TTL attribute %s as a number: %v", tb.TTLAttribute, item)
		}
		sec, _ := strconv.ParseInt(n.Value, 10, 64)
		if now := time.Now().Unix(); sec < now || sec > now+int64((ttl+25*time.Hour)/time.Second) {
			t.Fatalf("TTL %d is not epoch seconds within %v of now (%d)", sec, ttl, now)
		}
	}
	if ok, err := s.AcquireLease(ctx, "layout-"+suffix, "w", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	ttlSeconds(raw("LEASE#layout-"+suffix, "LEASE"), time.Minute)
	if ok, err := s.MarkOnce(ctx, "layout-"+suffix, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	ttlSeconds(raw("ONCE#layout-"+suffix, "ONCE"), time.Hour)
}

// ClearQueued after a sync removes the queued mark from the cursor; it never writes a cursor
// that is not there (a connection deleted while its sync ran has none, and must keep none).
func TestClearQueuedWritesNoCursor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore()
	db := dynamodb.NewFromConfig(env.AWS)
	conn := "clear-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cursorItem := func() map[string]types.AttributeValue {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.TableName()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{store.AttrPK: &types.AttributeValueMemberS{Value: "CONN#" + conn}, store.AttrSK: &types.AttributeValueMemberS{Value: "CURSOR#service"}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	if err := s.ClearQueued(ctx, conn, review.Service); err != nil {
		t.Fatal(err)
	}
	if item := cursorItem(); item != nil {
		t.Fatalf("ClearQueued wrote a cursor that was not there: %v", item)
	}
	if ok, err := s.MarkQueued(ctx, conn, review.Service, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := s.ClearQueued(ctx, conn, review.Service); err != nil {
		t.Fatal(err)
	}
	if item := cursorItem(); item == nil || item["queued_at"] != nil {
		t.Fatalf("cursor after ClearQueued: %v, want it kept without queued_at", item)
	}
}

func TestGetLinksRetriesUnprocessedKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn := "unprocessed-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var ids []string
	for i := range 130 {
		id := fmt.Sprintf("%024x", i)
		ids = append(ids, id)
		if i%2 == 0 {
			if _, err := newStore().ClaimReview(ctx, conn, id, review.Product, "w", time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	// DynamoDB may answer a batch read with only part of it: keep one item per answer, for a
	// few answers, and hand the rest back as unprocessed.
	var mu sync.Mutex
	partial := 4
	s := newStore((&intercept{after: func(op string, status int, body []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		if op != "BatchGetItem" || status != http.StatusOK || partial == 0 {
			return nil
		}
		partial--
		return unprocess(t, body, 1)
	}}).install)
	got, err := s.GetLinks(ctx, conn, ids)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	left := partial
	mu.Unlock()
	if len(got) != 65 || left != 0 {
		t.Fatalf("got %d links after %d partial answers, want 65 after 4", len(got), 4-left)
	}
	for i := 0; i < 130; i += 2 {
		if l, ok := got[ids[i]]; !ok || l.ReviewID != ids[i] {
			t.Fatalf("missing %s", ids[i])
		}
	}

	// A table that never processes the keys: GetLinks gives up, with a kind that says retry.
	never := newStore((&intercept{after: func(op string, status int, body []byte) []byte {
		if op != "BatchGetItem" || status != http.StatusOK {
			return nil
		}
		return unprocess(t, body, 0)
	}}).install)
	_, err = never.GetLinks(ctx, conn, ids[:4])
	if !errs.Is(err, errs.Transient) {
		t.Fatalf("keys never processed: %v, want a transient error", err)
	}
}

// unprocess moves all but keep of a BatchGetItem answer's items to its UnprocessedKeys.
func unprocess(t *testing.T, body []byte, keep int) []byte {
	var out struct {
		Responses       map[string][]map[string]any `json:"Responses"`
		UnprocessedKeys map[string]map[string]any   `json:"UnprocessedKeys"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Errorf("BatchGetItem answer: %v", err)
		return nil
	}
	for table, items := range out.Responses {
		if len(items) <= keep {
			continue
		}
		var keys []map[string]any
		for _, it := range items[keep:] {
			keys = append(keys, map[string]any{store.AttrPK: it[store.AttrPK], store.AttrSK: it[store.AttrSK]})
		}
		out.Responses[table] = items[:keep]
		out.UnprocessedKeys = map[string]map[string]any{table: {"Keys": keys, "ConsistentRead": true}}
	}
	b, _ := json.Marshal(out)
	return b
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	missing := store.New(dynamodb.NewFromConfig(env.AWS), "no-such-table")
	if _, err := missing.GetLink(ctx, "c", "r"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("missing table: %v, want invalid (a deployment error: retrying cannot help)", err)
	}
	_, err := newStore().GetLink(ctx, "c", "no-such-review")
	if !errs.Is(err, errs.NotExist) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing item: %v, want NotExist wrapping store.ErrNotFound", err)
	}

	for _, tc := range []struct {
		status int
		typ    string
		want   errs.Kind
	}{
		{400, "ProvisionedThroughputExceededException", errs.Transient},
		{400, "RequestLimitExceeded", errs.Transient},
		{400, "ThrottlingException", errs.Transient},
		{500, "InternalServerError", errs.Transient},
		{400, "ValidationException", errs.Other},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			t.Parallel()
			body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected"}`, tc.typ)
			s := newStore((&intercept{before: func(op string) (int, []byte) { return tc.status, []byte(body) }}).install,
				func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} })
			_, err := s.ClaimReview(ctx, "c", "r", review.Service, "w", time.Minute)
			if got := errs.KindOf(err); got != tc.want {
				t.Fatalf("%s: kind %s (%v), want %s", tc.typ, got, err, tc.want)
			}
			if tc.want == errs.Transient && !errs.Retryable(err) {
				t.Fatalf("%s: not retryable", tc.typ)
			}
		})
	}
}

// intercept stands between the SDK and moto to inject DynamoDB's rarer answers: before may
// answer a call itself (status 0: it does not), after may rewrite moto's answer body.
type intercept struct {
	before   func(op string) (status int, body []byte)
	answer   func(op string, request []byte) (status int, body []byte) // as before, seeing the request
	after    func(op string, status int, body []byte) []byte
	rewrites atomic.Int64
}

// install is a dynamodb.Options function; one intercept may serve many clients.
func (i *intercept) install(o *dynamodb.Options) { o.HTTPClient = &hop{i: i, base: o.HTTPClient} }

type hop struct {
	i    *intercept
	base dynamodb.HTTPClient
}

func (h *hop) Do(r *http.Request) (*http.Response, error) { return h.i.do(h.base, r) }

func (i *intercept) do(base dynamodb.HTTPClient, r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if i.before != nil {
		if status, body := i.before(op); status != 0 {
			resp := &http.Response{StatusCode: status, Request: r, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}}
			return withBody(resp, body), nil
		}
	}
	if i.answer != nil && r.Body != nil {
		req, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(req)), int64(len(req))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(req)), nil }
		if status, body := i.answer(op, req); status != 0 {
			resp := &http.Response{StatusCode: status, Request: r, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}}
			return withBody(resp, body), nil
		}
	}
	resp, err := base.Do(r)
	if err != nil || i.after == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if nb := i.after(op, resp.StatusCode, body); nb != nil {
		body = nb
		i.rewrites.Add(1)
	}
	return withBody(resp, body), nil
}

func withBody(resp *http.Response, body []byte) *http.Response {
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	// The SDK checks the body against DynamoDB's checksum header.
	resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return resp
}
