package dynamo

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Retry bounds. The handler has a 5 s deadline and API Gateway gives up at
// 29 s; the SDK's DynamoDB defaults (4 attempts, throttles backing off from
// a 1 s base) took 2.8-4.9 s on an always-throttled call. Three attempts
// with at most 100 ms between them keep the worst case near a few hundred
// milliseconds plus the calls themselves.
const (
	// MaxAttemptsPerCall is how many times NewClient's retryer sends one
	// DynamoDB call (the first try included).
	MaxAttemptsPerCall = 3
	// MaxBackoff caps every retry delay, throttles included (the SDK's
	// throttle base of 1 s is clipped to it).
	MaxBackoff = 100 * time.Millisecond
)

// EndpointEnv is the SDK's own variable for a DynamoDB endpoint override
// (DynamoDB Local in development and tests). NewClient reads nothing else.
const EndpointEnv = "AWS_ENDPOINT_URL_DYNAMODB"

// httpClient is the HTTP client of every DynamoDB client this package
// builds. The SDK's default keeps only 10 idle connections per host;
// DynamoDB is one host, so under concurrency most requests would pay a new
// TCP and TLS handshake. Dialing is bounded well inside the handler's
// deadline. It stays a BuildableClient (not frozen) because the SDK must be
// able to add AWS_CA_BUNDLE to it; the SDK then works on a copy with its own
// pool, which is why NewClient is meant to be called once per process.
var httpClient = awshttp.NewBuildableClient().
	WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 2 * time.Second
		d.KeepAlive = 30 * time.Second
	}).
	WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 256
		t.IdleConnTimeout = 90 * time.Second
		t.TLSHandshakeTimeout = 3 * time.Second
	})

func newRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = MaxBackoff
		o.BaseDelay = 25 * time.Millisecond
	})
}

// WithMaxAttempts returns a NewClient option that makes the retryer try each
// call at most n times (1 means no retry), keeping the bounded back-off.
// Tests use it to cut the time spent on injected faults.
func WithMaxAttempts(n int) func(*config.LoadOptions) error {
	return config.WithRetryer(func() aws.Retryer { return newRetryer(n) })
}

// NewClient returns a DynamoDB client built from the default AWS
// configuration (environment, shared files, Lambda role) with a bounded
// retryer and a shared HTTP client; opts are applied after those defaults,
// so they may replace them. Build it once, at init: it is safe for
// concurrent use. When AWS_ENDPOINT_URL_DYNAMODB is set the SDK sends
// requests there, and response checksum validation is turned off because
// DynamoDB Local omits x-amz-crc32 on 4xx answers (aws-sdk-go-v2#3545). It
// returns an error when the configuration cannot be loaded.
func NewClient(ctx context.Context, opts ...func(*config.LoadOptions) error) (*dynamodb.Client, error) {
	all := append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		WithMaxAttempts(MaxAttemptsPerCall),
	}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, all...)
	if err != nil {
		return nil, fmt.Errorf("dynamo: load AWS config: %w", err)
	}
	local := os.Getenv(EndpointEnv) != ""
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if local {
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}
