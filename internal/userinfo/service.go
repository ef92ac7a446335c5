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
	store Store
	now   func() time.Time
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewService returns a Service backed by store, using now as its clock (nil
// means time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, sleep: sleepCtx}
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
// another user's or account's token (before reading anything, so nothing
// about the target leaks), ENOTFOUND when the user does not exist,
// EUNAUTHORIZED for a token issued before the user's tokens were revoked,
// and EFORBIDDEN for a disabled user.
func (s *Service) Authorize(ctx context.Context, p Principal, userID string) (*User, error) {
	if p.UserID != userID {
		return nil, Errorf(EFORBIDDEN, "You may only modify your own information.")
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return u, authorizeUser(p, u)
}

// authorizeUser is what Authorize decides from the user as read. The
// store's write re-checks each of these conditions (see Store.ApplyChange).
func authorizeUser(p Principal, u *User) error {
	if !u.TokensRevokedAt.IsZero() && p.IssuedAt.Before(u.TokensRevokedAt) {
		return Errorf(EUNAUTHORIZED, "The token has been revoked.")
	}
	if u.DomainID != p.DomainID {
		return Errorf(EFORBIDDEN, "You may only modify your own information.")
	}
	if !u.Enabled {
		return Errorf(EFORBIDDEN, "The user is disabled.")
	}
	return nil
}

// UpdateContact applies the validated update upd to user, as read by
// Authorize. Values whose keys equal the stored ones change nothing, and a
// request that changes nothing writes nothing. When another writer changed
// the user in between (or the write found the token revoked, the user
// disabled or moved), the change is re-authorised and recomputed from the
// user as it now is, after a short random wait, at most MaxWriteAttempts
// writes in all, then ECONFLICT. An upd that fails Validate is refused with
// its EINVALID error and writes nothing.
func (s *Service) UpdateContact(ctx context.Context, p Principal, user *User, upd Update, meta RequestMeta) error {
	// This is the one place upd is validated (the HTTP handler only decodes
	// the body), so every caller gets the same checks before any write.
	if err := upd.Validate(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		c := diff(user, &upd)
		if c.Empty() {
			return nil
		}
		c.Actor, c.Meta, c.At = p, meta, s.now().UTC()
		err := s.store.ApplyChange(ctx, c)
		var stale *StaleError
		if !errors.As(err, &stale) {
			return err
		}
		if attempt >= MaxWriteAttempts {
			return Errorf(ECONFLICT, "The user was modified concurrently; retry the request.")
		}
		if err := s.sleep(ctx, jitter(attempt)); err != nil {
			return Unavailable(err, "The request ran out of time; retry it.")
		}
		if user = stale.Current; user == nil {
			if user, err = s.store.GetUser(ctx, p.UserID); err != nil {
				return err
			}
		}
		if err := authorizeUser(p, user); err != nil {
			return err
		}
	}
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
