package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// pendingItem is the stored form of a userinfo.Pending (pk USER#<id>, sk
// PENDING#EMAIL or PENDING#MOBILE). It holds the new value in clear, as the
// user item holds the current one; TTL removes it once it can neither be
// verified nor count against the send limit (Pending.Keep).
type pendingItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	PendingID   string `dynamodbav:"pending_id"`
	Field       string `dynamodbav:"field"`
	Email       string `dynamodbav:"email,omitempty"`
	EmailKey    string `dynamodbav:"email_key,omitempty"`
	AreaCode    string `dynamodbav:"areacode,omitempty"`
	Phone       string `dynamodbav:"phone,omitempty"`
	PhoneKey    string `dynamodbav:"phone_key,omitempty"`
	ValidUntil  int64  `dynamodbav:"valid_until"` // epoch seconds: SetCode compares it
	TriesLeft   int    `dynamodbav:"tries_left"`
	CodeHash    string `dynamodbav:"code_hash,omitempty"`
	CodeSalt    string `dynamodbav:"code_salt,omitempty"`
	Sends       int    `dynamodbav:"sends"`
	WindowStart string `dynamodbav:"window_start"`
	RequestID   string `dynamodbav:"request_id"`
	RequestedAt string `dynamodbav:"requested_at"`
	TTL         int64  `dynamodbav:"expires_at"`
}

func encodePending(p *userinfo.Pending) (item, error) {
	it := pendingItem{
		PK: userPK(p.UserID), SK: pendingSK(p.Field), PendingID: p.ID, Field: p.Field,
		ValidUntil: p.ValidUntil.Unix(), TriesLeft: p.TriesLeft, Sends: p.Sends,
		WindowStart: formatTime(p.WindowStart), RequestID: p.RequestID, RequestedAt: formatTime(p.RequestedAt),
		TTL: p.Keep().Unix(),
	}
	switch {
	case p.Field == userinfo.FieldEmail && p.Email != nil:
		it.Email, it.EmailKey = p.Email.Address, encodeKey(userinfo.CurrentKey(p.Email.Key))
	case p.Field == userinfo.FieldMobile && p.Mobile != nil:
		it.AreaCode, it.Phone, it.PhoneKey = p.Mobile.AreaCode, p.Mobile.Number, encodeKey(userinfo.CurrentKey(p.Mobile.Key))
	default:
		return nil, errorf("pending change of %q without its value", p.Field)
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, errorf("encode pending change: %v", err)
	}
	return av, nil
}

func decodePending(userID string, av item) (*userinfo.Pending, error) {
	var it pendingItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return nil, err
	}
	p := &userinfo.Pending{
		UserID: userID, Field: it.Field, ID: it.PendingID, ValidUntil: time.Unix(it.ValidUntil, 0).UTC(),
		TriesLeft: it.TriesLeft, CodeHash: it.CodeHash, CodeSalt: it.CodeSalt, Sends: it.Sends, RequestID: it.RequestID,
	}
	var err error
	if p.WindowStart, err = time.Parse(time.RFC3339Nano, it.WindowStart); err != nil {
		return nil, errors.New("attribute window_start: not an RFC 3339 time")
	}
	if p.RequestedAt, err = time.Parse(time.RFC3339Nano, it.RequestedAt); err != nil {
		return nil, errors.New("attribute requested_at: not an RFC 3339 time")
	}
	switch it.Field {
	case userinfo.FieldEmail:
		k, ok := decodeKey(it.EmailKey)
		if it.Email == "" || !ok {
			return nil, errors.New("attributes email and email_key are required")
		}
		p.Email = &userinfo.Email{Address: it.Email, Key: k.Value}
	case userinfo.FieldMobile:
		k, ok := decodeKey(it.PhoneKey)
		if it.Phone == "" || it.AreaCode == "" || !ok {
			return nil, errors.New("attributes areacode, phone and phone_key are required")
		}
		p.Mobile = &userinfo.Mobile{AreaCode: it.AreaCode, Number: it.Phone, Key: k.Value}
	default:
		return nil, fmt.Errorf("attribute field: %q is no field", it.Field)
	}
	if p.ID == "" {
		return nil, errors.New("attribute pending_id is required")
	}
	return p, nil
}

// GetPending returns userID's last pending change of field, open or not,
// with one consistent GetItem, or nil when there is none. It returns
// EUNAVAILABLE when DynamoDB throttles or cannot be reached, and a wrapped
// error for an item that is not a pending change.
func (s *Store) GetPending(ctx context.Context, userID, field string) (*userinfo.Pending, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(userPK(userID), pendingSK(field)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify("GetItem", err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	p, err := decodePending(userID, out.Item)
	if err != nil {
		return nil, errorf("GetItem: pending %s of user %s: %v", field, userID, err)
	}
	return p, nil
}

// WrongCode counts a wrong code against p: one try less, conditional on p
// being the stored change with as many tries as read. At zero tries the
// code is removed, so the change cannot be verified any more (the item
// stays, counting its sends). It returns the tries left; *StaleError when p
// was replaced or tried meanwhile; EUNAVAILABLE when DynamoDB throttles or
// cannot be reached.
func (s *Store) WrongCode(ctx context.Context, p *userinfo.Pending) (int, error) {
	left := p.TriesLeft - 1
	cond := expression.Name(attrPendingID).Equal(expression.Value(p.ID)).
		And(expression.Name(attrTriesLeft).Equal(expression.Value(p.TriesLeft)))
	upd := expression.Set(expression.Name(attrTriesLeft), expression.Value(left))
	if left <= 0 {
		left = 0
		upd = upd.Remove(expression.Name(attrCodeHash)).Remove(expression.Name(attrCodeSalt))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return 0, errorf("WrongCode: %v", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(userPK(p.UserID), pendingSK(p.Field)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return 0, &userinfo.StaleError{}
	}
	if err != nil {
		return 0, classify("UpdateItem", err)
	}
	return left, nil
}

// closePending returns the transaction item that closes p once its code
// came back: no tries left, no code, conditional on p still being the
// stored change with the code that was checked.
func (s *Store) closePending(p *userinfo.Pending) (types.TransactWriteItem, error) {
	cond := expression.Name(attrPendingID).Equal(expression.Value(p.ID)).
		And(expression.Name(attrCodeHash).Equal(expression.Value(p.CodeHash)))
	upd := expression.Set(expression.Name(attrTriesLeft), expression.Value(0)).
		Remove(expression.Name(attrCodeHash)).Remove(expression.Name(attrCodeSalt))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return types.TransactWriteItem{}, errorf("close pending: %v", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: key(userPK(p.UserID), pendingSK(p.Field)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// putPending returns the transaction item that stores p in place of old
// (nil: none was read), conditional on old still being the stored one.
func (s *Store) putPending(p *userinfo.Pending, old *userinfo.Pending) (types.TransactWriteItem, error) {
	av, err := encodePending(p)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	cond := expression.AttributeNotExists(expression.Name(AttrPK))
	if old != nil {
		cond = expression.Name(attrPendingID).Equal(expression.Value(old.ID))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, errorf("put pending: %v", err)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: av, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// RequestChange writes r in one TransactWriteItems: a check that the user
// is as read (the same re-checks as ApplyChange's update), a check that no
// other user holds each new value, a check that the account allows the
// change and still verifies changes, each pending change in place of the
// one read, and the messages. It returns *userinfo.StaleError when the user
// or a pending change moved on or the account no longer verifies changes;
// ECONFLICT naming the field when another user holds a value; EFORBIDDEN
// when the account forbids the change; EUNAVAILABLE when DynamoDB throttles
// or cannot be reached; a wrapped error otherwise.
func (s *Store) RequestChange(ctx context.Context, r userinfo.ChangeRequest) error {
	if r.User == nil || len(r.Pendings) == 0 {
		return errorf("RequestChange: no user or nothing pending")
	}
	u := r.User
	t := &tx{table: s.table, requesting: true}
	e := newExprs()
	t.add(roleUser, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.table), Key: key(userPK(u.ID), userSK),
		ConditionExpression:      aws.String(userAsRead(e, u, r.Actor)),
		ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})
	c := userinfo.Change{User: u}
	for _, p := range r.Pendings {
		var kind string
		var k userinfo.Key
		var guardRole, pendRole role
		if p.Email != nil {
			c.Email, kind, k, guardRole, pendRole = p.Email, kindEmail, userinfo.CurrentKey(p.Email.Key), roleNewEmailGuard, rolePendingEmail
		} else {
			c.Mobile, kind, k, guardRole, pendRole = p.Mobile, kindPhone, userinfo.CurrentKey(p.Mobile.Key), roleNewPhoneGuard, rolePendingMobile
		}
		e := newExprs()
		t.add(guardRole, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: key(guardPK(u.DomainID, kind, k), guardSK),
			ConditionExpression:      aws.String(ownedOrFree(e, u.ID)),
			ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
		}})
		put, err := s.putPending(p, r.Replaces[p.Field])
		if err != nil {
			return err
		}
		t.add(pendRole, put)
	}
	t.add(roleAccount, accountCheck(s.table, c, true))
	for _, m := range r.Messages {
		put, err := s.outboxPut(m)
		if err != nil {
			return err
		}
		t.add(roleOutbox, put)
	}
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return t.changeCancelled(c, tce, err)
	}
	return classify("TransactWriteItems", err)
}

// Pending item attributes the code reads by name.
const attrTriesLeft = "tries_left"
