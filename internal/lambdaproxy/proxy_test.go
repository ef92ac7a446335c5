package lambdaproxy_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/lambdaproxy"
)

// TestEventFormats: every sender's event reaches the same handler, is
// answered in the sender's response shape, and the change it makes carries
// API Gateway's request id and the source IP API Gateway saw.
func TestEventFormats(t *testing.T) {
	tests := []struct {
		name    string
		payload func(t *testing.T) []byte
		v2      bool // the response must be payload 2.0's (headers, no multiValueHeaders)
	}{
		{"RESTAPI", func(t *testing.T) []byte { return restEvent(t, nil) }, false},
		{"HTTPAPIPayload1", func(t *testing.T) []byte {
			return restEvent(t, func(ev map[string]any) { ev["version"] = "1.0" })
		}, false},
		{"HTTPAPIPayload2", func(t *testing.T) []byte { return v2Event(t, nil) }, true},
		{"FunctionURL", func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) {
				ev["routeKey"] = "$default"
				rc := ev["requestContext"].(map[string]any)
				rc["domainName"] = "abcdefghijklmnopqrstuvwxyz0123456.lambda-url.eu-west-1.on.aws"
			})
		}, true},
		// A named HTTP API stage prefixes rawPath with its name.
		{"HTTPAPINamedStage", func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) {
				ev["rawPath"] = "/prod" + alicePath
				rc := ev["requestContext"].(map[string]any)
				rc["stage"] = "prod"
				rc["http"].(map[string]any)["path"] = "/prod" + alicePath
			})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.invoke(t, lambdaContext(t), tt.payload(t))
			if r.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d body %q, want 204", r.StatusCode, r.Body)
			}
			if got := r.header("X-Request-Id"); got != gatewayID {
				t.Errorf("X-Request-Id = %q, want the event's %q", got, gatewayID)
			}
			if tt.v2 != (r.MultiValueHeaders == nil) {
				t.Errorf("multiValueHeaders = %v: wrong response shape for the event", r.MultiValueHeaders)
			}
			changes := f.store.recorded()
			if len(changes) != 1 {
				t.Fatalf("%d changes recorded, want 1", len(changes))
			}
			if m := changes[0].Meta; m.RequestID != gatewayID || m.SourceIP != sourceIP {
				t.Errorf("audit meta %+v, want the event's request id and source IP", m)
			}
		})
	}
}

// TestTokenOnlyInHeaders: the adapter ignores headers when
// multiValueHeaders exists; a token only in headers must still count.
func TestTokenOnlyInHeaders(t *testing.T) {
	f := newFixture(t)
	r := f.invoke(t, lambdaContext(t), restEvent(t, func(ev map[string]any) {
		ev["multiValueHeaders"] = map[string]any{"Content-Type": []string{jsonType}}
		ev["headers"] = map[string]any{"Content-Type": jsonType, "x-auth-token": aliceToken}
	}))
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d body %q, want 204: the token in headers was lost", r.StatusCode, r.Body)
	}
	// An empty multi-value map (a hand-made event) hides nothing either.
	r = f.invoke(t, lambdaContext(t), restEvent(t, func(ev map[string]any) {
		ev["multiValueHeaders"] = map[string]any{}
		ev["headers"] = map[string]any{"Content-Type": jsonType, "X-Auth-Token": aliceToken}
	}))
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d body %q, want 204: multiValueHeaders {} hid the headers", r.StatusCode, r.Body)
	}
	// The multi-value map wins for a header in both.
	r = f.invoke(t, lambdaContext(t), restEvent(t, func(ev map[string]any) {
		ev["headers"] = map[string]any{"Content-Type": jsonType, "X-Auth-Token": "forged"}
	}))
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d body %q, want 204 from multiValueHeaders' token", r.StatusCode, r.Body)
	}
}

// TestBase64Bodies: API Gateway base64-encodes bodies it deems binary, and
// sam local generate-event always does; the handler must see the JSON.
func TestBase64Bodies(t *testing.T) {
	for name, payload := range map[string]func(t *testing.T) []byte{
		"RESTAPI": func(t *testing.T) []byte {
			return restEvent(t, func(ev map[string]any) { ev["body"], ev["isBase64Encoded"] = b64(emailBody), true })
		},
		"HTTPAPIPayload2": func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) { ev["body"], ev["isBase64Encoded"] = b64(emailBody), true })
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			r := f.invoke(t, lambdaContext(t), payload(t))
			if r.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d body %q, want 204", r.StatusCode, r.Body)
			}
			if c := f.store.recorded(); len(c) != 1 || c[0].Email == nil || c[0].Email.Address != "alice.new@example.org" {
				t.Errorf("changes %+v, want the email from the decoded body", c)
			}
		})
	}
}

// TestHandlerErrorsAreResponses: every refusal is a proxy response with
// the handler's status and the event's request id, never a Lambda error.
func TestHandlerErrorsAreResponses(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(ev map[string]any)
		status int
		code   string
	}{
		{"ErrMissingToken", func(ev map[string]any) {
			delete(ev["headers"].(map[string]any), "X-Auth-Token")
			delete(ev["multiValueHeaders"].(map[string]any), "X-Auth-Token")
		}, http.StatusUnauthorized, "IAM.0001"},
		{"ErrInvalidJSON", func(ev map[string]any) { ev["body"] = `{"user":` }, http.StatusBadRequest, "IAM.0011"},
		{"ErrWrongMethod", func(ev map[string]any) { ev["httpMethod"] = "GET" }, http.StatusMethodNotAllowed, "IAM.0013"},
		{"ErrUnknownPath", func(ev map[string]any) { ev["path"] = "/v3.0/OS-USER/users" }, http.StatusNotFound, "IAM.0004"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.invoke(t, lambdaContext(t), restEvent(t, tt.edit))
			if r.StatusCode != tt.status {
				t.Fatalf("status %d body %q, want %d", r.StatusCode, r.Body, tt.status)
			}
			if e := r.errorBody(t); e.ErrorCode != tt.code || e.RequestID != gatewayID {
				t.Errorf("body %+v, want %s and request id %s", e, tt.code, gatewayID)
			}
		})
	}
}

// TestUnusableEvents: what is not an HTTP request, or does not convert to
// one, gets a 400 in the API's error format, never a Lambda error.
func TestUnusableEvents(t *testing.T) {
	tests := []struct {
		name      string
		payload   func(t *testing.T) []byte
		requestID string
	}{
		{"NotJSON", func(*testing.T) []byte { return []byte("PUT / HTTP/1.1") }, lambdaReqID},
		{"Empty", func(*testing.T) []byte { return nil }, lambdaReqID},
		{"Null", func(*testing.T) []byte { return []byte("null") }, lambdaReqID},
		{"Array", func(*testing.T) []byte { return []byte(`[{"httpMethod":"PUT"}]`) }, lambdaReqID},
		{"EmptyObject", func(*testing.T) []byte { return []byte(`{}`) }, lambdaReqID},
		{"ScheduledEvent", func(*testing.T) []byte {
			return []byte(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)
		}, lambdaReqID},
		{"V2WithoutMethod", func(*testing.T) []byte { return []byte(`{"version":"2.0","rawPath":"/"}`) }, lambdaReqID},
		{"WrongTypes", func(*testing.T) []byte { return []byte(`{"httpMethod":"PUT","headers":{"a":1}}`) }, lambdaReqID},
		{"UnknownVersion", func(t *testing.T) []byte {
			return restEvent(t, func(ev map[string]any) { ev["version"] = "3.0" })
		}, gatewayID},
		{"BadBase64", func(t *testing.T) []byte {
			return restEvent(t, func(ev map[string]any) { ev["body"], ev["isBase64Encoded"] = "not base64!", true })
		}, gatewayID},
		{"BadBase64V2", func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) { ev["body"], ev["isBase64Encoded"] = "%%%", true })
		}, gatewayID},
		{"InvalidMethod", func(t *testing.T) []byte {
			return restEvent(t, func(ev map[string]any) { ev["httpMethod"] = "PU T" })
		}, gatewayID},
		{"InvalidPath", func(t *testing.T) []byte {
			return restEvent(t, func(ev map[string]any) { ev["path"] = "/v3.0/%zz/info" })
		}, gatewayID},
		{"InvalidPathV2", func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) { ev["rawPath"] = "/v3.0/\x7f/info" })
		}, gatewayID},
		{"InvalidQueryV2", func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) { ev["rawQueryString"] = "a=\x01" })
		}, gatewayID},
		{"InvalidMethodV2", func(t *testing.T) []byte {
			return v2Event(t, func(ev map[string]any) {
				ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "P(T"
			})
		}, gatewayID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var r response
			// The adapter prints a failed event's method and path to
			// stdout and stderr, past the log's redaction: it must never
			// see one.
			if out := printed(t, func() { r = f.invoke(t, lambdaContext(t), tt.payload(t)) }); out != "" {
				t.Errorf("printed outside the JSON log: %q", out)
			}
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d body %q, want 400", r.StatusCode, r.Body)
			}
			e := r.errorBody(t)
			if e.ErrorCode != "IAM.0011" || e.RequestID != tt.requestID || r.header("X-Request-Id") != tt.requestID {
				t.Errorf("body %+v headers %v, want IAM.0011 and request id %s", e, r.Headers, tt.requestID)
			}
			if r.header("Content-Type") != "application/json" || r.header("Cache-Control") != "no-store" {
				t.Errorf("headers %v, want the API's JSON and no-store", r.Headers)
			}
			if len(f.store.recorded()) != 0 {
				t.Error("an unusable event changed something")
			}
			if !strings.Contains(f.log.String(), `"status":400`) || !strings.Contains(f.log.String(), tt.requestID) {
				t.Errorf("no log line for the refused event: %s", f.log.String())
			}
			if strings.Contains(f.log.String(), "%zz") || strings.Contains(f.log.String(), "PU T") {
				t.Errorf("the log quotes the event: %s", f.log.String())
			}
		})
	}
}

// TestFailuresMatchTheHandler: the two answers made outside the handler
// use the codes the handler uses for the same outcomes.
func TestFailuresMatchTheHandler(t *testing.T) {
	f := newFixture(t)
	byHandler := f.invoke(t, lambdaContext(t), restEvent(t, func(ev map[string]any) { ev["body"] = "not json" }))
	byProxy := f.invoke(t, lambdaContext(t), []byte(`{}`))
	if byHandler.StatusCode != byProxy.StatusCode || byHandler.errorBody(t).ErrorCode != byProxy.errorBody(t).ErrorCode {
		t.Errorf("invalid request: handler %d %q, proxy %d %q", byHandler.StatusCode, byHandler.Body, byProxy.StatusCode, byProxy.Body)
	}

	f.store.fail = errors.New("boom")
	byHandler = f.invoke(t, lambdaContext(t), restEvent(t, nil))
	panicking := lambdaproxy.New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), nil)
	byProxy = (&fixture{proxy: panicking}).invoke(t, lambdaContext(t), restEvent(t, nil))
	if byHandler.StatusCode != http.StatusInternalServerError || byProxy.StatusCode != http.StatusInternalServerError ||
		byHandler.errorBody(t).ErrorCode != byProxy.errorBody(t).ErrorCode {
		t.Errorf("internal error: handler %d %q, proxy %d %q", byHandler.StatusCode, byHandler.Body, byProxy.StatusCode, byProxy.Body)
	}
}

// TestOwnLogLinesRedacted: the lines the proxy writes itself (events that
// never reach the handler, panics outside it) go through the handler's
// redaction: no email, number or token in clear.
func TestOwnLogLinesRedacted(t *testing.T) {
	const email, phone = "carol.secret@example.com", "13800000055"
	const aliceJWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
	var log strings.Builder
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	panicking := lambdaproxy.New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("lost " + email + " and +86" + phone + " with token " + aliceJWT)
	}), logger)
	if r := (&fixture{proxy: panicking}).invoke(t, lambdaContext(t), restEvent(t, nil)); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", r.StatusCode)
	}
	// encoding/json quotes a number of the wrong type in its error.
	f := &fixture{proxy: lambdaproxy.New(http.NotFoundHandler(), logger)}
	if r := f.invoke(t, lambdaContext(t), []byte(`{"httpMethod":`+phone+`,"path":"/"}`)); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", r.StatusCode)
	}
	out := log.String()
	for _, secret := range []string{email, phone, aliceJWT, aliceJWT[:20]} {
		if strings.Contains(out, secret) {
			t.Errorf("the proxy's log holds %q in clear:\n%s", secret, out)
		}
	}
	for _, mask := range []string{"c***@e***.com", "***0055", "[token]"} {
		if !strings.Contains(out, mask) {
			t.Errorf("the proxy's log lacks %q:\n%s", mask, out)
		}
	}
}

// TestHandlerThatWritesNothing: the adapter errors (and would answer 504)
// when no status was written; that is the server's fault, so 500.
func TestHandlerThatWritesNothing(t *testing.T) {
	silent := &fixture{proxy: lambdaproxy.New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)}
	for name, payload := range map[string][]byte{"V1": restEvent(t, nil), "V2": v2Event(t, nil)} {
		t.Run(name, func(t *testing.T) {
			if r := silent.invoke(t, context.Background(), payload); r.StatusCode != http.StatusInternalServerError || r.errorBody(t).RequestID != gatewayID {
				t.Errorf("status %d body %q, want 500 with the event's request id", r.StatusCode, r.Body)
			}
		})
	}
}
