package dynamo

// Operations returns the DynamoDB API operations the Store calls on the
// request path (GetUser and ApplyChange), sorted. The Lambda's IAM policy
// must allow IAMActions; a test compares both with the SAM template.
func Operations() []string {
	return []string{"GetItem", "TransactWriteItems"}
}

// IAMActions returns the IAM actions the request path needs, sorted. There
// is no dynamodb:TransactWriteItems action: IAM authorises each item of a
// transaction by its own action (Put → PutItem, Update → UpdateItem,
// Delete → DeleteItem, ConditionCheck → ConditionCheckItem).
func IAMActions() []string {
	return []string{
		"dynamodb:ConditionCheckItem", // the account policy check
		"dynamodb:DeleteItem",         // releasing an old guard
		"dynamodb:GetItem",            // GetUser
		"dynamodb:PutItem",            // a new guard, the audit record
		"dynamodb:UpdateItem",         // the user item
	}
}

// SeedOperations returns the DynamoDB API operations that only the local
// tools and tests call (CreateTable, UpsertUser, DeleteUser, GetAccount,
// PutAccount, Guards, AuditRecords) beyond those in Operations, sorted. The
// Lambda's role must not need them.
func SeedOperations() []string {
	return []string{
		"CreateTable", "DescribeTable", "DescribeTimeToLive",
		"PutItem", "Query", "Scan", "UpdateTimeToLive",
	}
}
