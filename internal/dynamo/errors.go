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

// unavailableCodes are the error codes that mean "try again later"
// (EUNAVAILABLE): throttling, once the SDK's retries ran out, and server
// faults.
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

// cancellationThrottleCodes are the cancellation codes of a throttled
// transaction.
var cancellationThrottleCodes = map[string]bool{
	"ThrottlingError":               true,
	"ProvisionedThroughputExceeded": true,
	"RequestLimitExceeded":          true,
}

// classify turns an SDK error from op into the domain's terms: transient
// is EUNAVAILABLE, anything else a wrapped error (500). userinfo's errors
// pass through. It adds no value to the error: guard keys hold emails and
// phone numbers.
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
	// A wrong table, a bad expression, a denied IAM action or unknown.
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

func isUnavailable(err error) bool {
	// The retry token bucket ran dry under sustained throttling.
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		return true
	}
	// A deadline ran out, usually while the SDK was backing off.
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
	// A request not sent or a response not read (refused, reset, EOF, TLS,
	// DNS).
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	// Dial, DNS and read failures, and transport timeouts.
	var op *net.OpError
	var dns *net.DNSError
	var ne net.Error
	return errors.As(err, &op) || errors.As(err, &dns) || (errors.As(err, &ne) && ne.Timeout())
}
