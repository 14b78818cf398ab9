package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

const connectionsPK = "CONNECTION"

// PutConnection creates or replaces a connection. Secrets must already be removed: the table
// never holds them (connection.SplitSecrets).
func (s *Store) PutConnection(ctx context.Context, c connection.Connection) error {
	if c.Helpdesk.APIKey != "" || c.Trustpilot.APIKey != "" || c.Trustpilot.APISecret != "" || c.Trustpilot.RefreshToken != "" || c.Trustpilot.WebhookSecret != "" {
		return errs.E(errs.Invalid, "store.PutConnection", fmt.Errorf("connection %s still holds secrets; split them off first", c.ID))
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrPK: str(connectionsPK), AttrSK: str(c.ID),
			"doc": str(string(doc)), "updated_at": str(fmtTime(s.now())),
			"needs_reauth": boolean(false),
		},
	})
	return classify("store.PutConnection", err)
}

func decodeConnection(item map[string]types.AttributeValue) (connection.Record, error) {
	var c connection.Connection
	if err := json.Unmarshal([]byte(getS(item, "doc")), &c); err != nil {
		return connection.Record{}, errs.E(errs.Invalid, "store.decodeConnection", fmt.Errorf("connection %s: %w", getS(item, AttrSK), err))
	}
	return connection.Record{
		Connection: c, NeedsReauth: getB(item, "needs_reauth"), ReauthReason: getS(item, "reauth_reason"),
		UpdatedAt: parseTime(getS(item, "updated_at")), Deleted: getB(item, "deleted"),
	}, nil
}

// GetConnection returns one connection (errs.NotExist when absent or deleted).
func (s *Store) GetConnection(ctx context.Context, id string) (connection.Record, error) {
	r, err := s.GetConnectionForReplies(ctx, id)
	if err == nil && r.Deleted {
		return connection.Record{}, errs.E(errs.NotExist, "store.GetConnection", fmt.Errorf("connection %s: deleted", id))
	}
	return r, err
}

// GetConnectionForReplies returns a connection even when it was deleted without --purge,
// so replies on its existing tickets keep working.
func (s *Store) GetConnectionForReplies(ctx context.Context, id string) (connection.Record, error) {
	item, err := s.get(ctx, "store.GetConnection", connectionsPK, id)
	if err != nil {
		return connection.Record{}, fmt.Errorf("connection %s: %w", id, err)
	}
	return decodeConnection(item)
}

// ListConnections returns every connection, ordered by id.
func (s *Store) ListConnections(ctx context.Context) ([]connection.Record, error) {
	var out []connection.Record
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(connectionsPK)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("store.ListConnections", err)
		}
		for _, item := range page.Items {
			r, err := decodeConnection(item)
			if err != nil {
				return nil, err
			}
			if !r.Deleted {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// SetReauth marks a connection as needing (or no longer needing) a human to re-authorise it;
// the scheduler skips such connections instead of retrying them forever.
func (s *Store) SetReauth(ctx context.Context, id string, needs bool, reason string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(connectionsPK, id),
		UpdateExpression:          aws.String("SET needs_reauth = :n, reauth_reason = :r"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": boolean(needs), ":r": str(reason)},
	})
	if isCondFailed(err) {
		return errs.E(errs.NotExist, "store.SetReauth", fmt.Errorf("connection %s: %w", id, ErrNotFound))
	}
	return classify("store.SetReauth", err)
}

// DeleteConnection removes a connection with its cursors. Without purge its links and a
// tombstone of the connection stay, so replies on existing tickets keep working; with purge
// everything goes.
func (s *Store) DeleteConnection(ctx context.Context, id string, purge bool) error {
	rec, err := s.GetConnectionForReplies(ctx, id)
	if err != nil {
		return err
	}
	if rec.Deleted && !purge {
		return errs.E(errs.NotExist, "store.DeleteConnection", fmt.Errorf("connection %s: already deleted", id))
	}
	var keys [][2]string
	more, err := s.queryKeys(ctx, connPK(id))
	if err != nil {
		return err
	}
	for _, k := range more {
		if k[1] != "TOKEN" || purge {
			keys = append(keys, k)
		}
	}
	if !purge {
		if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(connectionsPK, id),
			UpdateExpression:          aws.String("SET deleted = :t, updated_at = :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true), ":now": str(fmtTime(s.now()))},
		}); err != nil {
			return classify("store.DeleteConnection", err)
		}
	} else {
		keys = append(keys, [2]string{connectionsPK, id})
		links, err := s.queryKeys(ctx, linkPK(id))
		if err != nil {
			return err
		}
		keys = append(keys, links...)
	}
	for _, k := range keys {
		if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(k[0], k[1])}); err != nil {
			return classify("store.DeleteConnection", err)
		}
	}
	return nil
}

func (s *Store) queryKeys(ctx context.Context, pk string) ([][2]string, error) {
	var out [][2]string
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ProjectionExpression:      aws.String("#pk, #sk"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("store.query", err)
		}
		for _, it := range page.Items {
			out = append(out, [2]string{getS(it, AttrPK), getS(it, AttrSK)})
		}
	}
	return out, nil
}

func connPK(id string) string { return "CONN#" + id }
