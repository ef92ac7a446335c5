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

// VerifyPolicy is how accounts with Account.VerifyChanges verify a change.
type VerifyPolicy struct {
	// CodeTTL is how long a requested change waits for its code.
	CodeTTL time.Duration
	// MaxTries is how many wrong codes a requested change survives.
	MaxTries int
	// SendsPerHour bounds the codes requested for one user and field an hour.
	SendsPerHour int
}

// DefaultVerifyPolicy is the policy when none is configured.
var DefaultVerifyPolicy = VerifyPolicy{CodeTTL: 15 * time.Minute, MaxTries: 5, SendsPerHour: 5}

// sendWindow is the period SendsPerHour counts over.
const sendWindow = time.Hour

// Pending is a change of one field waiting for its code: the new value
// stays out of the user, and claims no guard, until then.
type Pending struct {
	UserID string
	Field  string // FieldEmail or FieldMobile
	// ID names the request; a newer one replaces it, and the old code
	// stops working.
	ID     string
	Email  *Email  // the new value when Field is FieldEmail
	Mobile *Mobile // the new value when Field is FieldMobile
	// ValidUntil is when the change lapses.
	ValidUntil time.Time
	// TriesLeft is how many wrong codes it still survives; 0 once verified
	// or run out.
	TriesLeft int
	// CodeHash and CodeSalt are the notifier's, once it has sent the code.
	CodeHash, CodeSalt string
	// Sends counts the codes requested since WindowStart (SendsPerHour).
	Sends       int
	WindowStart time.Time
	RequestID   string
	RequestedAt time.Time
}

// Open reports whether the change still waits for its code at now.
func (p *Pending) Open(now time.Time) bool {
	return p != nil && p.TriesLeft > 0 && now.Before(p.ValidUntil)
}

// Keep returns until when p must stay stored: while it can be verified or
// its sends count against the limit.
func (p *Pending) Keep() time.Time {
	if end := p.WindowStart.Add(sendWindow); end.After(p.ValidUntil) {
		return end
	}
	return p.ValidUntil
}

// nextSends returns the send count and window of a request at now that
// replaces old (or nil), or ETOOMANY with RetryAfter at policy's limit.
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

// Codes are the verification codes a caller sends back, by field.
type Codes map[string]string

// Validate returns an EINVALID *Error naming the first code that is not
// CodeDigits digits, or "verification" when there is none.
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

// ErrVerificationRequired is Store.ApplyChange's error for an account that
// verifies changes: the change must go through Store.RequestChange.
var ErrVerificationRequired = errors.New("userinfo: the account verifies changes of contact values")

// ChangeRequest is a change in an account that verifies changes: pending
// changes to store, each replacing Replaces[field] (nil for none), and
// messages to send. The store checks it as it checks a Change.
type ChangeRequest struct {
	User     *User
	Pendings []*Pending
	Replaces map[string]*Pending
	Messages []Message
	Actor    Principal
	Meta     RequestMeta
	At       time.Time
}

// newID returns 16 random hex characters: a guessable id could be raced.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 crypto/rand crashes the program instead
	return hex.EncodeToString(b[:])
}
