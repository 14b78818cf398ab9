package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MarkOnce records key and reports whether this call was the first to do so within ttl: a
// small idempotency guard for side effects that have no record of their own (a note to the
// agent about an event the helpdesk delivered twice).
func (s *Store) MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	now := s.now()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrPK: str("ONCE#" + key), AttrSK: str("ONCE"), "until": num(ms(now.Add(ttl))), AttrTTL: num(now.Add(ttl).Unix()),
		},
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #until < :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(ms(now))},
	})
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, classify("store.MarkOnce", err)
	}
	return true, nil
}
