package userinfo

import (
	"errors"
	"fmt"
	"time"
)

// Error codes; only the HTTP package maps them to statuses.
const (
	EINVALID      = "invalid"      // the request is malformed or breaks a rule of the reference
	EUNAUTHORIZED = "unauthorized" // the caller could not be authenticated
	EFORBIDDEN    = "forbidden"    // the caller may not do this
	ENOTFOUND     = "not_found"    // the user does not exist
	ECONFLICT     = "conflict"     // the value is taken, or the user kept changing under us
	EUNAVAILABLE  = "unavailable"  // a dependency is throttling, unreachable or out of time
	ETOOMANY      = "too_many"     // the caller asked for more than a limit allows; retry later
	EINTERNAL     = "internal"     // anything else; never shown to the caller
)

// Error is an error whose code and message are safe to show to the caller.
// Field names the request field at fault, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
	// RetryAfter is when a retry may succeed (ETOOMANY), or zero.
	RetryAfter time.Duration
	// Err is the underlying cause, kept for logs only.
	Err error
}

// Error returns the message, with the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause, or nil.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID *Error that names field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns an EUNAVAILABLE *Error that wraps cause for the log.
func Unavailable(cause error, format string, args ...any) *Error {
	return &Error{Code: EUNAVAILABLE, Message: fmt.Sprintf(format, args...), Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first *Error in err's
// chain, or a generic one: an EINTERNAL or unknown error's text may hold
// internals.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "An internal error occurred."
}

// ErrorRetryAfter returns the RetryAfter of the first *Error in err's
// chain, or zero.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorField returns the field named by the first *Error in err's chain, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// StaleError reports a change not applied because the user moved on since
// it was read, or the write lost a race. Current is the user as the store
// returned it, or nil when unknown; the caller recomputes from it.
type StaleError struct {
	Current *User
}

func (e *StaleError) Error() string { return "user changed since it was read" }
