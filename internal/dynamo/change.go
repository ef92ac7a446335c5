package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// role says what a transaction item is for, so that a cancellation reason,
// which DynamoDB reports by position, maps back to a meaning.
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

// tx is a TransactWriteItems request being built, with the role of each item.
type tx struct {
	table string
	items []types.TransactWriteItem
	roles []role
	// requesting is set for a change being requested (RequestChange), not
	// applied: the account must verify changes rather than not.
	requesting bool
}

func (t *tx) add(r role, it types.TransactWriteItem) {
	t.items = append(t.items, it)
	t.roles = append(t.roles, r)
}

// reason returns the cancellation code of the item with role r ("" when the
// transaction has no such item), and the item DynamoDB returned with it.
func (t *tx) reason(tce *types.TransactionCanceledException, r role) (string, item) {
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

// throttled returns the EUNAVAILABLE error for the cancelled transaction of
// user id when a cancellation reason says it was throttled, and nil when
// none does; err is the error TransactWriteItems returned.
func throttled(tce *types.TransactionCanceledException, id string, err error) error {
	if !hasCode(tce, cancellationThrottleCodes) {
		return nil
	}
	return userinfo.Unavailable(errorf("TransactWriteItems: user %s: throttled: %w", id, err), msgUnavailable)
}

const codeConditionFailed = "ConditionalCheckFailed"

// conflictCodes is the cancellation code for a transaction that lost a race
// with another one on the same item: nothing is wrong, trying again works.
var conflictCodes = map[string]bool{"TransactionConflict": true}

// ownedOrFree is the condition on a guard write: the guard is absent or
// already belongs to this user (a retried request, or a leftover).
func ownedOrFree(e *exprs, userID string) string {
	return "attribute_not_exists(" + e.n(AttrPK) + ") OR " + e.n(attrUserID) + " = " + e.v("uid", avS(userID))
}

// putGuard and deleteGuard claim and release the value whose guard key is
// pk (of key version version, for putGuard).
func (t *tx) putGuard(r role, pk string, version int, userID, domainID string) {
	e := newExprs()
	cond := ownedOrFree(e, userID)
	t.add(r, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(t.table), Item: encodeGuard(pk, version, userID, domainID),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
	}})
}

func (t *tx) deleteGuard(r role, pk, userID string) {
	e := newExprs()
	cond := ownedOrFree(e, userID)
	t.add(r, types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(t.table), Key: key(pk, guardSK),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
	}})
}

// guardMove is the guard change of one kind of value: claim the guard of
// the new key, release the one of the old key.
type guardMove struct {
	newRole, oldRole role
	kind             string
	newKey, oldKey   userinfo.Key
}

// moveGuard claims m's new key and releases its old one. A key that does
// not change is left alone: the same key twice in one transaction is a
// ValidationException.
func (t *tx) moveGuard(m guardMove, userID, domainID string) {
	if m.newKey == m.oldKey {
		return
	}
	t.replaceGuard(m, userID, domainID, domainID)
}

// replaceGuard claims m's new key in the account domainID, even when it
// equals the old one (writing a guard the user holds again is harmless and
// repairs a missing one), and releases the old key, held in the account
// oldDomainID, unless it is the new one. A zero key (no value) is skipped.
func (t *tx) replaceGuard(m guardMove, userID, domainID, oldDomainID string) {
	newPK, oldPK := guardPK(domainID, m.kind, m.newKey), guardPK(oldDomainID, m.kind, m.oldKey)
	if newPK != "" {
		t.putGuard(m.newRole, newPK, m.newKey.Version, userID, domainID)
	}
	if oldPK != "" && oldPK != newPK {
		t.deleteGuard(m.oldRole, oldPK, userID)
	}
}

// ApplyChange writes c in one TransactWriteItems: the user update, the
// guard of each new value (under its current key) and the release of each
// old one (under the key the user holds it by), a check of the account's
// protect policy, and the audit record. Either all of it is written or
// none. The user update re-checks, in the same transaction, everything the
// read decided: the version read, the user still enabled and in the same
// account, and no revocation of its tokens after c.Actor.IssuedAt.
//
// It returns *userinfo.StaleError when any of those no longer holds
// (Current is the user as DynamoDB returned it, nil when it was deleted) or
// another transaction raced this one; an ECONFLICT *userinfo.Error naming the field
// when another user of the account holds the new email or mobile number;
// EFORBIDDEN when the account does not let users manage that value;
// EUNAVAILABLE when DynamoDB throttles or cannot be reached; and a wrapped
// error for anything else, including broken invariants.
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
	t, err := s.changeTx(c)
	if err != nil {
		return err
	}
	// The SDK fills in ClientRequestToken once per call, before its retry
	// loop: a retry after a lost response (a 5xx or a reset connection)
	// returns the first attempt's result instead of failing on the
	// version it bumped.
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return t.changeCancelled(c, tce, err)
	}
	return classify("TransactWriteItems", err)
}

func (s *Store) changeTx(c userinfo.Change) (*tx, error) {
	u := c.User
	t := &tx{table: s.table}

	// (1) The user item.
	e := newExprs()
	var set []string
	if c.Email != nil {
		set = append(set,
			e.n(attrEmail)+" = "+e.v("email", avS(c.Email.Address)),
			e.n(attrEmailKey)+" = "+e.v("emailkey", avS(encodeKey(userinfo.CurrentKey(c.Email.Key)))),
			e.n(attrEmailVerified)+" = "+e.v("emailverified", avBool(verifies(c, userinfo.FieldEmail))))
	}
	if c.Mobile != nil {
		set = append(set,
			e.n(attrAreaCode)+" = "+e.v("areacode", avS(c.Mobile.AreaCode)),
			e.n(attrPhone)+" = "+e.v("phone", avS(c.Mobile.Number)),
			e.n(attrPhoneKey)+" = "+e.v("phonekey", avS(encodeKey(userinfo.CurrentKey(c.Mobile.Key)))),
			e.n(attrPhoneVerified)+" = "+e.v("phoneverified", avBool(verifies(c, userinfo.FieldMobile))))
	}
	set = append(set,
		e.n(attrVersion)+" = "+e.n(attrVersion)+" + "+e.v("one", avN(1)),
		e.n(attrUpdatedAt)+" = "+e.v("now", avS(formatTime(c.At))))
	t.add(roleUser, types.TransactWriteItem{Update: &types.Update{
		TableName:                           aws.String(s.table),
		Key:                                 key(userPK(u.ID), userSK),
		UpdateExpression:                    aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:                 aws.String(userAsRead(e, u, c.Actor)),
		ExpressionAttributeNames:            e.namesOrNil(),
		ExpressionAttributeValues:           e.valuesOrNil(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})

	// (2) Uniqueness guards, keyed in the user's account as read; the
	// conditions above pin that account.
	if c.Email != nil {
		t.moveGuard(guardMove{roleNewEmailGuard, roleOldEmailGuard, kindEmail, userinfo.CurrentKey(c.Email.Key), u.EmailKey}, u.ID, u.DomainID)
	}
	if c.Mobile != nil {
		t.moveGuard(guardMove{roleNewPhoneGuard, roleOldPhoneGuard, kindPhone, userinfo.CurrentKey(c.Mobile.Key), u.PhoneKey}, u.ID, u.DomainID)
	}

	// (3) The account's protect policy, and whether it verifies changes.
	t.add(roleAccount, accountCheck(s.table, c, false))

	// (4) The audit record.
	e = newExprs()
	t.add(roleAudit, types.TransactWriteItem{Put: &types.Put{
		TableName:                aws.String(s.table),
		Item:                     s.auditItem(c),
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(AttrPK) + ")"),
		ExpressionAttributeNames: e.namesOrNil(),
	}})

	// (5) The pending changes whose codes came back, closed, and (6) the
	// messages to send.
	for _, p := range c.Verified {
		upd, err := s.closePending(p)
		if err != nil {
			return nil, err
		}
		r := rolePendingEmail
		if p.Field == userinfo.FieldMobile {
			r = rolePendingMobile
		}
		t.add(r, upd)
	}
	for _, m := range c.Messages {
		put, err := s.outboxPut(m)
		if err != nil {
			return nil, err
		}
		t.add(roleOutbox, put)
	}
	return t, nil
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

// userAsRead returns the condition that the user item is still u as read:
// what userinfo.Service.Authorize decided from the read, checked again at
// the write, so that a revocation, a disabling or a move between the two
// cannot let a change through. Times in timeLayout compare as strings
// (decodeUser refuses any other layout).
func userAsRead(e *exprs, u *userinfo.User, actor userinfo.Principal) string {
	return "attribute_exists(" + e.n(AttrPK) + ")" +
		" AND " + e.n(attrVersion) + " = " + e.v("v", avN(u.Version)) +
		" AND " + e.n(attrEnabled) + " = " + e.v("true", avBool(true)) +
		" AND " + e.n(attrDomainID) + " = " + e.v("d", avS(u.DomainID)) +
		" AND (attribute_not_exists(" + e.n(attrTokensRevokedAt) + ") OR " + e.n(attrTokensRevokedAt) + " <= " + e.v("iat", avS(formatTime(actor.IssuedAt))) + ")"
}

// accountCheck returns the check of the account's protect policy for the
// values c changes (an absent item or attribute allows), and of whether the
// account verifies changes: it must when c is being requested, must not
// when c is applied unverified, and may either way when c applies verified
// values.
func accountCheck(table string, c userinfo.Change, requesting bool) types.TransactWriteItem {
	e := newExprs()
	var checks []string
	if c.Email != nil {
		checks = append(checks, "(attribute_not_exists("+e.n(attrManageEmail)+") OR "+e.n(attrManageEmail)+" = "+e.v("true", avBool(true))+")")
	}
	if c.Mobile != nil {
		checks = append(checks, "(attribute_not_exists("+e.n(attrManageMobile)+") OR "+e.n(attrManageMobile)+" = "+e.v("true", avBool(true))+")")
	}
	switch {
	case requesting:
		checks = append(checks, e.n(attrVerifyChanges)+" = "+e.v("true", avBool(true)))
	case len(c.Verified) == 0:
		checks = append(checks, "(attribute_not_exists("+e.n(attrVerifyChanges)+") OR "+e.n(attrVerifyChanges)+" = "+e.v("false", avBool(false))+")")
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(table),
		Key:                       key(accountPK(c.User.DomainID), domainSK),
		ConditionExpression:       aws.String(strings.Join(checks, " AND ")),
		ExpressionAttributeNames:  e.namesOrNil(),
		ExpressionAttributeValues: e.valuesOrNil(),
		// To tell which failed: a policy (and which of two), or verification.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// auditItem returns the audit record of c, with masked values only.
func (s *Store) auditItem(c userinfo.Change) item {
	reqID := c.Meta.RequestID
	if reqID == "" {
		// The request id is part of the key; without one, two changes in
		// the same nanosecond would collide.
		reqID = "local-" + randomHex(8)
	}
	it := key(userPK(c.User.ID), auditSK(c.At, reqID))
	it[attrUserID] = avS(c.User.ID)
	it[attrActorUserID] = avS(c.Actor.UserID)
	it[attrActorDomainID] = avS(c.Actor.DomainID)
	it[attrRequestID] = avS(reqID)
	it[attrSourceIP] = avS(c.Meta.SourceIP)
	it[attrAt] = avS(formatTime(c.At))
	it[attrFields] = avList(c.Fields())
	it[TTLAttribute] = avN(c.At.Add(s.retention).Unix())
	if c.Email != nil {
		it[attrEmail] = avS(userinfo.MaskEmail(c.Email.Address))
	}
	if c.Mobile != nil {
		it[attrAreaCode] = avS(c.Mobile.AreaCode)
		it[attrPhone] = avS(userinfo.MaskPhone(c.Mobile.Number))
	}
	return it
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return hex.EncodeToString(b)
}

// changeCancelled says why DynamoDB cancelled the transaction of c. The
// order matters when several items failed: a stale user makes every other
// check moot (it was computed from old data); then the failures that say
// "retry later"; then the policy before uniqueness, so that a forbidden
// change does not reveal whether the value is taken.
func (t *tx) changeCancelled(c userinfo.Change, tce *types.TransactionCanceledException, err error) error {
	if code, old := t.reason(tce, roleUser); code == codeConditionFailed {
		if len(old) == 0 {
			return &userinfo.StaleError{} // deleted: the caller reads again and gets ENOTFOUND
		}
		cur, derr := decodeUser(old)
		if derr != nil {
			return errorf("TransactWriteItems: user %s: %v", c.User.ID, derr)
		}
		return &userinfo.StaleError{Current: cur}
	}
	if terr := throttled(tce, c.User.ID, err); terr != nil {
		return terr
	}
	if hasCode(tce, conflictCodes) {
		return &userinfo.StaleError{}
	}
	if code, acct := t.reason(tce, roleAccount); code == codeConditionFailed {
		emailForbidden := c.Email != nil && !getBool(acct, attrManageEmail, true)
		mobileForbidden := c.Mobile != nil && !getBool(acct, attrManageMobile, true)
		switch {
		case emailForbidden:
			return userinfo.Errorf(userinfo.EFORBIDDEN, "The account does not allow users to change their own email address.")
		case mobileForbidden:
			return userinfo.Errorf(userinfo.EFORBIDDEN, "The account does not allow users to change their own mobile number.")
		case t.requesting:
			return &userinfo.StaleError{} // the account stopped verifying changes: apply instead
		case len(c.Verified) == 0:
			return userinfo.ErrVerificationRequired
		}
	}
	for r, field := range map[role]string{rolePendingEmail: userinfo.FieldEmail, rolePendingMobile: userinfo.FieldMobile} {
		if code, _ := t.reason(tce, r); code == codeConditionFailed {
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

// guardCancelled returns the error for a transaction of userID cancelled by
// one of its guard items, or nil when no guard failed: ECONFLICT naming the
// field when a new value is held by another user, and a plain error when the
// guard of the user's current value is (an invariant is broken; not the
// caller's fault).
func (t *tx) guardCancelled(userID string, tce *types.TransactionCanceledException) error {
	if code, _ := t.reason(tce, roleNewEmailGuard); code == codeConditionFailed {
		return &userinfo.Error{Code: userinfo.ECONFLICT, Field: "email", Message: "The email address is already in use."}
	}
	if code, _ := t.reason(tce, roleNewPhoneGuard); code == codeConditionFailed {
		return &userinfo.Error{Code: userinfo.ECONFLICT, Field: "phone", Message: "The mobile number is already in use."}
	}
	for _, r := range []role{roleOldEmailGuard, roleOldPhoneGuard} {
		if code, _ := t.reason(tce, r); code == codeConditionFailed {
			return errorf("TransactWriteItems: user %s: guard of its current %s is held by another user", userID, guardKind(r))
		}
	}
	return nil
}

func guardKind(r role) string {
	if r == roleOldEmailGuard || r == roleNewEmailGuard {
		return "email"
	}
	return "phone"
}
