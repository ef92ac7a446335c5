package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/once"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// runLogs is the whole test binary's log: every byte any API built here
// wrote (every test's logger, from testLogger, writes here too) and every secret any test registered. TestMain checks it once after
// all tests, so a secret one test used and another test's API logged (or
// one logged after a test's own check ran) is still caught.
var runLogs runLog

type runLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	secrets map[string]struct{}
}

func (r *runLog) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *runLog) addSecrets(v ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]struct{}{}
	}
	for _, s := range v {
		// Shorter values occur by chance (a "1234" in a latency).
		if len(s) >= 4 {
			r.secrets[s] = struct{}{}
		}
	}
}

var (
	// jwtShaped matches a JWT header segment: base64url of `{"`. No token
	// may be logged, registered with the harness or not.
	jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}`)
	// emailShaped matches an email address, masked or not; masked ones
	// hold "***" and are allowed.
	emailShaped = regexp.MustCompile(`[^\s@"\\]+@[^\s@"\\]+`)
)

// check writes every leak in the run's logs to w and reports whether there
// was none: a registered secret in clear, anything shaped like a JWT, or an
// email address that is not masked.
func (r *runLog) check(w io.Writer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	logs := r.buf.String()
	var leaks []string
	for s := range r.secrets {
		if strings.Contains(logs, s) {
			leaks = append(leaks, fmt.Sprintf("a registered secret in clear: %.40q", s))
		}
	}
	for _, m := range jwtShaped.FindAllString(logs, 5) {
		leaks = append(leaks, fmt.Sprintf("a JWT: %.40q", m))
	}
	for _, m := range emailShaped.FindAllString(logs, -1) {
		if !strings.Contains(m, "***") {
			leaks = append(leaks, fmt.Sprintf("an unmasked email address: %q", m))
		}
	}
	// Every logged error says each thing once: no doubled prefix, no cause
	// repeated after a message that already quotes it.
	for line := range strings.Lines(logs) {
		var l struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Error != "" {
			if rep := once.Repeated(l.Error); rep != nil {
				leaks = append(leaks, fmt.Sprintf("an error that says %q twice: %q", rep, l.Error))
			}
		}
	}
	if len(leaks) == 0 {
		return true
	}
	fmt.Fprintf(w, "FAIL: the logs of this test run (%d bytes, %d secrets checked) hold:\n", len(logs), len(r.secrets))
	for _, l := range leaks {
		fmt.Fprintln(w, "\t"+l)
	}
	return false
}

// logLines returns the API's log lines decoded, keyed by request id.
func logLines(t *testing.T, logs string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if id, ok := m["request_id"].(string); ok {
			if _, dup := out[id]; dup {
				t.Errorf("two log lines for request %s", id)
			}
			out[id] = m
		}
	}
	return out
}

// TestLogLine checks the one line a request writes, for a success and for
// errors: request id (the one the caller got), route pattern, status,
// latency, the path's user id, and the IAM error code on errors only.
func TestLogLine(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	e.secret("alice.log@example.com")
	tests := []struct {
		name    string
		method  string
		token   string
		body    string
		status  int
		code    string
		route   string
		level   string
		errText string // part of the logged error, for errors
	}{
		{"Updated", http.MethodPut, alice, userBody(`"email":"alice.log@example.com"`), http.StatusNoContent, "", "PUT /v3.0/OS-USER/users/{user_id}/info", "INFO", ""},
		{"ErrEmailTaken", http.MethodPut, alice, userBody(`"email":"bob@example.com"`), http.StatusConflict, "IAM.0005", "PUT /v3.0/OS-USER/users/{user_id}/info", "INFO", "already in use"},
		{"ErrBadToken", http.MethodPut, alice + "x", userBody(`"email":"bob@example.com"`), http.StatusUnauthorized, "IAM.0001", "PUT /v3.0/OS-USER/users/{user_id}/info", "INFO", "token"},
		// The example: the code, the message and the cause, once each.
		{"ErrMalformedToken", http.MethodPut, "not.a.jwt", userBody(`"email":"bob@example.com"`), http.StatusUnauthorized, "IAM.0001", "PUT /v3.0/OS-USER/users/{user_id}/info", "INFO", "unauthorized: The token is missing, invalid or expired.: token is malformed"},
		{"ErrMethod", http.MethodGet, alice, "", http.StatusMethodNotAllowed, "IAM.0013", "/v3.0/OS-USER/users/{user_id}/info", "INFO", "method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.secret(tt.token)
			r := e.do(tt.method, path(aliceID), map[string]string{"X-Auth-Token": tt.token, "Content-Type": "application/json"}, strings.NewReader(tt.body))
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			id := r.header.Get("X-Request-Id")
			l, ok := logLines(t, e.logs.String())[id]
			if !ok {
				t.Fatalf("no log line for request %s", id)
			}
			want := map[string]any{
				"msg": "request", "level": tt.level, "request_id": id, "method": tt.method,
				"route": tt.route, "status": float64(tt.status), "user_id": aliceID,
			}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("log %s = %v, want %v", k, l[k], v)
				}
			}
			if ms, ok := l["latency_ms"].(float64); !ok || ms <= 0 || ms > 30000 {
				t.Errorf("log latency_ms = %v, want a positive number of milliseconds", l["latency_ms"])
			}
			code, hasCode := l["error_code"]
			if tt.code == "" && hasCode || tt.code != "" && code != tt.code {
				t.Errorf("log error_code = %v, want %q", code, tt.code)
			}
			if msg, _ := l["error"].(string); !strings.Contains(msg, tt.errText) || (tt.errText == "") != (msg == "") {
				t.Errorf("log error = %q, want one holding %q", msg, tt.errText)
			}
		})
	}
}

// TestLogMasksValuesInDependencyErrors: the one place the API logs text it
// did not write is a dependency's error. A DynamoDB that quotes the user's
// email and mobile number back in its error must leave only the masks
// (j***@e***.com, ***0816) in the log, so an operator can still tell
// which value it was.
func TestLogMasksValuesInDependencyErrors(t *testing.T) {
	const email, phone = "alice@example.com", "18292010816"
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		// Not retried by the SDK: one request, one answer.
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"item %s with phone +86 %s is invalid"}`, email, phone)
	}))
	defer leaky.Close()
	e := newEnv(t, leaky.URL)
	seedStandard(e) // registers alice's email and phone as secrets

	r := e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"alice.mask@example.com"`))
	e.secret("alice.mask@example.com")
	wantError(t, r, http.StatusInternalServerError, "IAM.0006")
	if strings.Contains(r.body, "***") || strings.Contains(r.body, "ValidationException") {
		t.Errorf("the 500 body shows the cause: %s", r.body)
	}
	l := logLines(t, e.logs.String())[r.header.Get("X-Request-Id")]
	msg, _ := l["error"].(string)
	for _, want := range []string{"ValidationException", userinfo.MaskEmail(email), userinfo.MaskPhone(phone)} {
		if !strings.Contains(msg, want) {
			t.Errorf("log error %q lacks %q", msg, want)
		}
	}
	if userinfo.MaskEmail(email) != "a***@e***.com" || userinfo.MaskPhone(phone) != "***0816" {
		t.Errorf("masks are %q and %q, want the README's forms", userinfo.MaskEmail(email), userinfo.MaskPhone(phone))
	}
	// The clear values are caught by the harness's log check at cleanup.
}
