package userinfo

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// MaxWriteAttempts is how many times one request's change is written,
// recomputed after each lost race, before ECONFLICT.
const MaxWriteAttempts = 3

// raceBackoff bounds the first random wait after a lost race (see jitter),
// so that writers that collided do not collide again in step.
const raceBackoff = 10 * time.Millisecond

// Service implements the modify-user-info use case on top of a Store.
type Service struct {
	store  Store
	now    func() time.Time
	policy VerifyPolicy
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewService returns a Service on store with clock now (nil: time.Now) and
// DefaultVerifyPolicy.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, policy: DefaultVerifyPolicy, sleep: sleepCtx}
}

// WithVerifyPolicy returns s using policy for accounts that verify changes.
func (s *Service) WithVerifyPolicy(policy VerifyPolicy) *Service {
	s.policy = policy
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Authorize returns the user userID, as read, when p may modify it. It
// returns EFORBIDDEN for another user's token without reading, so nothing
// about the target leaks; ENOTFOUND; or the first of UserRules it breaks.
func (s *Service) Authorize(ctx context.Context, p Principal, userID string) (*User, error) {
	if p.UserID != userID {
		return nil, Errorf(EFORBIDDEN, "You may only modify your own information.")
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return u, CheckUser(p, u, u)
}

// UpdateContact validates upd and applies it to user, as read by
// Authorize. Values whose keys equal the stored ones are left out; an empty
// change writes nothing. A changed email notifies the old address.
//
// In an account that verifies changes, each changed value becomes a pending
// change instead, with a code to the new value and a notice to the old
// email, and UpdateContact returns where the codes went; ETOOMANY when a
// field's codes were requested too often.
//
// A write that finds the user changed is re-authorised and recomputed (see
// retryStale).
func (s *Service) UpdateContact(ctx context.Context, p Principal, user *User, upd Update, meta RequestMeta) ([]Requested, error) {
	// The one place upd is validated: the HTTP handler only decodes it.
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	return s.retryStale(ctx, p, user, func(user *User) ([]Requested, error) {
		c := diff(user, &upd)
		if c.Empty() {
			return nil, nil
		}
		c.Actor, c.Meta, c.At = p, meta, s.now().UTC()
		c.Messages = emailNotice(c, MsgEmailChanged)
		err := s.store.ApplyChange(ctx, c)
		if errors.Is(err, ErrVerificationRequired) {
			return s.requestChange(ctx, c)
		}
		return nil, err
	})
}

// retryStale runs write for user and, after each *StaleError, a random
// wait and re-authorisation, again for the user as it now is: at most
// MaxWriteAttempts times, then ECONFLICT.
func (s *Service) retryStale(ctx context.Context, p Principal, user *User, write func(*User) ([]Requested, error)) ([]Requested, error) {
	for attempt := 1; ; attempt++ {
		out, err := write(user)
		var stale *StaleError
		if !errors.As(err, &stale) {
			return out, err
		}
		if attempt >= MaxWriteAttempts {
			return nil, Errorf(ECONFLICT, "The user was modified concurrently; retry the request.")
		}
		if err := s.sleep(ctx, jitter(attempt)); err != nil {
			return nil, Unavailable(err, "The request ran out of time; retry it.")
		}
		if user = stale.Current; user == nil {
			if user, err = s.store.GetUser(ctx, p.UserID); err != nil {
				return nil, err
			}
		}
		if err := CheckUser(p, user, user); err != nil {
			return nil, err
		}
	}
}

// emailNotice returns the message of kind to the old email address of c's
// user when c changes it.
func emailNotice(c Change, kind MessageKind) []Message {
	if c.Email == nil || c.User.Email == "" {
		return nil
	}
	return []Message{{
		ID: newID(), Kind: kind, To: c.User.Email, UserID: c.User.ID, Field: FieldEmail,
		NewValue: MaskEmail(c.Email.Address), SourceIP: c.Meta.SourceIP, RequestID: c.Meta.RequestID, At: c.At,
	}}
}

// requestChange stores c as pending changes, with a code message each and
// a notice to the old email, and returns where the codes went.
func (s *Service) requestChange(ctx context.Context, c Change) ([]Requested, error) {
	r := ChangeRequest{User: c.User, Replaces: map[string]*Pending{}, Actor: c.Actor, Meta: c.Meta, At: c.At}
	var out []Requested
	for _, f := range []struct {
		field  string
		email  *Email
		mobile *Mobile
	}{{FieldEmail, c.Email, nil}, {FieldMobile, nil, c.Mobile}} {
		if f.email == nil && f.mobile == nil {
			continue
		}
		old, err := s.store.GetPending(ctx, c.User.ID, f.field)
		if err != nil {
			return nil, err
		}
		sends, window, err := s.policy.nextSends(old, f.field, c.At)
		if err != nil {
			return nil, err
		}
		pd := &Pending{
			UserID: c.User.ID, Field: f.field, ID: newID(), Email: f.email, Mobile: f.mobile,
			ValidUntil: c.At.Add(s.policy.CodeTTL), TriesLeft: s.policy.MaxTries,
			Sends: sends, WindowStart: window, RequestID: c.Meta.RequestID, RequestedAt: c.At,
		}
		m := Message{
			ID: newID(), UserID: c.User.ID, Field: f.field, PendingID: pd.ID, ExpiresAt: pd.ValidUntil,
			SourceIP: c.Meta.SourceIP, RequestID: c.Meta.RequestID, At: c.At,
		}
		req := Requested{Field: f.field, ExpiresAt: pd.ValidUntil}
		if f.email != nil {
			m.Kind, m.To, req.To = MsgVerifyEmail, f.email.Address, MaskEmail(f.email.Address)
		} else {
			m.Kind, m.To, req.To = MsgVerifyMobile, f.mobile.Key, MaskPhone(f.mobile.Number)
		}
		r.Pendings, r.Replaces[f.field], r.Messages = append(r.Pendings, pd), old, append(r.Messages, m)
		out = append(out, req)
	}
	// Told now, not once verified: a stolen token must not move the address
	// away unheard.
	r.Messages = append(r.Messages, emailNotice(c, MsgEmailChangeRequested)...)
	if err := s.store.RequestChange(ctx, r); err != nil {
		return nil, err
	}
	return out, nil
}

// Verify validates codes and applies their pending changes, all or none, as
// verified, telling the old email address; ECONFLICT when another user took
// a value first. A wrong code counts against its change (the last try
// closes it); it, a field with no open change and a code not sent yet
// answer EINVALID naming the field.
func (s *Service) Verify(ctx context.Context, p Principal, user *User, codes Codes, meta RequestMeta) error {
	if err := codes.Validate(); err != nil {
		return err
	}
	now := s.now().UTC()
	var pendings []*Pending
	for _, field := range []string{FieldEmail, FieldMobile} {
		code, ok := codes[field]
		if !ok {
			continue
		}
		pd, err := s.store.GetPending(ctx, user.ID, field)
		if err != nil {
			return err
		}
		switch {
		case !pd.Open(now):
			return FieldError(field+"_code", "No change of the %s waits for a code (none was requested, it expired after %v, or it ran out of tries): request the change again.", fieldName(field), s.policy.CodeTTL)
		case pd.CodeHash == "":
			return FieldError(field+"_code", "The code for the %s has not been sent yet; wait for it.", fieldName(field))
		case !CodeMatches(code, pd.CodeSalt, pd.CodeHash):
			left, err := s.store.WrongCode(ctx, pd)
			var stale *StaleError
			switch {
			case errors.As(err, &stale):
				return FieldError(field+"_code", "The change of the %s was requested again: use the newest code.", fieldName(field))
			case err != nil:
				return err
			case left == 0:
				return FieldError(field+"_code", "The code for the %s is wrong, and no tries are left: request the change again.", fieldName(field))
			}
			return FieldError(field+"_code", "The code for the %s is wrong; %d tries left.", fieldName(field), left)
		}
		pendings = append(pendings, pd)
	}
	_, err := s.retryStale(ctx, p, user, func(user *User) ([]Requested, error) {
		c := Change{User: user, Verified: pendings, Actor: p, Meta: meta, At: s.now().UTC()}
		for _, pd := range pendings {
			if pd.Email != nil {
				c.Email = pd.Email
			}
			if pd.Mobile != nil {
				c.Mobile = pd.Mobile
			}
		}
		c.Messages = emailNotice(c, MsgEmailChanged)
		return nil, s.store.ApplyChange(ctx, c)
	})
	return err
}

// jitter returns the wait after the attempt-th lost write: uniformly random
// below raceBackoff << (attempt-1).
func jitter(attempt int) time.Duration {
	return rand.N(raceBackoff << (attempt - 1))
}

// diff returns the change from u to the validated upd, leaving out values
// u holds (by key).
func diff(u *User, upd *Update) Change {
	c := Change{User: u}
	if upd.email != nil && !holdsEmail(u, upd.email.Key) {
		c.Email = upd.email
	}
	if upd.mobile != nil && !holdsMobile(u, upd.mobile.Key) {
		c.Mobile = upd.mobile
	}
	return c
}

// holdsEmail reports whether u's email has the current key want; a key of
// an older version is recomputed from the stored value.
func holdsEmail(u *User, want string) bool {
	if u.EmailKey.Version == KeyVersion {
		return u.EmailKey.Value == want
	}
	e, err := ParseEmail(u.Email)
	return err == nil && e.Key == want
}

// holdsMobile is holdsEmail for the mobile number.
func holdsMobile(u *User, want string) bool {
	if u.PhoneKey.Version == KeyVersion {
		return u.PhoneKey.Value == want
	}
	m, err := ParseMobile(u.AreaCode, u.Phone)
	return err == nil && m.Key == want
}
