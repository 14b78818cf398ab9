package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

func linkPK(connID string) string { return "LINK#" + connID }

// Links are indexed by ticket id alone: the helpdesk's webhook call does not always say which
// helpdesk account it comes from, and ticket ids rarely collide across accounts; the sort key
// starts with the account so a caller that knows it can narrow the query.
func ticketGSI(ticketID int64) string { return "TICKET#" + strconv.FormatInt(ticketID, 10) }

func ticketGSISort(account, connID, reviewID string) string {
	return account + "#" + connID + "#" + reviewID
}

func decodeLink(item map[string]types.AttributeValue) link.Link {
	return link.Link{
		ConnectionID:  getS(item, "connection_id"),
		ReviewID:      getS(item, AttrSK),
		Kind:          review.Kind(getS(item, "kind")),
		State:         link.State(getS(item, "state")),
		Owner:         getS(item, "owner"),
		ClaimExpires:  msTime(getN(item, "claim_expires")),
		Attempts:      getN(item, "attempts"),
		TicketID:      getN(item, "ticket_id"),
		CustomerID:    getN(item, "customer_id"),
		Account:       getS(item, "account"),
		Reviewer:      getS(item, "reviewer"),
		ReviewVersion: parseTime(getS(item, "review_version")),
		Stars:         int(getN(item, "stars")),
		ReplyState:    link.ReplyState(getS(item, "reply_state")),
		ReplyMessage:  getN(item, "reply_message_id"),
		ReplyExpires:  msTime(getN(item, "reply_expires")),
		ReplyOwner:    getS(item, "reply_owner"),
		ReplyResult:   getS(item, "reply_result"),
		ReplyRefused:  getN(item, "reply_refused_id"),
		UpdatedAt:     parseTime(getS(item, "updated_at")),
		LinkedAt:      parseTime(getS(item, "linked_at")),
		Failures:      getN(item, "failures"),
		LastError:     getS(item, "last_error"),
		GivenUp:       getB(item, "given_up"),
		Uncertain:     msTime(getN(item, "uncertain_at")),
		Snapshot:      getS(item, "review_snapshot"),
		DeletedAt:     parseTime(getS(item, "deleted_at")),

		ReviewCreatedAt: parseTime(getS(item, "review_created")),
		Language:        getS(item, "review_language"),
		ReferenceID:     getS(item, "reference_id"),
		RepliedAt:       parseTime(getS(item, "replied_at")),
		Held:            getN(item, "reply_held"),
	}
}

// Set-aside reviews are listed through the ticket index under their connection: a review is
// either set aside or linked, never both, so its link item holds one index entry at a time and
// ConfirmLink's ticket entry replaces the set-aside one.
func asideGSI(connID string) string { return "ASIDE#" + connID }

// givenUpMs is the claim expiry of a review given up: no claim ever passes it.
const givenUpMs = 253402300799000 // 9999-12-31T23:59:59Z

// ClaimReview takes the right to create the ticket for a review, with a conditional write:
// it succeeds when no link exists or the previous claim expired.
func (s *Store) ClaimReview(ctx context.Context, connID, reviewID string, kind review.Kind, owner string, ttl time.Duration) (link.Claim, error) {
	const op = "store.ClaimReview"
	now := s.now()
	vals := claimValues(connID, kind, owner, now, ttl)
	vals[":nowms"], vals[":failed"] = num(ms(now)), str(string(link.StateFailed))
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(linkPK(connID), reviewID),
		UpdateExpression:                    aws.String(claimUpdate),
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR ((#state = :claimed OR #state = :failed) AND claim_expires < :nowms)"),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#state": "state", "#owner": "owner"},
		ExpressionAttributeValues:           vals,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		l := decodeLink(out.Attributes)
		return link.Claim{Status: link.ClaimGranted, Recover: l.Attempts > 1, Link: l}, nil
	}
	if !isCondFailed(err) {
		return link.Claim{}, classify(op, err)
	}
	var ccf *types.ConditionalCheckFailedException
	var l link.Link
	if errors.As(err, &ccf) && ccf.Item != nil {
		l = decodeLink(ccf.Item)
	} else if l, err = s.GetLink(ctx, connID, reviewID); err != nil {
		return link.Claim{}, err
	}
	switch l.State {
	case link.StateLinked:
		return link.Claim{Status: link.ClaimLinked, Link: l}, nil
	case link.StateFailed:
		return link.Claim{Status: link.ClaimRefused, Link: l}, nil
	}
	return link.Claim{Status: link.ClaimBusy, Link: l}, nil
}

// ReleaseClaim gives a claim up after a failure, keeping the attempt count so the next claimer
// knows to look for a ticket the failed attempt may have created.
func (s *Store) ReleaseClaim(ctx context.Context, connID, reviewID, owner string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET claim_expires = :zero"),
		ConditionExpression:       aws.String("#state = :claimed AND #owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":claimed": str(string(link.StateClaimed)), ":owner": str(owner)},
	})
	if isCondFailed(err) {
		return nil // someone else took over already: nothing of ours to release
	}
	return classify("store.ReleaseClaim", err)
}

// SetAside records that the caller's attempt at a review's ticket did not end in a ticket: the
// review goes on the set-aside list (indexed under its connection), not to be claimed before
// a.RetryAt (never when given up), with the reason for the operator. A claim the caller no
// longer holds is left alone.
func (s *Store) SetAside(ctx context.Context, a link.Aside) error {
	until := ms(a.RetryAt)
	if a.GivenUp {
		until = givenUpMs
	}
	set := "#state = :failed, claim_expires = :until, last_error = :r, given_up = :gu, updated_at = :now, #g1pk = :apk, #g1sk = :ask"
	vals := map[string]types.AttributeValue{
		":failed": str(string(link.StateFailed)), ":until": num(until), ":r": str(a.Reason), ":gu": boolean(a.GivenUp),
		":now": str(fmtTime(s.now())), ":apk": str(asideGSI(a.ConnectionID)), ":ask": str(a.ReviewID),
		":claimed": str(string(link.StateClaimed)), ":owner": str(a.Owner),
	}
	if len(a.Snapshot) > 0 {
		set += ", review_snapshot = :snap"
		vals[":snap"] = str(a.Snapshot)
	}
	if !a.Uncertain.IsZero() {
		set += ", uncertain_at = :u"
		vals[":u"] = num(ms(a.Uncertain))
	}
	expr := "SET " + set
	if a.Failed {
		expr += " ADD failures :one"
		vals[":one"] = num(1)
	}
	if a.Settled && a.Uncertain.IsZero() {
		expr += " REMOVE uncertain_at"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(a.ConnectionID), a.ReviewID),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#state = :claimed AND #owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#owner": "owner", "#g1pk": AttrGSI1PK, "#g1sk": AttrGSI1SK},
		ExpressionAttributeValues: vals,
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.SetAside", err)
}

// RecordUnreadable lists a review Trustpilot sent but that could not be read (no snapshot to
// retry it with): given up for the set-aside pass, yet claimable at once, so the sync links it
// as soon as Trustpilot sends it readable. A linked or claimed review is left alone.
func (s *Store) RecordUnreadable(ctx context.Context, connID, reviewID string, kind review.Kind, reason string) error {
	now := s.now()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key:       key(linkPK(connID), reviewID),
		UpdateExpression: aws.String("SET #state = :failed, claim_expires = :zero, last_error = :r, given_up = :t, connection_id = :conn, " +
			"kind = :kind, updated_at = :now, #g1pk = :apk, #g1sk = :ask ADD failures :one"),
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #state = :failed"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#state": "state", "#g1pk": AttrGSI1PK, "#g1sk": AttrGSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": str(string(link.StateFailed)), ":zero": num(0), ":r": str(reason), ":t": boolean(true),
			":conn": str(connID), ":kind": str(string(kind)), ":now": str(fmtTime(now)),
			":apk": str(asideGSI(connID)), ":ask": str(reviewID), ":one": num(1),
		},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.RecordUnreadable", err)
}

// ListSetAside returns a connection's set-aside reviews (from the index: eventually consistent;
// the claim decides).
func (s *Store) ListSetAside(ctx context.Context, connID string) ([]link.Link, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(asideGSI(connID))},
	}
	var links []link.Link
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, classify("store.ListSetAside", err)
		}
		for _, item := range out.Items {
			links = append(links, decodeLink(item))
		}
		if len(out.LastEvaluatedKey) == 0 {
			return links, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ListLinks returns every link of a connection (linked, set aside or claimed), for the report.
func (s *Store) ListLinks(ctx context.Context, connID string) ([]link.Link, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(linkPK(connID))},
	}
	var links []link.Link
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, classify("store.ListLinks", err)
		}
		for _, item := range out.Items {
			links = append(links, decodeLink(item))
		}
		if len(out.LastEvaluatedKey) == 0 {
			return links, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// RetrySetAside makes a set-aside review due now with a fresh attempt budget (the operator's
// --retry-failed). errs.NotExist when the review is not set aside.
func (s *Store) RetrySetAside(ctx context.Context, connID, reviewID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET claim_expires = :zero, given_up = :f, failures = :zero, updated_at = :now"),
		ConditionExpression:       aws.String("#state = :failed"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":f": boolean(false), ":now": str(fmtTime(s.now())), ":failed": str(string(link.StateFailed))},
	})
	if isCondFailed(err) {
		return errs.E(errs.NotExist, "store.RetrySetAside", fmt.Errorf("review %s is not set aside", reviewID))
	}
	return classify("store.RetrySetAside", err)
}

// ConfirmLink turns the caller's claim into a link and takes the review off the set-aside list.
// It fails with link.ErrClaimLost (errs.Conflict) when the claim is no longer the caller's, or
// has expired and the ticket is not a recovered one: a ticket created after the claim expired
// may have a twin another worker created meanwhile.
func (s *Store) ConfirmLink(ctx context.Context, c link.Confirm) error {
	update, cond, vals := confirmValues(c, s.now())
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(c.ConnectionID), c.ReviewID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  confirmNames(),
		ExpressionAttributeValues: vals,
	})
	if isCondFailed(err) {
		return errs.E(errs.Conflict, "store.ConfirmLink", fmt.Errorf("review %s: %w", c.ReviewID, link.ErrClaimLost))
	}
	return classify("store.ConfirmLink", err)
}

// The claim's and the confirm's writes, shared by ClaimReview, ConfirmLink and
// ConfirmAndClaim.
const (
	claimUpdate = "SET #state = :claimed, #owner = :owner, claim_expires = :exp, connection_id = :conn, " +
		"kind = :kind, updated_at = :now ADD attempts :one"
)

// confirmUpdate is the confirm's update expression, with set (", attr = :attr" of the review's
// optional attributes) among its SETs.
func confirmUpdate(set string) string {
	return "SET #state = :linked, ticket_id = :t, customer_id = :cu, account = :acct, reviewer = :rv, review_version = :v, " +
		"stars = :stars, updated_at = :now, linked_at = :now, #g1pk = :g1pk, #g1sk = :g1sk" + set + " " +
		"REMOVE claim_expires, failures, last_error, given_up, uncertain_at, review_snapshot"
}

func claimValues(connID string, kind review.Kind, owner string, now time.Time, ttl time.Duration) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		":claimed": str(string(link.StateClaimed)), ":owner": str(owner), ":exp": num(ms(now.Add(ttl))),
		":conn": str(connID), ":kind": str(string(kind)), ":now": str(fmtTime(now)), ":one": num(1),
	}
}

func confirmNames() map[string]string {
	return map[string]string{"#state": "state", "#owner": "owner", "#g1pk": AttrGSI1PK, "#g1sk": AttrGSI1SK}
}

// confirmValues are ConfirmLink's update expression, condition and values.
func confirmValues(c link.Confirm, now time.Time) (string, string, map[string]types.AttributeValue) {
	vals := map[string]types.AttributeValue{
		":linked": str(string(link.StateLinked)), ":claimed": str(string(link.StateClaimed)), ":owner": str(c.Owner),
		":t": num(c.TicketID), ":cu": num(c.CustomerID), ":acct": str(c.Account), ":v": str(fmtTime(c.ReviewVersion)),
		":rv": str(c.Reviewer), ":stars": num(int64(c.Stars)), ":now": str(fmtTime(now)),
		":g1pk": str(ticketGSI(c.TicketID)), ":g1sk": str(ticketGSISort(c.Account, c.ConnectionID, c.ReviewID)),
	}
	set := ""
	for attr, v := range map[string]string{"review_created": fmtTime(c.ReviewCreatedAt), "review_language": c.Language, "reference_id": c.ReferenceID} {
		if v != "" {
			set += ", " + attr + " = :" + attr
			vals[":"+attr] = str(v)
		}
	}
	cond := "#state = :claimed AND #owner = :owner"
	if !c.Recovered {
		cond += " AND claim_expires >= :nowms"
		vals[":nowms"] = num(ms(now))
	}
	return confirmUpdate(set), cond, vals
}

// ConfirmAndClaim writes a sync's batch in one transaction: each confirm as ConfirmLink would,
// each claim as ClaimReview would grant it to a review with no link at all yet (by the batch's
// owner, for its ClaimTTL), so that a backfill's review costs a fraction of a store write.
// It reports false, having written nothing, when any condition does not hold (a confirm's
// claim was lost, or a review to claim has a link now); the caller then confirms and claims
// one at a time, which tells which. The granted claims are in the batch's order.
func (s *Store) ConfirmAndClaim(ctx context.Context, b link.Batch) ([]link.Claim, bool, error) {
	const op = "store.ConfirmAndClaim"
	if err := b.Check(); err != nil {
		return nil, false, errs.E(errs.Invalid, op, err)
	}
	now := s.now()
	items := make([]types.TransactWriteItem, 0, len(b.Confirms)+len(b.Claims))
	for _, c := range b.Confirms {
		update, cond, vals := confirmValues(c, now)
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.table), Key: key(linkPK(c.ConnectionID), c.ReviewID),
			UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: confirmNames(), ExpressionAttributeValues: vals,
		}})
	}
	for _, w := range b.Claims {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.table), Key: key(linkPK(b.ConnectionID), w.ReviewID),
			UpdateExpression: aws.String(claimUpdate), ConditionExpression: aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#state": "state", "#owner": "owner"},
			ExpressionAttributeValues: claimValues(b.ConnectionID, w.Kind, b.Owner, now, b.ClaimTTL),
		}})
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify(op, err)
	}
	claims := make([]link.Claim, 0, len(b.Claims))
	for _, w := range b.Claims {
		claims = append(claims, link.Claim{Status: link.ClaimGranted, Link: link.Link{
			ConnectionID: b.ConnectionID, ReviewID: w.ReviewID, Kind: w.Kind, State: link.StateClaimed, Owner: b.Owner,
			ClaimExpires: msTime(ms(now.Add(b.ClaimTTL))), Attempts: 1, UpdatedAt: parseTime(fmtTime(now)),
		}})
	}
	return claims, true, nil
}

// DropClaim removes a claim the owner took ahead and never used (no create was sent under
// it): the review is back to having no link at all, so whoever claims it next creates its
// ticket without first looking for one. A claim that was used, or is no longer the owner's,
// is left alone.
func (s *Store) DropClaim(ctx context.Context, connID, reviewID, owner string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		ConditionExpression:       aws.String("#state = :claimed AND #owner = :owner AND attempts = :one"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":claimed": str(string(link.StateClaimed)), ":owner": str(owner), ":one": num(1)},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.DropClaim", err)
}

// GetLink returns one link (errs.NotExist when absent).
func (s *Store) GetLink(ctx context.Context, connID, reviewID string) (link.Link, error) {
	item, err := s.get(ctx, "store.GetLink", linkPK(connID), reviewID)
	if err != nil {
		return link.Link{}, err
	}
	return decodeLink(item), nil
}

// GetLinks looks many reviews up at once (BatchGetItem, 100 keys a call) and returns the
// links that exist, by review id. One call per page of reviews keeps product-review scans cheap.
func (s *Store) GetLinks(ctx context.Context, connID string, reviewIDs []string) (map[string]link.Link, error) {
	keys := make([][2]string, 0, len(reviewIDs))
	for _, id := range reviewIDs {
		keys = append(keys, [2]string{linkPK(connID), id})
	}
	items, err := s.getKeys(ctx, "store.GetLinks", keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]link.Link, len(items))
	for _, item := range items {
		l := decodeLink(item)
		out[l.ReviewID] = l
	}
	return out, nil
}

// LinksByTicket returns the links recorded for a helpdesk ticket id (normally one; ticket ids
// of two helpdesk accounts may collide, and the ticket's external id then tells them apart).
func (s *Store) LinksByTicket(ctx context.Context, ticketID int64) ([]link.Link, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(ticketGSI(ticketID))},
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, classify("store.LinksByTicket", err)
	}
	links := make([]link.Link, 0, len(out.Items))
	for _, item := range out.Items {
		links = append(links, decodeLink(item))
	}
	return links, nil
}

// SetReviewVersion records that the ticket shows the review as of version. It only moves
// forward: an older version never overwrites a newer one.
func (s *Store) SetReviewVersion(ctx context.Context, connID, reviewID string, version time.Time, stars int) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET review_version = :v, stars = :s, updated_at = :now"),
		ConditionExpression:       aws.String("#state = :linked AND review_version < :v"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(fmtTime(version)), ":s": num(int64(stars)), ":linked": str(string(link.StateLinked)), ":now": str(fmtTime(s.now()))},
	})
	if isCondFailed(err) {
		return false, nil
	}
	return err == nil, classify("store.SetReviewVersion", err)
}

// SetReviewer names a linked review's reviewer (reviewer.Key) and helpdesk account on a link
// that names none: a link made before the sidebar's index existed, whose entry is written now.
// The link then leads a purge to the entry. It reports false, changing nothing, when the link
// is not linked or names a reviewer already.
func (s *Store) SetReviewer(ctx context.Context, connID, reviewID, account, who string) (bool, error) {
	const op = "store.SetReviewer"
	if account == "" || who == "" {
		return false, emptyKey(op, "account or reviewer")
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET reviewer = :rv, account = if_not_exists(account, :acct), updated_at = :now"),
		ConditionExpression:       aws.String("#state = :linked AND (attribute_not_exists(reviewer) OR reviewer = :none)"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":rv": str(who), ":acct": str(account), ":none": str(""), ":linked": str(string(link.StateLinked)), ":now": str(fmtTime(s.now()))},
	})
	if isCondFailed(err) {
		return false, nil
	}
	return err == nil, classify(op, err)
}

// MarkDeleted records that the review was deleted on Trustpilot: its snapshot (the only copy of
// its text in the table) is removed, the link kept. It reports whether this call marked it
// (false when it already was, or no link exists).
func (s *Store) MarkDeleted(ctx context.Context, connID, reviewID string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET deleted_at = :now, updated_at = :now REMOVE review_snapshot, reference_id"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(deleted_at)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(fmtTime(s.now()))},
	})
	if isCondFailed(err) {
		return false, nil
	}
	return err == nil, classify("store.MarkDeleted", err)
}

// MarkReinstated clears DeletedAt: the review is back on Trustpilot. It reports whether it was
// marked deleted.
func (s *Store) MarkReinstated(ctx context.Context, connID, reviewID string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(linkPK(connID), reviewID),
		UpdateExpression:    aws.String("REMOVE deleted_at"),
		ConditionExpression: aws.String("attribute_exists(deleted_at)"),
	})
	if isCondFailed(err) {
		return false, nil
	}
	return err == nil, classify("store.MarkReinstated", err)
}
