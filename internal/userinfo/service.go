package userinfo

import (
	"context"
	"errors"
	"time"
)

// DefaultMaxAttempts bounds how often UpdateContact recomputes a change that
// lost a race with another writer before it answers ECONFLICT.
const DefaultMaxAttempts = 3

// Service implements the modify-user-info use case on top of a Store.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service backed by store, using now as its clock (nil
// means time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
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
// Authorize. Values equal to the stored ones change nothing, and a request
// that changes nothing writes nothing. When another writer changed the user
// in between, the change is re-authorised and recomputed from the user as it
// now is, at most DefaultMaxAttempts times, then ECONFLICT. An upd that
// fails Validate is refused with its EINVALID error and writes nothing.
func (s *Service) UpdateContact(ctx context.Context, p Principal, user *User, upd Update, meta RequestMeta) error {
	// This is the one place upd is validated (the HTTP handler only decodes
	// the body), so every caller gets the same checks before any write.
	if err := upd.Validate(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		c := diff(user, upd)
		if c.Empty() {
			return nil
		}
		c.Actor, c.Meta, c.At = p, meta, s.now().UTC()
		err := s.store.ApplyChange(ctx, c)
		var stale *StaleError
		if !errors.As(err, &stale) {
			return err
		}
		if attempt >= DefaultMaxAttempts {
			return Errorf(ECONFLICT, "The user was modified concurrently; retry the request.")
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

// diff returns the change that takes u to what upd asks for; fields already
// holding the requested value are left out.
func diff(u *User, upd Update) Change {
	c := Change{User: u}
	if upd.Email != nil && *upd.Email != u.Email {
		c.Email = upd.Email
	}
	if upd.Phone != nil {
		ac, _ := CanonicalAreaCode(*upd.AreaCode)
		if ac != u.AreaCode || *upd.Phone != u.Phone {
			c.AreaCode, c.Phone = &ac, upd.Phone
		}
	}
	return c
}
