package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A helpdesk account's call schedule, shared by every instance: one item holding when the next
// free call slot starts (unix nanoseconds). Slots are interval apart; taking n moves it on by
// n intervals (a generic cell rate algorithm), so calls that start no earlier than their slot
// never put more than window/interval + 1 in any window, whichever instance makes them.
func slotsPK(key string) string { return "HDSLOTS#" + key }

const slotsSK = "slots"

// TakeSlots reserves n consecutive call slots of the account named key, interval apart and none
// before notBefore (room the caller saw other integrations take), unless the first would start
// more than horizon from now: then it says when it would start, so that the caller waits (a
// sync asks with a short horizon, a reply with a long one, so that a reply never queues behind
// a backfill's reservations). It returns the first slot's start.
func (s *Store) TakeSlots(ctx context.Context, account string, n int, interval, horizon time.Duration, notBefore time.Time) (time.Time, bool, error) {
	const op = "store.TakeSlots"
	if account == "" || n <= 0 || interval <= 0 {
		return time.Time{}, false, emptyKey(op, "account key, slots or interval")
	}
	item := key(slotsPK(account), slotsSK)
	// This process usually moved the schedule last (one busy instance per account): try the
	// value it wrote first, and read the item only when another instance moved it since.
	guess, guessed := s.slots.Load(account)
	for range 8 {
		var old int64
		had := false
		if g, ok := guess.(int64); guessed && ok {
			old, had, guessed = g, true, false
		} else {
			out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: item, ConsistentRead: aws.Bool(true)})
			if err != nil {
				return time.Time{}, false, classify(op, err)
			}
			if out.Item != nil {
				if _, ok := out.Item["next_ns"]; ok {
					old, had = getN(out.Item, "next_ns"), true
				}
			}
		}
		now := s.now()
		start := time.Unix(0, max(old, now.UnixNano(), notBefore.UnixNano()))
		if start.Sub(now) > horizon {
			if had {
				s.slots.Store(account, old)
			}
			return start, false, nil
		}
		next := start.Add(time.Duration(n) * interval).UnixNano()
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: item,
			UpdateExpression:          aws.String("SET next_ns = :next, " + AttrTTL + " = :ttl"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":next": num(next), ":ttl": num(now.Add(24 * time.Hour).Unix())},
		}
		if had {
			in.ConditionExpression = aws.String("next_ns = :old")
			in.ExpressionAttributeValues[":old"] = num(old)
		} else {
			in.ConditionExpression = aws.String("attribute_not_exists(next_ns)")
		}
		_, err := s.db.UpdateItem(ctx, in)
		if isCondFailed(err) {
			s.slots.Delete(account)
			continue // another instance moved it meanwhile: read it
		}
		if err != nil {
			return time.Time{}, false, classify(op, err)
		}
		s.slots.Store(account, next)
		return start, true, nil
	}
	return s.now().Add(interval), false, nil
}

// PushSlots moves the account's next free slot to until at the earliest: calls someone else
// made on the account (the helpdesk's usage header) take their room.
func (s *Store) PushSlots(ctx context.Context, account string, until time.Time) error {
	const op = "store.PushSlots"
	if account == "" {
		return emptyKey(op, "account key")
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(slotsPK(account), slotsSK),
		UpdateExpression:    aws.String("SET next_ns = :u, " + AttrTTL + " = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(next_ns) OR next_ns < :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": num(until.UnixNano()),
			":ttl": num(until.Add(24 * time.Hour).Unix())},
	})
	if isCondFailed(err) {
		return nil // later already
	}
	return classify(op, err)
}
