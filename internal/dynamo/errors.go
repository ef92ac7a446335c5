package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// msgUnavailable is the caller-safe message of every EUNAVAILABLE error.
const msgUnavailable = "The user store is temporarily unavailable."

// unavailableCodes are the DynamoDB error codes that mean "try again
// later": throttling (which the SDK has already retried a bounded number of
// times) and server faults. They map to 503, never to 500.
var unavailableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"LimitExceededException":                 true,
	"InternalServerError":                    true,
	"InternalFailure":                        true,
	"ServiceUnavailable":                     true,
	"ServiceUnavailableException":            true,
	"TransactionInProgressException":         true,
	"RequestTimeout":                         true,
	"RequestTimeoutException":                true,
}

// cancellationThrottleCodes are the CancellationReason codes that mean a
// transaction was throttled, not refused.
var cancellationThrottleCodes = map[string]bool{
	"ThrottlingError":               true,
	"ProvisionedThroughputExceeded": true,
	"RequestLimitExceeded":          true,
}

// classify turns an SDK error from operation op into the domain's terms. It
// is the one place that decides what is the caller's problem, what is
// transient (EUNAVAILABLE, 503) and what is a bug or misconfiguration
// (a plain wrapped error, 500). Errors already in the domain's terms pass
// through unchanged.
//
// SDK error texts name operations, codes and request ids, not item values,
// and nothing here adds a value: the guard keys hold emails and phone
// numbers, so they never go into an error.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *userinfo.Error
	var stale *userinfo.StaleError
	if errors.As(err, &de) || errors.As(err, &stale) {
		return err
	}
	if isUnavailable(err) {
		return userinfo.Unavailable(fmt.Errorf("dynamo: %s: %w", op, err), msgUnavailable)
	}
	// ResourceNotFoundException (wrong table name), ValidationException (a
	// bug in an expression), AccessDeniedException (IAM policy) and anything
	// unknown: not the caller's fault and not transient.
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

func isUnavailable(err error) bool {
	// The retry token bucket ran dry under sustained throttling: the SDK
	// gave up without trying, which is a throttle too.
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		return true
	}
	// The handler's deadline (or the client's) ran out, usually while the
	// SDK was backing off.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && unavailableCodes[api.ErrorCode()] {
		return true
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.HTTPStatusCode() >= 500 {
		return true
	}
	// The SDK wraps every failure to send a request or read its response
	// (refused, reset, EOF mid-body, TLS, DNS) in a RequestSendError.
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	// Dial, DNS and read failures all surface as *net.OpError or
	// *net.DNSError; a timeout anywhere in the transport as a net.Error.
	var op *net.OpError
	var dns *net.DNSError
	var ne net.Error
	return errors.As(err, &op) || errors.As(err, &dns) || (errors.As(err, &ne) && ne.Timeout())
}
