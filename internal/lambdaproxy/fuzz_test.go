package lambdaproxy_test

import (
	"encoding/json"
	"testing"
)

// FuzzInvoke: whatever the payload, Invoke returns no Lambda error and a
// JSON proxy response with a real HTTP status. `go test` runs the seeds;
// `go test -fuzz=FuzzInvoke ./internal/lambdaproxy` searches further.
func FuzzInvoke(f *testing.F) {
	seed := &testing.T{}
	for _, p := range [][]byte{
		restEvent(seed, nil),
		v2Event(seed, nil),
		restEvent(seed, func(ev map[string]any) { ev["body"], ev["isBase64Encoded"] = "@@", true }),
		v2Event(seed, func(ev map[string]any) { ev["requestContext"].(map[string]any)["stage"] = "x" }),
		[]byte(`{"httpMethod":"PUT","path":"/v3.0/%zz","multiValueHeaders":{}}`),
		[]byte(`{"version":"2.0","requestContext":{"http":{"method":"PUT"}},"rawPath":"//"}`),
		[]byte(`{"httpMethod":"\u0000"}`),
		[]byte(`null`), []byte(`""`), []byte(`{}`), []byte{0xff},
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		// A fresh fixture per input: a shared one's log and recorded
		// changes would grow for as long as the fuzzer runs.
		fx := newFixture(t)
		out, err := fx.proxy.Invoke(lambdaContext(t), payload)
		if err != nil {
			t.Fatalf("Lambda error for %q: %v", payload, err)
		}
		var r response
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("response %q is not JSON: %v", out, err)
		}
		if r.StatusCode < 200 || r.StatusCode > 599 {
			t.Fatalf("status %d for %q", r.StatusCode, payload)
		}
	})
}
