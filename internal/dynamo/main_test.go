package dynamo_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal/ddbtest"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// table is the one table every test shares; tests stay apart by using
// fresh random user and domain ids.
const table = "userinfo-test"

var (
	endpoint string           // DynamoDB Local, http://127.0.0.1:<port>
	client   *dynamodb.Client // NewClient against endpoint
)

func TestMain(m *testing.M) {
	os.Exit(ddbtest.Run(m, "dynamo", func(ctx context.Context, url string, c *dynamodb.Client) error {
		endpoint, client = url, c
		return ddbtable.Create(ctx, client, table)
	}))
}

// newID and seedUser are ddbtest's: ids and users of tests that share the
// table.
var newID, seedUser = ddbtest.NewID, ddbtest.SeedUser

// fixedNow is the clock of the stores under test, so timestamps can be
// compared exactly. It must be near the real time: DynamoDB Local runs a
// TTL sweeper, and an audit record whose expires_at (at + retention) is in
// the past vanishes at a moment of its choosing.
var fixedNow = time.Now().UTC().Truncate(time.Second)

const retention = 30 * 24 * time.Hour

func newStore(c *dynamodb.Client) *ddbtable.Table {
	return ddbtable.New(c, table, dynamo.Options{AuditRetention: retention, Now: func() time.Time { return fixedNow }})
}

// email and mobile return a change's new value as the service would make it.
func email(s string) *userinfo.Email {
	e, err := userinfo.ParseEmail(s)
	if err != nil {
		panic(err)
	}
	return &e
}

func mobile(areaCode, number string) *userinfo.Mobile {
	m, err := userinfo.ParseMobile(areaCode, number)
	if err != nil {
		panic(err)
	}
	return &m
}

func emailOf(c userinfo.Change) string {
	if c.Email == nil {
		return ""
	}
	return c.Email.Address
}

func phoneOf(c userinfo.Change) string {
	if c.Mobile == nil {
		return ""
	}
	return c.Mobile.Number
}

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// setAttribute and removeAttribute change one attribute of a user item
// behind the store's back, without touching its version: as another writer
// (a revocation service, an operator, a broken tool) could.
func setAttribute(t *testing.T, userID, name string, v types.AttributeValue) {
	t.Helper()
	updateUserItem(t, userID, "SET #a = :v", name, map[string]types.AttributeValue{":v": v})
}

func removeAttribute(t *testing.T, userID, name string) {
	t.Helper()
	updateUserItem(t, userID, "REMOVE #a", name, nil)
}

func updateUserItem(t *testing.T, userID, expr, name string, values map[string]types.AttributeValue) {
	t.Helper()
	_, err := client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{dynamo.AttrPK: avS("USER#" + userID), dynamo.AttrSK: avS("#USER")},
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  map[string]string{"#a": name},
		ExpressionAttributeValues: values,
	})
	if err != nil {
		t.Fatal(err)
	}
}
