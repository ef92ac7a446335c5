package tablecheck_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/tablecheck"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func user(id, domain, email, phone string) userinfo.User {
	u := userinfo.User{ID: id, DomainID: domain, Email: email, EmailVerified: true, Enabled: true, Version: 1}
	if phone != "" {
		u.AreaCode, u.Phone, u.PhoneVerified = "+86", phone, true
	}
	return withKeys(u)
}

func withKeys(u userinfo.User) userinfo.User {
	if err := u.SetKeys(); err != nil {
		panic(err)
	}
	return u
}

func emailGuard(domain, value, owner string) ddbtable.Guard {
	return ddbtable.Guard{Kind: dynamo.GuardEmail, Value: value, Version: userinfo.KeyVersion, UserID: owner, DomainID: domain}
}

func phoneGuard(domain, value, owner string) ddbtable.Guard {
	return ddbtable.Guard{Kind: dynamo.GuardPhone, Value: value, Version: userinfo.KeyVersion, UserID: owner, DomainID: domain}
}

// twoUsers is a consistent state: u1 and u2 in d1, each with an email and
// a phone and their guards, plus u3 in d2 holding u1's email (another
// account: allowed).
func twoUsers() *tablecheck.State {
	return &tablecheck.State{
		Users: map[string]userinfo.User{
			"u1": user("u1", "d1", "a@example.com", "13800000111"),
			"u2": user("u2", "d1", "b@example.com", "13800000222"),
			"u3": user("u3", "d2", "A@example.com", ""),
		},
		Guards: []ddbtable.Guard{
			emailGuard("d1", "a@example.com", "u1"), emailGuard("d1", "b@example.com", "u2"),
			phoneGuard("d1", "+8613800000111", "u1"), phoneGuard("d1", "+8613800000222", "u2"),
			emailGuard("d2", "a@example.com", "u3"),
		},
		Audits: map[string][]ddbtable.AuditRecord{},
		Items:  8,
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(*tablecheck.State)
		want  string // "" for no violation
	}{
		{"Consistent", func(*tablecheck.State) {}, ""},
		{"ErrEmailHeldTwice", func(st *tablecheck.State) {
			u := st.Users["u2"]
			u.Email = "Ａ@Example.com" // the same address: one key
			st.Users["u2"] = withKeys(u)
		}, "hold the same email"},
		{"ErrPhoneHeldTwice", func(st *tablecheck.State) {
			u := st.Users["u2"]
			u.Phone = "013800000111" // the same number, with the trunk prefix
			st.Users["u2"] = withKeys(u)
		}, "hold the same phone"},
		{"ErrKeyNotTheValues", func(st *tablecheck.State) {
			u := st.Users["u2"]
			u.Email = "c@example.com"
			st.Users["u2"] = u
		}, "user u2 holds a value under a key that is not its value's"},
		{"ErrGuardPointsAtAnother", func(st *tablecheck.State) { st.Guards[1].UserID = "u1" }, `points at "u1", but the value is held by "u2"`},
		{"ErrGuardOfNobody", func(st *tablecheck.State) {
			st.Guards = append(st.Guards, emailGuard("d1", "c@example.com", "u9"))
		}, `points at "u9", but the value is held by ""`},
		{"ErrValueWithoutGuard", func(st *tablecheck.State) { st.Guards = st.Guards[1:] }, "user u1 has no guard for its email"},
		{"ErrGuardTwice", func(st *tablecheck.State) { st.Guards = append(st.Guards, st.Guards[0]) }, "two guards for one email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := twoUsers()
			tt.spoil(st)
			err := st.Check()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Check() = %v, want %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "example.com"):
				t.Errorf("the message names a value: %v", err)
			}
		})
	}
}

func TestApply(t *testing.T) {
	rec := ddbtable.AuditRecord{UserID: "u1", ActorUserID: "u1", RequestID: "r1", At: t0}
	s := func(v string) *string { return &v }
	tests := []struct {
		name      string
		contact   tablecheck.Contact
		wantItems int // 8 before: +1 audit record, +1 notice to the old email
	}{
		{"NewEmailMovesItsGuard", tablecheck.Contact{Email: s("new@example.com")}, 10},
		{"SameKeyKeepsTheGuard", tablecheck.Contact{Email: s("A@EXAMPLE.com")}, 10},
		{"BothMove", tablecheck.Contact{Email: s("new@example.com"), AreaCode: s("+44"), Phone: s("7911123456")}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := twoUsers()
			after := before.Apply("u1", tt.contact, rec)
			if err := after.Check(); err != nil {
				t.Fatalf("Apply broke an invariant: %v", err)
			}
			if !before.Equal(twoUsers()) {
				t.Fatalf("Apply changed its receiver: %s", twoUsers().Diff(before))
			}
			u := after.Users["u1"]
			if u.Version != 2 || !u.UpdatedAt.Equal(t0) || (tt.contact.Email != nil && (u.Email != *tt.contact.Email || u.EmailVerified)) {
				t.Errorf("user after = %+v", u)
			}
			if tt.contact.Phone != nil && (u.AreaCode != *tt.contact.AreaCode || u.PhoneVerified) {
				t.Errorf("user after = %+v", u)
			}
			if after.Items != tt.wantItems || len(after.Audits["u1"]) != 1 || len(after.Guards) != len(before.Guards) {
				t.Errorf("%d items, %d audits, %d guards", after.Items, len(after.Audits["u1"]), len(after.Guards))
			}
			if ns := after.Notices["u1"]; len(ns) != 1 || ns[0].Kind != userinfo.MsgEmailChanged || ns[0].To != before.Users["u1"].Email || ns[0].RequestID != "r1" {
				t.Errorf("notices %+v: want the old address told", ns)
			}
			if got := before.NewAudits(after)["u1"]; len(got) != 1 || got[0].RequestID != "r1" {
				t.Errorf("NewAudits = %+v", got)
			}
			if before.Equal(after) || before.Diff(after) == "" {
				t.Errorf("Equal/Diff do not see the change")
			}
		})
	}
}

func TestDiffNamesNoValues(t *testing.T) {
	a, b := twoUsers(), twoUsers()
	u := b.Users["u2"]
	u.Email = "secret@example.com"
	b.Users["u2"] = u
	b.Guards = b.Guards[:2]
	d := a.Diff(b)
	if !strings.Contains(d, "user u2 differs") || !strings.Contains(d, "guards differ") {
		t.Errorf("Diff = %s", d)
	}
	if strings.Contains(d, "example.com") {
		t.Errorf("Diff names a value: %s", d)
	}
	if a.Diff(twoUsers()) != "" || !a.Equal(twoUsers()) {
		t.Errorf("equal states differ: %s", a.Diff(twoUsers()))
	}
}
