package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func newPendingItem(p *userinfo.Pending) (pendingItem, error) {
	it := pendingItem{
		PK: userPK(p.UserID), SK: pendingSK(p.Field), PendingID: p.ID, Field: p.Field,
		ValidUntil: p.ValidUntil.Unix(), TriesLeft: p.TriesLeft, Sends: p.Sends,
		WindowStart: p.WindowStart, RequestID: p.RequestID, RequestedAt: p.RequestedAt, TTL: p.Keep().Unix(),
	}
	switch {
	case p.Field == userinfo.FieldEmail && p.Email != nil:
		it.Email, it.EmailKey = p.Email.Address, encodeKey(userinfo.CurrentKey(p.Email.Key))
	case p.Field == userinfo.FieldMobile && p.Mobile != nil:
		it.AreaCode, it.Phone, it.PhoneKey = p.Mobile.AreaCode, p.Mobile.Number, encodeKey(userinfo.CurrentKey(p.Mobile.Key))
	default:
		return it, errorf("pending change of %q without its value", p.Field)
	}
	return it, nil
}

func decodePending(userID string, av Item) (*userinfo.Pending, error) {
	var it pendingItem
	if err := UnmarshalItem(av, &it); err != nil {
		return nil, err
	}
	p := &userinfo.Pending{
		UserID: userID, Field: it.Field, ID: it.PendingID, ValidUntil: time.Unix(it.ValidUntil, 0).UTC(),
		TriesLeft: it.TriesLeft, CodeHash: it.CodeHash, CodeSalt: it.CodeSalt, Sends: it.Sends,
		WindowStart: it.WindowStart, RequestID: it.RequestID, RequestedAt: it.RequestedAt,
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
	return p, nil
}

// GetPending returns userID's last pending change of field, open or not,
// by a consistent read, or nil. It returns EUNAVAILABLE when DynamoDB
// throttles or cannot be reached, a wrapped error for a malformed item.
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

// WrongCode takes one try from p, if p is stored with the tries read; at
// zero it removes the code (the item stays: its sends count). It returns
// the tries left, *StaleError when p was replaced or tried meanwhile, or
// EUNAVAILABLE.
func (s *Store) WrongCode(ctx context.Context, p *userinfo.Pending) (int, error) {
	left := max(p.TriesLeft-1, 0)
	cond := expression.Name(attrPendingID).Equal(expression.Value(p.ID)).
		And(expression.Name(attrTriesLeft).Equal(expression.Value(p.TriesLeft)))
	upd := expression.Set(expression.Name(attrTriesLeft), expression.Value(left))
	if left == 0 {
		upd = upd.Remove(expression.Name(attrCodeHash)).Remove(expression.Name(attrCodeSalt))
	}
	ok, err := s.updateIf(ctx, key(userPK(p.UserID), pendingSK(p.Field)), cond, upd)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, &userinfo.StaleError{}
	}
	return left, nil
}

// updateIf applies upd to the item at key if cond holds, and reports
// whether it did.
func (s *Store) updateIf(ctx context.Context, key Item, cond expression.ConditionBuilder, upd expression.UpdateBuilder) (bool, error) {
	e, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, errorf("UpdateItem: %v", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key, UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	return err == nil, classify("UpdateItem", err)
}

// closePending adds the update that closes p, verified: no tries, no
// code, if p is stored with the code checked.
func (t *tx) closePending(p *userinfo.Pending) {
	cond := expression.Name(attrPendingID).Equal(expression.Value(p.ID)).
		And(expression.Name(attrCodeHash).Equal(expression.Value(p.CodeHash)))
	upd := expression.Set(expression.Name(attrTriesLeft), expression.Value(0)).
		Remove(expression.Name(attrCodeHash)).Remove(expression.Name(attrCodeSalt))
	t.update(pendingRoles[p.Field], key(userPK(p.UserID), pendingSK(p.Field)), cond, upd)
}

var pendingRoles = map[string]role{userinfo.FieldEmail: rolePendingEmail, userinfo.FieldMobile: rolePendingMobile}

// RequestChange writes r in one TransactWriteItems: checks of the user
// rules, of each new value's guard and of the account rules; each pending
// change in place of the one read; the messages. It returns
// *userinfo.StaleError when the user or a pending change moved on or the
// account no longer verifies changes; ECONFLICT naming the field when
// another user holds a value; EFORBIDDEN when the account forbids the
// change; EUNAVAILABLE; a wrapped error otherwise.
func (s *Store) RequestChange(ctx context.Context, r userinfo.ChangeRequest) error {
	if r.User == nil || len(r.Pendings) == 0 {
		return errorf("RequestChange: no user or nothing pending")
	}
	u := r.User
	t := &tx{table: s.table, requesting: true}
	cond, err := userCondition(r.Actor, u)
	t.fail(err)
	t.check(roleUser, UserKey(u.ID), cond)
	c := userinfo.Change{User: u}
	for _, p := range r.Pendings {
		kind, k := GuardEmail, userinfo.Key{}
		if p.Email != nil {
			c.Email, k = p.Email, userinfo.CurrentKey(p.Email.Key)
		} else {
			c.Mobile, kind, k = p.Mobile, GuardPhone, userinfo.CurrentKey(p.Mobile.Key)
		}
		t.check(guardRoles[kind][0], GuardKey(u.DomainID, kind, k), FreeOrHeldBy(u.ID))
		t.putPending(p, r.Replaces[p.Field])
	}
	t.checkAccount(c)
	for _, m := range r.Messages {
		t.putMessage(m)
	}
	tce, err := t.send(ctx, s.client)
	if tce != nil {
		return t.changeCancelled(c, tce, err)
	}
	return classify("TransactWriteItems", err)
}

// putPending adds the put of p if old (nil: none) is still stored.
func (t *tx) putPending(p *userinfo.Pending, old *userinfo.Pending) {
	it, err := newPendingItem(p)
	t.fail(err)
	cond := expression.AttributeNotExists(expression.Name(AttrPK))
	if old != nil {
		cond = expression.Name(attrPendingID).Equal(expression.Value(old.ID))
	}
	t.put(pendingRoles[p.Field], it, cond)
}
