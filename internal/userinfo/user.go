package userinfo

import (
	"context"
	"strings"
	"time"
)

// User is an IAM user as far as this API is concerned.
type User struct {
	ID       string
	DomainID string
	Name     string

	Email         string
	EmailVerified bool
	AreaCode      string // canonical "+<country calling code>", or "" when no phone is set
	Phone         string
	PhoneVerified bool

	// EmailKey and PhoneKey are the stored uniqueness keys: zero without a
	// value, of an older KeyVersion until the table is re-keyed.
	EmailKey Key
	PhoneKey Key

	Enabled bool
	// Version goes up by one with every change; writes are conditional on it.
	Version int64
	// TokensRevokedAt kills tokens issued before it; zero when never set.
	TokensRevokedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Principal is the authenticated caller, as the verified token says.
type Principal struct {
	UserID   string
	DomainID string
	IssuedAt time.Time
}

// RequestMeta is what the audit trail records about where a change came from.
type RequestMeta struct {
	RequestID string
	SourceIP  string
}

// Change is one computed modification of a user's contact details; a nil
// field is left as it is.
type Change struct {
	// User is the user as read; the write is conditional on User.Version.
	User *User

	Email  *Email
	Mobile *Mobile
	// Verified holds the pending changes whose codes came back: their
	// values are stored as verified, and each is closed.
	Verified []*Pending
	// Messages are written with the change, for the notifier to send.
	Messages []Message

	Actor Principal
	Meta  RequestMeta
	At    time.Time
}

// Empty reports whether the change would modify nothing.
func (c Change) Empty() bool {
	return c.Email == nil && c.Mobile == nil
}

// Fields returns the names of the fields the change modifies; a mobile
// number is areacode and phone.
func (c Change) Fields() []string {
	var f []string
	if c.Email != nil {
		f = append(f, "email")
	}
	if c.Mobile != nil {
		f = append(f, "areacode", "phone")
	}
	return f
}

// KeyVersion is the version of the rules that make uniqueness keys
// (Email.Key, Mobile.Key). V1EmailKey and V1MobileKey make version 1's, so
// that older tables can be re-keyed (infra/cmd/rekey).
const KeyVersion = 2

// Key is a uniqueness key and the version of the rules that made it. The
// zero Key is no key.
type Key struct {
	Version int
	Value   string
}

// IsZero reports whether k is no key.
func (k Key) IsZero() bool { return k == Key{} }

// CurrentKey returns value as a key of the current rules.
func CurrentKey(value string) Key { return Key{Version: KeyVersion, Value: value} }

// V1EmailKey returns the version 1 key of email: the address lower-cased.
func V1EmailKey(email string) Key { return Key{Version: 1, Value: strings.ToLower(email)} }

// V1MobileKey returns the version 1 key of a mobile number: the stored
// country code and the digits as sent.
func V1MobileKey(areaCode, phone string) Key { return Key{Version: 1, Value: areaCode + phone} }

// SetKeys sets u's EmailKey and PhoneKey to the current keys of its
// values. It returns the EINVALID *Error of a value the rules refuse.
func (u *User) SetKeys() error {
	u.EmailKey, u.PhoneKey = Key{}, Key{}
	if u.Email != "" {
		e, err := ParseEmail(u.Email)
		if err != nil {
			return err
		}
		u.EmailKey = CurrentKey(e.Key)
	}
	if u.Phone != "" {
		m, err := ParseMobile(u.AreaCode, u.Phone)
		if err != nil {
			return err
		}
		u.PhoneKey = CurrentKey(m.Key)
	}
	return nil
}

// Store keeps users. Its errors are *Error (EUNAVAILABLE for throttling and
// unreachability), *StaleError, or internal.
type Store interface {
	// GetUser returns the user with a strongly consistent read, or an
	// ENOTFOUND *Error.
	GetUser(ctx context.Context, id string) (*User, error)
	// ApplyChange writes c atomically, conditional on UserRules and
	// AccountRules as stored: the user, uniqueness guards claimed and
	// released, c.Verified closed, the messages and an audit record. It
	// returns *StaleError when the user or a pending change moved on,
	// ECONFLICT when another user holds a value, and the error of the
	// account rule c breaks.
	ApplyChange(ctx context.Context, c Change) error
	// GetPending returns the user's last pending change of field, open or
	// not (its sends count), or nil.
	GetPending(ctx context.Context, userID, field string) (*Pending, error)
	// RequestChange writes r's pending changes and messages atomically. It
	// returns *StaleError when the user or a pending change moved on or the
	// account stopped verifying changes, ECONFLICT when another user holds
	// a value, EFORBIDDEN when the account forbids the change.
	RequestChange(ctx context.Context, r ChangeRequest) error
	// WrongCode counts a wrong code against p and returns the tries left
	// (0 closes p), or *StaleError when p was replaced meanwhile.
	WrongCode(ctx context.Context, p *Pending) (int, error)
}
