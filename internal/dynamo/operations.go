package dynamo

import (
	"slices"
	"sort"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Operations returns the DynamoDB API operations the Store calls on the
// request path (GetUser, GetPending, ApplyChange, RequestChange, WrongCode),
// sorted. The Lambda's IAM policy
// must allow them through Grants; a test compares both with the SAM template.
func Operations() []string {
	return []string{"GetItem", "TransactWriteItems", "UpdateItem"}
}

// Grant is one statement of the request path's IAM policy: Actions on the
// items whose partition key matches one of LeadingKeys (IAM StringLike
// patterns, * standing for any run of characters).
type Grant struct {
	Actions     []string
	LeadingKeys []string
}

// Grants returns what the request path needs, item kind by item kind,
// from the key layout of keys.go. There is no dynamodb:TransactWriteItems
// action: IAM authorises each item of a transaction by its own action (Put
// → PutItem, Update → UpdateItem, Delete → DeleteItem, ConditionCheck →
// ConditionCheckItem), dynamodb:LeadingKeys included. The SAM template must
// grant exactly these; a test compares the two, and another that the
// request path stays inside them.
func Grants() []Grant {
	wild := "*"
	return []Grant{
		// The user's partition: the user item (read, updated, checked by a
		// requested change), its pending changes (read, written, counted,
		// closed) and its audit records (written).
		{[]string{"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, []string{userPK(wild)}},
		// The messages a change sends, into the outbox.
		{[]string{"dynamodb:PutItem"}, []string{OutboxPrefix + wild}},
		// Claiming, checking and releasing uniqueness guards, of any key
		// version (guardPK).
		{[]string{"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem"}, []string{
			guardPK(wild, GuardEmail, userinfo.Key{Version: 1, Value: wild}),
			guardPK(wild, GuardPhone, userinfo.Key{Version: 1, Value: wild}),
		}},
		// The check of the account's protect policy.
		{[]string{"dynamodb:ConditionCheckItem"}, []string{accountPK(wild)}},
	}
}

// NotifierGrants returns what the notifier needs, as Grants does for the
// request path: reading an outbox message and marking it delivered, and
// storing a code's hash with its pending change.
func NotifierGrants() []Grant {
	wild := "*"
	return []Grant{
		{[]string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, []string{OutboxPrefix + wild}},
		{[]string{"dynamodb:UpdateItem"}, []string{userPK(wild)}},
	}
}

// IAMActions returns every action of Grants, sorted.
func IAMActions() []string {
	var out []string
	for _, g := range Grants() {
		out = append(out, g.Actions...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}
