package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func TestDeadline(t *testing.T) {
	t.Run("ErrIncomingDeadlineNear", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		called := false
		f.store.onGet = func(context.Context) { called = true }
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		w := f.do(t, request{body: validEmailBody, ctx: ctx})
		checkError(t, w, http.StatusServiceUnavailable, iamUnavailable)
		if w.Header().Get("Retry-After") != "1" {
			t.Errorf("Retry-After = %q, want 1", w.Header().Get("Retry-After"))
		}
		if called {
			t.Error("the store was called with too little time left")
		}
	})
	t.Run("ErrTimeRunsOutBeforeWrite", func(t *testing.T) {
		// The read is slow: what is left afterwards is under the margin,
		// so the write is never started.
		f := newFixture(t, httpapi.Config{RequestTimeout: 400 * time.Millisecond, DeadlineMargin: 200 * time.Millisecond})
		f.store.onGet = func(context.Context) { time.Sleep(250 * time.Millisecond) }
		w := f.do(t, request{body: validEmailBody})
		checkError(t, w, http.StatusServiceUnavailable, iamUnavailable)
		if n := len(f.store.changes()); n != 0 {
			t.Errorf("store recorded %d changes, want none", n)
		}
	})
	t.Run("IncomingDeadlineShortenedByMargin", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		lambdaDeadline := time.Now().Add(2 * time.Second)
		var got time.Time
		f.store.onGet = func(ctx context.Context) { got, _ = ctx.Deadline() }
		ctx, cancel := context.WithDeadline(t.Context(), lambdaDeadline)
		defer cancel()
		if w := f.do(t, request{body: validEmailBody, ctx: ctx}); w.Code != http.StatusNoContent {
			t.Fatalf("status = %d, want 204; body %s", w.Code, w.Body)
		}
		if want := lambdaDeadline.Add(-httpapi.DefaultDeadlineMargin); !got.Equal(want) {
			t.Errorf("store deadline = %v, want Lambda's less the margin, %v", got, want)
		}
	})
	t.Run("RequestTimeoutWithoutIncomingDeadline", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		var left time.Duration
		f.store.onGet = func(ctx context.Context) {
			d, _ := ctx.Deadline()
			left = time.Until(d)
		}
		start := time.Now()
		f.do(t, request{body: validEmailBody})
		if max := httpapi.DefaultRequestTimeout; left <= 0 || left > max || left < max-time.Since(start)-time.Second {
			t.Errorf("store had %v left, want about %v", left, max)
		}
	})
	t.Run("ErrStoreContextErrorIs503", func(t *testing.T) {
		// A store that leaks a bare context error is still shedding load.
		f := newFixture(t, httpapi.Config{})
		f.store.applyErr = fmt.Errorf("put: %w", context.DeadlineExceeded)
		checkError(t, f.do(t, request{body: validEmailBody}), http.StatusServiceUnavailable, iamUnavailable)
	})
	t.Run("PanicsOnMarginNotUnderTimeout", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("NewServer accepted a margin as long as the timeout")
			}
		}()
		httpapi.NewServer(nil, httpapi.Config{RequestTimeout: time.Second, DeadlineMargin: time.Second}, stubAuth{}, nil)
	})
}

func TestPanicRecovery(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	f.store.onGet = func(context.Context) { panic("store exploded near " + secretEmail + " / " + secretPhone) }
	w := f.do(t, request{body: validEmailBody})
	e := checkError(t, w, http.StatusInternalServerError, iamInternal)
	if e.ErrorMsg != genericInternal {
		t.Errorf("error_msg = %q, want the generic message", e.ErrorMsg)
	}
	if strings.Contains(w.Body.String(), "exploded") || strings.Contains(w.Body.String(), "goroutine") {
		t.Errorf("body %s leaks the panic", w.Body)
	}
	lines := logLines(t, f.logs)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1", len(lines))
	}
	l := lines[0]
	if l["level"] != "ERROR" || l["status"] != float64(500) || l["error_code"] != iamInternal {
		t.Errorf("log line %v: want an ERROR with status 500 and %s", l, iamInternal)
	}
	if stack, _ := l["stack"].(string); !strings.Contains(stack, "goroutine") || !strings.Contains(stack, "helpers_test.go") {
		t.Errorf("log has no stack reaching the panic: %q", stack)
	}
	if msg, _ := l["error"].(string); !strings.Contains(msg, "exploded") {
		t.Errorf("log error = %q, want the panic value", msg)
	}
	// The panic value is redacted like any error text.
	for _, secret := range []string{secretEmail, secretPhone} {
		if strings.Contains(f.logs.String(), secret) {
			t.Errorf("log holds %q", secret)
		}
	}
}

// TestLog runs requests full of secrets and checks the log: one JSON line
// per request with the contract's fields, and no token, email or phone
// anywhere, not even inside an error's text.
func TestLog(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	leakyErr := fmt.Errorf("dynamodb: conditional check failed for %s phone +86%s", aliceEmail, alicePhone)
	reqs := []struct {
		req   request
		setup func(*memStore)
	}{
		{req: request{body: `{"user":{"email":"` + newEmail + `","areacode":"0086","phone":"18292010816"}}`}},
		{req: request{body: `{"user":{"email":"` + secretEmail + `","phone":"` + secretPhone + `"}}`}},
		{req: request{body: `{"user":{"` + secretEmail + `":"` + secretPhone + `"}}`}},
		{req: request{body: `{"user":{"email":"` + secretEmail + `"}} ` + secretPhone}},
		{req: request{token: rejectedToken, body: validEmailBody}},
		{req: request{token: unavailableToken, body: validEmailBody}},
		{req: request{token: bobToken, body: validEmailBody}},
		{req: request{method: http.MethodGet}},
		{req: request{path: "/v3.0/OS-USER/users/" + aliceID + "/info/extra"}},
		{req: request{body: `{"user":{"email":"` + secretEmail + `"}}`}, setup: func(s *memStore) { s.applyErr = leakyErr }},
		{req: request{body: `{"user":{"email":"` + secretEmail + `"}}`}, setup: func(s *memStore) {
			s.applyErr = userinfo.Unavailable(leakyErr, "The service is busy.")
		}},
	}
	for _, r := range reqs {
		f.store.applyErr = nil
		if r.setup != nil {
			r.setup(f.store)
		}
		f.do(t, r.req)
	}

	out := f.logs.String()
	for _, secret := range []string{
		aliceToken, bobToken, rejectedToken, unavailableToken,
		aliceEmail, newEmail, secretEmail, "mallory",
		alicePhone, secretPhone, "18292010816",
	} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q", secret)
		}
	}

	lines := logLines(t, f.logs)
	if len(lines) != len(reqs) {
		t.Fatalf("got %d log lines for %d requests", len(lines), len(reqs))
	}
	for i, l := range lines {
		if l["msg"] != "request" {
			t.Errorf("line %d msg = %v, want request", i, l["msg"])
		}
		for _, k := range []string{"request_id", "method", "route", "status", "latency_ms", "user_id"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %d lacks %s: %v", i, k, l)
			}
		}
		if _, ok := l["latency_ms"].(float64); !ok {
			t.Errorf("line %d latency_ms = %v, want a number", i, l["latency_ms"])
		}
		status, _ := l["status"].(float64)
		if _, ok := l["error_code"]; ok != (status >= 400) {
			t.Errorf("line %d status %v has error_code %v", i, status, l["error_code"])
		}
		if wantErr := status >= 500; wantErr != (l["level"] == "ERROR") {
			t.Errorf("line %d status %v logged at %v", i, status, l["level"])
		}
		if status >= 500 && l["error"] == nil {
			t.Errorf("line %d: a 5xx without its error detail", i)
		}
	}
	first := lines[0]
	if first["route"] != "PUT /v3.0/OS-USER/users/{user_id}/info" || first["user_id"] != aliceID || first["status"] != float64(204) {
		t.Errorf("first line %v: want the route pattern, alice's id and 204", first)
	}
	if lines[7]["route"] != "/v3.0/OS-USER/users/{user_id}/info" || lines[7]["error_code"] != iamMethodNotAllow {
		t.Errorf("405 line %v: want the method-less route and %s", lines[7], iamMethodNotAllow)
	}
	if lines[8]["route"] != "" {
		t.Errorf("404 line route = %v, want empty for an unmatched path", lines[8]["route"])
	}
	// The masked forms are what remains, so an operator can still tell
	// which value it was.
	if !strings.Contains(out, userinfo.MaskEmail(aliceEmail)) || !strings.Contains(out, userinfo.MaskPhone(alicePhone)) {
		t.Errorf("log lacks the masked email or phone of the store's error: %s", out)
	}
}

// TestLoggedUserIDCutOnACharacter: a long id from the path is cut in the
// log on a character boundary (valid UTF-8, no replacement character),
// marked as cut.
func TestLoggedUserIDCutOnACharacter(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	id := strings.Repeat("a", 63) + "é" + strings.Repeat("b", 40) // "é" spans bytes 63 and 64
	f.do(t, request{path: "/v3.0/OS-USER/users/" + url.PathEscape(id) + "/info", body: validEmailBody})
	lines := logLines(t, f.logs)
	if len(lines) != 1 {
		t.Fatalf("%d log lines", len(lines))
	}
	got, _ := lines[0]["user_id"].(string)
	if want := strings.Repeat("a", 63) + "…"; got != want {
		t.Errorf("user_id %q, want %q", got, want)
	}
	if !utf8.ValidString(got) || strings.ContainsRune(got, utf8.RuneError) || strings.Contains(f.logs.String(), `\ufffd`) {
		t.Errorf("user_id %q is not cut on a character", got)
	}
}

// TestAbortHandlerPropagates: http.ErrAbortHandler is net/http's documented
// way to abort a response, so recovery logs the request and re-raises it
// instead of swallowing it into an ordinary 500.
func TestAbortHandlerPropagates(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	f.store.onGet = func(context.Context) { panic(http.ErrAbortHandler) }
	defer func() {
		if v := recover(); !errors.Is(asError(v), http.ErrAbortHandler) {
			t.Errorf("recovered %v, want http.ErrAbortHandler re-raised", v)
		}
		if n := len(logLines(t, f.logs)); n != 1 {
			t.Errorf("got %d log lines, want 1", n)
		}
	}()
	f.do(t, request{body: validEmailBody})
}

func asError(v any) error {
	err, _ := v.(error)
	return err
}
