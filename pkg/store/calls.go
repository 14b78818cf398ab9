package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Trustpilot call counts, per API key (the caller passes a hash, never the key): one item per
// minute (for the sliding rate-limit window) and one per UTC day (for `status` and the yearly
// projection).
func callsPK(key string) string { return "TPCALLS#" + key }

func minuteSK(m int64) string { return "m#" + strconv.FormatInt(m, 10) }

func daySK(t time.Time) string { return "d#" + t.UTC().Format("2006-01-02") }

// TakeCalls grants n Trustpilot calls to the API key named key, unless that would put more
// than limit calls within window before now: the window is counted in whole minutes, the
// current one and every minute it reaches back into, so no sliding window of that length
// ever holds more than limit grants whatever the instances. Granted calls also count in the
// day's total. When refused it says when a grant may fit again (the next minute).
func (s *Store) TakeCalls(ctx context.Context, apiKey string, n, limit int, window time.Duration) (bool, time.Time, error) {
	const op = "store.TakeCalls"
	now := s.now()
	cur := now.Unix() / 60
	back := int64((window + time.Minute - 1) / time.Minute) // minutes the window reaches back over
	keys := make([]map[string]types.AttributeValue, 0, back)
	for m := cur - back; m < cur; m++ {
		keys = append(keys, key(callsPK(apiKey), minuteSK(m)))
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
	next := time.Unix((cur+1)*60, 0)
	room := limit - sum - n
	if room < 0 {
		return false, next, nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callsPK(apiKey), minuteSK(cur)),
		UpdateExpression:          aws.String("ADD n :n SET " + AttrTTL + " = :ttl"),
		ConditionExpression:       aws.String("attribute_not_exists(n) OR n <= :room"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n)), ":room": num(int64(room)), ":ttl": num(now.Add(2 * time.Hour).Unix())},
	})
	if isCondFailed(err) {
		return false, next, nil
	}
	if err != nil {
		return false, time.Time{}, classify(op, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callsPK(apiKey), daySK(now)),
		UpdateExpression:          aws.String("ADD n :n SET " + AttrTTL + " = :ttl"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n)), ":ttl": num(now.Add(40 * 24 * time.Hour).Unix())},
	})
	return true, time.Time{}, classify(op, err)
}

// CallCounts returns the calls granted to key within window before now, and per UTC day for
// the last days days (today first).
func (s *Store) CallCounts(ctx context.Context, apiKey string, window time.Duration, days int) (int, []int, error) {
	const op = "store.CallCounts"
	now := s.now()
	cur := now.Unix() / 60
	back := int64((window + time.Minute - 1) / time.Minute)
	var keys []map[string]types.AttributeValue
	for m := cur - back; m <= cur; m++ {
		keys = append(keys, key(callsPK(apiKey), minuteSK(m)))
	}
	for d := range days {
		keys = append(keys, key(callsPK(apiKey), daySK(now.AddDate(0, 0, -d))))
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
		recent += byKey[minuteSK(m)]
	}
	daily := make([]int, days)
	for d := range days {
		daily[d] = byKey[daySK(now.AddDate(0, 0, -d))]
	}
	return recent, daily, nil
}
