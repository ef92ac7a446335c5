package userinfo

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaskEmail returns an email address for logs and the audit trail: the
// first character of each part and the top-level domain, "j***@e***.com".
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

// MaskPhone returns a mobile number for logs and the audit trail:
// "***0816", at most the last four digits and half of them.
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
	// tokenShaped matches a JWT, or the start of one.
	tokenShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	// emailShaped is broad on purpose: over-masking a log line costs nothing.
	emailShaped = regexp.MustCompile(`[^\s@"'<>()\[\]{},;:]+@[^\s@"'<>()\[\]{},;:]+`)
	// digitRun matches a mobile number or part of one.
	digitRun = regexp.MustCompile(`[0-9]{6,}`)
)

// Redact returns s with token-shaped text cut out and email addresses and
// runs of six or more digits masked. It is for text from outside this code
// (a dependency's error, a panic value) that goes to a log.
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
