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

	Enabled bool
	// Version increases by one with every change; writes are conditional on it.
	Version int64
	// TokensRevokedAt is when the user's tokens were last revoked: a token
	// issued before it is dead. Zero when never.
	TokensRevokedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Account holds the per-account (domain) protect policy that decides whether
// users may manage their own contact details. Absent policy means allowed.
type Account struct {
	DomainID     string
	ManageEmail  bool
	ManageMobile bool
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

// Change is one computed modification of a user's contact details. A nil
// field is left as it is.
type Change struct {
	// User is the user as read; the write is conditional on User.Version.
	User *User

	Email    *string
	AreaCode *string
	Phone    *string

	Actor Principal
	Meta  RequestMeta
	At    time.Time
}

// Empty reports whether the change would modify nothing.
func (c Change) Empty() bool {
	return c.Email == nil && c.Phone == nil && c.AreaCode == nil
}

// Fields returns the names of the fields the change modifies, in a fixed order.
func (c Change) Fields() []string {
	var f []string
	if c.Email != nil {
		f = append(f, "email")
	}
	if c.AreaCode != nil {
		f = append(f, "areacode")
	}
	if c.Phone != nil {
		f = append(f, "phone")
	}
	return f
}

// EmailKey returns the form of an email address under which it is unique in
// an account: addresses are compared case-insensitively.
func EmailKey(email string) string { return strings.ToLower(email) }

// PhoneKey returns the form of a mobile number under which it is unique in
// an account: the canonical country calling code followed by the number.
func PhoneKey(areaCode, phone string) string { return areaCode + phone }

// Store keeps users. Implementations classify every failure as an *Error
// (EUNAVAILABLE for throttling and unreachability) or return *StaleError.
type Store interface {
	// GetUser returns the user with a strongly consistent read, or an
	// ENOTFOUND *Error when there is none.
	GetUser(ctx context.Context, id string) (*User, error)
	// ApplyChange writes c atomically: the user update conditional on
	// c.User.Version, uniqueness guards for new values, release of old ones,
	// the account's self-management policy, and an audit record. It returns
	// *StaleError when the user moved on, ECONFLICT when a value is taken by
	// another user, EFORBIDDEN when the account forbids the change.
	ApplyChange(ctx context.Context, c Change) error
}
