package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
)

// The sidebar's reviewer index: one item per review under the reviewer's key (a hash of the
// email, never the email) within a helpdesk account, holding the review's sidebar entry.
func reviewerPK(account, reviewer string) string { return "REVIEWER#" + account + "#" + reviewer }

// An entry is also indexed (gsi1) under the connection its review came from (the entry's
// connection_id), so that purging a connection finds every entry of its reviews, whichever
// reviewer and account they are under, and only those: connections sharing a helpdesk account
// share its reviewers' partitions. The entry that last wrote a review's item names the index
// partition it is in.
func sidebarGSI(connID string) string { return "SIDEBAR#" + connID }

func sidebarGSISort(account, reviewer, reviewID string) string {
	return account + "#" + reviewer + "#" + reviewID
}

// entryConnection is the connection an entry came from ("" when it names none).
func entryConnection(entry string) string {
	e, err := reviewer.Unmarshal(entry)
	if err != nil {
		return ""
	}
	return e.ConnectionID
}

// reviewerItem is an entry's item, indexed under its connection when the entry names one.
func reviewerItem(account, who, reviewID, entry string, now types.AttributeValue) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrPK: str(reviewerPK(account, who)), AttrSK: str(reviewID), "entry": str(entry), "updated_at": now,
	}
	if conn := entryConnection(entry); conn != "" {
		item[AttrGSI1PK], item[AttrGSI1SK] = str(sidebarGSI(conn)), str(sidebarGSISort(account, who, reviewID))
	}
	return item
}

// MaxReviewerEntries bounds what one reviewer's look-up reads.
const MaxReviewerEntries = 200

// PutReviewerEntry adds or replaces a review's entry under its reviewer.
func (s *Store) PutReviewerEntry(ctx context.Context, account, reviewer, reviewID, entry string) error {
	const op = "store.PutReviewerEntry"
	if account == "" || reviewer == "" || reviewID == "" {
		return emptyKey(op, "account, reviewer or review id")
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      reviewerItem(account, reviewer, reviewID, entry, str(fmtTime(s.now()))),
	})
	return classify(op, err)
}

// PutReviewerEntries writes many entries of the account's reviewers, 25 per batch: one call
// for a page of new tickets instead of one per ticket.
func (s *Store) PutReviewerEntries(ctx context.Context, account string, recs []reviewer.Record) error {
	const op = "store.PutReviewerEntries"
	if account == "" {
		return emptyKey(op, "account")
	}
	now := str(fmtTime(s.now()))
	for start := 0; start < len(recs); start += maxBatchWrite {
		var reqs []types.WriteRequest
		seen := map[string]bool{} // a batch may not write one key twice
		for _, r := range recs[start:min(start+maxBatchWrite, len(recs))] {
			if r.Reviewer == "" || r.ReviewID == "" {
				return emptyKey(op, "reviewer or review id")
			}
			if k := r.Reviewer + "\x00" + r.ReviewID; !seen[k] {
				seen[k] = true
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: reviewerItem(account, r.Reviewer, r.ReviewID, r.Entry, now)}})
			}
		}
		if err := s.writeBatch(ctx, op, reqs); err != nil {
			return err
		}
	}
	return nil
}

// ReviewerEntries returns a reviewer's entries by review id (at most MaxReviewerEntries).
func (s *Store) ReviewerEntries(ctx context.Context, account, reviewer string) (map[string]string, error) {
	const op = "store.ReviewerEntries"
	if account == "" || reviewer == "" {
		return nil, emptyKey(op, "account or reviewer")
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(reviewerPK(account, reviewer))},
		Limit:                     aws.Int32(MaxReviewerEntries),
	})
	if err != nil {
		return nil, classify(op, err)
	}
	entries := make(map[string]string, len(out.Items))
	for _, it := range out.Items {
		entries[getS(it, AttrSK)] = getS(it, "entry")
	}
	return entries, nil
}

// ForgetReviewerEntry removes a review's entry (a review deleted on Trustpilot).
func (s *Store) ForgetReviewerEntry(ctx context.Context, account, reviewer, reviewID string) error {
	const op = "store.ForgetReviewerEntry"
	if account == "" || reviewer == "" || reviewID == "" {
		return emptyKey(op, "account, reviewer or review id")
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(reviewerPK(account, reviewer), reviewID)})
	return classify(op, err)
}

// emptyKey is what DynamoDB answers for an empty key attribute, said before the call.
func emptyKey(op, what string) error {
	return errs.E(errs.Other, op, fmt.Errorf("%s: a key attribute cannot be an empty string", what))
}
