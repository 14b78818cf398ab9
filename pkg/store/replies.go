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
	"github.com/pilotdesk/pilotdesk/pkg/link"
)

// ClaimReply takes the review's one reply slot for a helpdesk message. Only the first message
// ever gets it; the same message may take it again once an earlier attempt's claim expired or
// was released for a retry.
func (s *Store) ClaimReply(ctx context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (link.SlotClaim, error) {
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
			":claimed": str(string(link.ReplyClaimed)), ":m": num(messageID), ":o": str(owner), ":exp": num(ms(now.Add(ttl))),
			":now": str(fmtTime(now)), ":linked": str(string(link.StateLinked)), ":none": str(string(link.ReplyNone)), ":nowms": num(ms(now)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return link.SlotClaim{Status: link.SlotGranted, Link: decodeLink(out.Attributes)}, nil
	}
	if !isCondFailed(err) {
		return link.SlotClaim{}, classify(op, err)
	}
	var ccf *types.ConditionalCheckFailedException
	var l link.Link
	if errors.As(err, &ccf) && ccf.Item != nil {
		l = decodeLink(ccf.Item)
	} else if l, err = s.GetLink(ctx, connID, reviewID); err != nil {
		if errs.Is(err, errs.NotExist) {
			return link.SlotClaim{Status: link.SlotNoLink}, nil
		}
		return link.SlotClaim{}, err
	}
	switch {
	case l.State != link.StateLinked:
		return link.SlotClaim{Status: link.SlotNoLink, Link: l}, nil
	case l.ReplyState == link.ReplyClaimed && l.ReplyMessage == messageID:
		return link.SlotClaim{Status: link.SlotBusy, Link: l}, nil
	case l.ReplyRefused == messageID:
		return link.SlotClaim{Status: link.SlotRefusedBefore, Link: l}, nil
	}
	return link.SlotClaim{Status: link.SlotUsed, Link: l}, nil
}

// FinishReply records the final outcome of the caller's reply claim: ReplyPosted or ReplyFailed,
// with a short human-readable result.
func (s *Store) FinishReply(ctx context.Context, connID, reviewID string, messageID int64, state link.ReplyState, result string) error {
	if !state.Final() {
		// A caller's bug, not a store failure: retrying cannot help.
		return errs.E(errs.Invalid, "store.FinishReply", fmt.Errorf("bad state %q", state))
	}
	update := "SET reply_state = :st, reply_result = :r, updated_at = :now REMOVE reply_expires"
	if state == link.ReplyPosted {
		update = "SET reply_state = :st, reply_result = :r, updated_at = :now, replied_at = :now REMOVE reply_expires"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("reply_message_id = :m AND reply_state = :claimed"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": str(string(state)), ":r": str(result), ":now": str(fmtTime(s.now())), ":m": num(messageID), ":claimed": str(string(link.ReplyClaimed))},
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":m": num(messageID), ":claimed": str(string(link.ReplyClaimed))},
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
	return s.reopenReply(ctx, "store.ReopenReply", connID, reviewID, messageID, result, "")
}

// HoldReply is ReopenReply for a reply the public-reply guard held back: the slot stays free
// for the next reply, and the link counts the held reply (for the report).
func (s *Store) HoldReply(ctx context.Context, connID, reviewID string, messageID int64, result string) error {
	return s.reopenReply(ctx, "store.HoldReply", connID, reviewID, messageID, result, " ADD reply_held :one")
}

func (s *Store) reopenReply(ctx context.Context, op, connID, reviewID string, messageID int64, result, add string) error {
	vals := map[string]types.AttributeValue{":none": str(string(link.ReplyNone)), ":r": str(result), ":now": str(fmtTime(s.now())), ":m": num(messageID), ":claimed": str(string(link.ReplyClaimed))}
	if add != "" {
		vals[":one"] = num(1)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET reply_state = :none, reply_result = :r, reply_refused_id = :m, updated_at = :now REMOVE reply_message_id, reply_expires, reply_owner" + add),
		ConditionExpression:       aws.String("reply_message_id = :m AND reply_state = :claimed"),
		ExpressionAttributeValues: vals,
	})
	if isCondFailed(err) {
		return nil
	}
	return classify(op, err)
}
