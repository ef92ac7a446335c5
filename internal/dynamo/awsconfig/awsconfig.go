// Package awsconfig builds the DynamoDB client from the AWS configuration
// with internal/dynamo's client settings. It alone imports the SDK's
// configuration code, which the local server does not need.
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

// WithMaxAttempts returns a NewClient option of at most n tries a call (1:
// no retry), with the bounded back-off.
func WithMaxAttempts(n int) func(*config.LoadOptions) error {
	return config.WithRetryer(func() aws.Retryer { return dynamo.NewRetryer(n) })
}

// NewClient returns a DynamoDB client from the default AWS configuration
// with internal/dynamo's retryer and HTTP client; opts come after, and may
// replace them. Build it once. With AWS_ENDPOINT_URL_DYNAMODB set, response
// checksums are not validated: DynamoDB Local omits x-amz-crc32 on 4xx
// answers (aws-sdk-go-v2#3545).
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
