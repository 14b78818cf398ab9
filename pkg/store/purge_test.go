package store_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

// purgeFixture is a connection of its own helpdesk account, on the shared moto table.
type purgeFixture struct {
	t      *testing.T
	s      *store.Store
	acct   string
	suffix string
	n      int
}

func newPurgeFixture(t *testing.T) *purgeFixture {
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	return &purgeFixture{t: t, s: newStore(), acct: "purge-" + suffix + ".gorgias.com", suffix: suffix}
}

func (f *purgeFixture) conn(name string) string {
	f.t.Helper()
	id := name + "-" + f.suffix
	if err := f.s.PutConnection(f.t.Context(), connection.Connection{ID: id, Helpdesk: connection.Helpdesk{Type: "gorgias", URL: "https://" + f.acct}}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *purgeFixture) review() string {
	f.n++
	return fmt.Sprintf("%012x%012x", time.Now().UnixNano()&0xffffffffffff, f.n)
}

func entryOf(conn, rid string) string {
	return reviewer.EntryOf(conn, review.Review{ID: rid, Kind: review.Service, Stars: 2, Title: "t", Text: "x", CreatedAt: time.Unix(1e9, 0)}, 7).Marshal()
}

func (f *purgeFixture) linked(conn, rid, who string) {
	f.t.Helper()
	ctx := f.t.Context()
	if _, err := f.s.ClaimReview(ctx, conn, rid, review.Service, "w", time.Minute); err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.ConfirmLink(ctx, link.Confirm{ConnectionID: conn, ReviewID: rid, Owner: "w", Account: f.acct, TicketID: time.Now().UnixNano(), Reviewer: who}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *purgeFixture) entries(what, who string, want map[string]string) {
	f.t.Helper()
	got, err := f.s.ReviewerEntries(f.t.Context(), f.acct, who)
	if err != nil {
		f.t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		f.t.Fatalf("%s: %d entries %v, want %d: %v", what, len(got), got, len(want), want)
	}
}

// Entries written before they were indexed under their connection (no gsi1 attributes) are
// found through the connection's links: a linked review's link names its reviewer, a set-aside
// one's snapshot the reviewer's email. An entry another connection wrote under a key one of the
// purged connection's links names stays.
func TestPurgeFindsEntriesWrittenBeforeTheIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newPurgeFixture(t)
	a, b := f.conn("legacy-a"), f.conn("legacy-b")
	db := dynamodb.NewFromConfig(env.AWS)
	legacyPut := func(who, rid, entry string) {
		t.Helper()
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env.TableName()), Item: map[string]types.AttributeValue{
			store.AttrPK: &types.AttributeValueMemberS{Value: "REVIEWER#" + f.acct + "#" + who}, store.AttrSK: &types.AttributeValueMemberS{Value: rid},
			"entry": &types.AttributeValueMemberS{Value: entry}, "updated_at": &types.AttributeValueMemberS{Value: "2025-01-01T00:00:00.000000000Z"},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	who, dana := reviewer.Key("who-"+f.suffix+"@example.com"), reviewer.Key("dana-"+f.suffix+"@example.com")

	linkedA, asideA, shared, ownB := f.review(), f.review(), f.review(), f.review()
	f.linked(a, linkedA, who)
	legacyPut(who, linkedA, entryOf(a, linkedA))
	if _, err := f.s.ClaimReview(ctx, a, asideA, review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	snap, _ := json.Marshal(review.Review{ID: asideA, Email: " Dana-" + f.suffix + "@Example.com"})
	if err := f.s.SetAside(ctx, link.Aside{ConnectionID: a, ReviewID: asideA, Owner: "w", Reason: "500", RetryAt: time.Now(), Failed: true, Snapshot: string(snap)}); err != nil {
		t.Fatal(err)
	}
	legacyPut(dana, asideA, entryOf(a, asideA))
	f.linked(a, shared, who)
	f.linked(b, shared, who)
	legacyPut(who, shared, entryOf(b, shared))
	f.linked(b, ownB, dana)
	legacyPut(dana, ownB, entryOf(b, ownB))

	if err := f.s.DeleteConnection(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	f.entries("reviewer of a linked review", who, map[string]string{shared: entryOf(b, shared)})
	f.entries("reviewer of a set-aside review", dana, map[string]string{ownB: entryOf(b, ownB)})
}

// DynamoDB may leave part of a batch unprocessed: the purge sends it again. A purge that stops
// halfway leaves a tombstone (nothing syncs the connection), and purging again finishes it.
func TestPurgeRetriesUnprocessedAndFinishesWhenRunAgain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newPurgeFixture(t)
	// unprocessed answers BatchWriteItem calls (after the first pass ones) with nothing done.
	unprocessed := func(pass int64, left *atomic.Int64) *store.Store {
		var calls atomic.Int64
		return newStore((&intercept{answer: func(op string, req []byte) (int, []byte) {
			if op != "BatchWriteItem" || calls.Add(1) <= pass || left.Add(-1) < 0 {
				return 0, nil
			}
			var in struct {
				RequestItems json.RawMessage `json:"RequestItems"`
			}
			if err := json.Unmarshal(req, &in); err != nil {
				t.Errorf("BatchWriteItem request: %v", err)
				return 0, nil
			}
			return http.StatusOK, []byte(`{"UnprocessedItems":` + string(in.RequestItems) + `}`)
		}}).install)
	}
	setup := func(name string) (string, string, map[string]string) {
		id, who := f.conn(name), reviewer.Key(name+"-"+f.suffix+"@example.com")
		var recs []reviewer.Record
		want := map[string]string{}
		for i := range 60 {
			rid := f.review()
			if i%2 == 0 {
				f.linked(id, rid, who)
			}
			recs = append(recs, reviewer.Record{Reviewer: who, ReviewID: rid, Entry: entryOf(id, rid)})
			want[rid] = entryOf(id, rid)
		}
		if err := f.s.PutReviewerEntries(ctx, f.acct, recs); err != nil {
			t.Fatal(err)
		}
		f.entries(name+" before the purge", who, want)
		return id, who, want
	}

	id, who, _ := setup("retried")
	var left atomic.Int64
	left.Store(3)
	if err := unprocessed(0, &left).DeleteConnection(ctx, id, true); err != nil {
		t.Fatalf("purge with unprocessed writes: %v", err)
	}
	if left.Load() > 0 {
		t.Fatalf("%d unprocessed answers not given: the purge wrote less than expected", left.Load())
	}
	f.entries("after a purge with unprocessed writes", who, map[string]string{})
	if _, err := f.s.GetConnectionForReplies(ctx, id); !errs.Is(err, errs.NotExist) {
		t.Fatalf("record after purge: %v", err)
	}

	id, who, want := setup("interrupted")
	left.Store(1 << 30)
	err := unprocessed(1, &left).DeleteConnection(ctx, id, true)
	if !errs.Is(err, errs.Transient) {
		t.Fatalf("purge that DynamoDB stops processing: %v, want a transient error", err)
	}
	if _, err := f.s.GetConnection(ctx, id); !errs.Is(err, errs.NotExist) {
		t.Fatalf("an interrupted purge left the connection live: %v", err)
	}
	if r, err := f.s.GetConnectionForReplies(ctx, id); err != nil || !r.Deleted {
		t.Fatalf("an interrupted purge left no tombstone: %+v %v", r, err)
	}
	if got, err := f.s.ReviewerEntries(ctx, f.acct, who); err != nil || len(got) != len(want)-25 {
		t.Fatalf("after one batch of the interrupted purge: %d entries (%v), want %d", len(got), err, len(want)-25)
	}
	if err := f.s.DeleteConnection(ctx, id, true); err != nil {
		t.Fatalf("purge again: %v", err)
	}
	f.entries("after purging again", who, map[string]string{})
	if err := f.s.DeleteConnection(ctx, id, true); !errs.Is(err, errs.NotExist) {
		t.Fatalf("third purge: %v, want NotExist", err)
	}
}
