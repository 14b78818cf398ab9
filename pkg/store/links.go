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
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Link states.
const (
	LinkClaimed = "claimed" // a worker is creating the ticket
	LinkLinked  = "linked"  // the ticket exists and is recorded
	LinkFailed  = "failed"  // creating failed for good; not tried again before ClaimExpires
)

// Reply states.
const (
	ReplyNone    = ""
	ReplyClaimed = "claimed" // a reply is being posted (or waits for a retry)
	ReplyPosted  = "posted"  // Trustpilot has the reply
	ReplyFailed  = "failed"  // refused for good; the slot stays used (policy "first")
)

// Link is the durable record review ↔ ticket: the source of truth for "already synced" and
// "already replied", never the helpdesk's tags.
type Link struct {
	ConnectionID  string
	ReviewID      string
	Kind          review.Kind
	State         string
	Owner         string
	ClaimExpires  time.Time
	Attempts      int64
	TicketID      int64
	CustomerID    int64
	Account       string // helpdesk account key
	ReviewVersion time.Time
	Stars         int
	ReplyState    string
	ReplyMessage  int64 // the helpdesk message that used the reply slot
	ReplyExpires  time.Time
	ReplyOwner    string
	ReplyResult   string
	ReplyRefused  int64 // the last message refused for a fixable reason (not tried again)
	UpdatedAt     time.Time
}

func linkPK(connID string) string { return "LINK#" + connID }

// Links are indexed by ticket id alone: the helpdesk's webhook call does not always say which
// helpdesk account it comes from, and ticket ids rarely collide across accounts; the sort key
// starts with the account so a caller that knows it can narrow the query.
func ticketGSI(ticketID int64) string { return "TICKET#" + strconv.FormatInt(ticketID, 10) }

func ticketGSISort(account, connID, reviewID string) string {
	return account + "#" + connID + "#" + reviewID
}

func decodeLink(item map[string]types.AttributeValue) Link {
	return Link{
		ConnectionID:  getS(item, "connection_id"),
		ReviewID:      getS(item, AttrSK),
		Kind:          review.Kind(getS(item, "kind")),
		State:         getS(item, "state"),
		Owner:         getS(item, "owner"),
		ClaimExpires:  time.UnixMilli(getN(item, "claim_expires")),
		Attempts:      getN(item, "attempts"),
		TicketID:      getN(item, "ticket_id"),
		CustomerID:    getN(item, "customer_id"),
		Account:       getS(item, "account"),
		ReviewVersion: parseTime(getS(item, "review_version")),
		Stars:         int(getN(item, "stars")),
		ReplyState:    getS(item, "reply_state"),
		ReplyMessage:  getN(item, "reply_message_id"),
		ReplyExpires:  time.UnixMilli(getN(item, "reply_expires")),
		ReplyOwner:    getS(item, "reply_owner"),
		ReplyResult:   getS(item, "reply_result"),
		ReplyRefused:  getN(item, "reply_refused_id"),
		UpdatedAt:     parseTime(getS(item, "updated_at")),
	}
}

// ClaimStatus is the outcome of a claim.
type ClaimStatus int

// Claim outcomes.
const (
	Claimed ClaimStatus = iota + 1 // the caller owns the review until the claim expires
	Linked                         // the ticket already exists: nothing to create
	Busy                           // another worker holds a live claim
	Failed                         // it failed for good recently: skip it until ClaimExpires
)

// Claim is the result of ClaimReview.
type Claim struct {
	Status ClaimStatus
	// Recover is true when an earlier attempt may already have created the ticket (it crashed
	// or failed after sending the request): look the ticket up by external_id before creating.
	Recover bool
	Link    Link
}

// ClaimReview takes the right to create the ticket for a review, with a conditional write:
// it succeeds when no link exists or the previous claim expired.
func (s *Store) ClaimReview(ctx context.Context, connID, reviewID string, kind review.Kind, owner string, ttl time.Duration) (Claim, error) {
	const op = "store.ClaimReview"
	now := s.now()
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key:       key(linkPK(connID), reviewID),
		UpdateExpression: aws.String("SET #state = :claimed, #owner = :owner, claim_expires = :exp, connection_id = :conn, " +
			"kind = :kind, updated_at = :now ADD attempts :one"),
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR ((#state = :claimed OR #state = :failed) AND claim_expires < :nowms)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#state": "state", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": str(LinkClaimed), ":owner": str(owner), ":exp": num(ms(now.Add(ttl))),
			":conn": str(connID), ":kind": str(string(kind)), ":now": str(fmtTime(now)),
			":one": num(1), ":nowms": num(ms(now)), ":failed": str(LinkFailed),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		l := decodeLink(out.Attributes)
		return Claim{Status: Claimed, Recover: l.Attempts > 1, Link: l}, nil
	}
	if !isCondFailed(err) {
		return Claim{}, classify(op, err)
	}
	var ccf *types.ConditionalCheckFailedException
	var l Link
	if errors.As(err, &ccf) && ccf.Item != nil {
		l = decodeLink(ccf.Item)
	} else if l, err = s.GetLink(ctx, connID, reviewID); err != nil {
		return Claim{}, err
	}
	switch l.State {
	case LinkLinked:
		return Claim{Status: Linked, Link: l}, nil
	case LinkFailed:
		return Claim{Status: Failed, Link: l}, nil
	}
	return Claim{Status: Busy, Link: l}, nil
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":claimed": str(LinkClaimed), ":owner": str(owner)},
	})
	if isCondFailed(err) {
		return nil // someone else took over already: nothing of ours to release
	}
	return classify("store.ReleaseClaim", err)
}

// FailClaim records that creating the review's ticket failed for good (the helpdesk refused
// it): the review is skipped until retryAfter, then tried again (looking for a ticket first).
func (s *Store) FailClaim(ctx context.Context, connID, reviewID, owner, reason string, retryAfter time.Duration) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(linkPK(connID), reviewID),
		UpdateExpression:          aws.String("SET #state = :failed, claim_expires = :until, last_error = :r"),
		ConditionExpression:       aws.String("#state = :claimed AND #owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": str(LinkFailed), ":until": num(ms(s.now().Add(retryAfter))), ":r": str(reason), ":claimed": str(LinkClaimed), ":owner": str(owner)},
	})
	if isCondFailed(err) {
		return nil
	}
	return classify("store.FailClaim", err)
}

// ErrClaimLost means the caller's claim expired and another worker took the review over.
var ErrClaimLost = errors.New("claim lost to another worker")

// Confirm records the ticket for a claimed review and makes the link final.
type Confirm struct {
	ConnectionID  string
	ReviewID      string
	Owner         string
	Account       string
	TicketID      int64
	CustomerID    int64
	ReviewVersion time.Time
	Stars         int
}

// ConfirmLink turns the caller's claim into a link. It fails with ErrClaimLost (errs.Conflict)
// when the claim is no longer the caller's.
func (s *Store) ConfirmLink(ctx context.Context, c Confirm) error {
	now := s.now()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key:       key(linkPK(c.ConnectionID), c.ReviewID),
		UpdateExpression: aws.String("SET #state = :linked, ticket_id = :t, customer_id = :cu, account = :acct, review_version = :v, " +
			"stars = :stars, updated_at = :now, #g1pk = :g1pk, #g1sk = :g1sk REMOVE claim_expires"),
		ConditionExpression:      aws.String("#state = :claimed AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#state": "state", "#owner": "owner", "#g1pk": AttrGSI1PK, "#g1sk": AttrGSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":linked": str(LinkLinked), ":claimed": str(LinkClaimed), ":owner": str(c.Owner),
			":t": num(c.TicketID), ":cu": num(c.CustomerID), ":acct": str(c.Account), ":v": str(fmtTime(c.ReviewVersion)),
			":stars": num(int64(c.Stars)), ":now": str(fmtTime(now)),
			":g1pk": str(ticketGSI(c.TicketID)), ":g1sk": str(ticketGSISort(c.Account, c.ConnectionID, c.ReviewID)),
		},
	})
	if isCondFailed(err) {
		return errs.E(errs.Conflict, "store.ConfirmLink", fmt.Errorf("review %s: %w", c.ReviewID, ErrClaimLost))
	}
	return classify("store.ConfirmLink", err)
}

// GetLink returns one link (errs.NotExist when absent).
func (s *Store) GetLink(ctx context.Context, connID, reviewID string) (Link, error) {
	item, err := s.get(ctx, "store.GetLink", linkPK(connID), reviewID)
	if err != nil {
		return Link{}, err
	}
	return decodeLink(item), nil
}

// GetLinks looks many reviews up at once (BatchGetItem, 100 keys a call) and returns the
// links that exist, by review id. One call per page of reviews keeps product-review scans cheap.
func (s *Store) GetLinks(ctx context.Context, connID string, reviewIDs []string) (map[string]Link, error) {
	const op = "store.GetLinks"
	out := make(map[string]Link, len(reviewIDs))
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, id := range reviewIDs {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(linkPK(connID), id))
		}
	}
	for start := 0; start < len(keys); start += 100 {
		end := min(start+100, len(keys))
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys[start:end], ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 8 {
				return nil, errs.E(errs.Transient, op, errors.New("unprocessed keys after retries"))
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, classify(op, err)
			}
			for _, item := range res.Responses[s.table] {
				l := decodeLink(item)
				out[l.ReviewID] = l
			}
			req = res.UnprocessedKeys
			if len(req) > 0 {
				time.Sleep(time.Duration(10<<attempt) * time.Millisecond)
			}
		}
	}
	return out, nil
}

// LinksByTicket returns the links recorded for a helpdesk ticket id (normally one); account
// narrows them to one helpdesk account when not empty.
func (s *Store) LinksByTicket(ctx context.Context, account string, ticketID int64) ([]Link, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(ticketGSI(ticketID))},
	}
	if account != "" {
		in.KeyConditionExpression = aws.String("#g = :g AND begins_with(#s, :acct)")
		in.ExpressionAttributeNames["#s"] = AttrGSI1SK
		in.ExpressionAttributeValues[":acct"] = str(account + "#")
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, classify("store.LinksByTicket", err)
	}
	links := make([]Link, 0, len(out.Items))
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(fmtTime(version)), ":s": num(int64(stars)), ":linked": str(LinkLinked), ":now": str(fmtTime(s.now()))},
	})
	if isCondFailed(err) {
		return false, nil
	}
	return err == nil, classify("store.SetReviewVersion", err)
}
