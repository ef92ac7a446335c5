package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestRulesAreConditions holds every rule of userinfo (UserRules,
// AccountRules) equal to the condition the store writes it as: the store
// has a condition for every rule and for no other, and on every user and
// account state below each rule's function and a real conditional check of
// its condition on DynamoDB Local agree; so do all the rules together and
// the condition ApplyChange and RequestChange write.
func TestRulesAreConditions(t *testing.T) {
	t.Run("OneConditionPerRule", func(t *testing.T) {
		var users, accounts []string
		for _, r := range userinfo.UserRules {
			users = append(users, r.Name)
		}
		for _, r := range userinfo.AccountRules {
			accounts = append(accounts, r.Name)
		}
		if got, want := dynamo.UserConditionNames(), slices.Sorted(slices.Values(users)); !reflect.DeepEqual(got, want) {
			t.Errorf("the store has conditions for the user rules %q, userinfo has the rules %q", got, want)
		}
		if got, want := dynamo.AccountConditionNames(), slices.Sorted(slices.Values(accounts)); !reflect.DeepEqual(got, want) {
			t.Errorf("the store has conditions for the account rules %q, userinfo has the rules %q", got, want)
		}
	})
	t.Run("UserRules", testUserRules)
	t.Run("AccountRules", testAccountRules)
}

// testUserRules judges a change by p, computed from the user as read, on
// every combination of the stored user's revocation, account, enabled flag
// and version.
func testUserRules(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	domain, other := newID("d-"), newID("d-")
	iat := fixedNow.Add(-time.Hour)
	for _, revoked := range []time.Time{{}, iat.Add(-time.Second), iat, iat.Add(time.Second)} {
		for _, dom := range []string{domain, other} {
			for _, enabled := range []bool{true, false} {
				for _, version := range []int64{5, 6} {
					read := &userinfo.User{ID: newID("u-"), DomainID: domain, Enabled: true, Version: 5}
					stored := *read
					stored.DomainID, stored.Enabled, stored.Version, stored.TokensRevokedAt = dom, enabled, version, revoked
					if err := s.PutUser(ctx, stored); err != nil {
						t.Fatal(err)
					}
					p := userinfo.Principal{UserID: read.ID, DomainID: domain, IssuedAt: iat}
					state := fmt.Sprintf("revoked %v, account %s, enabled %v, version %d", revoked, dom, enabled, version)
					for _, r := range append(userinfo.UserRules, userinfo.UserRule{Name: "all", Check: userinfo.CheckUser}) {
						cond, err := dynamo.UserCondition(r.Name, p, read)
						if err != nil {
							t.Error(err)
							continue
						}
						rule, condition := r.Check(p, read, &stored) == nil, holds(t, dynamo.UserKey(read.ID), cond)
						if rule != condition {
							t.Errorf("%s, stored %s: the rule allows: %v, its condition holds: %v", r.Name, state, rule, condition)
						}
					}
				}
			}
		}
	}
}

// testAccountRules judges every kind of change (the email, the mobile
// number or both; applied, applied verified or requested) against every
// account policy item: absent, or with each setting absent, true or false.
func testAccountRules(t *testing.T) {
	settings := []*bool{nil, aws.Bool(true), aws.Bool(false)}
	policies := [][3]*bool{{}} // the first stands for no policy item
	for _, e := range settings {
		for _, m := range settings {
			for _, v := range settings {
				policies = append(policies, [3]*bool{e, m, v})
			}
		}
	}
	for i, st := range policies {
		name := "NoPolicy"
		if i > 0 {
			name = fmt.Sprintf("email=%s,mobile=%s,verify=%s", setting(st[0]), setting(st[1]), setting(st[2]))
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := userinfo.DefaultAccount(newID("d-"))
			if i > 0 {
				it := dynamo.AccountItem{DomainID: a.DomainID, ManageEmail: st[0], ManageMobile: st[1], VerifyChanges: st[2]}
				av, err := dynamo.MarshalItem(it)
				if err != nil {
					t.Fatal(err)
				}
				maps.Copy(av, dynamo.AccountKey(a.DomainID))
				if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: av}); err != nil {
					t.Fatal(err)
				}
				a.ManageEmail, a.ManageMobile, a.VerifyChanges = or(st[0], a.ManageEmail), or(st[1], a.ManageMobile), or(st[2], a.VerifyChanges)
			}
			judgeAccount(t, a)
		})
	}
}

// judgeAccount judges every kind of change against the policy a, stored.
func judgeAccount(t *testing.T, a userinfo.Account) {
	u := &userinfo.User{ID: newID("u-"), DomainID: a.DomainID}
	email, mobile := email("a@example.com"), mobile("+86", "13800000000")
	verified := []*userinfo.Pending{{Field: userinfo.FieldEmail}}
	changes := map[string]userinfo.Change{
		"email": {User: u, Email: email}, "mobile": {User: u, Mobile: mobile}, "both": {User: u, Email: email, Mobile: mobile},
		"email verified": {User: u, Email: email, Verified: verified}, "both verified": {User: u, Email: email, Mobile: mobile, Verified: verified},
	}
	for name, c := range changes {
		for _, requesting := range []bool{false, true} {
			kind := name + map[bool]string{false: " applied", true: " requested"}[requesting]
			for _, r := range append(userinfo.AccountRules, userinfo.AccountRule{Name: "all", Check: userinfo.Account.Check}) {
				cond, applies, err := dynamo.AccountCondition(r.Name, c, requesting)
				if err != nil {
					t.Error(err)
					continue
				}
				rule, condition := r.Check(a, c, requesting) == nil, !applies || holds(t, dynamo.AccountKey(a.DomainID), cond)
				if rule != condition {
					t.Errorf("%s, %s: the rule allows: %v, its condition holds: %v", r.Name, kind, rule, condition)
				}
			}
		}
	}
}

func setting(b *bool) string {
	if b == nil {
		return "absent"
	}
	return fmt.Sprint(*b)
}

func or(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// holds reports whether cond holds on the item at key (or on no item),
// by a conditional check in a transaction, as the store's writes make it.
func holds(t *testing.T, key dynamo.Item, cond expression.ConditionBuilder) bool {
	t.Helper()
	e, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key, ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()},
	}}})
	var tce *types.TransactionCanceledException
	switch {
	case err == nil:
		return true
	case errors.As(err, &tce):
		return false
	}
	t.Fatal(err)
	return false
}
