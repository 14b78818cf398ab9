// Package store is Pilotdesk's DynamoDB adapter: connections, review↔ticket links with their
// claim/confirm protocol, reply claims, sync cursors, helpdesk-account leases and cached
// Trustpilot tokens, all in one table whose keys template.yaml declares.
//
// Every "only once" rule is a conditional write here; expiry of claims and leases is compared
// in code, never left to DynamoDB's TTL (which may take days to delete an item).
//
// pkg/store/memstore is the in-memory twin the use cases' tests run on; pkg/store/storetest is
// the suite both pass, so a rule proven on one holds on the other.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// Table layout. Keys and the index name must match template.yaml (a test checks).
const (
	AttrPK     = "pk"
	AttrSK     = "sk"
	AttrGSI1PK = "gsi1pk"
	AttrGSI1SK = "gsi1sk"
	AttrTTL    = "expires_at"
	IndexGSI1  = "gsi1"
)

// ErrNotFound is returned when an item does not exist.
var ErrNotFound = errors.New("not found")

// Store is the DynamoDB-backed store.
type Store struct {
	db    *dynamodb.Client
	table string
	now   func() time.Time
	slots *sync.Map // account → the next slot this process last wrote (a guess that saves a read)
}

// New returns a store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, now: time.Now, slots: &sync.Map{}}
}

// WithClock returns a copy of the store that reads time from now (tests of expiry).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(sk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func boolean(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getB(item map[string]types.AttributeValue, name string) bool {
	if v, ok := item[name].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return false
}

// timeFormat is fixed width, so that string comparison in conditions orders times.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}

func isCondFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// classify wraps a DynamoDB error with its kind: throttling and server errors are transient.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var (
		thr *types.ProvisionedThroughputExceededException
		tex *types.ThrottlingException
		rle *types.RequestLimitExceeded
		ise *types.InternalServerError
		rnf *types.ResourceNotFoundException
	)
	switch {
	case errors.As(err, &thr), errors.As(err, &tex), errors.As(err, &rle), errors.As(err, &ise):
		return errs.E(errs.Transient, op, err)
	case errors.As(err, &rnf):
		return errs.E(errs.Invalid, op, fmt.Errorf("table missing: %w", err))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errs.E(errs.Transient, op, err)
	}
	return errs.E(errs.Other, op, err)
}

func (s *Store) get(ctx context.Context, op, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, classify(op, err)
	}
	if out.Item == nil {
		return nil, errs.E(errs.NotExist, op, ErrNotFound)
	}
	return out.Item, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// msTime reads an expiry kept in milliseconds; 0 (released or removed) is the zero time, so
// callers can ask IsZero.
func msTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}
