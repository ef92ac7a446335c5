package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// fuzzTokens are the X-Auth-Token choices of FuzzHandler, by index. The
// stub's unavailableToken is left out: it stands for the issuer being
// down, which no client controls, and rightly answers 503 (a fuzzed token
// may still spell it, and is then held to that).
var fuzzTokens = []string{aliceToken, bobToken, carolToken, daveToken, ghostToken, erinToken, aliceOtherDomain, rejectedToken}

// Token modes of FuzzHandler beyond the fixed tokens.
const (
	tokenNone           = iota + 100 // no X-Auth-Token header (as is any unlisted mode)
	tokenFuzzed                      // the fuzzed string as the token
	tokenAliceTwice                  // two X-Auth-Token headers, both alice's
	tokenAliceAndFuzzed              // alice's and the fuzzed string
)

// iamCodes are every error_code the API answers with.
var iamCodes = map[string]bool{
	iamUnauthorized: true, iamForbidden: true, iamNotFound: true, iamConflict: true, iamInternal: true,
	iamUnavailable: true, iamInvalidBody: true, iamTooLarge: true, iamMethodNotAllow: true, iamInvalidField: true,
}

// FuzzHandler sends arbitrary requests (method, path, token headers,
// Content-Type, body, with or without a declared length) through the real
// handler and userinfo.Service over the in-memory store. Properties: no
// panic (recovery would turn one into a 500), never a 5xx, never a write
// unless the answer is 204 (and then at most one, to the caller's own
// user), an IAM-shaped JSON body for every answer but 204, the common
// headers always, and exactly one log line that never holds a token. The
// seed corpus is in testdata/fuzz/FuzzHandler.
func FuzzHandler(f *testing.F) {
	fresh := newMemStore()
	f.Fuzz(func(t *testing.T, method, path string, tokenMode uint8, token, contentType string, body []byte, chunked bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r, err := http.NewRequestWithContext(t.Context(), method, "http://api.example"+path, bytes.NewReader(body))
		if err != nil {
			return // net/http would not have built this request either
		}
		r.RemoteAddr = "192.0.2.10:4321"
		r.Header.Set("Content-Type", contentType)
		var sent []string
		switch mode := int(tokenMode); {
		case mode == tokenNone:
		case mode < len(fuzzTokens):
			sent = []string{fuzzTokens[mode]}
		case mode == tokenFuzzed:
			sent = []string{token}
		case mode == tokenAliceTwice:
			sent = []string{aliceToken, aliceToken}
		case mode == tokenAliceAndFuzzed:
			sent = []string{aliceToken, token}
		}
		for _, tok := range sent {
			r.Header.Add("X-Auth-Token", tok)
		}
		if chunked {
			r.ContentLength = -1
		}

		fx := newFixture(t, httpapi.Config{})
		w := httptest.NewRecorder()
		fx.handler.ServeHTTP(w, r)

		// The one 5xx a request may get is 503 for the stub's issuer-down
		// token: the issuer being down is not the client's doing.
		if w.Code >= 500 && (w.Code != http.StatusServiceUnavailable || !slices.Contains(sent, unavailableToken)) {
			t.Fatalf("status %d for a request the client controls: %s", w.Code, w.Body)
		}
		changes := fx.store.changes()
		if w.Code != http.StatusNoContent {
			if len(changes) != 0 {
				t.Fatalf("status %d but %d writes", w.Code, len(changes))
			}
			if !reflect.DeepEqual(fx.store.users, fresh.users) {
				t.Fatalf("status %d but the users changed", w.Code)
			}
			checkFuzzError(t, w)
		} else {
			if w.Body.Len() != 0 {
				t.Fatalf("204 with a body: %q", w.Body)
			}
			if len(changes) > 1 {
				t.Fatalf("204 with %d writes, want at most 1", len(changes))
			}
			for _, c := range changes {
				if c.User.ID != c.Actor.UserID || len(sent) != 1 || sent[0] == rejectedToken {
					t.Fatalf("write to %s by %s with tokens %q", c.User.ID, c.Actor.UserID, sent)
				}
			}
		}
		checkFuzzCommon(t, w, fx, sent)
	})
}

// checkFuzzError asserts an error answer has the contract's JSON shape.
func checkFuzzError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", w.Code, ct)
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	var e errorResponse
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("status %d body %q: %v", w.Code, w.Body, err)
	}
	if !iamCodes[e.ErrorCode] || e.ErrorMsg == "" || e.RequestID != w.Header().Get("X-Request-Id") {
		t.Fatalf("status %d error body %+v", w.Code, e)
	}
}

// checkFuzzCommon asserts what every answer carries, and the log line.
func checkFuzzCommon(t *testing.T, w *httptest.ResponseRecorder, fx *fixture, sent []string) {
	t.Helper()
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Request-Id") == "" {
		t.Fatalf("status %d without the common headers: %v", w.Code, w.Header())
	}
	lines := logLines(t, fx.logs)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1", len(lines))
	}
	if s, _ := lines[0]["status"].(float64); int(s) != w.Code {
		t.Fatalf("logged status %v, answered %d", lines[0]["status"], w.Code)
	}
	// The path's user id and the method are the caller's own text, logged
	// on purpose; a token must be nowhere else. A fuzzed token is checked
	// only when long enough not to occur in the fixed texts by chance.
	for k, v := range lines[0] {
		s, _ := v.(string)
		if k == "user_id" || k == "method" {
			continue
		}
		for _, tok := range append(sent, fuzzTokens...) {
			if (len(tok) >= 24 || slices.Contains(fuzzTokens, tok)) && strings.Contains(s, tok) {
				t.Fatalf("log field %s holds the token %q: %q", k, tok, s)
			}
		}
	}
}
