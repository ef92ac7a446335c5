package userinfo

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaskEmail returns a form of an email address fit for logs and the audit
// trail: "john@example.com" becomes "j***@e***.com". It never returns more
// than the first character of each part and the top-level domain.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok {
		return "***"
	}
	tld := ""
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		tld = domain[i:]
		domain = domain[:i]
	}
	return firstRune(local) + "***@" + firstRune(domain) + "***" + tld
}

// MaskPhone returns a form of a mobile number fit for logs and the audit
// trail: "18292010816" becomes "***0816". Short numbers show at most half of
// their digits.
func MaskPhone(phone string) string {
	n := min(4, len(phone)/2)
	return "***" + phone[len(phone)-n:]
}

func firstRune(s string) string {
	if s == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}

var (
	// tokenShaped matches a JWT (three base64url parts, the first one a
	// JSON header's "eyJ"): a token, or a large part of one.
	tokenShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	// emailShaped matches anything that looks like an email address; it is
	// broad on purpose, since over-masking a log line costs nothing.
	emailShaped = regexp.MustCompile(`[^\s@"'<>()\[\]{},;:]+@[^\s@"'<>()\[\]{},;:]+`)
	// digitRun matches 6 or more digits in a row: a mobile number, or
	// part of one.
	digitRun = regexp.MustCompile(`[0-9]{6,}`)
)

// Redact returns s with everything shaped like a token cut out and every
// email address or mobile number masked as the audit trail masks them. It
// is for text that goes to logs and was not written by this code (a
// dependency's error, a panic value): this code's own messages never hold
// such values.
func Redact(s string) string {
	s = tokenShaped.ReplaceAllLiteralString(s, "[token]")
	s = emailShaped.ReplaceAllStringFunc(s, MaskEmail)
	return digitRun.ReplaceAllStringFunc(s, MaskPhone)
}

// Truncate returns s cut to at most n bytes on a character boundary, with
// "…" appended when it was cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
