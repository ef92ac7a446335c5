package userinfo

import (
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
