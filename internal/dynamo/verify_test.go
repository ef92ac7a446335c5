package dynamo_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// verifyWorld is an account that verifies changes, with alice (an email
// and a mobile number) and bob (taken@example.com), served by the real
// service on the real store.
type verifyWorld struct {
	s *ddbtable.Table // the API's
	// tools is the notifier's and the test's view of the same table.
	tools      *ddbtable.Table
	svc        *userinfo.Service
	domain     string
	alice, bob *userinfo.User
	now        time.Time
}

func newVerifyWorld(t *testing.T) *verifyWorld {
	t.Helper()
	w := &verifyWorld{s: newStore(client), tools: newStore(client), domain: newID("d-"), now: fixedNow}
	if err := w.s.PutAccount(context.Background(), userinfo.Account{DomainID: w.domain, ManageEmail: true, ManageMobile: true, VerifyChanges: true}); err != nil {
		t.Fatal(err)
	}
	w.alice = seedUser(t, w.s, w.domain, "old@example.com", "+86", "13200000020")
	w.bob = seedUser(t, w.s, w.domain, "taken@example.com", "", "")
	w.svc = userinfo.NewService(w.s, func() time.Time { return w.now })
	return w
}

func (w *verifyWorld) principal(u *userinfo.User) userinfo.Principal {
	return userinfo.Principal{UserID: u.ID, DomainID: w.domain, IssuedAt: fixedNow.Add(-time.Minute)}
}

// request asks for u's email to become addr, as the API does.
func (w *verifyWorld) request(t *testing.T, u *userinfo.User, addr string) ([]userinfo.Requested, error) {
	t.Helper()
	cur, err := w.s.GetUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return w.svc.UpdateContact(context.Background(), w.principal(u), cur, userinfo.Update{Email: &addr}, userinfo.RequestMeta{RequestID: newID("r-"), SourceIP: "192.0.2.7"})
}

// deliver does the notifier's part for u's code messages: stores the hash
// of code with each one's pending change. It reports whether any was still
// pending.
func (w *verifyWorld) deliver(t *testing.T, u *userinfo.User, code string) bool {
	t.Helper()
	ms, err := w.tools.Messages(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := false
	for _, m := range ms {
		if m.IsCode() {
			salt := userinfo.NewSalt()
			ok, err := w.tools.SetCode(context.Background(), &m, salt, userinfo.HashCode(salt, code), w.now)
			if err != nil {
				t.Fatal(err)
			}
			stored = stored || ok
		}
	}
	return stored
}

func (w *verifyWorld) verify(t *testing.T, u *userinfo.User, code string) error {
	t.Helper()
	cur, err := w.s.GetUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return w.svc.Verify(context.Background(), w.principal(u), cur, userinfo.Codes{"email": code}, userinfo.RequestMeta{RequestID: newID("r-"), SourceIP: "192.0.2.7"})
}

// TestVerifiedChange runs a change through an account that verifies
// changes on DynamoDB Local: requested (nothing applied, nothing claimed, a
// code and a notice written), a wrong code, the right code (applied,
// verified, guarded, audited, the old address told).
func TestVerifiedChange(t *testing.T) {
	ctx := context.Background()
	w := newVerifyWorld(t)
	before, _ := w.s.GetUser(ctx, w.alice.ID)
	req, err := w.request(t, w.alice, "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(req) != 1 || req[0].To != "n***@e***.com" {
		t.Fatalf("requested %+v", req)
	}
	after, _ := w.s.GetUser(ctx, w.alice.ID)
	if after.Email != "old@example.com" || after.Version != before.Version {
		t.Errorf("the request changed the user: %+v", after)
	}
	guards, _ := w.s.Guards(ctx, w.domain)
	for _, g := range guards {
		if strings.Contains(g.Value, "new@") {
			t.Errorf("the request claimed the new value: %+v", g)
		}
	}
	ms, _ := w.s.Messages(ctx, w.alice.ID)
	if len(ms) != 2 || ms[0].Kind != userinfo.MsgVerifyEmail && ms[1].Kind != userinfo.MsgVerifyEmail {
		t.Fatalf("messages %+v: want a code and a notice", ms)
	}
	if w.deliver(t, w.alice, "123456") != true {
		t.Fatal("the notifier could not store the code")
	}

	if err := w.verify(t, w.alice, "000000"); userinfo.ErrorCode(err) != userinfo.EINVALID || !strings.Contains(userinfo.ErrorMessage(err), "4 tries left") {
		t.Fatalf("wrong code: %v", err)
	}
	if p, _ := w.s.GetPending(ctx, w.alice.ID, "email"); p == nil || p.TriesLeft != 4 {
		t.Errorf("pending after a wrong code: %+v", p)
	}
	if err := w.verify(t, w.alice, "123456"); err != nil {
		t.Fatalf("right code: %v", err)
	}
	u, _ := w.s.GetUser(ctx, w.alice.ID)
	if u.Email != "new@example.com" || !u.EmailVerified || u.Version != before.Version+1 {
		t.Errorf("user after verification: %+v", u)
	}
	if p, _ := w.s.GetPending(ctx, w.alice.ID, "email"); p == nil || p.TriesLeft != 0 || p.CodeHash != "" {
		t.Errorf("pending after verification: %+v; want it closed", p)
	}
	recs, _ := w.s.AuditRecords(ctx, w.alice.ID, time.Time{}, fixedNow.Add(time.Hour))
	if len(recs) != 1 {
		t.Errorf("%d audit records, want 1", len(recs))
	}
	ms, _ = w.s.Messages(ctx, w.alice.ID)
	if !slices.ContainsFunc(ms, func(m userinfo.Message) bool {
		return m.Kind == userinfo.MsgEmailChanged && m.To == "old@example.com" && m.NewValue == "n***@e***.com"
	}) || len(ms) != 3 {
		t.Errorf("messages %+v: want the code, the notice of the request, and the old address told of the change", ms)
	}
	if err := w.verify(t, w.alice, "123456"); userinfo.ErrorCode(err) != userinfo.EINVALID {
		t.Errorf("the same code again: %v, want EINVALID (nothing pending)", err)
	}
}

// TestVerificationRefusals: a value another user holds is refused at once;
// a code for a request since replaced is not stored; the last wrong code
// closes the change; the send limit holds on the real store.
func TestVerificationRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrTakenAtOnce", func(t *testing.T) {
		w := newVerifyWorld(t)
		if _, err := w.request(t, w.alice, "TAKEN@example.com"); userinfo.ErrorCode(err) != userinfo.ECONFLICT {
			t.Fatalf("err %v, want ECONFLICT", err)
		}
		if p, _ := w.s.GetPending(ctx, w.alice.ID, "email"); p != nil {
			t.Errorf("pending written: %+v", p)
		}
	})
	t.Run("ReplacedRequestsCodeNotStored", func(t *testing.T) {
		w := newVerifyWorld(t)
		if _, err := w.request(t, w.alice, "first@example.com"); err != nil {
			t.Fatal(err)
		}
		ms, _ := w.s.Messages(ctx, w.alice.ID)
		if _, err := w.request(t, w.alice, "second@example.com"); err != nil {
			t.Fatal(err)
		}
		salt := userinfo.NewSalt()
		for _, m := range ms {
			if m.IsCode() {
				if ok, err := w.s.SetCode(ctx, &m, salt, userinfo.HashCode(salt, "111111"), w.now); err != nil || ok {
					t.Errorf("the first request's code was stored (%v, %v)", ok, err)
				}
			}
		}
		if p, _ := w.s.GetPending(ctx, w.alice.ID, "email"); p.Email.Address != "second@example.com" || p.Sends != 2 {
			t.Errorf("pending %+v: want the second request, the window's second send", p)
		}
	})
	t.Run("LastWrongCodeCloses", func(t *testing.T) {
		w := newVerifyWorld(t)
		if _, err := w.request(t, w.alice, "new@example.com"); err != nil {
			t.Fatal(err)
		}
		w.deliver(t, w.alice, "123456")
		for range userinfo.DefaultVerifyPolicy.MaxTries {
			_ = w.verify(t, w.alice, "999999")
		}
		err := w.verify(t, w.alice, "123456")
		if userinfo.ErrorCode(err) != userinfo.EINVALID || !strings.Contains(userinfo.ErrorMessage(err), "No change") {
			t.Errorf("right code after the tries ran out: %v, want EINVALID", err)
		}
	})
	t.Run("ErrSendLimit", func(t *testing.T) {
		w := newVerifyWorld(t)
		for i := range userinfo.DefaultVerifyPolicy.SendsPerHour {
			if _, err := w.request(t, w.alice, newID("n")+"@example.com"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		_, err := w.request(t, w.alice, "one-more@example.com")
		if userinfo.ErrorCode(err) != userinfo.ETOOMANY || userinfo.ErrorRetryAfter(err) <= 0 {
			t.Errorf("err %v, want ETOOMANY with a retry time", err)
		}
	})
}

// TestFirstVerifierWins: two users may request one value (no claim until
// verified); the first to verify gets it, the second is refused.
func TestFirstVerifierWins(t *testing.T) {
	w := newVerifyWorld(t)
	carol := seedUser(t, w.s, w.domain, "carol@example.com", "", "")
	for _, u := range []*userinfo.User{w.alice, carol} {
		if _, err := w.request(t, u, "wanted@example.com"); err != nil {
			t.Fatal(err)
		}
		w.deliver(t, u, "123456")
	}
	if err := w.verify(t, carol, "123456"); err != nil {
		t.Fatalf("first verifier: %v", err)
	}
	if err := w.verify(t, w.alice, "123456"); userinfo.ErrorCode(err) != userinfo.ECONFLICT {
		t.Errorf("second verifier: %v, want ECONFLICT", err)
	}
	if u, _ := w.s.GetUser(context.Background(), w.alice.ID); u.Email != "old@example.com" {
		t.Errorf("alice's email became %q", u.Email)
	}
}
