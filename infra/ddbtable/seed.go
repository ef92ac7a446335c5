package ddbtable

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// UpsertUser writes u as the whole user item, replacing any previous one,
// with Version set to the stored version plus one (1 for a new user), the
// keys of its values under the current rules (User.SetKeys), and zero
// CreatedAt/UpdatedAt filled in. In the same transaction it claims the
// guards of u's email and mobile number (again when unchanged: seeding
// repairs a missing guard) and releases those the replaced user held. It
// returns the EINVALID *userinfo.Error of a value the rules refuse, an
// ECONFLICT one naming the field when another user of the account holds
// one of the values, and a wrapped error otherwise (including a user that
// kept changing under it).
func (t *Table) UpsertUser(ctx context.Context, u userinfo.User) error {
	if u.ID == "" || u.DomainID == "" {
		return errors.New("ddbtable: UpsertUser: user id and domain id are required")
	}
	if err := u.SetKeys(); err != nil {
		return err
	}
	for range attempts {
		if done, err := t.upsertOnce(ctx, u); done {
			return err
		}
	}
	return errors.New("ddbtable: UpsertUser: user " + u.ID + " kept changing")
}

// upsertOnce writes u over the user as it reads it, and reports false when
// the user changed in between.
func (t *Table) upsertOnce(ctx context.Context, u userinfo.User) (bool, error) {
	var prev userinfo.User // zero when the user is new
	old, err := t.GetUser(ctx, u.ID)
	switch {
	case err == nil:
		prev = *old
	case userinfo.ErrorCode(err) != userinfo.ENOTFOUND:
		return true, err
	}
	now := t.now().UTC()
	u.Version = prev.Version + 1
	u.CreatedAt = firstSet(u.CreatedAt, prev.CreatedAt, now)
	u.UpdatedAt = firstSet(u.UpdatedAt, now)

	w := &write{table: t.name}
	cond := expression.AttributeNotExists(expression.Name(dynamo.AttrPK))
	if old != nil {
		cond = expression.Name("version").Equal(expression.Value(prev.Version))
	}
	w.put("user", dynamo.NewUserItem(u), cond)
	w.replaceGuard(dynamo.GuardEmail, u, u.EmailKey, prev, prev.EmailKey)
	w.replaceGuard(dynamo.GuardPhone, u, u.PhoneKey, prev, prev.PhoneKey)
	failed, err := w.send(ctx, t.client)
	switch _, raced := failed["user"]; {
	case raced:
		return false, nil
	case hasRole(failed, "claim "+dynamo.GuardEmail):
		return true, &userinfo.Error{Code: userinfo.ECONFLICT, Field: "email", Message: "The email address is already in use."}
	case hasRole(failed, "claim "+dynamo.GuardPhone):
		return true, &userinfo.Error{Code: userinfo.ECONFLICT, Field: "phone", Message: "The mobile number is already in use."}
	}
	return true, err
}

func hasRole(failed map[string]types.CancellationReason, role string) bool {
	_, ok := failed[role]
	return ok
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// replaceGuard claims u's guard of the value of kind under newKey, and
// releases prev's under oldKey unless it is the same guard. A zero key has
// no guard.
func (w *write) replaceGuard(kind string, u userinfo.User, newKey userinfo.Key, prev userinfo.User, oldKey userinfo.Key) {
	if !newKey.IsZero() {
		w.put("claim "+kind, dynamo.NewGuardItem(u.DomainID, kind, newKey, u.ID), dynamo.FreeOrHeldBy(u.ID))
	}
	if !oldKey.IsZero() && (oldKey != newKey || prev.DomainID != u.DomainID) {
		w.delete("release "+kind, dynamo.GuardKey(prev.DomainID, kind, oldKey), dynamo.FreeOrHeldBy(prev.ID))
	}
}

// DeleteUser deletes the user with the given id and releases its guards,
// in one transaction; its audit records stay until their TTL. A user that
// does not exist is not an error.
func (t *Table) DeleteUser(ctx context.Context, id string) error {
	for range attempts {
		u, err := t.GetUser(ctx, id)
		if userinfo.ErrorCode(err) == userinfo.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		w := &write{table: t.name}
		w.delete("user", dynamo.UserKey(id), expression.Name("version").Equal(expression.Value(u.Version)))
		w.replaceGuard(dynamo.GuardEmail, userinfo.User{}, userinfo.Key{}, *u, u.EmailKey)
		w.replaceGuard(dynamo.GuardPhone, userinfo.User{}, userinfo.Key{}, *u, u.PhoneKey)
		if failed, err := w.send(ctx, t.client); !hasRole(failed, "user") {
			return err
		}
	}
	return errors.New("ddbtable: DeleteUser: user " + id + " kept changing")
}

// PutAccount writes the policy a, replacing any previous one.
func (t *Table) PutAccount(ctx context.Context, a userinfo.Account) error {
	av, err := dynamo.MarshalItem(dynamo.NewAccountItem(a))
	if err != nil {
		return err
	}
	_, err = t.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: av})
	return wrap("PutItem", err)
}

// GetAccount returns the policy of the account domainID, with a consistent
// read; a missing item or setting reads as userinfo.DefaultAccount's.
func (t *Table) GetAccount(ctx context.Context, domainID string) (*userinfo.Account, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(t.name), Key: dynamo.AccountKey(domainID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, wrap("GetItem", err)
	}
	a, err := dynamo.DecodeAccount(domainID, out.Item)
	return &a, wrap("GetItem: account "+domainID, err)
}
