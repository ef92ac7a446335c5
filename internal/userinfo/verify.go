package userinfo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// The fields a change can wait on verification for.
const (
	FieldEmail  = "email"
	FieldMobile = "mobile"
)

// VerifyPolicy says how verification of a changed email or mobile number
// works in an account that asks for it (Account.VerifyChanges).
type VerifyPolicy struct {
	// CodeTTL is how long a requested change waits for its code.
	CodeTTL time.Duration
	// MaxTries is how many wrong codes a requested change survives.
	MaxTries int
	// SendsPerHour bounds the codes sent for one user and field in an hour.
	SendsPerHour int
}

// DefaultVerifyPolicy is the policy when none is configured.
var DefaultVerifyPolicy = VerifyPolicy{CodeTTL: 15 * time.Minute, MaxTries: 5, SendsPerHour: 5}

// sendWindow is the period SendsPerHour counts over.
const sendWindow = time.Hour

// Pending is a change of one field waiting for its code: the new value
// stays out of the user and claims nothing until the code comes back.
type Pending struct {
	UserID string
	Field  string // FieldEmail or FieldMobile
	// ID names this request for a change; a newer request replaces it,
	// and the code sent for the old one no longer works.
	ID     string
	Email  *Email  // the new value when Field is FieldEmail
	Mobile *Mobile // the new value when Field is FieldMobile
	// ValidUntil is when the change lapses.
	ValidUntil time.Time
	// TriesLeft is how many wrong codes it still survives; 0 once it has
	// been verified or has run out.
	TriesLeft int
	// CodeHash and CodeSalt are the notifier's, once it has sent the code.
	CodeHash, CodeSalt string
	// Sends counts the codes requested for this user and field since
	// WindowStart (SendsPerHour).
	Sends       int
	WindowStart time.Time
	RequestID   string
	RequestedAt time.Time
}

// Open reports whether the change still waits for its code at now.
func (p *Pending) Open(now time.Time) bool {
	return p != nil && p.TriesLeft > 0 && now.Before(p.ValidUntil)
}

// Keep returns until when the pending item must stay stored: while it can
// be verified, and while its sends count against the limit.
func (p *Pending) Keep() time.Time {
	if end := p.WindowStart.Add(sendWindow); end.After(p.ValidUntil) {
		return end
	}
	return p.ValidUntil
}

// nextSends returns the send count and window of a new request at now,
// given the pending change it replaces (nil when there is none), or an
// ETOOMANY *Error with when to try again once policy's limit is reached.
func (policy VerifyPolicy) nextSends(old *Pending, field string, now time.Time) (int, time.Time, error) {
	if old == nil || !now.Before(old.WindowStart.Add(sendWindow)) {
		return 1, now, nil
	}
	if old.Sends >= policy.SendsPerHour {
		wait := old.WindowStart.Add(sendWindow).Sub(now)
		return 0, time.Time{}, &Error{Code: ETOOMANY, Field: field, RetryAfter: wait,
			Message: "Too many codes were requested for the " + fieldName(field) + "; retry later."}
	}
	return old.Sends + 1, old.WindowStart, nil
}

func fieldName(field string) string {
	if field == FieldMobile {
		return "mobile number"
	}
	return "email address"
}

// Requested tells the caller where a code went and until when it works.
type Requested struct {
	Field     string
	To        string // masked
	ExpiresAt time.Time
}

// Codes are the verification codes a caller sends back, by field; a field
// without a code is absent.
type Codes map[string]string

// Validate returns an EINVALID *Error naming the first code that is not
// CodeDigits digits, or the body when there is none at all.
func (c Codes) Validate() error {
	if len(c) == 0 {
		return FieldError("verification", "verification must contain email_code, mobile_code or both")
	}
	for _, f := range []string{FieldEmail, FieldMobile} {
		code, ok := c[f]
		if !ok {
			continue
		}
		if len(code) != CodeDigits || !isDigits(code) {
			return FieldError(f+"_code", "%s_code must be %d digits", f, CodeDigits)
		}
	}
	return nil
}

// ErrVerificationRequired is returned by Store.ApplyChange for a change the
// user's account wants verified first (Account.VerifyChanges): the change
// must be requested (Store.RequestChange) instead.
var ErrVerificationRequired = errors.New("userinfo: the account verifies changes of contact values")

// ChangeRequest is a request to change values of an account that verifies
// changes: pending changes to store (each replacing the one read before,
// Replaces[field], nil when there was none) and messages to send, checked
// against the user as read (the same re-checks as a change) and against
// the values other users hold.
type ChangeRequest struct {
	User     *User
	Pendings []*Pending
	Replaces map[string]*Pending
	Messages []Message
	Actor    Principal
	Meta     RequestMeta
	At       time.Time
}

// newID returns 16 random hex characters, from crypto/rand: an id that can
// be guessed could be raced.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 crypto/rand crashes the program instead
	return hex.EncodeToString(b[:])
}
