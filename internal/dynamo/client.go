package dynamo

import (
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// The client settings of the API: bounded retries and one pooled HTTP
// client. internal/dynamo/awsconfig builds the API's client from the AWS
// configuration with them; this package does not import that
// configuration code, whose packages (STS, SSO and more) the local server,
// which never needs them, would otherwise compile too.

// Retry bounds. The handler has a 5 s deadline and API Gateway gives up at
// 29 s; the SDK's DynamoDB defaults (4 attempts, throttles backing off from
// a 1 s base) took 2.8-4.9 s on an always-throttled call. Three attempts
// with at most 100 ms between them keep the worst case near a few hundred
// milliseconds plus the calls themselves.
const (
	// MaxAttemptsPerCall is how many times the API's retryer sends one
	// DynamoDB call (the first try included).
	MaxAttemptsPerCall = 3
	// MaxBackoff caps every retry delay, throttles included (the SDK's
	// throttle base of 1 s is clipped to it).
	MaxBackoff = 100 * time.Millisecond
)

// EndpointEnv is the SDK's own variable for a DynamoDB endpoint override
// (DynamoDB Local in development and tests); empty means none.
const EndpointEnv = "AWS_ENDPOINT_URL_DYNAMODB"

// httpClient is the HTTP client of every DynamoDB client of the API. The
// SDK's default keeps only 10 idle connections per host; DynamoDB is one
// host, so under concurrency most requests would pay a new TCP and TLS
// handshake. Dialing is bounded well inside the handler's deadline.
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

// HTTPClient returns the HTTP client every DynamoDB client of the API uses.
// It stays a BuildableClient (not frozen) because the SDK must be able to
// add AWS_CA_BUNDLE to it; the SDK then works on a copy with its own pool,
// which is why a client is meant to be built once per process.
func HTTPClient() *awshttp.BuildableClient { return httpClient }

// NewRetryer returns the API's retryer: at most maxAttempts tries (1 means
// no retry), with the bounded back-off.
func NewRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = MaxBackoff
		o.BaseDelay = 25 * time.Millisecond
	})
}
