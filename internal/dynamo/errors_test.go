package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func httpStatus(code int) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
		Err:      errors.New("unexpected status"),
	}
}

func TestClassify(t *testing.T) {
	// The retryer wraps the last error this way when the token bucket is dry.
	quota := fmt.Errorf("operation error DynamoDB: GetItem: failed to get rate limit token, %w",
		ratelimit.QuotaExceededError{Available: 0, Requested: 5})
	tests := []struct {
		name     string
		err      error
		wantCode string // "" for nil
	}{
		{"Nil", nil, ""},
		{"ProvisionedThroughputExceeded", &types.ProvisionedThroughputExceededException{Message: new(string)}, userinfo.EUNAVAILABLE},
		{"Throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, userinfo.EUNAVAILABLE},
		{"RequestLimitExceeded", &types.RequestLimitExceeded{}, userinfo.EUNAVAILABLE},
		{"RetryQuotaExceeded", quota, userinfo.EUNAVAILABLE},
		{"InternalServerError", &types.InternalServerError{}, userinfo.EUNAVAILABLE},
		{"ServiceUnavailable", &smithy.GenericAPIError{Code: "ServiceUnavailable"}, userinfo.EUNAVAILABLE},
		{"HTTP503", httpStatus(503), userinfo.EUNAVAILABLE},
		{"ConnectionRefused", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, userinfo.EUNAVAILABLE},
		{"ConnectionReset", fmt.Errorf("read: %w", syscall.ECONNRESET), userinfo.EUNAVAILABLE},
		{"DNSTimeout", &net.DNSError{Err: "i/o timeout", IsTimeout: true}, userinfo.EUNAVAILABLE},
		{"NetTimeout", fmt.Errorf("read body: %w", timeoutErr{}), userinfo.EUNAVAILABLE},
		{"DeadlineExceeded", fmt.Errorf("operation error: %w", context.DeadlineExceeded), userinfo.EUNAVAILABLE},
		{"Canceled", &smithy.CanceledError{Err: context.Canceled}, userinfo.EUNAVAILABLE},
		{"ErrResourceNotFound", &types.ResourceNotFoundException{}, userinfo.EINTERNAL},
		{"ErrValidation", &smithy.GenericAPIError{Code: "ValidationException", Message: "bad expression"}, userinfo.EINTERNAL},
		{"ErrAccessDenied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, userinfo.EINTERNAL},
		{"ErrHTTP400", httpStatus(400), userinfo.EINTERNAL},
		{"ErrUnknown", errors.New("boom"), userinfo.EINTERNAL},
		{"DomainErrorKept", userinfo.Errorf(userinfo.ECONFLICT, "taken"), userinfo.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dynamo.Classify("GetItem", tt.err)
			if code := userinfo.ErrorCode(got); code != tt.wantCode {
				t.Fatalf("code = %q, want %q (err %v)", code, tt.wantCode, got)
			}
			if tt.err == nil {
				return
			}
			// The cause stays in the chain, for logs and errors.As.
			if !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap %v", got, tt.err)
			}
			switch tt.wantCode {
			case userinfo.EUNAVAILABLE:
				if m := userinfo.ErrorMessage(got); m != "The user store is temporarily unavailable." {
					t.Errorf("message = %q", m)
				}
			case userinfo.EINTERNAL:
				if !strings.HasPrefix(got.Error(), "dynamo: GetItem: ") {
					t.Errorf("error = %q, want it to name the operation", got)
				}
			}
		})
	}
	t.Run("StaleErrorKept", func(t *testing.T) {
		stale := &userinfo.StaleError{}
		if got := dynamo.Classify("TransactWriteItems", stale); got != error(stale) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("QuotaExceededByValue", func(t *testing.T) {
		got := dynamo.Classify("GetItem", quota)
		var q ratelimit.QuotaExceededError
		if !errors.As(got, &q) || q.Requested != 5 {
			t.Errorf("QuotaExceededError lost from %v", got)
		}
	})
}

// timeoutErr is a net.Error that timed out, as a transport's read deadline
// reports it.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
