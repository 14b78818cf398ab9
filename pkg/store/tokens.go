package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/token"
)

// LoadToken returns the cached token; ok is false when none is stored.
func (s *Store) LoadToken(ctx context.Context, connID string) (token.Token, bool, error) {
	item, err := s.get(ctx, "store.LoadToken", connPK(connID), "TOKEN")
	if errs.Is(err, errs.NotExist) {
		return token.Token{}, false, nil
	}
	if err != nil {
		return token.Token{}, false, err
	}
	return token.Token{AccessToken: getS(item, "access_token"), RefreshToken: getS(item, "refresh_token"),
		ExpiresAt: parseTime(getS(item, "token_expires"))}, true, nil
}

// SaveToken stores the token (and, with it, its refresh token) unless a newer one is stored.
func (s *Store) SaveToken(ctx context.Context, connID string, t token.Token) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrPK: str(connPK(connID)), AttrSK: str("TOKEN"), "access_token": str(t.AccessToken),
			"refresh_token": str(t.RefreshToken), "token_expires": str(fmtTime(t.ExpiresAt)),
		},
		// Two instances may refresh at once: the older token (whose refresh token the newer
		// refresh spent) must never overwrite the newer one.
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR token_expires < :exp"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":exp": str(fmtTime(t.ExpiresAt))},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.SaveToken", err)
}
