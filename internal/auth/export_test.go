package auth

// Causes the tests assert on, so that a rejection is known to be for the
// reason the case is about and not for another one.
var (
	ErrNoToken    = errNoToken
	ErrTooLong    = errTooLong
	ErrNoKID      = errNoKID
	ErrWeakKey    = errWeakKey
	ErrNoIssuedAt = errNoIssuedAt
	ErrNoSubject  = errNoSubject
	ErrNoDomainID = errNoDomainID
)
