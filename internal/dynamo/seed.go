package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// The helpers in this file are for local tools and tests (seeding users,
// removing them). The Lambda never calls them, and its IAM policy need not
// allow what they do; see SeedOperations.

// seedAttempts bounds how often a seeding write is recomputed when another
// writer changed the user between its read and its write.
const seedAttempts = 3

// UpsertUser writes u as the whole user item, replacing any previous one,
// with Version set to the stored version plus one (1 for a new user), the
// keys of its values under the current rules (User.SetKeys), and zero
// CreatedAt/UpdatedAt filled in. In the same transaction it claims the
// guards of u's email and mobile number and releases those the replaced
// user held. It returns the EINVALID *userinfo.Error of a value the rules
// refuse, an ECONFLICT one naming the field when another user of the
// account holds one of the values, EUNAVAILABLE when DynamoDB throttles or
// cannot be reached, and a wrapped error otherwise (including a user that
// kept changing under it).
func (s *Store) UpsertUser(ctx context.Context, u userinfo.User) error {
	if u.ID == "" || u.DomainID == "" {
		return errorf("UpsertUser: user id and domain id are required")
	}
	if err := u.SetKeys(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.upsertOnce(ctx, u)
		var stale *userinfo.StaleError
		if !errors.As(err, &stale) {
			return err
		}
		if attempt >= seedAttempts {
			return errorf("UpsertUser: user %s: changed concurrently %d times", u.ID, attempt)
		}
	}
}

func (s *Store) upsertOnce(ctx context.Context, u userinfo.User) error {
	old, err := s.GetUser(ctx, u.ID)
	if err != nil && userinfo.ErrorCode(err) != userinfo.ENOTFOUND {
		return err
	}
	now := s.now().UTC()
	var prev userinfo.User // zero when the user is new
	if old != nil {
		prev = *old
	}
	u.Version = prev.Version + 1
	if u.CreatedAt.IsZero() {
		u.CreatedAt = prev.CreatedAt
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = now
	}

	t := &tx{table: s.table}
	t.add(roleUser, types.TransactWriteItem{Put: userPut(s.table, u, old)})
	// Unlike ApplyChange, an unchanged guard is written again (one Put, so
	// no key appears twice): seeding doubles as repair of a missing guard.
	t.replaceGuard(guardMove{roleNewEmailGuard, roleOldEmailGuard, kindEmail, u.EmailKey, prev.EmailKey}, u.ID, u.DomainID, prev.DomainID)
	t.replaceGuard(guardMove{roleNewPhoneGuard, roleOldPhoneGuard, kindPhone, u.PhoneKey, prev.PhoneKey}, u.ID, u.DomainID, prev.DomainID)

	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return classify("TransactWriteItems", err)
	}
	if code, _ := t.reason(tce, roleUser); code == codeConditionFailed || hasCode(tce, conflictCodes) {
		return &userinfo.StaleError{}
	}
	if terr := throttled(tce, u.ID, err); terr != nil {
		return terr
	}
	if err := t.guardCancelled(u.ID, tce); err != nil {
		return err
	}
	return classify("TransactWriteItems", err)
}

// userPut writes u whole, conditional on the user still being as read:
// absent when old is nil, else at old's version.
func userPut(table string, u userinfo.User, old *userinfo.User) *types.Put {
	e := newExprs()
	var cond string
	if old == nil {
		cond = "attribute_not_exists(" + e.n(AttrPK) + ")"
	} else {
		cond = e.n(attrVersion) + " = " + e.v("v", avN(old.Version))
	}
	return &types.Put{
		TableName: aws.String(table), Item: encodeUser(u), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
	}
}

// DeleteUser deletes the user with the given id and releases its guards,
// in one transaction; its audit records stay until their TTL. A user that
// does not exist is not an error. It returns EUNAVAILABLE when DynamoDB
// throttles or cannot be reached, and a wrapped error otherwise.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	for attempt := 1; ; attempt++ {
		u, err := s.GetUser(ctx, id)
		if userinfo.ErrorCode(err) == userinfo.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		t := &tx{table: s.table}
		e := newExprs()
		cond := e.n(attrVersion) + " = " + e.v("v", avN(u.Version))
		t.add(roleUser, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: key(userPK(id), userSK), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
		}})
		if pk := guardPK(u.DomainID, kindEmail, u.EmailKey); pk != "" {
			t.deleteGuard(roleOldEmailGuard, pk, id)
		}
		if pk := guardPK(u.DomainID, kindPhone, u.PhoneKey); pk != "" {
			t.deleteGuard(roleOldPhoneGuard, pk, id)
		}
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return classify("TransactWriteItems", err)
		}
		if terr := throttled(tce, id, err); terr != nil {
			return terr
		}
		if code, _ := t.reason(tce, roleUser); code != codeConditionFailed && !hasCode(tce, conflictCodes) {
			return classify("TransactWriteItems", err)
		}
		if attempt >= seedAttempts {
			return errorf("DeleteUser: user %s: changed concurrently %d times", id, attempt)
		}
	}
}
