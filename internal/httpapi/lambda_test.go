package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

const (
	gatewayRequestID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
	gatewaySourceIP  = "203.0.113.9"
)

// TestLambdaV1 drives the handler the way the Lambda function does: an API
// Gateway REST (v1) proxy event through httpadapter. The request id and
// source IP must be API Gateway's, in the response and in the audit meta.
func TestLambdaV1(t *testing.T) {
	event := func(token, body string) events.APIGatewayProxyRequest {
		return events.APIGatewayProxyRequest{
			HTTPMethod: http.MethodPut,
			Path:       alicePath,
			Headers: map[string]string{
				"X-Auth-Token": token,
				"Content-Type": jsonContentType,
				// Spoofable: must not become the audit's source IP.
				"X-Forwarded-For": "198.51.100.250",
			},
			Body: body,
			RequestContext: events.APIGatewayProxyRequestContext{
				RequestID:  gatewayRequestID,
				DomainName: "api.example",
				Identity:   events.APIGatewayRequestIdentity{SourceIP: gatewaySourceIP},
			},
		}
	}
	t.Run("Updated", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		resp, err := httpadapter.New(f.handler).ProxyWithContext(t.Context(), event(aliceToken, validEmailBody))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNoContent || resp.Body != "" {
			t.Fatalf("status %d body %q, want 204 and no body", resp.StatusCode, resp.Body)
		}
		h := http.Header(resp.MultiValueHeaders)
		if got := h.Get("X-Request-Id"); got != gatewayRequestID {
			t.Errorf("X-Request-Id = %q, want API Gateway's %q", got, gatewayRequestID)
		}
		if h.Get("Content-Type") != "" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v: want no Content-Type and Cache-Control: no-store", h)
		}
		changes := f.store.changes()
		if len(changes) != 1 {
			t.Fatalf("got %d changes, want 1", len(changes))
		}
		if m := changes[0].Meta; m.RequestID != gatewayRequestID || m.SourceIP != gatewaySourceIP {
			t.Errorf("audit meta = %+v, want API Gateway's request id and source IP", m)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		resp, err := httpadapter.New(f.handler).ProxyWithContext(t.Context(), event(rejectedToken, validEmailBody))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401", resp.StatusCode)
		}
		var e errorResponse
		if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
			t.Fatal(err)
		}
		if e.RequestID != gatewayRequestID || e.ErrorCode != iamUnauthorized {
			t.Errorf("body %+v, want request_id %q and %s", e, gatewayRequestID, iamUnauthorized)
		}
	})
	t.Run("ErrDeadlineNear", func(t *testing.T) {
		// Lambda's deadline is 100 ms away: less than the 300 ms margin.
		f := newFixture(t, httpapi.Config{})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		resp, err := httpadapter.New(f.handler).ProxyWithContext(ctx, event(aliceToken, validEmailBody))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || http.Header(resp.MultiValueHeaders).Get("Retry-After") != "1" {
			t.Fatalf("status = %d headers %v, want 503 with Retry-After: 1", resp.StatusCode, resp.MultiValueHeaders)
		}
	})
}

// TestLambdaV2 does the same through an HTTP API (v2) event.
func TestLambdaV2(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	event := events.APIGatewayV2HTTPRequest{
		RawPath: alicePath,
		Headers: map[string]string{"x-auth-token": aliceToken, "content-type": jsonContentType},
		Body:    validPhoneBody,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID:  gatewayRequestID,
			DomainName: "api.example",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPut, Path: alicePath, SourceIP: gatewaySourceIP},
		},
	}
	resp, err := httpadapter.NewV2(f.handler).ProxyWithContext(t.Context(), event)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status = %d, want 204; body %q", resp.StatusCode, resp.Body)
	}
	changes := f.store.changes()
	if len(changes) != 1 {
		t.Fatalf("got %d changes, want 1", len(changes))
	}
	if m := changes[0].Meta; m.RequestID != gatewayRequestID || m.SourceIP != gatewaySourceIP {
		t.Errorf("audit meta = %+v, want API Gateway's request id and source IP", m)
	}
}
