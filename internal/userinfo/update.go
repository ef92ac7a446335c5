package userinfo

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits from the API reference.
const (
	MaxEmailLength = 255 // characters
	MaxPhoneDigits = 32
)

// Update is the body of a modify-user-info request: the "user" object. A nil
// field was not in the request.
type Update struct {
	Email    *string
	AreaCode *string
	Phone    *string
}

// Validate checks u against the API reference and returns an EINVALID *Error
// naming the first field at fault, or nil.
func (u *Update) Validate() error {
	if u.Email == nil && u.Phone == nil && u.AreaCode == nil {
		return FieldError("user", "user must contain email, or phone with areacode")
	}
	if u.Email != nil {
		if err := validateEmail(*u.Email); err != nil {
			return err
		}
	}
	// The reference: "To change the mobile number, you must specify the
	// country code", and the country code alone changes nothing.
	switch {
	case u.Phone != nil && u.AreaCode == nil:
		return FieldError("areacode", "areacode is required when phone is given")
	case u.Phone == nil && u.AreaCode != nil:
		return FieldError("phone", "phone is required when areacode is given")
	case u.Phone != nil:
		if !isPhone(*u.Phone) {
			return FieldError("phone", "phone must be 1 to %d digits", MaxPhoneDigits)
		}
		if _, ok := CanonicalAreaCode(*u.AreaCode); !ok {
			return FieldError("areacode", "areacode must be a country calling code, such as 0086, +86 or 86")
		}
	}
	return nil
}

func validateEmail(s string) error {
	if s == "" {
		return FieldError("email", "email must not be empty")
	}
	if utf8.RuneCountInString(s) > MaxEmailLength {
		return FieldError("email", "email must be at most %d characters", MaxEmailLength)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return FieldError("email", "email must not contain spaces or control characters")
		}
	}
	// net/mail accepts display names, angle brackets and comments; a plain
	// addr-spec is one it parses back to exactly itself, with no name.
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.Count(s, "@") != 1 {
		return FieldError("email", "email must be a plain address such as name@example.com")
	}
	return nil
}

func isPhone(s string) bool {
	if len(s) == 0 || len(s) > MaxPhoneDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
