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

// SaveToken stores the newest token (and, with it, the newest refresh token).
func (s *Store) SaveToken(ctx context.Context, connID string, t token.Token) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrPK: str(connPK(connID)), AttrSK: str("TOKEN"), "access_token": str(t.AccessToken),
			"refresh_token": str(t.RefreshToken), "token_expires": str(fmtTime(t.ExpiresAt)),
		},
	})
	return classify("store.SaveToken", err)
}
