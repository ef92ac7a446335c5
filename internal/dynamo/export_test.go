package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Classify exposes classify to the external test package.
var Classify = classify

// PutMessage writes m to the outbox as a change's transaction does.
func (s *Store) PutMessage(ctx context.Context, m userinfo.Message) error {
	put, err := s.outboxPut(m)
	if err != nil {
		return err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put}})
	return err
}

// PutPending writes a pending change with what SetCode looks at.
func (s *Store) PutPending(ctx context.Context, userID, field, pendingID string, expires time.Time) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item{
		AttrPK: avS(userPK(userID)), AttrSK: avS(pendingSK(field)),
		attrPendingID: avS(pendingID), attrValidUntil: avN(expires.Unix()),
	}})
	return err
}

// RawItem returns the item at pk, sk as stored.
func (s *Store) RawItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// PendingKey returns the key of userID's pending change of field.
func PendingKey(userID, field string) (pk, sk string) { return userPK(userID), pendingSK(field) }

// OutboxKey returns the key of outbox message id.
func OutboxKey(id string) (pk, sk string) { return outboxPrefix + id, outboxSK }
