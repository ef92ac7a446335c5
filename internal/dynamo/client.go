package dynamo

import (
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// The client settings; internal/dynamo/awsconfig applies them, so that
// this package does not import the SDK's configuration code.

// Retry bounds. The handler has a 5 s deadline; the SDK's defaults (4
// attempts, throttles backing off from 1 s) took 2.8-4.9 s on an
// always-throttled call, measured against a throttling proxy.
const (
	// MaxAttemptsPerCall is how many times one DynamoDB call is sent, the
	// first try included.
	MaxAttemptsPerCall = 3
	// MaxBackoff caps every retry delay, throttles included.
	MaxBackoff = 100 * time.Millisecond
)

// EndpointEnv is the SDK's variable for a DynamoDB endpoint (DynamoDB Local).
const EndpointEnv = "AWS_ENDPOINT_URL_DYNAMODB"

// httpClient keeps more idle connections than the SDK's 10 per host, as
// DynamoDB is one host, and dials well inside the handler's deadline.
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

// HTTPClient returns the HTTP client of the API's DynamoDB clients. It is
// a BuildableClient so that the SDK can add AWS_CA_BUNDLE to it.
func HTTPClient() *awshttp.BuildableClient { return httpClient }

// NewRetryer returns a retryer of at most maxAttempts tries (1: no retry)
// with the bounded back-off.
func NewRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = MaxBackoff
		o.BaseDelay = 25 * time.Millisecond
	})
}
