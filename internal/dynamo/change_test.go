package dynamo_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// fixture is one ApplyChange scenario's world: a fresh account with one
// user (verified email and mobile number) and a second, empty account.
type fixture struct {
	s      *ddbtable.Table
	domain string
	other  string
	user   *userinfo.User
}

// state is everything ApplyChange may write, to check "nothing written".
type state struct {
	user   *userinfo.User
	guards []ddbtable.Guard
	audit  []ddbtable.AuditRecord
}

func snapshot(t *testing.T, f *fixture) state {
	t.Helper()
	ctx := context.Background()
	u, err := f.s.GetUser(ctx, f.user.ID)
	if err != nil && userinfo.ErrorCode(err) != userinfo.ENOTFOUND && !strings.Contains(err.Error(), "attribute version") {
		t.Fatal(err)
	}
	g, err := f.s.Guards(ctx, f.domain)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.s.AuditRecords(ctx, f.user.ID, time.Time{}, fixedNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return state{u, g, a}
}

func change(u *userinfo.User) userinfo.Change {
	return userinfo.Change{
		User:  u,
		Actor: userinfo.Principal{UserID: u.ID, DomainID: u.DomainID},
		Meta:  userinfo.RequestMeta{RequestID: newID("req-"), SourceIP: "192.0.2.10"},
		At:    fixedNow,
	}
}

func TestApplyChange(t *testing.T) {
	tests := []struct {
		name string
		// prepare seeds what the scenario needs and returns the change.
		prepare   func(t *testing.T, f *fixture) userinfo.Change
		wantCode  string // expected userinfo.ErrorCode; "" for success
		wantField string
		wantMsg   string
		// check inspects the outcome; failures are also checked to have
		// written nothing.
		check func(t *testing.T, f *fixture, c userinfo.Change, before state, err error)
	}{
		{
			name: "EmailChanged",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new.address@example.org")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, _ error) {
				after := snapshot(t, f)
				want := *before.user
				want.Email, want.EmailKey, want.EmailVerified = c.Email.Address, userinfo.CurrentKey(c.Email.Key), false
				want.Version++
				want.UpdatedAt = c.At
				if !reflect.DeepEqual(*after.user, want) {
					t.Errorf("user = %+v\nwant %+v", *after.user, want)
				}
				wantGuards := []ddbtable.Guard{
					{Kind: dynamo.GuardEmail, Value: "new.address@example.org", Version: 2, UserID: f.user.ID, DomainID: f.domain},
					{Kind: dynamo.GuardPhone, Value: "+8618292010816", Version: 2, UserID: f.user.ID, DomainID: f.domain},
				}
				if !reflect.DeepEqual(after.guards, wantGuards) {
					t.Errorf("guards = %+v\nwant %+v", after.guards, wantGuards)
				}
				if len(after.audit) != 1 {
					t.Fatalf("%d audit records, want 1", len(after.audit))
				}
				wantAudit := ddbtable.AuditRecord{
					UserID: f.user.ID, ActorUserID: f.user.ID, ActorDomainID: f.domain,
					RequestID: c.Meta.RequestID, SourceIP: "192.0.2.10", At: c.At,
					Fields: []string{"email"}, Email: "n***@e***.org",
					ExpiresAt: c.At.Add(retention),
				}
				if !reflect.DeepEqual(after.audit[0], wantAudit) {
					t.Errorf("audit = %+v\nwant %+v", after.audit[0], wantAudit)
				}
			},
		},
		{
			// The service writes no such change (the keys are equal: "already
			// so"); the store still keeps the guard as it is.
			name: "EmailWithSameKeyChanged",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("JOHN.DOE@Example.COM")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, _ error) {
				after := snapshot(t, f)
				if after.user.Email != c.Email.Address || after.user.Version != before.user.Version+1 || after.user.EmailVerified {
					t.Errorf("user = %+v", *after.user)
				}
				if !reflect.DeepEqual(after.guards, before.guards) {
					t.Errorf("guards = %+v, want untouched %+v", after.guards, before.guards)
				}
				if len(after.audit) != 1 || after.audit[0].Email != "J***@E***.COM" {
					t.Errorf("audit = %+v", after.audit)
				}
			},
		},
		{
			name: "PhoneChanged",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Mobile = mobile("+44", "7700900123")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, _ error) {
				after := snapshot(t, f)
				want := *before.user
				want.AreaCode, want.Phone, want.PhoneKey, want.PhoneVerified = "+44", "7700900123", userinfo.CurrentKey("+447700900123"), false
				want.Version++
				want.UpdatedAt = c.At
				if !reflect.DeepEqual(*after.user, want) {
					t.Errorf("user = %+v\nwant %+v", *after.user, want)
				}
				wantGuards := []ddbtable.Guard{
					{Kind: dynamo.GuardEmail, Value: "john.doe@example.com", Version: 2, UserID: f.user.ID, DomainID: f.domain},
					{Kind: dynamo.GuardPhone, Value: "+447700900123", Version: 2, UserID: f.user.ID, DomainID: f.domain},
				}
				if !reflect.DeepEqual(after.guards, wantGuards) {
					t.Errorf("guards = %+v\nwant %+v", after.guards, wantGuards)
				}
				if len(after.audit) != 1 {
					t.Fatalf("%d audit records, want 1", len(after.audit))
				}
				a := after.audit[0]
				if !reflect.DeepEqual(a.Fields, []string{"areacode", "phone"}) || a.AreaCode != "+44" || a.Phone != "***0123" || a.Email != "" {
					t.Errorf("audit = %+v", a)
				}
			},
		},
		{
			name: "EmailAndPhoneChanged",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("both@example.net")
				c.Mobile = mobile("+86", "13800000000")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, _ error) {
				after := snapshot(t, f)
				if after.user.Version != before.user.Version+1 || after.user.EmailVerified || after.user.PhoneVerified {
					t.Errorf("user = %+v", *after.user)
				}
				if len(after.guards) != 2 || after.guards[0].Value != "both@example.net" || after.guards[1].Value != "+8613800000000" {
					t.Errorf("guards = %+v", after.guards)
				}
				if len(after.audit) != 1 || !reflect.DeepEqual(after.audit[0].Fields, []string{"email", "areacode", "phone"}) {
					t.Errorf("audit = %+v", after.audit)
				}
			},
		},
		{
			name: "FirstEmailSet",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				f.user = seedUser(t, f.s, f.domain, "", "", "")
				c := change(f.user)
				c.Email = email("first@example.com")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, _ error) {
				after := snapshot(t, f)
				g, _ := f.s.Guards(context.Background(), f.domain)
				found := false
				for _, x := range g {
					found = found || (x.Value == "first@example.com" && x.UserID == f.user.ID)
				}
				if !found || after.user.Email != "first@example.com" {
					t.Errorf("user = %+v, guards = %+v", *after.user, g)
				}
			},
		},
		{
			name: "NothingToChange",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				return change(f.user)
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, _ error) {
				if after := snapshot(t, f); !reflect.DeepEqual(after, before) {
					t.Errorf("state changed:\n%+v\nwas %+v", after, before)
				}
			},
		},
		{
			name: "EmailTakenInOtherAccountAllowed",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				seedUser(t, f.s, f.other, "taken@example.com", "+86", "13911112222")
				c := change(f.user)
				c.Email = email("Taken@example.com")
				c.Mobile = mobile("+86", "13911112222")
				return c
			},
		},
		{
			name: "ErrEmailTaken",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				seedUser(t, f.s, f.domain, "taken@example.com", "", "")
				c := change(f.user)
				c.Email = email("TAKEN@example.com")
				return c
			},
			wantCode: userinfo.ECONFLICT, wantField: "email", wantMsg: "The email address is already in use.",
		},
		{
			name: "ErrPhoneTaken",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				seedUser(t, f.s, f.domain, "", "+44", "7700900999")
				c := change(f.user)
				c.Mobile = mobile("+44", "7700900999")
				return c
			},
			wantCode: userinfo.ECONFLICT, wantField: "phone", wantMsg: "The mobile number is already in use.",
		},
		{
			name: "ErrAccountForbidsEmail",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				putAccount(t, f.s, userinfo.Account{DomainID: f.domain, ManageEmail: false, ManageMobile: true})
				c := change(f.user)
				c.Email = email("new@example.com")
				return c
			},
			wantCode: userinfo.EFORBIDDEN, wantMsg: "The account does not allow users to change their own email address.",
		},
		{
			name: "ErrAccountForbidsMobile",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				putAccount(t, f.s, userinfo.Account{DomainID: f.domain, ManageEmail: true, ManageMobile: false})
				c := change(f.user)
				c.Email = email("new@example.com")
				c.Mobile = mobile("+86", "13000000000")
				return c
			},
			wantCode: userinfo.EFORBIDDEN, wantMsg: "The account does not allow users to change their own mobile number.",
		},
		{
			name: "ErrForbiddenBeforeTaken",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				seedUser(t, f.s, f.domain, "taken@example.com", "", "")
				putAccount(t, f.s, userinfo.Account{DomainID: f.domain, ManageEmail: false, ManageMobile: false})
				c := change(f.user)
				c.Email = email("taken@example.com")
				return c
			},
			wantCode: userinfo.EFORBIDDEN, wantMsg: "The account does not allow users to change their own email address.",
		},
		{
			name: "ErrStaleVersion",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new@example.com")
				moved := *f.user
				moved.Name = "renamed"
				if err := f.s.UpsertUser(context.Background(), moved); err != nil {
					t.Fatal(err)
				}
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current == nil {
					t.Fatalf("err = %v, want StaleError with Current", err)
				}
				if !reflect.DeepEqual(*stale.Current, *before.user) || stale.Current.Version != f.user.Version+1 {
					t.Errorf("Current = %+v\nwant %+v", *stale.Current, *before.user)
				}
			},
		},
		{
			name: "ErrUserDeleted",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new@example.com")
				if err := f.s.DeleteUser(context.Background(), f.user.ID); err != nil {
					t.Fatal(err)
				}
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current != nil {
					t.Fatalf("err = %v, want StaleError without Current", err)
				}
				_, err = f.s.GetUser(context.Background(), f.user.ID)
				if userinfo.ErrorCode(err) != userinfo.ENOTFOUND || userinfo.ErrorMessage(err) != "The user does not exist." {
					t.Errorf("GetUser after delete: %v", err)
				}
			},
		},
		{
			name: "ErrUserDisabledInBetween",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new@example.com")
				disabled := *f.user
				disabled.Enabled = false
				if err := f.s.UpsertUser(context.Background(), disabled); err != nil {
					t.Fatal(err)
				}
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current == nil || stale.Current.Enabled {
					t.Fatalf("err = %v, want StaleError with a disabled Current", err)
				}
			},
		},
		{
			name: "ErrUserDisabledAtSameVersion",
			// Even a write that forgot to bump the version cannot slip a
			// change past a disabled user: enabled is in the condition.
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				stale := *f.user
				stale.Version = f.user.Version + 1
				disabled := *f.user
				disabled.Enabled = false
				if err := f.s.UpsertUser(context.Background(), disabled); err != nil {
					t.Fatal(err)
				}
				c := change(&stale)
				c.Email = email("new@example.com")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current == nil || stale.Current.Enabled {
					t.Fatalf("err = %v, want StaleError with a disabled Current", err)
				}
			},
		},
		{
			name: "ErrRevokedBetweenReadAndWrite",
			// A revocation written after the read, by a writer that does
			// not bump the version: the write's own check stops it.
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Actor.IssuedAt = fixedNow.Add(-time.Hour)
				c.Email = email("new@example.com")
				setAttribute(t, f.user.ID, "tokens_revoked_at", avS(fixedNow.Add(-time.Minute).Format("2006-01-02T15:04:05.000000000Z07:00")))
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current == nil || stale.Current.Version != f.user.Version || !stale.Current.TokensRevokedAt.Equal(fixedNow.Add(-time.Minute)) {
					t.Fatalf("err = %v, want StaleError with the revoked user at the same version", err)
				}
			},
		},
		{
			name: "RevokedBeforeIssueAllowed",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Actor.IssuedAt = fixedNow.Add(-time.Minute)
				c.Email = email("new@example.com")
				setAttribute(t, f.user.ID, "tokens_revoked_at", avS(fixedNow.Add(-time.Minute).Format("2006-01-02T15:04:05.000000000Z07:00")))
				return c
			},
		},
		{
			name: "ErrMovedToAnotherAccountAtSameVersion",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new@example.com")
				setAttribute(t, f.user.ID, "domain_id", avS(f.other))
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current == nil || stale.Current.DomainID != f.other {
					t.Fatalf("err = %v, want StaleError with the moved user", err)
				}
			},
		},
		{
			name: "ErrDisabledAtSameVersionByAnotherWriter",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new@example.com")
				setAttribute(t, f.user.ID, "enabled", &types.AttributeValueMemberBOOL{Value: false})
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if !errors.As(err, &stale) || stale.Current == nil || stale.Current.Enabled {
					t.Fatalf("err = %v, want StaleError with the disabled user", err)
				}
			},
		},
		{
			name: "ErrVersionMissingIsADataError",
			prepare: func(t *testing.T, f *fixture) userinfo.Change {
				c := change(f.user)
				c.Email = email("new@example.com")
				removeAttribute(t, f.user.ID, "version")
				return c
			},
			check: func(t *testing.T, f *fixture, c userinfo.Change, before state, err error) {
				var stale *userinfo.StaleError
				if err == nil || errors.As(err, &stale) || userinfo.ErrorCode(err) != userinfo.EINTERNAL || !strings.Contains(err.Error(), "version") {
					t.Fatalf("err = %v, want an internal error naming the version", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fixture{s: newStore(client), domain: newID("d-"), other: newID("d-")}
			f.user = seedUser(t, f.s, f.domain, "John.Doe@example.com", "+86", "18292010816")
			c := tt.prepare(t, f)
			before := snapshot(t, f)

			err := f.s.ApplyChange(context.Background(), c)

			var stale *userinfo.StaleError
			failed := err != nil
			switch {
			case tt.wantCode != "":
				if userinfo.ErrorCode(err) != tt.wantCode || userinfo.ErrorField(err) != tt.wantField ||
					userinfo.ErrorMessage(err) != tt.wantMsg {
					t.Fatalf("err = %v (field %q), want %s %q field %q", err, userinfo.ErrorField(err), tt.wantCode, tt.wantMsg, tt.wantField)
				}
			case errors.As(err, &stale):
				if tt.check == nil {
					t.Fatalf("unexpected StaleError")
				}
			case err != nil && tt.check == nil:
				t.Fatalf("ApplyChange: %v", err)
			}
			if failed {
				// Errors go to logs: they must carry ids, never contact data.
				for _, v := range []string{f.user.Email, f.user.EmailKey.Value, f.user.Phone, emailOf(c), phoneOf(c)} {
					if v != "" && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(v)) {
						t.Errorf("error text %q contains a contact value", err)
					}
				}
				if after := snapshot(t, f); !reflect.DeepEqual(after, before) {
					t.Errorf("a failed change wrote something:\n%+v\nwas %+v", after, before)
				}
			}
			if tt.check != nil {
				tt.check(t, f, c, before, err)
			}
		})
	}
}

func putAccount(t *testing.T, s *ddbtable.Table, a userinfo.Account) {
	t.Helper()
	if err := s.PutAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}
