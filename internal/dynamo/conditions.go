package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// userinfo's rules (rules.go there) as conditions of the write, by rule
// name. TestRulesAreConditions holds each equal to its rule.

// userConditions are the conditions on the user item for a change by p
// computed from read.
var userConditions = map[string]func(p userinfo.Principal, read *userinfo.User) expression.ConditionBuilder{
	userinfo.RuleNotRevoked: func(p userinfo.Principal, _ *userinfo.User) expression.ConditionBuilder {
		// In timeLayout, string order is time order.
		revoked := expression.Name(attrTokensRevokedAt)
		return expression.AttributeNotExists(revoked).Or(revoked.LessThanEqual(expression.Value(formatTime(p.IssuedAt))))
	},
	userinfo.RuleSameAccount: func(p userinfo.Principal, _ *userinfo.User) expression.ConditionBuilder {
		return expression.Name(attrDomainID).Equal(expression.Value(p.DomainID))
	},
	userinfo.RuleEnabled: func(userinfo.Principal, *userinfo.User) expression.ConditionBuilder {
		return expression.Name(attrEnabled).Equal(expression.Value(true))
	},
	userinfo.RuleVersionRead: func(_ userinfo.Principal, read *userinfo.User) expression.ConditionBuilder {
		return expression.Name(attrVersion).Equal(expression.Value(read.Version))
	},
}

// accountConditions are the conditions on the account's policy item for c,
// and false for a rule that does not apply to c. An absent item or setting
// is userinfo.DefaultAccount's.
var accountConditions = map[string]func(c userinfo.Change, requesting bool) (expression.ConditionBuilder, bool){
	userinfo.RuleManageEmail: func(c userinfo.Change, _ bool) (expression.ConditionBuilder, bool) {
		return absentOr(attrManageEmail, true), c.Email != nil
	},
	userinfo.RuleManageMobile: func(c userinfo.Change, _ bool) (expression.ConditionBuilder, bool) {
		return absentOr(attrManageMobile, true), c.Mobile != nil
	},
	userinfo.RuleVerifyChanges: func(c userinfo.Change, requesting bool) (expression.ConditionBuilder, bool) {
		if requesting {
			return expression.Name(attrVerifyChanges).Equal(expression.Value(true)), true
		}
		return absentOr(attrVerifyChanges, false), len(c.Verified) == 0
	},
}

func absentOr(attr string, v bool) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(attr)).Or(expression.Name(attr).Equal(expression.Value(v)))
}

// userCondition returns the conditions of all userinfo.UserRules.
func userCondition(p userinfo.Principal, read *userinfo.User) (expression.ConditionBuilder, error) {
	var cs []expression.ConditionBuilder
	for _, r := range userinfo.UserRules {
		cond, ok := userConditions[r.Name]
		if !ok {
			return expression.ConditionBuilder{}, errorf("no condition for the rule %q", r.Name)
		}
		cs = append(cs, cond(p, read))
	}
	return and(cs), nil
}

// accountCondition returns the conditions of the userinfo.AccountRules
// that apply to c.
func accountCondition(c userinfo.Change, requesting bool) (expression.ConditionBuilder, error) {
	var cs []expression.ConditionBuilder
	for _, r := range userinfo.AccountRules {
		cond, ok := accountConditions[r.Name]
		if !ok {
			return expression.ConditionBuilder{}, errorf("no condition for the rule %q", r.Name)
		}
		if cb, applies := cond(c, requesting); applies {
			cs = append(cs, cb)
		}
	}
	return and(cs), nil
}

// and returns the conjunction of cs.
func and(cs []expression.ConditionBuilder) expression.ConditionBuilder {
	switch len(cs) {
	case 0:
		return expression.ConditionBuilder{} // no condition: Build refuses it
	case 1:
		return cs[0]
	}
	return expression.And(cs[0], cs[1], cs[2:]...)
}
