package lambdaproxy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/lambdaproxy"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

const (
	aliceID     = "0638848aa7801dbe1f01c01e92b95df7"
	domainID    = "d-demo"
	aliceToken  = "tok-alice"
	alicePath   = "/v3.0/OS-USER/users/" + aliceID + "/info"
	gatewayID   = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
	lambdaReqID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
	sourceIP    = "198.51.100.7"
	emailBody   = `{"user":{"email":"alice.new@example.org"}}`
	jsonType    = "application/json;charset=utf8"
)

// stubAuth knows one token, alice's.
type stubAuth struct{}

func (stubAuth) Verify(_ context.Context, token string) (userinfo.Principal, error) {
	if token != aliceToken {
		return userinfo.Principal{}, userinfo.Errorf(userinfo.EUNAUTHORIZED, "The token is invalid.")
	}
	return userinfo.Principal{UserID: aliceID, DomainID: domainID, IssuedAt: time.Now()}, nil
}

// stubStore holds alice and records the changes applied; fail, when set,
// is what ApplyChange returns instead.
type stubStore struct {
	mu      sync.Mutex
	changes []userinfo.Change
	fail    error
}

func (s *stubStore) GetUser(_ context.Context, id string) (*userinfo.User, error) {
	if id != aliceID {
		return nil, userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	return &userinfo.User{ID: aliceID, DomainID: domainID, Email: "alice@example.com", Enabled: true, Version: 1}, nil
}

func (s *stubStore) ApplyChange(_ context.Context, c userinfo.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.changes = append(s.changes, c)
	return nil
}

func (s *stubStore) recorded() []userinfo.Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]userinfo.Change(nil), s.changes...)
}

// fixture is a Proxy around the real API handler.
type fixture struct {
	proxy *lambdaproxy.Proxy
	store *stubStore
	log   *strings.Builder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := &stubStore{}
	log := &strings.Builder{}
	logger := slog.New(slog.NewJSONHandler(log, nil))
	h := httpapi.NewServer(logger, httpapi.Config{}, stubAuth{}, userinfo.NewService(store, nil))
	return &fixture{proxy: lambdaproxy.New(h, logger), store: store, log: log}
}

// lambdaContext is what the runtime passes: the invocation's id and a deadline.
func lambdaContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: lambdaReqID})
}

// response is any proxy response, v1 or v2.
type response struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// header returns a response header from either map.
func (r response) header(name string) string {
	if v := http.Header(r.MultiValueHeaders).Get(name); v != "" {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

type errorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

func (r response) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("body %q is not the API's error JSON: %v", r.Body, err)
	}
	return e
}

// invoke runs payload through the proxy, failing the test on a Lambda
// error (API Gateway would answer 502) or a response that is not JSON.
func (f *fixture) invoke(t *testing.T, ctx context.Context, payload []byte) response {
	t.Helper()
	out, err := f.proxy.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke returned a Lambda error: %v", err)
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("Invoke returned %q, not a proxy response: %v", out, err)
	}
	return r
}

// restEvent is a REST API (payload 1.0) event as API Gateway sends it,
// with both header maps; edit tweaks the decoded map before encoding.
func restEvent(t *testing.T, edit func(ev map[string]any)) []byte {
	t.Helper()
	ev := map[string]any{
		"resource":   "/v3.0/OS-USER/users/{user_id}/info",
		"path":       alicePath,
		"httpMethod": "PUT",
		"headers": map[string]any{
			"Content-Type": jsonType,
			"X-Auth-Token": aliceToken,
		},
		"multiValueHeaders": map[string]any{
			"Content-Type": []string{jsonType},
			"X-Auth-Token": []string{aliceToken},
		},
		"pathParameters": map[string]any{"user_id": aliceID},
		"requestContext": map[string]any{
			"requestId":  gatewayID,
			"stage":      "dev",
			"domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
			"identity":   map[string]any{"sourceIp": sourceIP},
			"httpMethod": "PUT",
		},
		"body":            emailBody,
		"isBase64Encoded": false,
	}
	if edit != nil {
		edit(ev)
	}
	return mustJSON(t, ev)
}

// v2Event is an HTTP API payload 2.0 event; a function URL event has the
// same shape with another domain and the $default stage.
func v2Event(t *testing.T, edit func(ev map[string]any)) []byte {
	t.Helper()
	ev := map[string]any{
		"version":  "2.0",
		"routeKey": "PUT /v3.0/OS-USER/users/{user_id}/info",
		"rawPath":  alicePath,
		"headers": map[string]any{
			"content-type": jsonType,
			"x-auth-token": aliceToken,
		},
		"requestContext": map[string]any{
			"requestId":  gatewayID,
			"stage":      "$default",
			"domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
			"http":       map[string]any{"method": "PUT", "path": alicePath, "sourceIp": sourceIP},
		},
		"body":            emailBody,
		"isBase64Encoded": false,
	}
	if edit != nil {
		edit(ev)
	}
	return mustJSON(t, ev)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// printed runs fn and returns what it wrote to os.Stdout and through the
// standard logger (os.Stderr by default), where a library would print.
func printed(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, logOut := os.Stdout, log.Writer()
	var logged bytes.Buffer
	os.Stdout = w
	log.SetOutput(&logged)
	func() {
		defer func() { os.Stdout = stdout; log.SetOutput(logOut) }()
		fn()
	}()
	w.Close()
	out, _ := io.ReadAll(r)
	r.Close()
	return string(out) + logged.String()
}

// The double's accounts never verify changes (ApplyChange never answers
// userinfo.ErrVerificationRequired), so these are never reached.

func (s *stubStore) GetPending(context.Context, string, string) (*userinfo.Pending, error) {
	return nil, nil
}

func (s *stubStore) RequestChange(context.Context, userinfo.ChangeRequest) error {
	return errors.New("no verification in this double")
}

func (s *stubStore) WrongCode(context.Context, *userinfo.Pending) (int, error) {
	return 0, errors.New("no verification in this double")
}
