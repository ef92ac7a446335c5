package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Outbox items (pk OUTBOX#<id>, sk #OUTBOX) hold the messages a change
// must send, written in the change's own transaction. The table's stream
// hands each new one to the notifier (OutboxFilter), which sends it and
// marks it delivered. TTL removes them after OutboxRetention.
const (
	outboxPrefix = "OUTBOX#"
	outboxSK     = "#OUTBOX"
	// OutboxRetention is how long a message is kept: long enough for
	// Lambda's retries of a stream batch (hours at most) and to look into
	// a delivery, short enough that addresses do not pile up.
	OutboxRetention = 7 * 24 * time.Hour
)

// OutboxFilter is the event-source filter that lets only new outbox items
// reach the notifier. The SAM template's must be this one; a test compares.
const OutboxFilter = `{"eventName":["INSERT"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"` + outboxPrefix + `"}]}}}}`

// Pending changes (pk USER#<id>, sk PENDING#EMAIL or PENDING#MOBILE) hold a
// change waiting for its code; the notifier stores the code's hash there.
const pendingPrefix = "PENDING#"

func pendingSK(field string) string { return pendingPrefix + strings.ToUpper(field) }

// outboxItem is the stored form of a userinfo.Message.
type outboxItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	Kind        string `dynamodbav:"kind"`
	To          string `dynamodbav:"to"`
	UserID      string `dynamodbav:"user_id"`
	Field       string `dynamodbav:"field"`
	PendingID   string `dynamodbav:"pending_id,omitempty"`
	CodeExpires string `dynamodbav:"code_expires_at,omitempty"`
	NewValue    string `dynamodbav:"new_value,omitempty"`
	SourceIP    string `dynamodbav:"source_ip"`
	RequestID   string `dynamodbav:"request_id"`
	At          string `dynamodbav:"at"`
	Delivered   string `dynamodbav:"delivered_at,omitempty"`
	TTL         int64  `dynamodbav:"expires_at"`
}

func outboxKey(id string) item { return key(outboxPrefix+id, outboxSK) }

// outboxPut returns the transaction item that writes m to the outbox.
func (s *Store) outboxPut(m userinfo.Message) (types.TransactWriteItem, error) {
	it := outboxItem{
		PK: outboxPrefix + m.ID, SK: outboxSK, Kind: string(m.Kind), To: m.To, UserID: m.UserID, Field: m.Field,
		PendingID: m.PendingID, NewValue: m.NewValue, SourceIP: m.SourceIP, RequestID: m.RequestID,
		At: formatTime(m.At), TTL: m.At.Add(OutboxRetention).Unix(),
	}
	if !m.ExpiresAt.IsZero() {
		it.CodeExpires = formatTime(m.ExpiresAt)
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return types.TransactWriteItem{}, errorf("outbox: encode message: %v", err)
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(AttrPK))).Build()
	if err != nil {
		return types.TransactWriteItem{}, errorf("outbox: %v", err)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: av,
		ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(),
	}}, nil
}

// Message returns the outbox message id and whether it was delivered. It
// returns ENOTFOUND when there is none (never written, or expired),
// EUNAVAILABLE when DynamoDB throttles or cannot be reached, and a wrapped
// error for an item that is not a message.
func (s *Store) Message(ctx context.Context, id string) (*userinfo.Message, bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: outboxKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, classify("GetItem", err)
	}
	if len(out.Item) == 0 {
		return nil, false, userinfo.Errorf(userinfo.ENOTFOUND, "No such message.")
	}
	var it outboxItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, false, errorf("GetItem: message %s: %v", id, err)
	}
	m, err := it.message(id)
	if err != nil {
		return nil, false, errorf("GetItem: message %s: %v", id, err)
	}
	return m, it.Delivered != "", nil
}

func (it outboxItem) message(id string) (*userinfo.Message, error) {
	m := &userinfo.Message{
		ID: id, Kind: userinfo.MessageKind(it.Kind), To: it.To, UserID: it.UserID, Field: it.Field,
		PendingID: it.PendingID, NewValue: it.NewValue, SourceIP: it.SourceIP, RequestID: it.RequestID,
	}
	switch m.Kind {
	case userinfo.MsgVerifyEmail, userinfo.MsgVerifyMobile, userinfo.MsgEmailChanged, userinfo.MsgEmailChangeRequested:
	default:
		return nil, fmt.Errorf("attribute kind: %q is no message kind", it.Kind)
	}
	if m.To == "" || m.UserID == "" || m.Field == "" || m.IsCode() && m.PendingID == "" {
		return nil, errors.New("attributes to, user_id, field and (for a code) pending_id are required")
	}
	var err error
	if m.At, err = time.Parse(time.RFC3339Nano, it.At); err != nil {
		return nil, errors.New("attribute at: not an RFC 3339 time")
	}
	if it.CodeExpires != "" {
		if m.ExpiresAt, err = time.Parse(time.RFC3339Nano, it.CodeExpires); err != nil {
			return nil, errors.New("attribute code_expires_at: not an RFC 3339 time")
		}
	}
	return m, nil
}

// SetCode stores salt and hash as the code of the pending change m is for,
// if that change is still m's (same pending id) and has not expired at now.
// It reports false when it is not; EUNAVAILABLE when DynamoDB throttles or
// cannot be reached.
func (s *Store) SetCode(ctx context.Context, m *userinfo.Message, salt, hash string, now time.Time) (bool, error) {
	cond := expression.Name(attrPendingID).Equal(expression.Value(m.PendingID)).
		And(expression.Name(attrValidUntil).GreaterThan(expression.Value(now.Unix())))
	upd := expression.Set(expression.Name(attrCodeHash), expression.Value(hash)).
		Set(expression.Name(attrCodeSalt), expression.Value(salt)).
		Set(expression.Name(attrCodeSentAt), expression.Value(formatTime(now)))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, errorf("SetCode: %v", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(userPK(m.UserID), pendingSK(m.Field)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify("UpdateItem", err)
	}
	return true, nil
}

// MarkDelivered records that message id was delivered at at. Marking a
// message twice keeps the first time; a message gone meanwhile is not an
// error. It returns EUNAVAILABLE when DynamoDB throttles or cannot be
// reached.
func (s *Store) MarkDelivered(ctx context.Context, id string, at time.Time) error {
	cond := expression.AttributeExists(expression.Name(AttrPK)).And(expression.AttributeNotExists(expression.Name(attrDeliveredAt)))
	expr, err := expression.NewBuilder().WithCondition(cond).
		WithUpdate(expression.Set(expression.Name(attrDeliveredAt), expression.Value(formatTime(at)))).Build()
	if err != nil {
		return errorf("MarkDelivered: %v", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: outboxKey(id),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return classify("UpdateItem", err)
}

// Attributes of outbox and pending items that the code reads by name.
const (
	attrPendingID   = "pending_id"
	attrValidUntil  = "valid_until"
	attrCodeHash    = "code_hash"
	attrCodeSalt    = "code_salt"
	attrCodeSentAt  = "code_sent_at"
	attrDeliveredAt = "delivered_at"
)

// OutboxID returns the message id of a stream record of an outbox item,
// or false for a record of any other item.
func OutboxID(r events.DynamoDBEventRecord) (string, bool) {
	pk, ok := r.Change.Keys[AttrPK]
	if !ok || pk.DataType() != events.DataTypeString {
		return "", false
	}
	return strings.CutPrefix(pk.String(), outboxPrefix)
}
