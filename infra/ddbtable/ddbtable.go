// Package ddbtable is what the local tools and tests do to the users table
// beyond the request path: create it, seed and remove users and account
// policies, read guards, audit records and messages to check them, and
// re-key guards (infra/cmd/rekey). It writes items as internal/dynamo lays
// them out. The Lambda functions never link it (a test in internal/dynamo
// holds that), and their IAM policy need not allow what it does
// (Operations).
package ddbtable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

// Table is the users table as tools and tests use it: the request path's
// store, and what only tools do.
type Table struct {
	*dynamo.Store
	client *dynamodb.Client
	name   string
	now    func() time.Time
}

// New returns the table called name, with the request path's store built
// with opts (whose clock the tools use too).
func New(client *dynamodb.Client, name string, opts dynamo.Options) *Table {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Table{Store: dynamo.New(client, name, opts), client: client, name: name, now: opts.Now}
}

// Operations returns the DynamoDB API operations the tools call, sorted.
// Those beyond dynamo.Operations the Lambda's role must not need.
func Operations() []string {
	return []string{
		"CreateTable", "DescribeTable", "DescribeTimeToLive", "GetItem",
		"PutItem", "Query", "Scan", "TransactWriteItems", "UpdateTimeToLive",
	}
}

// attempts bounds how often a tool's write is recomputed when a request
// changed the user between its read and its write.
const attempts = 3

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ddbtable: %s: %w", op, err)
}

// write is a TransactWriteItems request being built. Its items have roles,
// so that a cancellation reason, reported by position, maps back.
type write struct {
	table string
	items []types.TransactWriteItem
	roles []string
	err   error
}

func (w *write) expr(cond expression.ConditionBuilder, upd *expression.UpdateBuilder) expression.Expression {
	b := expression.NewBuilder().WithCondition(cond)
	if upd != nil {
		b = b.WithUpdate(*upd)
	}
	e, err := b.Build()
	w.err = errors.Join(w.err, err)
	return e
}

// old asks for the item as stored when a condition fails: it names a
// guard's holder.
const old = types.ReturnValuesOnConditionCheckFailureAllOld

func (w *write) put(role string, in any, cond expression.ConditionBuilder) {
	av, err := dynamo.MarshalItem(in)
	w.err = errors.Join(w.err, err)
	e := w.expr(cond, nil)
	w.add(role, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(w.table), Item: av, ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ReturnValuesOnConditionCheckFailure: old}})
}

func (w *write) update(role string, key dynamo.Item, cond expression.ConditionBuilder, upd expression.UpdateBuilder) {
	e := w.expr(cond, &upd)
	w.add(role, types.TransactWriteItem{Update: &types.Update{TableName: aws.String(w.table), Key: key, UpdateExpression: e.Update(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}})
}

func (w *write) delete(role string, key dynamo.Item, cond expression.ConditionBuilder) {
	e := w.expr(cond, nil)
	w.add(role, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(w.table), Key: key,
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}})
}

func (w *write) add(role string, it types.TransactWriteItem) {
	w.items = append(w.items, it)
	w.roles = append(w.roles, role)
}

// send writes w. When DynamoDB cancels it, it returns the reason of each
// role whose item failed or raced another transaction ("user" for any
// race), with the error.
func (w *write) send(ctx context.Context, client *dynamodb.Client) (map[string]types.CancellationReason, error) {
	if w.err != nil {
		return nil, w.err
	}
	_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: w.items})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, wrap("TransactWriteItems", err)
	}
	failed := map[string]types.CancellationReason{}
	for i, r := range tce.CancellationReasons {
		switch code := aws.ToString(r.Code); {
		case code == "ConditionalCheckFailed" && i < len(w.roles):
			failed[w.roles[i]] = r
		case code == "TransactionConflict":
			failed["user"] = r
		}
	}
	return failed, wrap("TransactWriteItems", err)
}
