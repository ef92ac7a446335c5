package userinfo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// verifying returns a store whose account verifies changes (ApplyChange
// answers ErrVerificationRequired to an unverified change).
func verifying() *scriptedStore {
	return &scriptedStore{pending: map[string]*userinfo.Pending{}, results: []error{userinfo.ErrVerificationRequired}}
}

func TestRequestChange(t *testing.T) {
	ctx := context.Background()
	newEmail := "new@example.com"
	meta := userinfo.RequestMeta{RequestID: "r1", SourceIP: "192.0.2.1"}
	t.Run("CodesAndNotice", func(t *testing.T) {
		st := verifying()
		svc := userinfo.NewService(st, func() time.Time { return t0 })
		upd := userinfo.Update{Email: &newEmail, Mobile: ptr("0086-13800000055")}
		got, err := svc.UpdateContact(ctx, principal(), alice(), upd, meta)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Field != "email" || got[0].To != "n***@e***.com" || got[1].Field != "mobile" || got[1].To != "***0055" ||
			!got[0].ExpiresAt.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("requested %+v", got)
		}
		if len(st.requested) != 1 {
			t.Fatalf("%d requests written, want 1", len(st.requested))
		}
		r := st.requested[0]
		if len(r.Pendings) != 2 || r.Pendings[0].Email.Address != newEmail || r.Pendings[1].Mobile.Key != "+8613800000055" ||
			r.Pendings[0].TriesLeft != 5 || r.Pendings[0].Sends != 1 || r.Pendings[0].ID == r.Pendings[1].ID {
			t.Errorf("pendings %+v %+v", r.Pendings[0], r.Pendings[1])
		}
		kinds := map[userinfo.MessageKind]userinfo.Message{}
		for _, m := range r.Messages {
			kinds[m.Kind] = m
		}
		if m := kinds[userinfo.MsgVerifyEmail]; m.To != newEmail || m.PendingID != r.Pendings[0].ID {
			t.Errorf("code message %+v: want to the new address, for its pending change", m)
		}
		if m := kinds[userinfo.MsgVerifyMobile]; m.To != "+8613800000055" || m.PendingID != r.Pendings[1].ID {
			t.Errorf("SMS %+v: want to the number in E.164", m)
		}
		if m := kinds[userinfo.MsgEmailChangeRequested]; m.To != "alice@example.com" || m.NewValue != "n***@e***.com" || m.RequestID != "r1" || m.SourceIP != "192.0.2.1" {
			t.Errorf("notice %+v: want to the old address, the new one masked", m)
		}
		if len(r.Messages) != 3 {
			t.Errorf("%d messages, want 3", len(r.Messages))
		}
	})
	t.Run("ErrTooManySends", func(t *testing.T) {
		st := verifying()
		st.pending["email"] = &userinfo.Pending{Field: "email", Sends: 5, WindowStart: t0.Add(-20 * time.Minute)}
		_, err := userinfo.NewService(st, func() time.Time { return t0 }).UpdateContact(ctx, principal(), alice(), userinfo.Update{Email: &newEmail}, meta)
		if userinfo.ErrorCode(err) != userinfo.ETOOMANY || userinfo.ErrorRetryAfter(err) != 40*time.Minute || len(st.requested) != 0 {
			t.Errorf("err %v, retry after %v, requests %d: want ETOOMANY after 40m and nothing written", err, userinfo.ErrorRetryAfter(err), len(st.requested))
		}
	})
	t.Run("SendsCountInTheWindow", func(t *testing.T) {
		st := verifying()
		st.pending["email"] = &userinfo.Pending{ID: "old", Field: "email", Sends: 2, WindowStart: t0.Add(-20 * time.Minute)}
		if _, err := userinfo.NewService(st, func() time.Time { return t0 }).UpdateContact(ctx, principal(), alice(), userinfo.Update{Email: &newEmail}, meta); err != nil {
			t.Fatal(err)
		}
		r := st.requested[0]
		if p := r.Pendings[0]; p.Sends != 3 || !p.WindowStart.Equal(t0.Add(-20*time.Minute)) || r.Replaces["email"].ID != "old" {
			t.Errorf("pending %+v replacing %+v: want the third send of the window, replacing the old request", p, r.Replaces["email"])
		}
	})
	t.Run("WindowOver", func(t *testing.T) {
		st := verifying()
		st.pending["email"] = &userinfo.Pending{Field: "email", Sends: 5, WindowStart: t0.Add(-61 * time.Minute)}
		if _, err := userinfo.NewService(st, func() time.Time { return t0 }).UpdateContact(ctx, principal(), alice(), userinfo.Update{Email: &newEmail}, meta); err != nil {
			t.Fatal(err)
		}
		if p := st.requested[0].Pendings[0]; p.Sends != 1 || !p.WindowStart.Equal(t0) {
			t.Errorf("pending %+v: want a new window", p)
		}
	})
	t.Run("AppliedEmailTellsOldAddress", func(t *testing.T) {
		st := &scriptedStore{}
		if _, err := userinfo.NewService(st, func() time.Time { return t0 }).UpdateContact(ctx, principal(), alice(), userinfo.Update{Email: &newEmail}, meta); err != nil {
			t.Fatal(err)
		}
		ms := st.applied[0].Messages
		if len(ms) != 1 || ms[0].Kind != userinfo.MsgEmailChanged || ms[0].To != "alice@example.com" || ms[0].NewValue != "n***@e***.com" {
			t.Errorf("messages %+v: want a notice to the old address", ms)
		}
	})
	t.Run("MobileChangeTellsNobody", func(t *testing.T) {
		st := &scriptedStore{}
		if _, err := userinfo.NewService(st, nil).UpdateContact(ctx, principal(), alice(), userinfo.Update{Mobile: ptr("0086-13800000055")}, meta); err != nil {
			t.Fatal(err)
		}
		if ms := st.applied[0].Messages; len(ms) != 0 {
			t.Errorf("messages %+v, want none", ms)
		}
	})
}

// pendingEmail is a pending change of alice's email whose code is 123456.
func pendingEmail(tries int) *userinfo.Pending {
	e, _ := userinfo.ParseEmail("new@example.com")
	salt := userinfo.NewSalt()
	return &userinfo.Pending{
		UserID: "u1", Field: "email", ID: "p1", Email: &e, ValidUntil: t0.Add(10 * time.Minute), TriesLeft: tries,
		CodeSalt: salt, CodeHash: userinfo.HashCode(salt, "123456"), Sends: 1, WindowStart: t0,
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	svc := func(st *scriptedStore) *userinfo.Service {
		return userinfo.NewService(st, func() time.Time { return t0 })
	}
	t.Run("RightCodeApplies", func(t *testing.T) {
		st := &scriptedStore{pending: map[string]*userinfo.Pending{"email": pendingEmail(5)}}
		if err := svc(st).Verify(ctx, principal(), alice(), userinfo.Codes{"email": "123456"}, userinfo.RequestMeta{RequestID: "r2"}); err != nil {
			t.Fatal(err)
		}
		c := st.applied[0]
		if c.Email == nil || c.Email.Address != "new@example.com" || len(c.Verified) != 1 || c.Verified[0].ID != "p1" {
			t.Errorf("change %+v", c)
		}
		if len(c.Messages) != 1 || c.Messages[0].Kind != userinfo.MsgEmailChanged || c.Messages[0].To != "alice@example.com" {
			t.Errorf("messages %+v: want the old address told", c.Messages)
		}
	})
	for _, tt := range []struct {
		name    string
		pending *userinfo.Pending
		codes   userinfo.Codes
		wantMsg string
		wrong   int
	}{
		{"ErrNoPending", nil, userinfo.Codes{"email": "123456"}, "No change of the email address waits", 0},
		{"ErrExpired", func() *userinfo.Pending { p := pendingEmail(5); p.ValidUntil = t0; return p }(), userinfo.Codes{"email": "123456"}, "No change", 0},
		{"ErrNoTriesLeft", pendingEmail(0), userinfo.Codes{"email": "123456"}, "No change", 0},
		{"ErrNotSentYet", func() *userinfo.Pending { p := pendingEmail(5); p.CodeHash = ""; return p }(), userinfo.Codes{"email": "123456"}, "not been sent yet", 0},
		{"ErrWrongCode", pendingEmail(5), userinfo.Codes{"email": "654321"}, "4 tries left", 1},
		{"ErrLastWrongCode", pendingEmail(1), userinfo.Codes{"email": "654321"}, "no tries are left", 1},
		{"ErrNoCodes", pendingEmail(5), userinfo.Codes{}, "verification must contain", 0},
		{"ErrShortCode", pendingEmail(5), userinfo.Codes{"email": "12345"}, "6 digits", 0},
		{"ErrLetters", pendingEmail(5), userinfo.Codes{"mobile": "12345a"}, "6 digits", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &scriptedStore{pending: map[string]*userinfo.Pending{}}
			if tt.pending != nil {
				st.pending["email"] = tt.pending
			}
			err := svc(st).Verify(ctx, principal(), alice(), tt.codes, userinfo.RequestMeta{})
			if userinfo.ErrorCode(err) != userinfo.EINVALID || !strings.Contains(userinfo.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("err %v, want EINVALID saying %q", err, tt.wantMsg)
			}
			if len(st.applied) != 0 || st.wrong != tt.wrong {
				t.Errorf("applied %d, wrong codes counted %d; want nothing applied and %d counted", len(st.applied), st.wrong, tt.wrong)
			}
		})
	}
}
