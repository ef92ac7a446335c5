package dynamo

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Classify exposes classify to the external test package.
var Classify = classify

// PutMessage writes m to the outbox as a change's transaction does.
func (s *Store) PutMessage(ctx context.Context, m userinfo.Message) error {
	t := &tx{table: s.table}
	t.putMessage(m)
	_, err := t.send(ctx, s.client)
	return err
}

// PutPending writes a pending change with what SetCode looks at.
func (s *Store) PutPending(ctx context.Context, userID, field, pendingID string, expires time.Time) error {
	it := key(userPK(userID), pendingSK(field))
	it[attrPendingID] = &types.AttributeValueMemberS{Value: pendingID}
	it[attrValidUntil] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
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
func OutboxKey(id string) (pk, sk string) { return OutboxPrefix + id, outboxSK }

// UserConditionNames and AccountConditionNames return the rules the store
// has a condition for, sorted.
func UserConditionNames() []string    { return slices.Sorted(maps.Keys(userConditions)) }
func AccountConditionNames() []string { return slices.Sorted(maps.Keys(accountConditions)) }

// UserCondition returns the condition the store writes the user rule name
// as, for a change by p computed from read; all for every rule, as
// ApplyChange writes them.
func UserCondition(name string, p userinfo.Principal, read *userinfo.User) (expression.ConditionBuilder, error) {
	if name == "all" {
		return userCondition(p, read)
	}
	cond, ok := userConditions[name]
	if !ok {
		return expression.ConditionBuilder{}, errorf("no condition for the rule %q", name)
	}
	return cond(p, read), nil
}

// AccountCondition returns the condition the store writes the account rule
// name as for c, and false when the rule does not apply to c; all for every
// rule, as ApplyChange and RequestChange write them.
func AccountCondition(name string, c userinfo.Change, requesting bool) (expression.ConditionBuilder, bool, error) {
	if name == "all" {
		cond, err := accountCondition(c, requesting)
		return cond, true, err
	}
	cond, ok := accountConditions[name]
	if !ok {
		return expression.ConditionBuilder{}, false, errorf("no condition for the rule %q", name)
	}
	cb, applies := cond(c, requesting)
	return cb, applies, nil
}

// PutUser writes u as the whole item, as tools do.
func (s *Store) PutUser(ctx context.Context, u userinfo.User) error {
	av, err := MarshalItem(NewUserItem(u))
	if err != nil {
		return err
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av})
	return err
}
