package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

func TestRouting(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		status  int
		iamCode string
	}{
		{"ErrUnknownPath", http.MethodPut, "/v3.0/OS-USER/users/" + aliceID, http.StatusNotFound, iamNotFound},
		{"ErrRoot", http.MethodGet, "/", http.StatusNotFound, iamNotFound},
		{"ErrOtherVersion", http.MethodPut, "/v3/OS-USER/users/" + aliceID + "/info", http.StatusNotFound, iamNotFound},
		{"ErrTrailingSlash", http.MethodPut, alicePath + "/", http.StatusNotFound, iamNotFound},
		{"ErrExtraSegment", http.MethodPut, alicePath + "/x", http.StatusNotFound, iamNotFound},
		{"ErrCaseDiffers", http.MethodPut, "/v3.0/os-user/users/" + aliceID + "/info", http.StatusNotFound, iamNotFound},
		// ServeMux would answer these with a non-JSON redirect.
		{"ErrDoubleSlash", http.MethodPut, "/v3.0//OS-USER/users/" + aliceID + "/info", http.StatusNotFound, iamNotFound},
		{"ErrDotSegment", http.MethodPut, "/v3.0/OS-USER/users/x/../" + aliceID + "/info", http.StatusNotFound, iamNotFound},
		{"ErrMethodGet", http.MethodGet, alicePath, http.StatusMethodNotAllowed, iamMethodNotAllow},
		{"ErrMethodPost", http.MethodPost, alicePath, http.StatusMethodNotAllowed, iamMethodNotAllow},
		{"ErrMethodPatch", http.MethodPatch, alicePath, http.StatusMethodNotAllowed, iamMethodNotAllow},
		{"ErrMethodDelete", http.MethodDelete, alicePath, http.StatusMethodNotAllowed, iamMethodNotAllow},
		{"ErrMethodOptions", http.MethodOptions, alicePath, http.StatusMethodNotAllowed, iamMethodNotAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpapi.Config{})
			r := httptest.NewRequestWithContext(t.Context(), tt.method, "http://api.example"+tt.target, strings.NewReader(validEmailBody))
			r.Header.Set("X-Auth-Token", aliceToken)
			r.Header.Set("Content-Type", jsonContentType)
			w := serve(f.handler, r)
			checkError(t, w, tt.status, tt.iamCode)
			if tt.status == http.StatusMethodNotAllowed {
				if got := w.Header().Get("Allow"); got != http.MethodPut {
					t.Errorf("Allow = %q, want PUT", got)
				}
			}
			if n := len(f.store.changes()); n != 0 {
				t.Errorf("store recorded %d changes, want none", n)
			}
		})
	}
}

// TestCommonHeaders checks the headers every response carries, whatever
// produced it: success, domain error, router, recovery.
func TestCommonHeaders(t *testing.T) {
	idPattern := regexp.MustCompile(requestIDPattern)
	tests := []struct {
		name string
		req  request
	}{
		{"Success", request{body: validEmailBody}},
		{"ErrInvalid", request{body: `{}`}},
		{"ErrUnauthorized", request{token: "-"}},
		{"ErrNotFoundRoute", request{path: "/nope"}},
		{"ErrMethod", request{method: http.MethodGet}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpapi.Config{})
			w := f.do(t, tt.req)
			h := w.Header()
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			id := h.Get("X-Request-Id")
			if !idPattern.MatchString(id) {
				t.Errorf("X-Request-Id = %q, want 16 hex characters", id)
			}
			if seen[id] {
				t.Errorf("X-Request-Id %q repeated", id)
			}
			seen[id] = true
		})
	}
}

// TestClientRequestIDIgnored: a client-sent X-Request-Id is not trusted, or
// a caller could make its requests look like someone else's in the log.
func TestClientRequestIDIgnored(t *testing.T) {
	f := newFixture(t, httpapi.Config{})
	r := newPut(t, validEmailBody)
	r.Header.Set("X-Request-Id", "forged-id")
	if got := serve(f.handler, r).Header().Get("X-Request-Id"); got == "forged-id" {
		t.Error("the client's X-Request-Id was used")
	}
}
