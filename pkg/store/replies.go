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

// ReplyClaimStatus is the outcome of ClaimReply.
type ReplyClaimStatus int

// Reply claim outcomes.
const (
	ReplyClaimedNow    ReplyClaimStatus = iota + 1 // the caller may post this message
	ReplyUsed                                      // the slot is used (by this or another message)
	ReplyBusy                                      // another delivery of this message is posting right now
	ReplyNoLink                                    // the review has no confirmed link
	ReplyRefusedBefore                             // this message was refused for a fixable reason; the slot waits for a new one
)

// ReplyClaim is the result of ClaimReply.
type ReplyClaim struct {
	Status ReplyClaimStatus
	Link   Link
}

// ClaimReply takes the review's one reply slot for a helpdesk message. Only the first message
// ever gets it; the same message may take it again once an earlier attempt's claim expired or
// was released for a retry.
func (s *Store) ClaimReply(ctx context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (ReplyClaim, error) {
	const op = "store.ClaimReply"
	now := s.now()
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(linkPK(connID), reviewID),
		UpdateExpression: aws.String("SET reply_state = :claimed, reply_message_id = :m, reply_owner = :o, reply_expires = :exp, updated_at = :now"),
		ConditionExpression: aws.String("#state = :linked AND (attribute_not_exists(reply_refused_id) OR reply_refused_id <> :m) AND " +
			"(attribute_not_exists(reply_state) OR reply_state = :none OR (reply_state = :claimed AND reply_message_id = :m AND reply_expires < :nowms))"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": str(ReplyClaimed), ":m": num(messageID), ":o": str(owner), ":exp": num(ms(now.Add(ttl))),
			":now": str(fmtTime(now)), ":linked": str(LinkLinked), ":none": str(ReplyNone), ":nowms": num(ms(now)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return ReplyClaim{Status: ReplyClaimedNow, Link: decodeLink(out.Attributes)}, nil
	}
	if !isCondFailed(err) {
		return ReplyClaim{}, classify(op, err)
	}
	var ccf *types.ConditionalCheckFailedException
	var l Link
	if errors.As(err, &ccf) && ccf.Item != nil {
		l = decodeLink(ccf.Item)
	} else if l, err = s.GetLink(ctx, connID, reviewID); err != nil {
		if errs.Is(err, errs.NotExist) {
			return ReplyClaim{Status: ReplyNoLink}, nil
		}
		return ReplyClaim{}, err
	}
	switch {
	case l.State != LinkLinked:
		return ReplyClaim{Status: ReplyNoLink, Link: l}, nil
	case l.ReplyState == ReplyClaimed && l.ReplyMessage == messageID:
		return ReplyClaim{Status: ReplyBusy, Link: l}, nil
	case l.ReplyRefused == messageID:
		return ReplyClaim{Status: ReplyRefusedBefore, Link: l}, nil
	}
	return ReplyClaim{Status: ReplyUsed, Link: l}, nil
}

// FinishReply records the final outcome of the caller's reply claim: ReplyPosted or ReplyFailed,
// with a short human-readable result.
func (s *Store) FinishReply(ctx context.Context, connID, reviewID string, messageID int64, state, result string) error {
	if state != ReplyPosted && state != ReplyFailed {
		return fmt.Errorf("store.FinishReply: bad state %q", state)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET reply_state = :st, reply_result = :r, updated_at = :now REMOVE reply_expires"),
		ConditionExpression:       aws.String("reply_message_id = :m AND reply_state = :claimed"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": str(state), ":r": str(result), ":now": str(fmtTime(s.now())), ":m": num(messageID), ":claimed": str(ReplyClaimed)},
	})
	if isCondFailed(err) {
		return errs.E(errs.Conflict, "store.FinishReply", fmt.Errorf("review %s: reply claim for message %d not held", reviewID, messageID))
	}
	return classify("store.FinishReply", err)
}

// ReleaseReply lets the same message claim the slot again (for a queued retry after a
// transient failure). The slot stays reserved for that message: no other message can take it.
func (s *Store) ReleaseReply(ctx context.Context, connID, reviewID string, messageID int64) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET reply_expires = :zero"),
		ConditionExpression:       aws.String("reply_message_id = :m AND reply_state = :claimed"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":m": num(messageID), ":claimed": str(ReplyClaimed)},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.ReleaseReply", err)
}

// ReopenReply frees the reply slot the caller's message holds, for failures a human can fix
// (Trustpilot credentials, API access): the next public agent reply may then be posted, while
// repeated deliveries of the refused message are not tried again.
func (s *Store) ReopenReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET reply_state = :none, reply_result = :r, reply_refused_id = :m, updated_at = :now REMOVE reply_message_id, reply_expires, reply_owner"),
		ConditionExpression:       aws.String("reply_message_id = :m AND reply_state = :claimed"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":none": str(ReplyNone), ":r": str(result), ":now": str(fmtTime(s.now())), ":m": num(messageID), ":claimed": str(ReplyClaimed)},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.ReopenReply", err)
}
