package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// role says what a transaction item is for: DynamoDB reports cancellation
// reasons by position.
type role int

const (
	roleUser role = iota
	roleNewEmailGuard
	roleOldEmailGuard
	roleNewPhoneGuard
	roleOldPhoneGuard
	roleAccount
	roleAudit
	rolePendingEmail
	rolePendingMobile
	roleOutbox
)

// tx is a TransactWriteItems request being built.
type tx struct {
	table      string
	items      []types.TransactWriteItem
	roles      []role
	requesting bool  // RequestChange's, not ApplyChange's
	err        error // the first item that could not be built
}

func (t *tx) add(r role, it types.TransactWriteItem) {
	t.items = append(t.items, it)
	t.roles = append(t.roles, r)
}

func (t *tx) fail(err error) {
	if t.err == nil && err != nil {
		t.err = errorf("build transaction: %v", err)
	}
}

// expr builds cond, and upd unless it is nil.
func (t *tx) expr(cond expression.ConditionBuilder, upd *expression.UpdateBuilder) expression.Expression {
	b := expression.NewBuilder().WithCondition(cond)
	if upd != nil {
		b = b.WithUpdate(*upd)
	}
	e, err := b.Build()
	t.fail(err)
	return e
}

// returnOld asks for the user or account item when its condition fails, to
// tell which rule failed.
func returnOld(r role) types.ReturnValuesOnConditionCheckFailure {
	if r == roleUser || r == roleAccount {
		return types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return ""
}

func (t *tx) put(r role, in any, cond expression.ConditionBuilder) {
	av, err := MarshalItem(in)
	t.fail(err)
	e := t.expr(cond, nil)
	t.add(r, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(t.table), Item: av,
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}})
}

func (t *tx) update(r role, key Item, cond expression.ConditionBuilder, upd expression.UpdateBuilder) {
	e := t.expr(cond, &upd)
	t.add(r, types.TransactWriteItem{Update: &types.Update{TableName: aws.String(t.table), Key: key, UpdateExpression: e.Update(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ReturnValuesOnConditionCheckFailure: returnOld(r)}})
}

func (t *tx) delete(r role, key Item, cond expression.ConditionBuilder) {
	e := t.expr(cond, nil)
	t.add(r, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(t.table), Key: key,
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}})
}

func (t *tx) check(r role, key Item, cond expression.ConditionBuilder) {
	e := t.expr(cond, nil)
	t.add(r, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(t.table), Key: key,
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ReturnValuesOnConditionCheckFailure: returnOld(r)}})
}

// send writes t. The SDK sets one ClientRequestToken for all its retries,
// so a retry after a lost response succeeds instead of failing on the
// version the first attempt bumped (TestLostResponseIsIdempotent).
func (t *tx) send(ctx context.Context, client *dynamodb.Client) (*types.TransactionCanceledException, error) {
	if t.err != nil {
		return nil, t.err
	}
	_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
	var tce *types.TransactionCanceledException
	errors.As(err, &tce)
	return tce, err
}

// reason returns the cancellation code of the item with role r ("" for
// none) and the item DynamoDB returned with it.
func (t *tx) reason(tce *types.TransactionCanceledException, r role) (string, Item) {
	for i, rr := range t.roles {
		if rr == r && i < len(tce.CancellationReasons) {
			cr := tce.CancellationReasons[i]
			return aws.ToString(cr.Code), cr.Item
		}
	}
	return "", nil
}

// hasCode reports whether any cancellation reason has a code in codes.
func hasCode(tce *types.TransactionCanceledException, codes map[string]bool) bool {
	for _, cr := range tce.CancellationReasons {
		if codes[aws.ToString(cr.Code)] {
			return true
		}
	}
	return false
}

const codeConditionFailed = "ConditionalCheckFailed"

// conflictCodes are the cancellation codes of a race lost to another
// transaction: trying again works.
var conflictCodes = map[string]bool{"TransactionConflict": true}

// guardRoles are the roles of claiming and releasing a guard, by kind.
var guardRoles = map[string][2]role{
	GuardEmail: {roleNewEmailGuard, roleOldEmailGuard},
	GuardPhone: {roleNewPhoneGuard, roleOldPhoneGuard},
}

// moveGuard claims for u the guard of kind on newKey and releases the one
// on oldKey, in u's account. An unchanged key is left alone: one key twice
// in a transaction is a ValidationException.
func (t *tx) moveGuard(u *userinfo.User, kind string, newKey, oldKey userinfo.Key) {
	if newKey == oldKey {
		return
	}
	t.put(guardRoles[kind][0], NewGuardItem(u.DomainID, kind, newKey, u.ID), FreeOrHeldBy(u.ID))
	if !oldKey.IsZero() {
		t.delete(guardRoles[kind][1], GuardKey(u.DomainID, kind, oldKey), FreeOrHeldBy(u.ID))
	}
}

// checkAccount adds the check of the account rules for c.
func (t *tx) checkAccount(c userinfo.Change) {
	cond, err := accountCondition(c, t.requesting)
	t.fail(err)
	t.check(roleAccount, AccountKey(c.User.DomainID), cond)
}

// ApplyChange writes c in one TransactWriteItems: the user, conditional on
// the user rules; the guards of new values claimed and of old ones
// released; the account rules checked; c.Verified closed; the messages and
// the audit record.
//
// It returns *userinfo.StaleError when a user rule fails (Current is the
// user as stored, nil when deleted) or another transaction raced this one;
// ECONFLICT naming the field when another user holds a new value; the error
// of the account rule c breaks; EUNAVAILABLE when DynamoDB throttles or
// cannot be reached; a wrapped error otherwise.
func (s *Store) ApplyChange(ctx context.Context, c userinfo.Change) error {
	if c.User == nil {
		return errorf("ApplyChange: change has no user")
	}
	if c.Empty() {
		return nil
	}
	if c.At.IsZero() {
		c.At = s.now()
	}
	c.At = c.At.UTC()
	t := s.changeTx(c)
	tce, err := t.send(ctx, s.client)
	if tce != nil {
		return t.changeCancelled(c, tce, err)
	}
	return classify("TransactWriteItems", err)
}

func (s *Store) changeTx(c userinfo.Change) *tx {
	u := c.User
	t := &tx{table: s.table}

	// (1) The user (UserItem's attributes).
	name, value := expression.Name, expression.Value
	upd := expression.Set(name(attrVersion), name(attrVersion).Plus(value(1))).Set(name(attrUpdatedAt), value(formatTime(c.At)))
	if c.Email != nil {
		upd = upd.Set(name("email"), value(c.Email.Address)).
			Set(name("email_key"), value(encodeKey(userinfo.CurrentKey(c.Email.Key)))).
			Set(name("email_verified"), value(verifies(c, userinfo.FieldEmail)))
	}
	if c.Mobile != nil {
		upd = upd.Set(name("areacode"), value(c.Mobile.AreaCode)).Set(name("phone"), value(c.Mobile.Number)).
			Set(name("phone_key"), value(encodeKey(userinfo.CurrentKey(c.Mobile.Key)))).
			Set(name("phone_verified"), value(verifies(c, userinfo.FieldMobile)))
	}
	cond, err := userCondition(c.Actor, u)
	t.fail(err)
	t.update(roleUser, UserKey(u.ID), cond, upd)

	// (2) Uniqueness guards.
	if c.Email != nil {
		t.moveGuard(u, GuardEmail, userinfo.CurrentKey(c.Email.Key), u.EmailKey)
	}
	if c.Mobile != nil {
		t.moveGuard(u, GuardPhone, userinfo.CurrentKey(c.Mobile.Key), u.PhoneKey)
	}
	// (3) The account's policy; (4) the audit record.
	t.checkAccount(c)
	t.put(roleAudit, s.auditItem(c), expression.AttributeNotExists(name(AttrPK)))
	// (5) The pending changes whose codes came back, closed; (6) the
	// messages to send.
	for _, p := range c.Verified {
		t.closePending(p)
	}
	for _, m := range c.Messages {
		t.putMessage(m)
	}
	return t
}

// verifies reports whether c applies a verified value of field.
func verifies(c userinfo.Change, field string) bool {
	for _, p := range c.Verified {
		if p.Field == field {
			return true
		}
	}
	return false
}

// auditItem returns the audit record of c, with masked values only.
func (s *Store) auditItem(c userinfo.Change) AuditItem {
	reqID := c.Meta.RequestID
	if reqID == "" {
		// The request id is part of the key: two changes in one
		// nanosecond must not collide.
		reqID = "local-" + randomHex(8)
	}
	it := AuditItem{
		PK: userPK(c.User.ID), SK: auditPrefix + formatTime(c.At) + "#" + reqID,
		UserID: c.User.ID, ActorUserID: c.Actor.UserID, ActorDomainID: c.Actor.DomainID, RequestID: reqID,
		SourceIP: c.Meta.SourceIP, At: c.At, Fields: c.Fields(), TTL: c.At.Add(s.retention).Unix(),
	}
	if c.Email != nil {
		it.Email = userinfo.MaskEmail(c.Email.Address)
	}
	if c.Mobile != nil {
		it.AreaCode, it.Phone = c.Mobile.AreaCode, userinfo.MaskPhone(c.Mobile.Number)
	}
	return it
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: since Go 1.24 crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}

// changeCancelled says why DynamoDB cancelled the transaction of c. When
// several items failed: a stale user first (the rest was computed from old
// data), then "retry later", then the policy before uniqueness, so that a
// forbidden change does not reveal whether a value is taken.
func (t *tx) changeCancelled(c userinfo.Change, tce *types.TransactionCanceledException, err error) error {
	if code, old := t.reason(tce, roleUser); code == codeConditionFailed {
		if len(old) == 0 {
			return &userinfo.StaleError{} // deleted: the caller reads again and gets ENOTFOUND
		}
		cur, derr := DecodeUser(old)
		if derr != nil {
			return errorf("TransactWriteItems: user %s: %v", c.User.ID, derr)
		}
		return &userinfo.StaleError{Current: cur}
	}
	if hasCode(tce, cancellationThrottleCodes) {
		return userinfo.Unavailable(errorf("TransactWriteItems: user %s: throttled: %w", c.User.ID, err), msgUnavailable)
	}
	if hasCode(tce, conflictCodes) {
		return &userinfo.StaleError{}
	}
	// The policy as stored tells which account rule failed.
	if code, old := t.reason(tce, roleAccount); code == codeConditionFailed {
		a, derr := DecodeAccount(c.User.DomainID, old)
		if derr != nil {
			return errorf("TransactWriteItems: account %s: %v", c.User.DomainID, derr)
		}
		if err := a.Check(c, t.requesting); err != nil {
			return err
		}
	}
	for _, field := range []string{userinfo.FieldEmail, userinfo.FieldMobile} {
		if code, _ := t.reason(tce, pendingRoles[field]); code == codeConditionFailed {
			if t.requesting {
				return &userinfo.StaleError{} // another request replaced it meanwhile
			}
			return userinfo.FieldError(field+"_code", "The change was requested again meanwhile: use the newest code.")
		}
	}
	if err := t.guardCancelled(c.User.ID, tce); err != nil {
		return err
	}
	if code, _ := t.reason(tce, roleAudit); code == codeConditionFailed {
		return errorf("TransactWriteItems: user %s: audit record key already exists", c.User.ID)
	}
	return classify("TransactWriteItems", err)
}

// guardCancelled returns the error of a failed guard item, or nil:
// ECONFLICT naming the field when another user holds a new value, a plain
// error (a broken invariant) when another user holds the guard of userID's
// current value.
func (t *tx) guardCancelled(userID string, tce *types.TransactionCanceledException) error {
	taken := map[string]string{GuardEmail: "The email address is already in use.", GuardPhone: "The mobile number is already in use."}
	for _, kind := range []string{GuardEmail, GuardPhone} {
		if code, _ := t.reason(tce, guardRoles[kind][0]); code == codeConditionFailed {
			return &userinfo.Error{Code: userinfo.ECONFLICT, Field: kind, Message: taken[kind]}
		}
	}
	for _, kind := range []string{GuardEmail, GuardPhone} {
		if code, _ := t.reason(tce, guardRoles[kind][1]); code == codeConditionFailed {
			return errorf("TransactWriteItems: user %s: guard of its current %s is held by another user", userID, kind)
		}
	}
	return nil
}
