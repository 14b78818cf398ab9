package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
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

// DeleteConnection removes a connection with its cursors. Without purge its links, the sidebar
// entries of its reviews and a tombstone of the connection stay, so replies on existing tickets
// keep working; with purge everything goes.
//
// It marks the connection deleted first (no sync starts on it any more) and waits for a sync
// of it still running to stop (waitForSync), so that nothing that sync writes outlives the
// deletion. A purge then removes the sidebar entries of its reviews, its links, its other
// items and, last, its record: a purge that stopped halfway (an error, a crash) left a
// tombstone, and purging again finishes it. Purging a connection that is gone is
// errs.NotExist and changes nothing.
func (s *Store) DeleteConnection(ctx context.Context, id string, purge bool) error {
	const op = "store.DeleteConnection"
	rec, err := s.GetConnectionForReplies(ctx, id)
	if err != nil {
		return err
	}
	if rec.Deleted && !purge {
		return errs.E(errs.NotExist, op, fmt.Errorf("connection %s: already deleted", id))
	}
	if !rec.Deleted {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(connectionsPK, id),
			UpdateExpression:          aws.String("SET deleted = :t, updated_at = :now"),
			ConditionExpression:       aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true), ":now": str(fmtTime(s.now()))},
		})
		if isCondFailed(err) {
			return errs.E(errs.NotExist, op, fmt.Errorf("connection %s: %w", id, ErrNotFound))
		}
		if err != nil {
			return classify(op, err)
		}
	}
	if err := s.waitForSync(ctx, rec.Connection); err != nil {
		if rec.Deleted {
			return err
		}
		// Nothing is deleted yet: the connection stays as it was (it syncs on), not half deleted.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, uerr := s.db.UpdateItem(uctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(connectionsPK, id),
			UpdateExpression:          aws.String("REMOVE deleted"),
			ConditionExpression:       aws.String("deleted = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true)},
		})
		if uerr != nil && !isCondFailed(uerr) {
			return fmt.Errorf("connection %s is left marked deleted with its sync maybe still running (purge it to finish, or put it again): %w", id, err)
		}
		return fmt.Errorf("connection %s not deleted: %w", id, err)
	}
	if now, err := s.GetConnectionForReplies(ctx, id); err != nil {
		return err
	} else if !now.Deleted {
		return errs.E(errs.Conflict, op, fmt.Errorf("connection %s was put again while its delete waited for its sync: not deleted", id))
	}
	if !purge {
		keys, err := s.queryKeys(ctx, connPK(id))
		if err != nil {
			return err
		}
		keys = slices.DeleteFunc(keys, func(k [2]string) bool { return k[1] == "TOKEN" })
		return s.deleteKeys(ctx, op, keys)
	}
	if err := s.purgeIndexedEntries(ctx, id); err != nil {
		return err
	}
	if err := s.purgeLinks(ctx, rec); err != nil {
		return err
	}
	keys, err := s.queryKeys(ctx, connPK(id))
	if err != nil {
		return err
	}
	if err := s.deleteKeys(ctx, op, keys); err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: key(connectionsPK, id),
		ConditionExpression:       aws.String("deleted = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true)},
	})
	if isCondFailed(err) {
		return errs.E(errs.Conflict, op, fmt.Errorf("connection %s was put again during its purge: its links and sidebar entries are gone, the connection stays", id))
	}
	return classify(op, err)
}

// syncPoll is how often a deletion looks again whether the connection's sync has stopped.
const syncPoll = 250 * time.Millisecond

// leaseSkew is how long past its expiry a lease held for the connection is still waited for:
// the expiry is the worker's clock, the deletion reads it on its own.
const leaseSkew = 30 * time.Second

// waitForSync returns once no sync of the connection can still write: its helpdesk account's
// lease (one sync per account) is free, expired, or held for another connection. A lease
// taken without a holder (a worker of an earlier version) counts as this connection's. A sync
// checks that its connection still exists when it has the lease and every few seconds after
// (reviewsync.Config.GoneCheck), then stops and gives the lease up, so the wait is about that
// long; a sync that died keeps the lease only until it expires, at its invocation's end (and
// leaseSkew more: the clocks of the worker and of the deletion may differ).
func (s *Store) waitForSync(ctx context.Context, c connection.Connection) error {
	name := c.HelpdeskAccountKey()
	if name == "" {
		return nil
	}
	for {
		holder, until, exists, err := s.lease(ctx, name)
		if err != nil {
			return err
		}
		left := until.Add(leaseSkew).Sub(s.now())
		if !exists || left < 0 || (holder != "" && holder != c.ID) {
			return nil
		}
		t := time.NewTimer(max(min(syncPoll, left), time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("connection %s: waiting for its sync to stop (the lease runs to %s): %w", c.ID, until.UTC().Format(time.RFC3339), ctx.Err())
		case <-t.C:
		}
	}
}

// purgeIndexedEntries removes the sidebar entries indexed under the connection, a page of the
// index at a time. The index is eventually consistent: an entry another connection's review
// has overwritten since may still be listed here, which is why deleteEntries reads each
// page's items again from the table.
func (s *Store) purgeIndexedEntries(ctx context.Context, connID string) error {
	const op = "store.DeleteConnection"
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": AttrGSI1PK, "#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(sidebarGSI(connID))},
		ProjectionExpression:      aws.String("#pk, #sk"),
	}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return classify(op, err)
		}
		keys := make([][2]string, 0, len(out.Items))
		for _, it := range out.Items {
			keys = append(keys, [2]string{getS(it, AttrPK), getS(it, AttrSK)})
		}
		if err := s.deleteEntries(ctx, connID, keys); err != nil {
			return err
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// purgeLinks removes the connection's links a page at a time, each page's sidebar entries
// first: entries written before they were indexed under their connection are found through
// their links (a linked review's link names its reviewer and account; a set-aside one's
// snapshot, its reviewer's email). A link goes only after its entry did, so an interrupted
// purge still finds the entries of the links it left.
func (s *Store) purgeLinks(ctx context.Context, rec connection.Record) error {
	const op = "store.DeleteConnection"
	connID, connAccount := rec.Connection.ID, rec.Connection.HelpdeskAccountKey()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#acct": "account", "#rv": "reviewer", "#snap": "review_snapshot"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(linkPK(connID))},
		ProjectionExpression:      aws.String("#pk, #sk, #acct, #rv, #snap"),
		ConsistentRead:            aws.Bool(true),
	}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return classify(op, err)
		}
		var entries, links [][2]string
		for _, it := range out.Items {
			reviewID := getS(it, AttrSK)
			links = append(links, [2]string{getS(it, AttrPK), reviewID})
			who := []string{getS(it, "reviewer")}
			if snap := getS(it, "review_snapshot"); snap != "" {
				var rv review.Review
				if json.Unmarshal([]byte(snap), &rv) == nil {
					who = append(who, reviewer.Key(rv.Email))
				}
			}
			for _, acct := range []string{getS(it, "account"), connAccount} {
				for _, w := range who {
					if acct != "" && w != "" && reviewID != "" {
						entries = append(entries, [2]string{reviewerPK(acct, w), reviewID})
					}
				}
			}
		}
		if err := s.deleteEntries(ctx, connID, entries); err != nil {
			return err
		}
		if err := s.deleteKeys(ctx, op, links); err != nil {
			return err
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// deleteEntries reads the sidebar entries at keys from the table (consistently; a key that
// holds nothing is skipped) and deletes those that came from the connection's reviews. An
// item another connection's review wrote (connections of one helpdesk account may see one
// review) stays.
func (s *Store) deleteEntries(ctx context.Context, connID string, keys [][2]string) error {
	const op = "store.DeleteConnection"
	items, err := s.getKeys(ctx, op, keys, AttrPK, AttrSK, "entry")
	if err != nil {
		return err
	}
	var ours [][2]string
	for _, it := range items {
		if entryConnection(getS(it, "entry")) == connID {
			ours = append(ours, [2]string{getS(it, AttrPK), getS(it, AttrSK)})
		}
	}
	return s.deleteKeys(ctx, op, ours)
}

func (s *Store) queryKeys(ctx context.Context, pk string) ([][2]string, error) {
	var out [][2]string
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ProjectionExpression:      aws.String("#pk, #sk"),
		ConsistentRead:            aws.Bool(true),
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
