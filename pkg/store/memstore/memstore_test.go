package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
	"github.com/pilotdesk/pilotdesk/pkg/store/storetest"
)

var _ storetest.Store = (*memstore.Store)(nil)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return memstore.New().WithClock(now)
	})
}

// A clocked view is the same store, as store.Store.WithClock's copy is the same table.
func TestWithClockSharesData(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	at := time.Date(2001, 1, 2, 3, 4, 5, 0, time.UTC) // long before the real clock
	view := s.WithClock(func() time.Time { return at })
	if _, err := view.ClaimReview(ctx, "c", "r", review.Service, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := s.GetLink(ctx, "c", "r")
	if err != nil || !l.UpdatedAt.Equal(at) {
		t.Fatalf("claim through the view: %+v %v", l, err)
	}
	if c, _ := s.ClaimReview(ctx, "c", "r", review.Service, "w2", time.Minute); c.Status != link.ClaimGranted {
		t.Fatalf("the real clock is past the view's claim expiry, yet: %v", c.Status)
	}
}

func TestLinks(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for _, rid := range []string{"b", "a", "c"} {
		if _, err := s.ClaimReview(ctx, "conn", rid, review.Product, "w", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimReview(ctx, "other", "d", review.Product, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	got := s.Links("conn")
	if len(got) != 3 || got[0].ReviewID != "a" || got[1].ReviewID != "b" || got[2].ReviewID != "c" {
		t.Fatalf("Links: %+v", got)
	}
	if s.Links("none") != nil {
		t.Fatal("Links of an unknown connection")
	}
}

// DynamoDB refuses an empty key in every call. moto accepts it in UpdateItem and BatchGetItem,
// so the conformance suite cannot check these; memstore follows DynamoDB.
func TestEmptyKeysRefused(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	checks := map[string]error{
		"ReleaseClaim":     s.ReleaseClaim(ctx, "c", "", "w"),
		"SetAside":         s.SetAside(ctx, link.Aside{ConnectionID: "c", Owner: "w"}),
		"RecordUnreadable": s.RecordUnreadable(ctx, "c", "", review.Service, "x"),
		"RetrySetAside":    s.RetrySetAside(ctx, "c", ""),
		"ConfirmLink":      s.ConfirmLink(ctx, link.Confirm{ConnectionID: "c", Owner: "w"}),
		"FinishReply":      s.FinishReply(ctx, "c", "", 1, link.ReplyPosted, "x"),
		"ReleaseReply":     s.ReleaseReply(ctx, "c", "", 1),
		"ReopenReply":      s.ReopenReply(ctx, "c", "", 1, "x"),
		"SetReauth":        s.SetReauth(ctx, "", true, "x"),
	}
	_, checks["ClaimReview"] = s.ClaimReview(ctx, "c", "", review.Service, "w", time.Minute)
	_, checks["ClaimReply"] = s.ClaimReply(ctx, "c", "", 1, "h", time.Minute)
	_, checks["GetLinks"] = s.GetLinks(ctx, "c", []string{"r", ""})
	_, checks["SetReviewVersion"] = s.SetReviewVersion(ctx, "c", "", time.Now(), 1)
	for name, err := range checks {
		if err == nil || errs.Is(err, errs.NotExist) || errs.Is(err, errs.Conflict) {
			t.Errorf("%s with an empty key: %v, want DynamoDB's refusal", name, err)
		}
	}
	if got := s.Links("c"); len(got) != 0 {
		t.Fatalf("an empty key created links: %+v", got)
	}
}
