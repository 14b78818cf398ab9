package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

func customerPK(account string) string { return "CUSTOMER#" + account }

// RecordCustomerEntry adds (or replaces) one review's entry in the list of what Pilotdesk wrote
// to a helpdesk customer's data, and returns the whole list (review id → entry). The helpdesk
// may apply a data write some time after accepting it; merging from this list, not only from
// what the helpdesk shows, keeps an entry written a second ago from being overwritten.
func (s *Store) RecordCustomerEntry(ctx context.Context, account string, customerID int64, reviewID, entry string) (map[string]string, error) {
	const op = "store.RecordCustomerEntry"
	k := key(customerPK(account), strconv.FormatInt(customerID, 10))
	// The entries map is created by the first write; the two conditional writes below race
	// safely (whichever loses tries the other).
	for range 3 {
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       k,
			UpdateExpression:          aws.String("SET entries.#r = :e"),
			ConditionExpression:       aws.String("attribute_exists(entries)"),
			ExpressionAttributeNames:  map[string]string{"#r": reviewID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":e": str(entry)},
			ReturnValues:              types.ReturnValueAllNew,
		})
		if err == nil {
			return decodeEntries(out.Attributes), nil
		}
		if !isCondFailed(err) {
			return nil, classify(op, err)
		}
		out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       k,
			UpdateExpression:          aws.String("SET entries = :m"),
			ConditionExpression:       aws.String("attribute_not_exists(entries)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{reviewID: str(entry)}}},
			ReturnValues:              types.ReturnValueAllNew,
		})
		if err == nil {
			return decodeEntries(out.Attributes), nil
		}
		if !isCondFailed(err) {
			return nil, classify(op, err)
		}
	}
	return nil, errs.E(errs.Transient, op, errors.New("the customer's entry list kept changing; try again"))
}

func decodeEntries(item map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	if m, ok := item["entries"].(*types.AttributeValueMemberM); ok {
		for id, v := range m.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				out[id] = s.Value
			}
		}
	}
	return out
}

// ForgetCustomerEntry removes a review's entry from the list of what was written to a customer's
// data (the review was deleted on Trustpilot).
func (s *Store) ForgetCustomerEntry(ctx context.Context, account string, customerID int64, reviewID string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(customerPK(account), strconv.FormatInt(customerID, 10)),
		UpdateExpression:         aws.String("REMOVE entries.#r"),
		ConditionExpression:      aws.String("attribute_exists(entries.#r)"),
		ExpressionAttributeNames: map[string]string{"#r": reviewID},
	})
	if isCondFailed(err) {
		return false, nil
	}
	return err == nil, classify("store.ForgetCustomerEntry", err)
}
