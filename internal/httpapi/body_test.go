package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// secretEmail and secretPhone appear in bad bodies; no error may echo them.
const (
	secretEmail = "mallory@evil.example"
	secretPhone = "15551234567"
)

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		iamCode string
		msg     string // exact error_msg, or "" to skip
		msgHas  string
	}{
		{name: "ErrEmpty", body: "", iamCode: iamInvalidBody, msgHas: "JSON object"},
		{name: "ErrWhitespace", body: " \n\t", iamCode: iamInvalidBody, msgHas: "JSON object"},
		{name: "ErrNotJSON", body: "email=" + secretEmail, iamCode: iamInvalidBody, msgHas: "JSON object"},
		{name: "ErrArray", body: `[{"user":{"email":"` + secretEmail + `"}}]`, iamCode: iamInvalidBody, msgHas: "JSON object"},
		{name: "ErrTopLevelNull", body: `null`, iamCode: iamInvalidBody, msgHas: "JSON object"},
		{name: "ErrTopLevelString", body: `"` + secretEmail + `"`, iamCode: iamInvalidBody, msgHas: "JSON object"},
		{name: "ErrTruncated", body: `{"user":{"email":"` + secretEmail, iamCode: iamInvalidBody, msgHas: "not valid JSON"},
		{name: "ErrTrailingGarbage", body: validEmailBody + ` x`, iamCode: iamInvalidBody, msgHas: "nothing after"},
		{name: "ErrTrailingObject", body: validEmailBody + `{"user":{"email":"` + secretEmail + `"}}`, iamCode: iamInvalidBody, msgHas: "nothing after"},
		{name: "ErrInvalidUTF8", body: "{\"user\":{\"email\":\"a\xffb@example.com\"}}", iamCode: iamInvalidBody, msgHas: "UTF-8"},
		{name: "ErrInvalidUTF8InName", body: "{\"user\":{\"em\xc3ail\":\"a@example.com\"}}", iamCode: iamInvalidBody, msgHas: "UTF-8"},
		{name: "ErrLoneSurrogateEscape", body: `{"user":{"email":"a\ud800@example.com"}}`, iamCode: iamInvalidBody, msgHas: "not valid JSON"},
		{name: "ErrMissingUser", body: `{}`, iamCode: iamInvalidField, msg: "user is required and must be an object"},
		{name: "ErrUserNull", body: `{"user":null}`, iamCode: iamInvalidField, msg: "user is required and must be an object"},
		{name: "ErrUserString", body: `{"user":"` + secretEmail + `"}`, iamCode: iamInvalidField, msg: "user must be an object"},
		{name: "ErrUserArray", body: `{"user":[]}`, iamCode: iamInvalidField, msg: "user must be an object"},
		{name: "ErrUnknownTopLevel", body: `{"user":{"email":"` + secretEmail + `"},"admin":true}`, iamCode: iamInvalidField, msg: "unknown field admin"},
		{name: "ErrUnknownNested", body: `{"user":{"email":"` + secretEmail + `","enabled":true}}`, iamCode: iamInvalidField, msg: "unknown field user.enabled"},
		{name: "ErrUnknownNestedOddName", body: `{"user":{"` + secretEmail + `":"x"}}`, iamCode: iamInvalidField, msg: "unknown field in user"},
		{name: "ErrUnknownTopLevelOddName", body: `{"` + secretPhone + ` x":1}`, iamCode: iamInvalidField, msg: "unknown field in the request body"},
		{name: "ErrNameCaseMismatch", body: `{"User":{"email":"` + secretEmail + `"}}`, iamCode: iamInvalidField, msg: "unknown field User"},
		{name: "ErrNestedNameCaseMismatch", body: `{"user":{"Email":"` + secretEmail + `"}}`, iamCode: iamInvalidField, msg: "unknown field user.Email"},
		{name: "ErrDuplicateUser", body: `{"user":{"email":"a@example.com"},"user":{"email":"` + secretEmail + `"}}`, iamCode: iamInvalidField, msg: "duplicate field user"},
		{name: "ErrDuplicateEmail", body: `{"user":{"email":"a@example.com","email":"` + secretEmail + `"}}`, iamCode: iamInvalidField, msg: "duplicate field user.email"},
		{name: "ErrDuplicateEmailEscaped", body: `{"user":{"email":"a@example.com","em\u0061il":"` + secretEmail + `"}}`, iamCode: iamInvalidField, msg: "duplicate field user.email"},
		{name: "ErrDuplicatePhone", body: `{"user":{"areacode":"86","phone":"1","phone":"` + secretPhone + `"}}`, iamCode: iamInvalidField, msg: "duplicate field user.phone"},
		{name: "ErrEmailNull", body: `{"user":{"email":null}}`, iamCode: iamInvalidField, msg: "user.email must be a string"},
		{name: "ErrPhoneNumber", body: `{"user":{"areacode":"86","phone":` + secretPhone + `}}`, iamCode: iamInvalidField, msg: "user.phone must be a string"},
		{name: "ErrAreacodeNumber", body: `{"user":{"areacode":86,"phone":"` + secretPhone + `"}}`, iamCode: iamInvalidField, msg: "user.areacode must be a string"},
		{name: "ErrEmailBool", body: `{"user":{"email":true}}`, iamCode: iamInvalidField, msg: "user.email must be a string"},
		{name: "ErrEmailNestedObject", body: `{"user":{"email":{"address":"` + secretEmail + `"}}}`, iamCode: iamInvalidField, msg: "user.email must be a string"},
		{name: "ErrEmailArray", body: `{"user":{"email":["` + secretEmail + `"]}}`, iamCode: iamInvalidField, msg: "user.email must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpapi.Config{})
			w := f.do(t, request{body: tt.body})
			e := checkError(t, w, http.StatusBadRequest, tt.iamCode)
			if tt.msg != "" && e.ErrorMsg != tt.msg {
				t.Errorf("error_msg = %q, want %q", e.ErrorMsg, tt.msg)
			}
			if !strings.Contains(e.ErrorMsg, tt.msgHas) {
				t.Errorf("error_msg = %q, want it to contain %q", e.ErrorMsg, tt.msgHas)
			}
			for _, secret := range []string{secretEmail, secretPhone, "mallory"} {
				if strings.Contains(w.Body.String(), secret) {
					t.Errorf("body %s echoes %q", w.Body, secret)
				}
			}
			if n := len(f.store.changes()); n != 0 {
				t.Errorf("store recorded %d changes, want none", n)
			}
		})
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		ok          bool
	}{
		{"OKReferenceSpelling", "application/json;charset=utf8", true},
		{"OKUTF8Dash", "application/json; charset=utf-8", true},
		{"OKUpperCase", "APPLICATION/JSON; CHARSET=UTF8", true},
		{"OKQuotedCharset", `application/json; charset="utf-8"`, true},
		{"OKNoParams", "application/json", true},
		{"ErrMissing", "-", false},
		{"ErrTextPlain", "text/plain", false},
		{"ErrFormEncoded", "application/x-www-form-urlencoded", false},
		{"ErrJSONSuffix", "application/merge-patch+json", false},
		{"ErrLatin1", "application/json; charset=iso-8859-1", false},
		{"ErrUTF16", "application/json; charset=utf-16", false},
		{"ErrOtherParam", "application/json; charset=utf-8; boundary=x", false},
		{"ErrMalformed", "application/json; charset", false},
		{"ErrEmpty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpapi.Config{})
			r := newPut(t, validEmailBody)
			switch tt.contentType {
			case "-":
				r.Header.Del("Content-Type")
			default:
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := serve(f.handler, r)
			if tt.ok {
				if w.Code != http.StatusNoContent {
					t.Fatalf("status = %d, want 204; body %s", w.Code, w.Body)
				}
				return
			}
			e := checkError(t, w, http.StatusBadRequest, iamInvalidBody)
			if !strings.Contains(e.ErrorMsg, "Content-Type") {
				t.Errorf("error_msg = %q, want it to name Content-Type", e.ErrorMsg)
			}
		})
	}
	t.Run("ErrTwoHeaders", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		r := newPut(t, validEmailBody)
		r.Header.Add("Content-Type", "application/json")
		checkError(t, serve(f.handler, r), http.StatusBadRequest, iamInvalidBody)
	})
}

// paddedBody returns a valid body padded with trailing spaces to n bytes.
func paddedBody(n int) string {
	return validEmailBody + strings.Repeat(" ", n-len(validEmailBody))
}

func TestBodyLimit(t *testing.T) {
	t.Run("OKExactlyAtLimit", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		if w := f.do(t, request{body: paddedBody(limit)}); w.Code != http.StatusNoContent {
			t.Fatalf("status = %d, want 204; body %s", w.Code, w.Body)
		}
	})
	t.Run("ErrDeclaredOverLimitNotRead", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		body := &countingReader{r: strings.NewReader(paddedBody(limit + 1))}
		r := newPut(t, "")
		r.Body, r.ContentLength = io.NopCloser(body), limit+1
		checkError(t, serve(f.handler, r), http.StatusRequestEntityTooLarge, iamTooLarge)
		if body.n != 0 {
			t.Errorf("read %d bytes of a body declared too large, want 0", body.n)
		}
	})
	t.Run("ErrChunkedOverLimit", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		body := oversized(validEmailBody)
		w := f.do(t, request{bodyReader: body})
		checkError(t, w, http.StatusRequestEntityTooLarge, iamTooLarge)
		if body.n > limit+1 {
			t.Errorf("read %d bytes, want at most the limit + 1 (%d)", body.n, limit+1)
		}
		if n := len(f.store.changes()); n != 0 {
			t.Errorf("store recorded %d changes, want none", n)
		}
	})
	t.Run("OKChunkedUnderLimit", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		if w := f.do(t, request{bodyReader: strings.NewReader(validEmailBody)}); w.Code != http.StatusNoContent {
			t.Fatalf("status = %d, want 204; body %s", w.Code, w.Body)
		}
	})
	t.Run("ErrLyingLengthUnderLimitButBodyOver", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		body := oversized(validEmailBody)
		r := newPut(t, "")
		r.Body, r.ContentLength = io.NopCloser(body), int64(len(validEmailBody))
		checkError(t, serve(f.handler, r), http.StatusRequestEntityTooLarge, iamTooLarge)
		if body.n > limit+1 {
			t.Errorf("read %d bytes, want at most the limit + 1 (%d)", body.n, limit+1)
		}
	})
	t.Run("OKLengthLyingLargerInProcess", func(t *testing.T) {
		// In process the body simply ends early; what arrived is judged.
		f := newFixture(t, httpapi.Config{})
		r := newPut(t, validEmailBody)
		r.ContentLength = 4096
		if w := serve(f.handler, r); w.Code != http.StatusNoContent {
			t.Fatalf("status = %d, want 204; body %s", w.Code, w.Body)
		}
	})
	t.Run("ErrLengthLyingLargerOverTheWire", func(t *testing.T) {
		// Over a real connection net/http reports the missing bytes as
		// io.ErrUnexpectedEOF once the client stops sending: 400, not 500.
		f := newFixture(t, httpapi.Config{})
		srv := httptest.NewServer(f.handler)
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			alicePath, aliceToken, len(validEmailBody)+100, validEmailBody)
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status = %d, want 400", resp.StatusCode)
		}
		if n := len(f.store.changes()); n != 0 {
			t.Errorf("store recorded %d changes, want none", n)
		}
	})
	t.Run("ErrChunkedOverLimitOverTheWire", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		srv := httptest.NewServer(f.handler)
		defer srv.Close()
		// An io.Reader of unknown length makes the client send chunked.
		body := io.MultiReader(strings.NewReader(validEmailBody), io.LimitReader(endless{}, 4*limit))
		r, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+alicePath, body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Auth-Token", aliceToken)
		r.Header.Set("Content-Type", jsonContentType)
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", resp.StatusCode)
		}
	})
}

// TestCheckOrder pins the order route → token → authorisation → body: a
// caller who may not make the request never has its body read.
func TestCheckOrder(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		status  int
		iamCode string
	}{
		{"ErrBadTokenBeforeBody", http.MethodPut, alicePath, rejectedToken, http.StatusUnauthorized, iamUnauthorized},
		{"ErrNoTokenBeforeBody", http.MethodPut, alicePath, "-", http.StatusUnauthorized, iamUnauthorized},
		{"ErrOtherUserBeforeBody", http.MethodPut, alicePath, bobToken, http.StatusForbidden, iamForbidden},
		{"ErrUnknownUserBeforeBody", http.MethodPut, "/v3.0/OS-USER/users/" + ghostID + "/info", ghostToken, http.StatusNotFound, iamNotFound},
		{"ErrMethodBeforeToken", http.MethodPost, alicePath, "-", http.StatusMethodNotAllowed, iamMethodNotAllow},
		{"ErrRouteBeforeToken", http.MethodPut, "/v3.0/OS-USER/users/" + aliceID, "-", http.StatusNotFound, iamNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpapi.Config{})
			body := oversized(`{"user":`)
			w := f.do(t, request{method: tt.method, path: tt.path, token: tt.token, contentType: "text/plain", bodyReader: body})
			checkError(t, w, tt.status, tt.iamCode)
			if body.n != 0 {
				t.Errorf("read %d bytes of the body, want 0", body.n)
			}
		})
	}
	t.Run("ErrOtherUserWithDeclaredOversizedBody", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		r := newPut(t, paddedBody(limit+100))
		r.Header.Set("X-Auth-Token", bobToken)
		checkError(t, serve(f.handler, r), http.StatusForbidden, iamForbidden)
	})
	t.Run("ErrBadTokenWithBadBody", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		w := f.do(t, request{token: rejectedToken, body: `{"user":{"email":null}} trailing`})
		checkError(t, w, http.StatusUnauthorized, iamUnauthorized)
	})
	t.Run("ErrTooLargeBeforeContentType", func(t *testing.T) {
		f := newFixture(t, httpapi.Config{})
		w := f.do(t, request{contentType: "text/plain", body: paddedBody(limit + 1)})
		checkError(t, w, http.StatusRequestEntityTooLarge, iamTooLarge)
	})
	t.Run("ErrValidationAfterDecode", func(t *testing.T) {
		// Both a decode fault and a rule break: decoding is judged first.
		f := newFixture(t, httpapi.Config{})
		w := f.do(t, request{body: `{"user":{"email":"","x":1}}`})
		if e := checkError(t, w, http.StatusBadRequest, iamInvalidField); e.ErrorMsg != "unknown field user.x" {
			t.Errorf("error_msg = %q, want the decode error", e.ErrorMsg)
		}
	})
}
