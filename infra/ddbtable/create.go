package ddbtable

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

// tableActiveTimeout bounds CreateTable's wait for the table to become
// ACTIVE: seconds on DynamoDB, immediate on DynamoDB Local.
const tableActiveTimeout = 2 * time.Minute

// Definition returns the CreateTable input for a table called name:
// string keys pk (HASH) and sk (RANGE), on-demand capacity, no indexes, a
// stream of keys only (the notifier reads the outbox items it names). The
// SAM template must declare the same schema; its test compares the two.
func Definition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(dynamo.AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(dynamo.AttrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(dynamo.AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(dynamo.AttrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeKeysOnly,
		},
	}
}

// Create creates the table called name as Definition describes it,
// waits until it is ACTIVE and enables time to live on expires_at, which
// expires audit records. A table that already exists is not an error, so
// it can run on every start of a local server. It returns an error when the
// table cannot be created, does not become ACTIVE within two minutes, or
// TTL cannot be enabled on real DynamoDB.
func Create(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.CreateTable(ctx, Definition(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return wrap("CreateTable", err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		// The default 20 s first delay is built for slow control planes;
		// a new on-demand table is usually ACTIVE in a few seconds.
		o.MinDelay, o.MaxDelay = 500*time.Millisecond, 5*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableActiveTimeout); err != nil {
		return wrap("DescribeTable", err)
	}
	return enableTTL(ctx, client, name)
}

func enableTTL(ctx context.Context, client *dynamodb.Client, name string) error {
	d, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err == nil && d.TimeToLiveDescription != nil {
		switch d.TimeToLiveDescription.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			return nil
		}
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(dynamo.TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err == nil || ttlAlreadyOn(err) {
		return nil
	}
	return wrap("UpdateTimeToLive", err)
}

// ttlAlreadyOn reports whether UpdateTimeToLive failed only because TTL is
// already enabled (DynamoDB answers a ValidationException for a repeat), or
// because the endpoint does not implement TTL at all, as some DynamoDB Local
// releases do not: there records simply never expire, which is harmless.
func ttlAlreadyOn(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ValidationException":
		return strings.Contains(strings.ToLower(api.ErrorMessage()), "already enabled") ||
			strings.Contains(strings.ToLower(api.ErrorMessage()), "timetolive is active")
	case "UnknownOperationException":
		return true
	}
	return false
}
