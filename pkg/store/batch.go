package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// DynamoDB's batch sizes: BatchWriteItem takes 25 requests, BatchGetItem 100 keys.
const (
	maxBatchWrite = 25
	maxBatchGet   = 100
)

// batchTries bounds the calls one batch gets while DynamoDB hands part of it back unprocessed.
const batchTries = 9

// pause waits before the next try of a batch's unprocessed part (10 ms, doubling).
func pause(ctx context.Context, op string, try int) error {
	select {
	case <-ctx.Done():
		return classify(op, ctx.Err())
	case <-time.After(time.Duration(10<<try) * time.Millisecond):
		return nil
	}
}

// writeBatch sends one batch of at most 25 write requests (no key twice) until DynamoDB has
// processed all of it.
func (s *Store) writeBatch(ctx context.Context, op string, reqs []types.WriteRequest) error {
	for try := 0; len(reqs) > 0; try++ {
		if try == batchTries {
			return errs.E(errs.Transient, op, fmt.Errorf("%d writes left unprocessed", len(reqs)))
		}
		if try > 0 {
			if err := pause(ctx, op, try-1); err != nil {
				return err
			}
		}
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: reqs}})
		if err != nil {
			return classify(op, err)
		}
		reqs = out.UnprocessedItems[s.table]
	}
	return nil
}

// deleteKeys deletes the items of keys (pk, sk), 25 a call. Deleting an absent item is no
// error, so a deletion that stopped halfway is finished by running it again.
func (s *Store) deleteKeys(ctx context.Context, op string, keys [][2]string) error {
	for start := 0; start < len(keys); {
		seen := map[[2]string]bool{} // a batch may not name one key twice
		var reqs []types.WriteRequest
		for ; start < len(keys) && len(reqs) < maxBatchWrite; start++ {
			if k := keys[start]; !seen[k] {
				seen[k] = true
				reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(k[0], k[1])}})
			}
		}
		if err := s.writeBatch(ctx, op, reqs); err != nil {
			return err
		}
	}
	return nil
}

// getKeys reads the items of keys that exist (strongly consistent, 100 keys a call), with only
// the attributes of projection when it is not empty.
func (s *Store) getKeys(ctx context.Context, op string, keys [][2]string, projection ...string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	var proj *string
	var names map[string]string
	if len(projection) > 0 {
		names = map[string]string{}
		expr := ""
		for i, a := range projection {
			n := fmt.Sprintf("#p%d", i)
			names[n] = a
			if expr != "" {
				expr += ", "
			}
			expr += n
		}
		proj = aws.String(expr)
	}
	seen := map[[2]string]bool{}
	var all []map[string]types.AttributeValue
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			all = append(all, key(k[0], k[1]))
		}
	}
	for start := 0; start < len(all); start += maxBatchGet {
		req := map[string]types.KeysAndAttributes{s.table: {
			Keys: all[start:min(start+maxBatchGet, len(all))], ConsistentRead: aws.Bool(true),
			ProjectionExpression: proj, ExpressionAttributeNames: names,
		}}
		for try := 0; len(req) > 0; try++ {
			if try == batchTries {
				return nil, errs.E(errs.Transient, op, errors.New("unprocessed keys after retries"))
			}
			if try > 0 {
				if err := pause(ctx, op, try-1); err != nil {
					return nil, err
				}
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, classify(op, err)
			}
			out = append(out, res.Responses[s.table]...)
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}
