package userinfo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// scriptedStore answers GetUser from a map and ApplyChange from a queue of
// results, recording every call. It is a unit-test double for the service's
// control flow; the real store is tested against DynamoDB Local.
type scriptedStore struct {
	users   map[string]*userinfo.User
	results []error
	gets    int
	applied []userinfo.Change

	// The verification side: pending changes by field, the requests
	// written, and the wrong codes counted.
	pending   map[string]*userinfo.Pending
	requested []userinfo.ChangeRequest
	wrong     int
}

func (s *scriptedStore) GetPending(_ context.Context, _, field string) (*userinfo.Pending, error) {
	if p, ok := s.pending[field]; ok {
		c := *p
		return &c, nil
	}
	return nil, nil
}

func (s *scriptedStore) RequestChange(_ context.Context, r userinfo.ChangeRequest) error {
	s.requested = append(s.requested, r)
	return nil
}

func (s *scriptedStore) WrongCode(_ context.Context, p *userinfo.Pending) (int, error) {
	s.wrong++
	s.pending[p.Field].TriesLeft--
	return s.pending[p.Field].TriesLeft, nil
}

func (s *scriptedStore) GetUser(_ context.Context, id string) (*userinfo.User, error) {
	s.gets++
	u, ok := s.users[id]
	if !ok {
		return nil, userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	c := *u
	return &c, nil
}

func (s *scriptedStore) ApplyChange(_ context.Context, c userinfo.Change) error {
	s.applied = append(s.applied, c)
	if len(s.results) == 0 {
		return nil
	}
	err := s.results[0]
	s.results = s.results[1:]
	return err
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func alice() *userinfo.User {
	return &userinfo.User{ID: "u1", DomainID: "d1", Email: "alice@example.com", AreaCode: "+86", Phone: "18292010816", Enabled: true, Version: 3}
}

func principal() userinfo.Principal {
	return userinfo.Principal{UserID: "u1", DomainID: "d1", IssuedAt: t0}
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name  string
		p     userinfo.Principal
		mod   func(*userinfo.User)
		drop  bool
		code  string
		reads int
	}{
		{"OK", principal(), nil, false, "", 1},
		{"ErrAnotherUser", userinfo.Principal{UserID: "u2", DomainID: "d1", IssuedAt: t0}, nil, false, userinfo.EFORBIDDEN, 0},
		{"ErrAnotherAccount", userinfo.Principal{UserID: "u1", DomainID: "d2", IssuedAt: t0}, nil, false, userinfo.EFORBIDDEN, 1},
		{"ErrNotFound", principal(), nil, true, userinfo.ENOTFOUND, 1},
		{"ErrDisabled", principal(), func(u *userinfo.User) { u.Enabled = false }, false, userinfo.EFORBIDDEN, 1},
		{"ErrRevoked", principal(), func(u *userinfo.User) { u.TokensRevokedAt = t0.Add(time.Second) }, false, userinfo.EUNAUTHORIZED, 1},
		{"RevokedBeforeIssue", principal(), func(u *userinfo.User) { u.TokensRevokedAt = t0.Add(-time.Second) }, false, "", 1},
		{"RevokedAtIssue", principal(), func(u *userinfo.User) { u.TokensRevokedAt = t0 }, false, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := alice()
			if tt.mod != nil {
				tt.mod(u)
			}
			st := &scriptedStore{users: map[string]*userinfo.User{}}
			if !tt.drop {
				st.users["u1"] = u
			}
			got, err := userinfo.NewService(st, nil).Authorize(context.Background(), tt.p, "u1")
			if code := userinfo.ErrorCode(err); code != tt.code {
				t.Fatalf("ErrorCode = %q (%v), want %q", code, err, tt.code)
			}
			if st.gets != tt.reads {
				t.Errorf("store reads = %d, want %d", st.gets, tt.reads)
			}
			if tt.code == "" && got.ID != "u1" {
				t.Errorf("user = %+v", got)
			}
		})
	}
}

func TestUpdateContact(t *testing.T) {
	newEmail, sameEmail := "new@example.com", "alice@example.com"
	samePhone, sameArea := "18292010816", "0086"
	otherPhone := "13800000000"

	t.Run("ChangesEmail", func(t *testing.T) {
		st := &scriptedStore{}
		meta := userinfo.RequestMeta{RequestID: "r1", SourceIP: "192.0.2.1"}
		svc := userinfo.NewService(st, func() time.Time { return t0 })
		if _, err := svc.UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, meta); err != nil {
			t.Fatal(err)
		}
		if len(st.applied) != 1 {
			t.Fatalf("applied %d changes, want 1", len(st.applied))
		}
		c := st.applied[0]
		if c.Email.Address != newEmail || c.Email.Key != newEmail || c.Mobile != nil || c.User.Version != 3 || c.Meta != meta || !c.At.Equal(t0) || c.Actor != principal() {
			t.Errorf("change = %+v", c)
		}
	})
	t.Run("SameValuesWriteNothing", func(t *testing.T) {
		st := &scriptedStore{}
		upd := userinfo.Update{Email: &sameEmail, Phone: &samePhone, AreaCode: &sameArea}
		if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), upd, userinfo.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		if len(st.applied) != 0 {
			t.Errorf("applied %d changes, want 0", len(st.applied))
		}
	})
	t.Run("SameKeysInOtherSpellingsWriteNothing", func(t *testing.T) {
		// The stored user holds keys of the current rules; so does one
		// whose keys are of version 1 (a table not yet re-keyed), whose
		// keys are then recomputed from the stored values.
		current := alice()
		if err := current.SetKeys(); err != nil {
			t.Fatal(err)
		}
		legacy := alice()
		legacy.EmailKey, legacy.PhoneKey = userinfo.V1EmailKey(legacy.Email), userinfo.V1MobileKey(legacy.AreaCode, legacy.Phone)
		for _, upd := range []userinfo.Update{
			{Email: ptr("ALICE@Example.COM")},
			{Email: ptr("ａｌｉｃｅ@example.com")},
			{Mobile: ptr("+86-18292010816")},
			{Mobile: ptr("18292010816"), AreaCode: ptr("86")},
			{Phone: ptr("18292010816"), AreaCode: ptr("0086"), Email: ptr("Alice@EXAMPLE.com")},
		} {
			for _, u := range []*userinfo.User{current, legacy} {
				st := &scriptedStore{}
				if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), u, upd, userinfo.RequestMeta{}); err != nil {
					t.Fatal(err)
				}
				if len(st.applied) != 0 {
					t.Errorf("%+v on a user with keys %v/%v: applied %+v, want nothing", upd, u.EmailKey, u.PhoneKey, st.applied[0])
				}
			}
		}
	})
	t.Run("AllThreeMobileFormsMakeOneChange", func(t *testing.T) {
		var got []userinfo.Mobile
		for _, upd := range []userinfo.Update{
			{Phone: &otherPhone, AreaCode: &sameArea},
			{Mobile: ptr("0086-" + otherPhone)},
			{Mobile: &otherPhone, AreaCode: ptr("+86")},
		} {
			st := &scriptedStore{}
			if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), upd, userinfo.RequestMeta{}); err != nil {
				t.Fatal(err)
			}
			got = append(got, *st.applied[0].Mobile)
		}
		if got[0] != got[1] || got[1] != got[2] {
			t.Errorf("the three forms gave %+v", got)
		}
	})
	t.Run("PhoneChangeCarriesCanonicalAreaCode", func(t *testing.T) {
		st := &scriptedStore{}
		if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Phone: &otherPhone, AreaCode: &sameArea}, userinfo.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		if c := st.applied[0]; c.Mobile.AreaCode != "+86" || c.Mobile.Number != otherPhone || c.Mobile.Key != "+86"+otherPhone || c.Email != nil {
			t.Errorf("change = %+v", c)
		}
	})
	t.Run("StaleRecomputesFromCurrent", func(t *testing.T) {
		cur := alice()
		cur.Version = 4
		st := &scriptedStore{results: []error{&userinfo.StaleError{Current: cur}}}
		if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		if len(st.applied) != 2 || st.applied[1].User.Version != 4 || st.gets != 0 {
			t.Errorf("applied %d, second version %d, reads %d", len(st.applied), st.applied[len(st.applied)-1].User.Version, st.gets)
		}
	})
	t.Run("StaleAlreadyHoldsValue", func(t *testing.T) {
		cur := alice()
		cur.Email, cur.Version = newEmail, 4
		st := &scriptedStore{results: []error{&userinfo.StaleError{Current: cur}}}
		if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		if len(st.applied) != 1 {
			t.Errorf("applied %d changes, want 1", len(st.applied))
		}
	})
	t.Run("StaleUnknownRereads", func(t *testing.T) {
		st := &scriptedStore{users: map[string]*userinfo.User{"u1": alice()}, results: []error{&userinfo.StaleError{}}}
		if _, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{}); err != nil {
			t.Fatal(err)
		}
		if st.gets != 1 || len(st.applied) != 2 {
			t.Errorf("reads %d, applied %d; want 1, 2", st.gets, len(st.applied))
		}
	})
	t.Run("ErrDeletedMeanwhile", func(t *testing.T) {
		st := &scriptedStore{users: map[string]*userinfo.User{}, results: []error{&userinfo.StaleError{}}}
		_, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{})
		if userinfo.ErrorCode(err) != userinfo.ENOTFOUND {
			t.Errorf("err = %v, want ENOTFOUND", err)
		}
	})
	t.Run("ErrDisabledMeanwhile", func(t *testing.T) {
		cur := alice()
		cur.Enabled = false
		st := &scriptedStore{results: []error{&userinfo.StaleError{Current: cur}}}
		_, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{})
		if userinfo.ErrorCode(err) != userinfo.EFORBIDDEN || len(st.applied) != 1 {
			t.Errorf("err = %v after %d writes, want EFORBIDDEN after 1", err, len(st.applied))
		}
	})
	t.Run("LostRacesBackOffWithJitter", func(t *testing.T) {
		var waits []time.Duration
		for range 20 {
			st := &scriptedStore{results: []error{&userinfo.StaleError{Current: alice()}, &userinfo.StaleError{Current: alice()}, &userinfo.StaleError{Current: alice()}}}
			svc := userinfo.NewService(st, nil)
			userinfo.SetSleep(svc, func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil })
			_, _ = svc.UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{})
		}
		// One wait between two writes: MaxWriteAttempts-1 per request.
		if len(waits) != 20*(userinfo.MaxWriteAttempts-1) {
			t.Fatalf("%d waits for 20 requests", len(waits))
		}
		distinct := map[time.Duration]bool{}
		for i, d := range waits {
			distinct[d] = true
			if limit := userinfo.RaceBackoff << (i % (userinfo.MaxWriteAttempts - 1)); d < 0 || d >= limit {
				t.Errorf("wait %d = %v, want in [0, %v)", i, d, limit)
			}
		}
		if len(distinct) < len(waits)/2 {
			t.Errorf("waits %v: not random", waits)
		}
	})
	t.Run("ErrOutOfTimeWhileBackingOff", func(t *testing.T) {
		st := &scriptedStore{results: []error{&userinfo.StaleError{Current: alice()}}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := userinfo.NewService(st, nil).UpdateContact(ctx, principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{})
		if userinfo.ErrorCode(err) != userinfo.EUNAVAILABLE || len(st.applied) != 1 {
			t.Errorf("err = %v after %d writes, want EUNAVAILABLE after 1", err, len(st.applied))
		}
	})
	t.Run("ErrRaceLostTooOften", func(t *testing.T) {
		st := &scriptedStore{results: []error{&userinfo.StaleError{Current: alice()}, &userinfo.StaleError{Current: alice()}, &userinfo.StaleError{Current: alice()}, nil}}
		_, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{})
		if userinfo.ErrorCode(err) != userinfo.ECONFLICT || len(st.applied) != userinfo.MaxWriteAttempts {
			t.Errorf("err = %v after %d writes, want ECONFLICT after %d", err, len(st.applied), userinfo.MaxWriteAttempts)
		}
	})
	t.Run("ErrUnvalidatedUpdate", func(t *testing.T) {
		st := &scriptedStore{}
		_, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Phone: &otherPhone}, userinfo.RequestMeta{})
		if userinfo.ErrorCode(err) != userinfo.EINVALID || len(st.applied) != 0 {
			t.Errorf("err = %v after %d writes, want EINVALID after 0", err, len(st.applied))
		}
	})
	t.Run("StoreErrorsPassThrough", func(t *testing.T) {
		boom := errors.New("boom")
		for _, want := range []error{boom, userinfo.Unavailable(boom, "x"), userinfo.Errorf(userinfo.ECONFLICT, "taken")} {
			st := &scriptedStore{results: []error{want}}
			_, err := userinfo.NewService(st, nil).UpdateContact(context.Background(), principal(), alice(), userinfo.Update{Email: &newEmail}, userinfo.RequestMeta{})
			if !errors.Is(err, want) || len(st.applied) != 1 {
				t.Errorf("err = %v after %d writes, want %v after 1", err, len(st.applied), want)
			}
		}
	})
}

func TestErrorAccessors(t *testing.T) {
	plain := errors.New("dynamo: secret detail")
	if userinfo.ErrorCode(plain) != userinfo.EINTERNAL || userinfo.ErrorMessage(plain) == plain.Error() {
		t.Errorf("an unknown error must be internal and hidden")
	}
	if userinfo.ErrorCode(nil) != "" {
		t.Errorf("ErrorCode(nil) must be empty")
	}
	wrapped := &userinfo.Error{Code: userinfo.EINTERNAL, Message: "leak", Err: plain}
	if userinfo.ErrorMessage(wrapped) == "leak" {
		t.Errorf("an EINTERNAL message must not be shown")
	}
}
