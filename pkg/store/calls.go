package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/ledger"
)

// Trustpilot call counts, per API key (the caller passes a hash, never the key): one item per
// bucket of a fifth of the rate window (a minute for Trustpilot's 5-minute window) and one per
// UTC day (for `status` and the yearly projection).
func callsPK(key string) string { return "TPCALLS#" + key }

// TakeCalls grants n Trustpilot calls to the API key named key, unless that would put more
// than limit calls within window before now: the window is counted in whole minutes, the
// current one and every minute it reaches back into, so no sliding window of that length
// ever holds more than limit grants whatever the instances. Granted calls also count in the
// day's total. When refused it says when a grant may fit again (the next bucket); when
// granted, when the bucket the grant counts in ends (calls reserved must be made by then).
func (s *Store) TakeCalls(ctx context.Context, apiKey string, n, limit int, window time.Duration) (bool, time.Time, error) {
	const op = "store.TakeCalls"
	now := s.now()
	cur, back, next := ledger.Span(now, window)
	keys := make([]map[string]types.AttributeValue, 0, back)
	for m := cur - back; m < cur; m++ {
		keys = append(keys, key(callsPK(apiKey), ledger.SK(window, m)))
	}
	sum := 0
	if len(keys) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}})
		if err != nil {
			return false, time.Time{}, classify(op, err)
		}
		if len(out.UnprocessedKeys) > 0 {
			return false, time.Time{}, classify(op, fmt.Errorf("call counts unreadable now"))
		}
		for _, it := range out.Responses[s.table] {
			sum += int(getN(it, "n"))
		}
	}
	room := limit - sum - n
	if room < 0 {
		return false, next, nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callsPK(apiKey), ledger.SK(window, cur)),
		UpdateExpression:          aws.String("ADD n :n SET " + AttrTTL + " = :ttl"),
		ConditionExpression:       aws.String("attribute_not_exists(n) OR n <= :room"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n)), ":room": num(int64(room)), ":ttl": num(now.Add(window + 2*time.Hour).Unix())},
	})
	if isCondFailed(err) {
		return false, next, nil
	}
	if err != nil {
		return false, time.Time{}, classify(op, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callsPK(apiKey), ledger.DaySK(now)),
		UpdateExpression:          aws.String("ADD n :n SET " + AttrTTL + " = :ttl"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n)), ":ttl": num(now.Add(40 * 24 * time.Hour).Unix())},
	})
	if err != nil {
		return false, time.Time{}, classify(op, err)
	}
	return true, next, nil
}

// CallCounts returns the calls granted to key within window before now, and per UTC day for
// the last days days (today first).
func (s *Store) CallCounts(ctx context.Context, apiKey string, window time.Duration, days int) (int, []int, error) {
	const op = "store.CallCounts"
	now := s.now()
	cur, back, _ := ledger.Span(now, window)
	var keys []map[string]types.AttributeValue
	for m := cur - back; m <= cur; m++ {
		keys = append(keys, key(callsPK(apiKey), ledger.SK(window, m)))
	}
	for d := range days {
		keys = append(keys, key(callsPK(apiKey), ledger.DaySK(now.AddDate(0, 0, -d))))
	}
	out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: keys}}})
	if err != nil {
		return 0, nil, classify(op, err)
	}
	byKey := map[string]int{}
	for _, it := range out.Responses[s.table] {
		byKey[getS(it, AttrSK)] = int(getN(it, "n"))
	}
	recent := 0
	for m := cur - back; m <= cur; m++ {
		recent += byKey[ledger.SK(window, m)]
	}
	daily := make([]int, days)
	for d := range days {
		daily[d] = byKey[ledger.DaySK(now.AddDate(0, 0, -d))]
	}
	return recent, daily, nil
}

// AddOtherCalls counts n Trustpilot calls of the API key named key that were not polls (a
// webhook batch's reads) in today's total of them.
func (s *Store) AddOtherCalls(ctx context.Context, apiKey string, n int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callsPK(apiKey), ledger.OtherSK(s.now())),
		UpdateExpression:          aws.String("ADD n :n SET " + AttrTTL + " = :ttl"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n)), ":ttl": num(s.now().Add(40 * 24 * time.Hour).Unix())},
	})
	return classify("store.AddOtherCalls", err)
}

// OtherCallDays returns the calls AddOtherCalls counted per UTC day for the last days days,
// today first.
func (s *Store) OtherCallDays(ctx context.Context, apiKey string, days int) ([]int, error) {
	now := s.now()
	keys := make([]map[string]types.AttributeValue, 0, days)
	for d := range days {
		keys = append(keys, key(callsPK(apiKey), ledger.OtherSK(now.AddDate(0, 0, -d))))
	}
	out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: keys}}})
	if err != nil {
		return nil, classify("store.OtherCallDays", err)
	}
	byKey := map[string]int{}
	for _, it := range out.Responses[s.table] {
		byKey[getS(it, AttrSK)] = int(getN(it, "n"))
	}
	daily := make([]int, days)
	for d := range days {
		daily[d] = byKey[ledger.OtherSK(now.AddDate(0, 0, -d))]
	}
	return daily, nil
}
