package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	body := userBody(`"email":"x@example.com"`)

	for _, p := range []string{"/", "/v3.0/OS-USER/users/" + aliceID, "/v3.0/OS-USER/users/" + aliceID + "/info/extra", "/v3/OS-USER/users/" + aliceID + "/info", "/v3.0/os-user/users/" + aliceID + "/info"} {
		t.Run("ErrUnknownPath"+p, func(t *testing.T) {
			wantError(t, e.put(p, alice, body), http.StatusNotFound, "IAM.0004")
		})
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		t.Run("ErrMethod"+m, func(t *testing.T) {
			r := e.do(m, path(aliceID), map[string]string{"X-Auth-Token": alice, "Content-Type": "application/json"}, strings.NewReader(body))
			wantError(t, r, http.StatusMethodNotAllowed, "")
			if got := r.header.Get("Allow"); got != http.MethodPut {
				t.Errorf("Allow = %q, want PUT", got)
			}
		})
	}
}

// chunked hides the length of a body from net/http, so it is sent with
// Transfer-Encoding: chunked and no Content-Length.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestBadBodies(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	big := userBody(`"email":"` + strings.Repeat("a", 33<<10) + `@example.com"`)

	t.Run("ErrTooLargeWithLength", func(t *testing.T) {
		wantError(t, e.put(path(aliceID), alice, big), http.StatusRequestEntityTooLarge, "")
	})
	t.Run("ErrTooLargeChunked", func(t *testing.T) {
		r := e.do(http.MethodPut, path(aliceID), map[string]string{"X-Auth-Token": alice, "Content-Type": "application/json"}, chunked{strings.NewReader(big)})
		wantError(t, r, http.StatusRequestEntityTooLarge, "")
	})

	contentTypes := []string{"", "text/plain", "application/xml", "application/json;charset=latin1", "application/jsonx", "multipart/form-data"}
	for _, ct := range contentTypes {
		t.Run("ErrContentType"+ct, func(t *testing.T) {
			r := e.do(http.MethodPut, path(aliceID), map[string]string{"X-Auth-Token": alice, "Content-Type": ct}, strings.NewReader(userBody(`"email":"x@example.com"`)))
			wantError(t, r, http.StatusBadRequest, "")
		})
	}

	bodies := map[string]string{
		"ErrEmptyBody":         ``,
		"ErrNotJSON":           `user=x`,
		"ErrArray":             `[{"user":{"email":"x@example.com"}}]`,
		"ErrNoUser":            `{}`,
		"ErrUserNull":          `{"user":null}`,
		"ErrUserString":        `{"user":"x@example.com"}`,
		"ErrUnknownTop":        `{"user":{"email":"x@example.com"},"admin":true}`,
		"ErrDuplicateTop":      `{"user":{"email":"x@example.com"},"user":{"email":"y@example.com"}}`,
		"ErrUnknownField":      userBody(`"email":"x@example.com","enabled":"false"`),
		"ErrMassAssignDomain":  userBody(`"email":"x@example.com","domain_id":"d-bbbb"`),
		"ErrDuplicateField":    userBody(`"email":"x@example.com","email":"y@example.com"`),
		"ErrEmailNumber":       userBody(`"email":42`),
		"ErrEmailNull":         userBody(`"email":null`),
		"ErrPhoneNumber":       userBody(`"areacode":"0086","phone":18292010816`),
		"ErrNested":            userBody(`"email":{"value":"x@example.com"}`),
		"ErrInvalidUTF8":       "{\"user\":{\"email\":\"\xff@example.com\"}}",
		"ErrTrailingData":      userBody(`"email":"x@example.com"`) + `{}`,
		"ErrUserEmpty":         `{"user":{}}`,
		"ErrEmailInvalid":      userBody(`"email":"not an email"`),
		"ErrEmailDisplayName":  userBody(`"email":"Alice <alice@example.com>"`),
		"ErrEmailTooLong":      userBody(`"email":"` + strings.Repeat("a", 244) + `@example.com"`),
		"ErrPhoneNotDigits":    userBody(`"areacode":"0086","phone":"182-9201-0816"`),
		"ErrPhoneTooLong":      userBody(`"areacode":"0086","phone":"` + strings.Repeat("1", 33) + `"`),
		"ErrPhoneNoAreaCode":   userBody(`"phone":"18292010816"`),
		"ErrAreaCodeNoPhone":   userBody(`"areacode":"0086"`),
		"ErrAreaCodeUnknown":   userBody(`"areacode":"0089","phone":"18292010816"`),
		"ErrAreaCodeMalformed": userBody(`"areacode":"86x","phone":"18292010816"`),
	}
	for name, b := range bodies {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.put(path(aliceID), alice, b), http.StatusBadRequest, "")
		})
	}
	t.Run("ErrFieldNamedInMessage", func(t *testing.T) {
		got := wantError(t, e.put(path(aliceID), alice, userBody(`"email":"`+strings.Repeat("a", 244)+`@example.com"`)), http.StatusBadRequest, "IAM.0073")
		if !strings.Contains(got.Message, "email") {
			t.Errorf("error_msg %q does not name the field", got.Message)
		}
	})
	if u := e.user(aliceID); u.Email != "alice@example.com" || u.Version != 1 {
		t.Errorf("a rejected body changed the user: %+v", u)
	}
}

func TestUniqueness(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)

	t.Run("ErrEmailTaken", func(t *testing.T) {
		wantError(t, e.put(path(aliceID), alice, userBody(`"email":"bob@example.com"`)), http.StatusConflict, "IAM.0005")
	})
	t.Run("ErrEmailTakenOtherCase", func(t *testing.T) {
		e.secret("BOB@Example.COM")
		wantError(t, e.put(path(aliceID), alice, userBody(`"email":"BOB@Example.COM"`)), http.StatusConflict, "IAM.0005")
	})
	t.Run("ErrPhoneTaken", func(t *testing.T) {
		wantError(t, e.put(path(aliceID), alice, userBody(`"areacode":"0044","phone":"7700900123"`)), http.StatusConflict, "IAM.0005")
	})
	t.Run("SamePhoneOtherCountry", func(t *testing.T) {
		if r := e.put(path(aliceID), alice, userBody(`"areacode":"+1","phone":"7700900123"`)); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("EmailOfAnotherAccount", func(t *testing.T) {
		if r := e.put(path(aliceID), alice, userBody(`"email":"dave@example.org"`)); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("ReleasedEmailCanBeTaken", func(t *testing.T) {
		// alice gave up alice@example.com above; bob may have it now.
		if r := e.put(path(bobID), e.token(bobID, domainA), userBody(`"email":"Alice@Example.com"`)); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		e.secret("Alice@Example.com")
	})
	t.Run("OwnEmailOtherCase", func(t *testing.T) {
		e.secret("DAVE@example.org")
		if r := e.put(path(aliceID), alice, userBody(`"email":"DAVE@example.org"`)); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	if u := e.user(bobID); u.Email != "Alice@Example.com" || u.Phone != "7700900123" {
		t.Errorf("bob = %+v", u)
	}
}
