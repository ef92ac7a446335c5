package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestPutUserInfo covers every row of the status table through the real
// handler and the real userinfo.Service over the in-memory store.
func TestPutUserInfo(t *testing.T) {
	tests := []struct {
		name     string
		req      request
		setup    func(*memStore)
		status   int
		iamCode  string // for an error
		msgHas   string // part of error_msg, for an error
		retry    bool   // Retry-After: 1 expected
		check    func(t *testing.T, s *memStore)
		noChange bool // the store must hold no audit record
	}{
		{
			name: "UpdatedEmail", req: request{body: validEmailBody}, status: http.StatusNoContent,
			check: func(t *testing.T, s *memStore) {
				if u := s.user(aliceID); u.Email != newEmail || u.Version != 2 {
					t.Errorf("stored email %q version %d, want %q version 2", u.Email, u.Version, newEmail)
				}
			},
		},
		{
			name: "UpdatedPhone", req: request{body: validPhoneBody}, status: http.StatusNoContent,
			check: func(t *testing.T, s *memStore) {
				if u := s.user(aliceID); u.AreaCode != "+86" || u.Phone != "18292010816" {
					t.Errorf("stored phone %q %q, want +86 18292010816", u.AreaCode, u.Phone)
				}
			},
		},
		{
			name: "UpdatedWithCharsetUTF8Dash", req: request{body: validEmailBody, contentType: "Application/JSON; Charset=UTF-8"},
			status: http.StatusNoContent,
		},
		{
			name: "UpdatedWithoutCharset", req: request{body: validEmailBody, contentType: "application/json"},
			status: http.StatusNoContent,
		},
		{
			name:   "UnchangedSameValues",
			req:    request{body: `{"user":{"email":"` + aliceEmail + `","areacode":"+86","phone":"` + alicePhone + `"}}`},
			status: http.StatusNoContent, noChange: true,
		},
		{
			name: "ErrNoToken", req: request{token: "-", body: validEmailBody},
			status: http.StatusUnauthorized, iamCode: iamUnauthorized, msgHas: "X-Auth-Token", noChange: true,
		},
		{
			name: "ErrTokenRejected", req: request{token: rejectedToken, body: validEmailBody},
			status: http.StatusUnauthorized, iamCode: iamUnauthorized, noChange: true,
		},
		{
			name: "ErrTokenRevoked", req: request{token: daveToken, path: "/v3.0/OS-USER/users/" + daveID + "/info", body: validEmailBody},
			status: http.StatusUnauthorized, iamCode: iamUnauthorized, msgHas: "revoked", noChange: true,
		},
		{
			name: "ErrVerifierUnavailable", req: request{token: unavailableToken, body: validEmailBody},
			status: http.StatusServiceUnavailable, iamCode: iamUnavailable, retry: true, noChange: true,
		},
		{
			name: "ErrOtherUsersToken", req: request{token: bobToken, body: validEmailBody},
			status: http.StatusForbidden, iamCode: iamForbidden, noChange: true,
		},
		{
			name: "ErrOtherAccountsToken", req: request{token: aliceOtherDomain, body: validEmailBody},
			status: http.StatusForbidden, iamCode: iamForbidden, noChange: true,
		},
		{
			name: "ErrUserDisabled", req: request{token: carolToken, path: "/v3.0/OS-USER/users/" + carolID + "/info", body: validEmailBody},
			status: http.StatusForbidden, iamCode: iamForbidden, msgHas: "disabled", noChange: true,
		},
		{
			name: "ErrAccountPolicyForbids", req: request{token: erinToken, path: "/v3.0/OS-USER/users/" + erinID + "/info", body: validEmailBody},
			status: http.StatusForbidden, iamCode: iamForbidden, noChange: true,
		},
		{
			name: "ErrUserNotFound", req: request{token: ghostToken, path: "/v3.0/OS-USER/users/" + ghostID + "/info", body: validEmailBody},
			status: http.StatusNotFound, iamCode: iamNotFound, noChange: true,
		},
		{
			name: "ErrEmailTaken", req: request{body: `{"user":{"email":"BOB@example.com"}}`},
			status: http.StatusConflict, iamCode: iamConflict, msgHas: "in use", noChange: true,
		},
		{
			name: "ErrConcurrentModification", req: request{body: validEmailBody},
			setup:  func(s *memStore) { s.alwaysStale = true },
			status: http.StatusConflict, iamCode: iamConflict, noChange: true,
		},
		{
			name: "ErrStoreUnavailableOnWrite", req: request{body: validEmailBody},
			setup: func(s *memStore) {
				s.applyErr = userinfo.Unavailable(errors.New("ProvisionedThroughputExceeded"), "The service is busy.")
			},
			status: http.StatusServiceUnavailable, iamCode: iamUnavailable, retry: true, noChange: true,
		},
		{
			name: "ErrStoreUnavailableOnRead", req: request{body: validEmailBody},
			setup: func(s *memStore) {
				s.getErr = userinfo.Unavailable(errors.New("dial tcp: i/o timeout"), "The service is busy.")
			},
			status: http.StatusServiceUnavailable, iamCode: iamUnavailable, retry: true, noChange: true,
		},
		{
			name: "ErrStorePlainError", req: request{body: validEmailBody},
			setup: func(s *memStore) {
				s.applyErr = errors.New("dynamodb: arn:aws:dynamodb:eu-west-1:123456789012:table/users: ValidationException")
			},
			status: http.StatusInternalServerError, iamCode: iamInternal, msgHas: genericInternal, noChange: true,
		},
		{
			name: "ErrStoreInternalError", req: request{body: validEmailBody},
			setup:  func(s *memStore) { s.applyErr = userinfo.Errorf(userinfo.EINTERNAL, "marshal failed in table users") },
			status: http.StatusInternalServerError, iamCode: iamInternal, msgHas: genericInternal, noChange: true,
		},
		{
			name: "ErrEmailTooLong", req: request{body: `{"user":{"email":"` + strings.Repeat("a", 250) + `@example.com"}}`},
			status: http.StatusBadRequest, iamCode: iamInvalidField, msgHas: "email", noChange: true,
		},
		{
			name: "ErrEmailNotAnAddress", req: request{body: `{"user":{"email":"Alice <alice@example.com>"}}`},
			status: http.StatusBadRequest, iamCode: iamInvalidField, msgHas: "email", noChange: true,
		},
		{
			name: "ErrPhoneWithoutAreacode", req: request{body: `{"user":{"phone":"18292010816"}}`},
			status: http.StatusBadRequest, iamCode: iamInvalidField, msgHas: "areacode", noChange: true,
		},
		{
			name: "ErrAreacodeUnknown", req: request{body: `{"user":{"areacode":"0000","phone":"18292010816"}}`},
			status: http.StatusBadRequest, iamCode: iamInvalidField, msgHas: "areacode", noChange: true,
		},
		{
			name: "ErrPhoneNotDigits", req: request{body: `{"user":{"areacode":"86","phone":"1829-2010"}}`},
			status: http.StatusBadRequest, iamCode: iamInvalidField, msgHas: "phone", noChange: true,
		},
		{
			name: "ErrUserEmpty", req: request{body: `{"user":{}}`},
			status: http.StatusBadRequest, iamCode: iamInvalidField, msgHas: "user", noChange: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpapi.Config{})
			if tt.setup != nil {
				tt.setup(f.store)
			}
			w := f.do(t, tt.req)
			if tt.iamCode == "" {
				if w.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
				}
				if w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
					t.Errorf("204 has body %q, Content-Type %q: want neither", w.Body, w.Header().Get("Content-Type"))
				}
			} else {
				e := checkError(t, w, tt.status, tt.iamCode)
				if !strings.Contains(e.ErrorMsg, tt.msgHas) {
					t.Errorf("error_msg = %q, want it to contain %q", e.ErrorMsg, tt.msgHas)
				}
				for _, internal := range []string{"arn:", "dynamodb", "table", "i/o timeout", "Throughput", "signature", "jwks"} {
					if strings.Contains(strings.ToLower(w.Body.String()), strings.ToLower(internal)) {
						t.Errorf("body %s leaks %q", w.Body, internal)
					}
				}
			}
			if got := w.Header().Get("Retry-After"); (got == "1") != tt.retry {
				t.Errorf("Retry-After = %q, want it set to 1: %v", got, tt.retry)
			}
			if tt.noChange && len(f.store.changes()) != 0 {
				t.Errorf("store recorded %d changes, want none", len(f.store.changes()))
			}
			if tt.check != nil {
				tt.check(t, f.store)
			}
		})
	}
}

// TestAuditMeta checks what the service is told about the request for the
// audit trail: the response's request id, and the peer's address rather
// than a client-written X-Forwarded-For.
func TestAuditMeta(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	r := newPut(t, validEmailBody)
	r.RemoteAddr = "198.51.100.7:40123"
	r.Header.Set("X-Forwarded-For", "203.0.113.66")
	w := serve(f.handler, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	changes := f.store.changes()
	if len(changes) != 1 {
		t.Fatalf("got %d changes, want 1", len(changes))
	}
	meta := changes[0].Meta
	if meta.SourceIP != "198.51.100.7" {
		t.Errorf("SourceIP = %q, want the peer's 198.51.100.7", meta.SourceIP)
	}
	if meta.RequestID == "" || meta.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("RequestID = %q, X-Request-Id = %q: want equal", meta.RequestID, w.Header().Get("X-Request-Id"))
	}
	if changes[0].Actor.UserID != aliceID {
		t.Errorf("Actor = %q, want %q", changes[0].Actor.UserID, aliceID)
	}
}

// TestTwoTokens refuses a request with two X-Auth-Token headers: which one
// counts could differ between a proxy and us.
func TestTwoTokens(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	r := newPut(t, validEmailBody)
	r.Header.Add("X-Auth-Token", bobToken)
	checkError(t, serve(f.handler, r), http.StatusUnauthorized, iamUnauthorized)
}
