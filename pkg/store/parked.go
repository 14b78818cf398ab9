package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Jobs parked while another worker holds a helpdesk account's lease: instead of going back to
// the queue every LeaseRetry (a message storm when an account is busy), a job waits here, once
// per distinct job, until the holder releases the lease (it sends them) or the scheduler finds
// them (a holder that crashed).
func parkedPK(account string) string { return "PARKED#" + account }

// ParkedTTL is how long a parked job is kept when no one takes it.
const ParkedTTL = 24 * time.Hour

// ParkJob keeps job (its queue body) under the account, once per id (a hash of the body: the
// same job parked twice is one).
func (s *Store) ParkJob(ctx context.Context, account, id, body string) error {
	const op = "store.ParkJob"
	if account == "" || id == "" {
		return emptyKey(op, "account or job id")
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{AttrPK: str(parkedPK(account)), AttrSK: str(id), "body": str(body),
			AttrTTL: num(s.now().Add(ParkedTTL).Unix())},
	})
	return classify(op, err)
}

// TakeParked removes and returns the account's parked jobs. Each is deleted conditionally, so
// two takers at once never both get the same job.
func (s *Store) TakeParked(ctx context.Context, account string) ([]string, error) {
	const op = "store.TakeParked"
	if account == "" {
		return nil, emptyKey(op, "account")
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(parkedPK(account))},
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(100),
	})
	if err != nil {
		return nil, classify(op, err)
	}
	var bodies []string
	for _, it := range out.Items {
		del, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: key(parkedPK(account), getS(it, AttrSK)),
			ConditionExpression: aws.String("attribute_exists(body)"), ReturnValues: types.ReturnValueAllOld,
		})
		if isCondFailed(err) {
			continue // taken by someone else
		}
		if err != nil {
			return bodies, classify(op, err)
		}
		if b := getS(del.Attributes, "body"); b != "" {
			bodies = append(bodies, b)
		}
	}
	return bodies, nil
}
