package userinfo

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// MaxWriteAttempts is how many times UpdateContact writes one request's
// change (Store.ApplyChange), recomputing it after each race lost to
// another writer, before it answers ECONFLICT.
const MaxWriteAttempts = 3

// raceBackoff bounds the wait before a change is written again after a lost
// race: a random delay up to raceBackoff << (attempt-2), so that writers
// that collided do not collide again in step.
const raceBackoff = 10 * time.Millisecond

// Service implements the modify-user-info use case on top of a Store.
type Service struct {
	store  Store
	now    func() time.Time
	policy VerifyPolicy
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewService returns a Service backed by store, using now as its clock (nil
// means time.Now) and DefaultVerifyPolicy.
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

// Authorize decides whether p may modify the information of the user with
// the given id, and returns that user as read. It returns EFORBIDDEN for
// another user's token (before reading anything, so nothing about the
// target leaks), ENOTFOUND when the user does not exist, and otherwise the
// error of the first of UserRules the user breaks.
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

// UpdateContact applies the validated update upd to user, as read by
// Authorize. Values whose keys equal the stored ones change nothing, and a
// request that changes nothing writes nothing. An applied change of the
// email tells the old address (a message in the same transaction).
//
// In an account that verifies changes, nothing is applied: each changed
// value becomes a pending change, a code goes to the new value and a
// notice to the old email, and UpdateContact returns where the codes went
// (Requested). It returns ETOOMANY when codes for a field were requested
// too often.
//
// When another writer changed the user in between (or the write found the
// token revoked, the user disabled or moved), the change is re-authorised
// and recomputed from the user as it now is, after a short random wait, at
// most MaxWriteAttempts writes in all, then ECONFLICT. An upd that fails
// Validate is refused with its EINVALID error and writes nothing.
func (s *Service) UpdateContact(ctx context.Context, p Principal, user *User, upd Update, meta RequestMeta) ([]Requested, error) {
	// This is the one place upd is validated (the HTTP handler only decodes
	// the body), so every caller gets the same checks before any write.
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

// retryStale runs write for user, and again for the user as it now is
// after each *StaleError (re-authorised, after a short random wait), at
// most MaxWriteAttempts times, then ECONFLICT.
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

// emailNotice returns the message of kind that tells the old email address
// of c's user that it is being replaced, or none when the email does not
// change or there is no old address.
func emailNotice(c Change, kind MessageKind) []Message {
	if c.Email == nil || c.User.Email == "" {
		return nil
	}
	return []Message{{
		ID: newID(), Kind: kind, To: c.User.Email, UserID: c.User.ID, Field: FieldEmail,
		NewValue: MaskEmail(c.Email.Address), SourceIP: c.Meta.SourceIP, RequestID: c.Meta.RequestID, At: c.At,
	}}
}

// requestChange stores c as pending changes with a code message each, and
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
	// Told now, not only once verified: a stolen token cannot move the
	// address away unheard.
	r.Messages = append(r.Messages, emailNotice(c, MsgEmailChangeRequested)...)
	if err := s.store.RequestChange(ctx, r); err != nil {
		return nil, err
	}
	return out, nil
}

// Verify applies the pending changes whose codes are in codes, validated
// first, all together or none: a wrong code counts against its change (and
// closes it after the last try) and answers EINVALID naming the field and
// the tries left; a field with no open change, or whose code is not sent
// yet, answers EINVALID. The right codes apply their values as verified, in
// one transaction with their guards (ECONFLICT when another user verified
// the value first), and tell the old email address.
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

// jitter returns the wait before the write that follows the attempt-th
// lost one: uniformly random below raceBackoff << (attempt-1).
func jitter(attempt int) time.Duration {
	return rand.N(raceBackoff << (attempt - 1))
}

// diff returns the change that takes u to what the validated upd asks for;
// values u already holds, compared by key, are left out.
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

// holdsEmail reports whether u's stored email has the key want under the
// current rules. A held key of the current version answers at once; an
// older one (a table not yet re-keyed) is recomputed from the stored value.
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
