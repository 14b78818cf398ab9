package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/cursor"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

func cursorSK(kind review.Kind) string { return "CURSOR#" + string(kind) }

// GetCursor returns the cursor; a zero cursor when none is stored yet.
func (s *Store) GetCursor(ctx context.Context, connID string, kind review.Kind) (cursor.Cursor, error) {
	item, err := s.get(ctx, "store.GetCursor", connPK(connID), cursorSK(kind))
	if errs.Is(err, errs.NotExist) {
		return cursor.Cursor{ConnectionID: connID, Kind: kind}, nil
	}
	if err != nil {
		return cursor.Cursor{}, err
	}
	return cursor.Cursor{
		ConnectionID: connID, Kind: kind,
		Since:       parseTime(getS(item, "since")),
		Resume:      getS(item, "resume"),
		LastRunAt:   parseTime(getS(item, "last_run_at")),
		LastError:   getS(item, "last_error"),
		ReviewSeen:  getN(item, "reviews_seen"),
		Tickets:     getN(item, "tickets_created"),
		Errors:      getN(item, "errors"),
		ScheduledAt: msTime(getN(item, "scheduled_at")),
		RunCalls:    getN(item, "run_calls"),
	}, nil
}

// MarkScheduled records when (on the scheduler's clock) the scheduler queued the kind's job.
func (s *Store) MarkScheduled(ctx context.Context, connID string, kind review.Kind, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression:          aws.String("SET scheduled_at = :at, connection_id = :conn"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(ms(at)), ":conn": str(connID)},
	})
	return classify("store.MarkScheduled", err)
}

// SetRunCalls records the Trustpilot calls of the kind's last finished run.
func (s *Store) SetRunCalls(ctx context.Context, connID string, kind review.Kind, calls int64) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression:          aws.String("SET run_calls = :n, connection_id = :conn"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(calls), ":conn": str(connID)},
	})
	return classify("store.SetRunCalls", err)
}

// SaveCheckpoint records progress: counters add up, the high-water mark only moves forward.
func (s *Store) SaveCheckpoint(ctx context.Context, connID string, kind review.Kind, cp cursor.Checkpoint) error {
	now := s.now()
	expr := "SET resume = :resume, last_run_at = :now, connection_id = :conn ADD reviews_seen :seen, tickets_created :created, errors :errors"
	vals := map[string]types.AttributeValue{
		":resume": str(cp.Resume), ":now": str(fmtTime(now)), ":conn": str(connID),
		":seen": num(cp.Seen), ":created": num(cp.Created), ":errors": num(cp.Errors),
	}
	if cp.LastError != "" {
		expr = "SET last_error = :lerr, " + expr[len("SET "):]
		vals[":lerr"] = str(cp.LastError)
	}
	if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression: aws.String(expr), ExpressionAttributeValues: vals,
	}); err != nil {
		return classify("store.SaveCheckpoint", err)
	}
	if cp.Since.IsZero() {
		return nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression:          aws.String("SET since = :since"),
		ConditionExpression:       aws.String("attribute_not_exists(since) OR since < :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":since": str(fmtTime(cp.Since))},
	})
	if isCondFailed(err) {
		return nil // already further: the mark never moves back
	}
	return classify("store.SaveCheckpoint", err)
}

// MarkQueued records that a scheduled sync job for the connection and kind is on the queue,
// and reports false when one already is (queued less than staleAfter ago and not finished):
// the scheduler then adds no second one, so a slow sync never piles jobs up.
func (s *Store) MarkQueued(ctx context.Context, connID string, kind review.Kind, staleAfter time.Duration) (bool, error) {
	now := s.now()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression:          aws.String("SET queued_at = :now, connection_id = :conn"),
		ConditionExpression:       aws.String("attribute_not_exists(queued_at) OR queued_at < :stale"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(ms(now)), ":stale": num(ms(now.Add(-staleAfter))), ":conn": str(connID)},
	})
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, classify("store.MarkQueued", err)
	}
	return true, nil
}

// ClearQueued records that the connection's sync of kind finished: the next tick may queue one.
func (s *Store) ClearQueued(ctx context.Context, connID string, kind review.Kind) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression: aws.String("REMOVE queued_at"),
		// An update writes the item when it is absent: a cursor deleted meanwhile (its connection
		// with it) must stay deleted.
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.ClearQueued", err)
}

// RecordError notes a run's failure for `pilotdesk status` without touching its progress.
func (s *Store) RecordError(ctx context.Context, connID string, kind review.Kind, msg string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(connPK(connID), cursorSK(kind)),
		UpdateExpression:          aws.String("SET last_error = :e, last_run_at = :now, connection_id = :conn"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": str(msg), ":now": str(fmtTime(s.now())), ":conn": str(connID)},
	})
	return classify("store.RecordError", err)
}
