package dynamo

import "github.com/iam-userinfo/userinfo/internal/userinfo"

// Operations returns the DynamoDB operations the request path calls,
// sorted. TestOperations holds it to the calls the request path makes.
func Operations() []string {
	return []string{"GetItem", "TransactWriteItems", "UpdateItem"}
}

// Grant is one IAM statement: Actions on the items whose partition key
// matches one of LeadingKeys (StringLike patterns).
type Grant struct {
	Actions     []string
	LeadingKeys []string
}

// Grants returns what the request path needs, by item kind. There is no
// TransactWriteItems action: IAM authorises each item of a transaction by
// its own (Put → PutItem, ConditionCheck → ConditionCheckItem...).
// infra/samtemplate's stack test holds the template's policy equal to it,
// and TestRequestPathStaysInGrants the request path inside it.
func Grants() []Grant {
	wild := "*"
	return []Grant{
		// The user's partition: the user, its pending changes and audit
		// records.
		{[]string{"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, []string{userPK(wild)}},
		// The outbox.
		{[]string{"dynamodb:PutItem"}, []string{OutboxPrefix + wild}},
		// Uniqueness guards, of any key version.
		{[]string{"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem"}, []string{
			guardPK(wild, GuardEmail, userinfo.Key{Version: 1, Value: wild}),
			guardPK(wild, GuardPhone, userinfo.Key{Version: 1, Value: wild}),
		}},
		// The account's policy.
		{[]string{"dynamodb:ConditionCheckItem"}, []string{accountPK(wild)}},
	}
}

// NotifierGrants is Grants for the notifier: outbox messages, and a code's
// hash on its pending change.
func NotifierGrants() []Grant {
	wild := "*"
	return []Grant{
		{[]string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, []string{OutboxPrefix + wild}},
		{[]string{"dynamodb:UpdateItem"}, []string{userPK(wild)}},
	}
}
