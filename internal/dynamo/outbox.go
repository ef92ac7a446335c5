package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// The outbox holds the messages of a change, written in its transaction.
// The table's stream hands each new one to the notifier (OutboxFilter).

// OutboxRetention is how long TTL keeps a message: past the stream's
// retries and long enough to look into a delivery, short enough that
// addresses do not pile up.
const OutboxRetention = 7 * 24 * time.Hour

// OutboxFilter is the event-source filter that lets only new outbox items
// reach the notifier. infra/samtemplate's stack test holds the template's
// filter to it.
const OutboxFilter = `{"eventName":["INSERT"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"` + OutboxPrefix + `"}]}}}}`

func outboxKey(id string) Item { return key(OutboxPrefix+id, outboxSK) }

// putMessage adds the put of m to the outbox.
func (t *tx) putMessage(m userinfo.Message) {
	t.put(roleOutbox, OutboxItem{
		PK: OutboxPrefix + m.ID, SK: outboxSK, Kind: string(m.Kind), To: m.To, UserID: m.UserID, Field: m.Field,
		PendingID: m.PendingID, CodeExpires: m.ExpiresAt, NewValue: m.NewValue, SourceIP: m.SourceIP, RequestID: m.RequestID,
		At: m.At, TTL: m.At.Add(OutboxRetention).Unix(),
	}, expression.AttributeNotExists(expression.Name(AttrPK)))
}

// Message returns the outbox message id and whether it was delivered. It
// returns ENOTFOUND (never written, or expired), EUNAVAILABLE, or a wrapped
// error for a malformed item.
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
	var it OutboxItem
	err = UnmarshalItem(out.Item, &it)
	var m *userinfo.Message
	if err == nil {
		m, err = it.Message()
	}
	if err != nil {
		return nil, false, errorf("GetItem: message %s: %v", id, err)
	}
	return m, !it.Delivered.IsZero(), nil
}

// SetCode stores salt and hash on m's pending change if it is still m's
// and open at now, and reports whether it did.
func (s *Store) SetCode(ctx context.Context, m *userinfo.Message, salt, hash string, now time.Time) (bool, error) {
	cond := expression.Name(attrPendingID).Equal(expression.Value(m.PendingID)).
		And(expression.Name(attrValidUntil).GreaterThan(expression.Value(now.Unix())))
	upd := expression.Set(expression.Name(attrCodeHash), expression.Value(hash)).
		Set(expression.Name(attrCodeSalt), expression.Value(salt)).
		Set(expression.Name(attrCodeSentAt), expression.Value(formatTime(now)))
	return s.updateIf(ctx, key(userPK(m.UserID), pendingSK(m.Field)), cond, upd)
}

// MarkDelivered records that message id was delivered at at. A second
// mark keeps the first time; a message gone meanwhile is not an error.
func (s *Store) MarkDelivered(ctx context.Context, id string, at time.Time) error {
	cond := expression.AttributeExists(expression.Name(AttrPK)).And(expression.AttributeNotExists(expression.Name(attrDeliveredAt)))
	_, err := s.updateIf(ctx, outboxKey(id), cond, expression.Set(expression.Name(attrDeliveredAt), expression.Value(formatTime(at))))
	return err
}

// OutboxID returns the message id of an outbox item's stream record, or
// false for any other record.
func OutboxID(r events.DynamoDBEventRecord) (string, bool) {
	pk, ok := r.Change.Keys[AttrPK]
	if !ok || pk.DataType() != events.DataTypeString {
		return "", false
	}
	return strings.CutPrefix(pk.String(), OutboxPrefix)
}
