package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// contactBody returns the body that sets one value: an email when v has an
// "@", else a mobile number in Huawei's "<areacode>-<digits>" form; and the
// value as the API reads it from the body (JSON replaces invalid UTF-8).
func contactBody(v string) (body, sent string) {
	member := "mobile"
	if strings.Contains(v, "@") {
		member = "email"
	}
	b, _ := json.Marshal(map[string]map[string]string{"user": {member: v}})
	var back map[string]map[string]string
	_ = json.Unmarshal(b, &back)
	return string(b), back["user"][member]
}

// TestLookAlikes: with bob's values held, every other spelling of them that
// the issue found walking around uniqueness, and more, gets 409 (the same
// value: taken) or 400 (refused), never 204, in every body form, and leaves
// alice as she was.
func TestLookAlikes(t *testing.T) {
	e := newEnv(t, "")
	held := userinfo.User{ID: bobID, DomainID: domainA, Name: "bob", Email: "bob@exämple.com", AreaCode: "+44", Phone: "7911123456", Enabled: true}
	e.seedUser(held)
	e.seedUser(userinfo.User{ID: carolID, DomainID: domainA, Name: "carol", Email: "josé@example.com", AreaCode: "+86", Phone: "13800000055", Enabled: true})
	e.seedUser(userinfo.User{ID: aliceID, DomainID: domainA, Name: "alice", Email: "alice@example.com", Enabled: true})
	token := e.token(aliceID, domainA)
	before := e.user(aliceID)

	tests := []struct {
		name, body string
		status     int
	}{
		{"ZeroWidthSpace", `{"user":{"email":"bob\u200b@exämple.com"}}`, 400},
		{"ZeroWidthJoiner", `{"user":{"email":"bo\u200db@exämple.com"}}`, 400},
		{"RightToLeftOverride", `{"user":{"email":"bob\u202e@exämple.com"}}`, 400},
		{"VariationSelector", `{"user":{"email":"bob\ufe0f@exämple.com"}}`, 400},
		{"SoftHyphen", `{"user":{"email":"b\u00adob@exämple.com"}}`, 400},
		{"FullWidth", `{"user":{"email":"ｂｏｂ@exämple.com"}}`, 409},
		{"UpperCase", `{"user":{"email":"BOB@EXÄMPLE.COM"}}`, 409},
		{"PunycodeDomain", `{"user":{"email":"bob@xn--exmple-cua.com"}}`, 409},
		{"NFDDomain", `{"user":{"email":"bob@exa\u0308mple.com"}}`, 409},
		{"NFDLocalPart", `{"user":{"email":"jose\u0301@example.com"}}`, 409},
		{"FullWidthDomain", `{"user":{"email":"bob@ｅｘäｍｐｌｅ.com"}}`, 409},
		{"MobileTrunkPrefix", `{"user":{"areacode":"+44","phone":"07911123456"}}`, 409},
		{"MobileHuaweiForm", `{"user":{"mobile":"0044-7911123456"}}`, 409},
		{"MobileHuaweiFormTrunkPrefix", `{"user":{"mobile":"44-07911123456"}}`, 409},
		{"MobileWithAreaCode", `{"user":{"areacode":"0044","mobile":"07911123456"}}`, 409},
		{"MobileCountryCodeRepeated", `{"user":{"areacode":"+86","phone":"8613800000055"}}`, 400},
		{"MobileCountryCodeInNumber", `{"user":{"areacode":"+86","phone":"+8613800000055"}}`, 400},
		{"MobileChinaTrunkZero", `{"user":{"mobile":"+86-013800000055"}}`, 409},
		{"MobileSpaces", `{"user":{"mobile":"+86-138 0000 0055"}}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.put(path(aliceID), token, tt.body)
			if r.status == http.StatusNoContent || r.status != tt.status {
				t.Fatalf("status %d, want %d; %s", r.status, tt.status, r.body)
			}
			if after := e.user(aliceID); after.Version != before.Version || after.Email != before.Email || after.Phone != "" {
				t.Errorf("alice changed: %+v", after)
			}
		})
	}
	if u := e.user(bobID); u.Email != held.Email || u.Phone != held.Phone {
		t.Errorf("bob changed: %+v", u)
	}
}

// FuzzSameKeyRefused: user A takes one value, then user B of the same
// account asks for another. When the two have one key B must get 409, and
// 204 only when the keys differ; a value the rules refuse gets 400. Each
// input runs on two fresh users of a fresh account on DynamoDB Local.
func FuzzSameKeyRefused(f *testing.F) {
	for _, pair := range [][2]string{
		{"bob@example.com", "bob\u200b@example.com"},
		{"bob@example.com", "ｂｏｂ@example.com"},
		{"bob@example.com", "BOB@Example.COM"},
		{"josé@example.com", "jose\u0301@example.com"},
		{"bob@exämple.com", "bob@xn--exmple-cua.com"},
		{"bob@example.com", "bob\u202e@example.com"},
		{"straße@example.de", "STRASSE@example.de"},
		{"ﬁnance@example.com", "finance@example.com"},
		{"bıll@example.com", "bill@example.com"},
		{"bob@example.com", "bob@exаmple.com"},
		{"+44-7911123456", "0044-07911123456"},
		{"+86-13800000055", "86-8613800000055"},
		{"0086-13800000055", "+86-013800000055"},
		{"+7-89123456789", "7-9123456789"},
		{"+1-2015550123", "001-12015550123"},
		{"bob@example.com", "alice@example.com"},
	} {
		f.Add(pair[0], pair[1])
	}
	e := newEnv(f, "")
	f.Fuzz(func(t *testing.T, first, second string) {
		e.t = t
		domain, a, b := "d-"+randomID(), randomID(), randomID()
		e.seedUser(userinfo.User{ID: a, DomainID: domain, Name: "a", Enabled: true})
		e.seedUser(userinfo.User{ID: b, DomainID: domain, Name: "b", Enabled: true})
		firstBody, first := contactBody(first)
		secondBody, second := contactBody(second)
		if r := e.put(path(a), e.token(a, domain), firstBody); r.status != http.StatusNoContent {
			return // not a value the API takes
		}
		r := e.put(path(b), e.token(b, domain), secondBody)
		k1, ok1 := key(first)
		k2, ok2 := key(second)
		switch {
		case !ok1:
			t.Fatalf("%q was stored but has no key", first)
		case !ok2:
			if r.status != http.StatusBadRequest {
				t.Fatalf("%q has no key, yet got %d: %s", second, r.status, r.body)
			}
		case k1 == k2:
			if r.status != http.StatusConflict {
				t.Fatalf("%q and %q have one key %q, yet the second user got %d: %s", first, second, k1, r.status, r.body)
			}
		case r.status != http.StatusNoContent:
			t.Fatalf("%q and %q have different keys, yet the second user got %d: %s", first, second, r.status, r.body)
		}
	})
}

// key returns the uniqueness key the API gives v, as contactBody sends it.
func key(v string) (string, bool) {
	if strings.Contains(v, "@") {
		em, err := userinfo.ParseEmail(v)
		return em.Key, err == nil
	}
	code, number, ok := strings.Cut(v, "-")
	m, err := userinfo.ParseMobile(code, number)
	return m.Key, ok && err == nil
}
