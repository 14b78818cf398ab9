package synce2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/lab/devstack"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

// seedLinks records reviews as already linked (a catalogue synced before the scenario), written
// straight to the table as the store writes links, so a scenario starts from a synced shop
// without creating thousands of tickets first.
func (s *system) seedLinks(t testing.TB, connID string, kind review.Kind, ids []string) {
	t.Helper()
	db := dynamodb.NewFromConfig(s.AWS.AWS)
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	for start := 0; start < len(ids); start += 25 {
		var reqs []types.WriteRequest
		for i, id := range ids[start:min(start+25, len(ids))] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				store.AttrPK: str("LINK#" + connID), store.AttrSK: str(id), "connection_id": str(connID), "kind": str(string(kind)),
				"state": str(string(link.StateLinked)), "ticket_id": &types.AttributeValueMemberN{Value: strconv.Itoa(900000 + start + i)},
				"account": str("seeded"), "review_version": str("2100-01-01T00:00:00.000000000Z"),
			}}})
		}
		for len(reqs) > 0 {
			out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.AWS.TableName(): reqs}})
			if err != nil {
				t.Fatal(err)
			}
			reqs = out.UnprocessedItems[s.AWS.TableName()]
		}
	}
}

// BenchmarkSimulatedDay is issue 12's day: 288 schedule ticks of simulated time for two tier-1
// connections (calls_per_year 200 000) with 5 000 product reviews each, already synced, and 20
// new service reviews over the day; connection 0 gets Trustpilot webhooks, connection 1 relies
// on polling. It fails unless each stays within the day's share of its allowance for polls and
// webhook fetches (≤ 440 calls) and every new review gets its ticket, and reports the calls.
// It is a benchmark, run by `make bench`: the day takes about a quarter of an hour here.
func BenchmarkSimulatedDay(b *testing.B) {
	for range b.N {
		simulatedDay(b)
	}
}

func simulatedDay(t *testing.B) {
	s := startB(t, devstack.Options{Name: "bench-day"}, 0, 0)
	defer s.Stop()
	ctx := context.Background()
	dayStart := time.Now()
	tier := int64(200_000)
	for i, u := range s.units {
		fx := trustpilotsim.Generate(u, 5, 5000, dayStart.Add(-48*time.Hour), dayStart.Add(-time.Hour), int64(70+i))
		if err := s.TP.Load(fx); err != nil {
			t.Fatal(err)
		}
		s.fixtures[i] = fx
		var ids []string
		for _, r := range fx.ServiceReviews {
			ids = append(ids, r.ID)
		}
		s.seedLinks(t, s.conns[i].ID, review.Service, ids)
		ids = ids[:0]
		for _, r := range fx.ProductReviews {
			ids = append(ids, r.ID)
		}
		s.seedLinks(t, s.conns[i].ID, review.Product, ids)
		s.conns[i].Trustpilot.CallsPerYear = &tier
		s.conns[i].MinStars = 1
		if err := s.PutConnection(ctx, s.conns[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.trustpilotHook(t) // connection 0 gets webhooks; connection 1 relies on polling
	keys := []string{s.conns[0].Trustpilot.APIKey, s.conns[1].Trustpilot.APIKey}
	before := []int{s.TP.CallsByKey(keys[0], time.Time{}, time.Time{}), s.TP.CallsByKey(keys[1], time.Time{}, time.Time{})}

	var added [2][]string
	for tick := range 288 {
		at := dayStart.Add(time.Duration(tick) * 5 * time.Minute)
		if tick%14 == 7 && len(added[0]) < 20 { // 20 new reviews through the day, on each unit
			for i := range s.units {
				n := len(added[i])
				rv := trustpilotsim.ServiceReview{ID: fmt.Sprintf("5fd%d%020x", i, uint64(n)+hash(t.Name())%1e9*100), Stars: 3,
					Title: ptr(fmt.Sprintf("day review %d", n)), Text: ptr("new during the day"), Language: "en",
					CreatedAt: time.Now().UTC().Format(time.RFC3339), Consumer: trustpilotsim.Consumer{ID: "5f3a2b3c4d5e6f7a8b9c0d03"},
					BusinessUnit: trustpilotsim.BusinessUnitRef{ID: s.units[i]}}
				if err := s.TP.PutServiceReview(rv); err != nil {
					t.Fatal(err)
				}
				added[i] = append(added[i], rv.ID)
			}
			s.TP.FlushWebhooks(ctx, false)
		}
		if out, err := s.Runtime.TickAt(ctx, at); err != nil {
			t.Fatalf("tick %d: %v %s", tick, err, out)
		}
		if _, err := s.DrainPolling(ctx, 2*time.Minute, 0); err != nil {
			t.Fatalf("tick %d: %v", tick, err)
		}
		if tick%48 == 47 {
			t.Logf("simulated %s in %s", time.Duration(tick+1)*5*time.Minute, time.Since(dayStart).Round(time.Second))
		}
	}
	got := s.ticketsByReview(t)
	for i := range s.units {
		calls := s.TP.CallsByKey(keys[i], time.Time{}, time.Time{}) - before[i]
		synced := 0
		for _, id := range added[i] {
			synced += got[id]
		}
		t.Logf("connection %d (webhooks %v): %d Trustpilot calls in the simulated day, %d of %d new reviews synced", i, i == 0, calls, synced, len(added[i]))
		if calls > 440 || synced != len(added[i]) || len(added[i]) != 20 {
			t.Fatalf("connection %d: %d calls (want ≤ 440), %d of %d new reviews synced", i, calls, synced, len(added[i]))
		}
		t.ReportMetric(float64(calls), fmt.Sprintf("trustpilot-calls/day-webhooks-%v", i == 0))
	}
}
