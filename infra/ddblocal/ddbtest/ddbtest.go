// Package ddbtest helps tests that use DynamoDB Local, with clients built
// as the API builds them (awsconfig.NewClient). It is for tests only: make
// run's server does not link the SDK's configuration code, so ddblocal
// cannot offer this.
package ddbtest

import (
	"context"
	"sort"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
)

// RecordingClient returns a client from awsconfig.NewClient that notes the
// name of every operation it is asked to call, and a function that returns
// those names, sorted. It fails t when the client cannot be built.
func RecordingClient(t testing.TB) (*dynamodb.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	record := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordOperation",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				seen[awsmiddleware.GetOperationName(ctx)] = true
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
	rc, err := awsconfig.NewClient(context.Background(), config.WithAPIOptions([]func(*middleware.Stack) error{record}))
	if err != nil {
		t.Fatal(err)
	}
	return rc, func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ops []string
		for op := range seen {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		return ops
	}
}
