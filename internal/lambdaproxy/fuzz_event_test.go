package lambdaproxy_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// iamCodes are every error_code the API and the proxy answer with.
var iamCodes = map[string]bool{
	"IAM.0001": true, "IAM.0002": true, "IAM.0004": true, "IAM.0005": true, "IAM.0006": true,
	"IAM.0007": true, "IAM.0011": true, "IAM.0012": true, "IAM.0013": true, "IAM.0073": true,
}

// FuzzEvent sends arbitrary event JSON through the Lambda entry point and
// the real handler (stub token check and store, as in this package's other
// tests), with a fresh store per input. It holds the properties for
// the Lambda front door, which FuzzInvoke's (a JSON response, any status)
// do not cover: no panic, no Lambda error, never a 5xx (every part of an
// event comes from the caller or from API Gateway, and the stubs never
// fail), never a write unless the answer is 204 (then at most one, for the
// token's user), an IAM-shaped JSON body on every other answer, and the
// no-store header always. The seed corpus is in
// testdata/fuzz/FuzzEvent: REST, HTTP API and function URL events, each
// 400 case, header-map conflicts, base64 bodies, stages, tricky Unicode,
// deep nesting and huge numbers.
func FuzzEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		fx := newFixture(t)
		out, err := fx.proxy.Invoke(lambdaContext(t), payload)
		if err != nil {
			t.Fatalf("Lambda error (API Gateway would answer 502): %v", err)
		}
		var r response
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("response %q is not a proxy response: %v", out, err)
		}
		if r.StatusCode < 200 || r.StatusCode >= 500 {
			t.Fatalf("status %d: %s", r.StatusCode, r.Body)
		}
		changes := fx.store.recorded()
		if r.StatusCode != http.StatusNoContent {
			if len(changes) != 0 {
				t.Fatalf("status %d after %d writes", r.StatusCode, len(changes))
			}
			checkErrorResponse(t, r)
		} else if len(changes) > 1 || len(changes) == 1 && changes[0].User.ID != aliceID {
			t.Fatalf("204 with writes %+v", changes)
		}
		if r.header("Cache-Control") != "no-store" {
			t.Fatalf("status %d without Cache-Control: no-store: %+v", r.StatusCode, r)
		}
	})
}

// checkErrorResponse asserts r carries the API's error body, strictly.
func checkErrorResponse(t *testing.T, r response) {
	t.Helper()
	if ct := r.header("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", r.StatusCode, ct)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(r.Body)))
	dec.DisallowUnknownFields()
	var e errorBody
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("status %d body %q: %v", r.StatusCode, r.Body, err)
	}
	if !iamCodes[e.ErrorCode] || e.ErrorMsg == "" || e.RequestID == "" {
		t.Fatalf("status %d error body %+v", r.StatusCode, e)
	}
}
