// Package awsconfig builds the API's DynamoDB client from the AWS
// configuration (environment, shared files, the Lambda role), with the
// client settings of internal/dynamo. It is the one place that imports the
// SDK's configuration code, so that what does not need it (the local
// server, which talks to DynamoDB Local only) does not compile it.
package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

// WithMaxAttempts returns a NewClient option that makes the retryer try each
// call at most n times (1 means no retry), keeping the bounded back-off.
// Tests use it to cut the time spent on injected faults.
func WithMaxAttempts(n int) func(*config.LoadOptions) error {
	return config.WithRetryer(func() aws.Retryer { return dynamo.NewRetryer(n) })
}

// NewClient returns a DynamoDB client built from the default AWS
// configuration with the bounded retryer and the shared HTTP client of
// internal/dynamo; opts are applied after those defaults, so they may
// replace them. Build it once, at init: it is safe for concurrent use. When
// AWS_ENDPOINT_URL_DYNAMODB is set the SDK sends requests there, and
// response checksum validation is turned off because DynamoDB Local omits
// x-amz-crc32 on 4xx answers (aws-sdk-go-v2#3545); empty, the SDK uses the
// regional endpoint. It returns an error when the configuration cannot be
// loaded.
func NewClient(ctx context.Context, opts ...func(*config.LoadOptions) error) (*dynamodb.Client, error) {
	all := append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(dynamo.HTTPClient()),
		WithMaxAttempts(dynamo.MaxAttemptsPerCall),
	}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, all...)
	if err != nil {
		return nil, fmt.Errorf("dynamo: load AWS config: %w", err)
	}
	local := os.Getenv(dynamo.EndpointEnv) != ""
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if local {
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}
