package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

const (
	domainA = "d-aaaa"
	domainB = "d-bbbb"
	aliceID = "0638848aa7801dbe1f01c01e92b95df7"
	bobID   = "7a1c2b3d4e5f60718293a4b5c6d7e8f9"
	carolID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0" // disabled
	daveID  = "1d2e3f405162738495a6b7c8d9e0f1a2" // other account
	ghostID = "99999999999999999999999999999999" // never stored
)

// seedStandard stores the cast every row of the behaviour table uses.
func seedStandard(e *apiEnv) {
	e.seedUser(userinfo.User{ID: aliceID, DomainID: domainA, Name: "alice", Email: "alice@example.com", AreaCode: "+86", Phone: "18292010816", Enabled: true})
	e.seedUser(userinfo.User{ID: bobID, DomainID: domainA, Name: "bob", Email: "bob@example.com", AreaCode: "+44", Phone: "7700900123", Enabled: true})
	e.seedUser(userinfo.User{ID: carolID, DomainID: domainA, Name: "carol", Email: "carol@example.com", Enabled: false})
	e.seedUser(userinfo.User{ID: daveID, DomainID: domainB, Name: "dave", Email: "dave@example.org", Enabled: true})
}

type errorBody struct {
	Code      string `json:"error_code"`
	Message   string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

// wantError checks status and the IAM error body shape.
func wantError(t *testing.T, r response, status int, code string) errorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	var b errorBody
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if code != "" && b.Code != code {
		t.Errorf("error_code = %q, want %q (%s)", b.Code, code, b.Message)
	}
	if b.Message == "" || b.RequestID == "" {
		t.Errorf("error body lacks error_msg or request_id: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
	return b
}

func TestModifyUserInfo(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)

	t.Run("ReferenceExample", func(t *testing.T) {
		e.secret("abcdefg@123.com")
		before := e.user(aliceID)
		r := e.put(path(aliceID), alice, userBody(`"areacode":"0086","phone":"18292010816","email":"abcdefg@123.com"`))
		if r.status != http.StatusNoContent || r.body != "" {
			t.Fatalf("got %d %q, want 204 and no body", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
		}
		u := e.user(aliceID)
		if u.Email != "abcdefg@123.com" || u.EmailVerified || u.Phone != "18292010816" || u.AreaCode != "+86" {
			t.Errorf("stored %+v", u)
		}
		if u.Version != before.Version+1 {
			t.Errorf("version %d, want %d", u.Version, before.Version+1)
		}
		recs, err := e.store.AuditRecords(context.Background(), aliceID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil || len(recs) != 1 {
			t.Fatalf("audit records %d, %v; want 1", len(recs), err)
		}
		if b, _ := json.Marshal(recs[0]); strings.Contains(string(b), "abcdefg@123.com") {
			t.Errorf("audit record holds the email in clear: %s", b)
		}
	})
	t.Run("SameValuesAgain", func(t *testing.T) {
		before := e.user(aliceID)
		r := e.put(path(aliceID), alice, userBody(`"areacode":"+86","phone":"18292010816","email":"abcdefg@123.com"`))
		if r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if after := e.user(aliceID); after.Version != before.Version || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("an idempotent repeat changed the user: version %d→%d", before.Version, after.Version)
		}
		recs, _ := e.store.AuditRecords(context.Background(), aliceID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if len(recs) != 1 {
			t.Errorf("audit records %d, want still 1", len(recs))
		}
	})
	t.Run("EmailOnly", func(t *testing.T) {
		e.secret("alice.new@example.com")
		if r := e.put(path(aliceID), alice, userBody(`"email":"alice.new@example.com"`)); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if u := e.user(aliceID); u.Email != "alice.new@example.com" || u.Phone != "18292010816" {
			t.Errorf("stored %+v", u)
		}
	})
	t.Run("CharsetVariantsAccepted", func(t *testing.T) {
		for _, ct := range []string{"application/json", "application/json; charset=UTF-8", "Application/JSON;Charset=utf8", "application/json;charset=utf-8"} {
			r := e.do(http.MethodPut, path(aliceID), map[string]string{"Content-Type": ct, "X-Auth-Token": alice}, strings.NewReader(userBody(`"email":"alice.new@example.com"`)))
			if r.status != http.StatusNoContent {
				t.Errorf("Content-Type %q: got %d %s", ct, r.status, r.body)
			}
		}
	})
}

func TestForbiddenAndNotFound(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	body := userBody(`"email":"mallory@example.com"`)
	e.secret("mallory@example.com")

	t.Run("ErrAnotherUsersToken", func(t *testing.T) {
		existing := wantError(t, e.put(path(aliceID), e.token(bobID, domainA), body), http.StatusForbidden, "IAM.0002")
		missing := wantError(t, e.put(path(ghostID), e.token(bobID, domainA), body), http.StatusForbidden, "IAM.0002")
		if existing.Message != missing.Message {
			t.Errorf("403 for an existing user (%q) differs from one for a missing user (%q)", existing.Message, missing.Message)
		}
	})
	t.Run("ErrAnotherAccount", func(t *testing.T) {
		wantError(t, e.put(path(aliceID), e.token(aliceID, domainB), body), http.StatusForbidden, "IAM.0002")
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		wantError(t, e.put(path(carolID), e.token(carolID, domainA), body), http.StatusForbidden, "IAM.0002")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantError(t, e.put(path(ghostID), e.token(ghostID, domainA), body), http.StatusNotFound, "IAM.0004")
	})
	t.Run("ErrPolicyForbidsEmail", func(t *testing.T) {
		if err := e.store.PutAccount(context.Background(), userinfo.Account{DomainID: domainB, ManageEmail: false, ManageMobile: true}); err != nil {
			t.Fatal(err)
		}
		dave := e.token(daveID, domainB)
		wantError(t, e.put(path(daveID), dave, body), http.StatusForbidden, "IAM.0002")
		if r := e.put(path(daveID), dave, userBody(`"areacode":"+49","phone":"15112345678"`)); r.status != http.StatusNoContent {
			t.Errorf("mobile change under an email-only restriction: got %d %s", r.status, r.body)
		}
		e.secret("15112345678")
		if r := e.put(path(daveID), dave, userBody(`"email":"dave@example.org"`)); r.status != http.StatusNoContent {
			t.Errorf("an unchanged email under the restriction: got %d %s", r.status, r.body)
		}
	})
	t.Run("ErrPolicyForbidsMobile", func(t *testing.T) {
		if err := e.store.PutAccount(context.Background(), userinfo.Account{DomainID: domainB, ManageEmail: true, ManageMobile: false}); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.put(path(daveID), e.token(daveID, domainB), userBody(`"areacode":"+49","phone":"15100000000"`)), http.StatusForbidden, "IAM.0002")
		e.secret("15100000000")
	})
	if u := e.user(aliceID); u.Email != "alice@example.com" {
		t.Errorf("a rejected request changed alice: %+v", u)
	}
	if u := e.user(carolID); u.Email != "carol@example.com" {
		t.Errorf("a rejected request changed carol: %+v", u)
	}
}
