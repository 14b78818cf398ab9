package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

func leasePK(name string) string { return "LEASE#" + name }

// AcquireLease takes (or renews, for the same owner) the named lease until now+ttl. It returns
// false when another owner holds an unexpired lease. Used so only one worker syncs a helpdesk
// account at a time, and one process refreshes a Trustpilot token.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return s.AcquireLeaseFor(ctx, name, owner, "", ttl)
}

// AcquireLeaseFor is AcquireLease recording what the lease is held for (a sync's connection
// id): LeaseHolder tells it, so that deleting a connection can wait for its sync to stop.
func (s *Store) AcquireLeaseFor(ctx context.Context, name, owner, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	exp := now.Add(ttl)
	item := map[string]types.AttributeValue{
		AttrPK: str(leasePK(name)), AttrSK: str("LEASE"), "owner": str(owner),
		"lease_expires": num(ms(exp)), AttrTTL: num(exp.Add(24 * time.Hour).Unix()),
	}
	if holder != "" {
		item["holder"] = str(holder)
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR lease_expires < :now OR #owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(ms(now)), ":owner": str(owner)},
	})
	if isCondFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, classify("store.AcquireLease", err)
	}
	return true, nil
}

// ReleaseLease gives the lease up if the caller still holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(leasePK(name), "LEASE"),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": str(owner)},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.ReleaseLease", err)
}

// LeaseHolder reads the named lease: what it is held for (AcquireLeaseFor's holder; "" when
// it was taken without one) and until when; held is false when nobody holds it unexpired.
func (s *Store) LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, held bool, err error) {
	holder, until, exists, err := s.lease(ctx, name)
	if err != nil || !exists || ms(until) < ms(s.now()) { // expired as AcquireLease sees it
		return "", time.Time{}, false, err
	}
	return holder, until, true, nil
}

// lease reads the named lease item, expired or not.
func (s *Store) lease(ctx context.Context, name string) (holder string, until time.Time, exists bool, err error) {
	item, err := s.get(ctx, "store.LeaseHolder", leasePK(name), "LEASE")
	if errs.Is(err, errs.NotExist) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, err
	}
	return getS(item, "holder"), msTime(getN(item, "lease_expires")), true, nil
}
