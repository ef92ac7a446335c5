package userinfo

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:generate go run ./internal/plangen/cmd -o plans.go

// MaxPhoneDigits is the reference's limit on a mobile number: "a maximum
// of 32 digits", the country code not counted.
const MaxPhoneDigits = 32

// Mobile is a mobile number as the API accepts it.
type Mobile struct {
	// AreaCode is the country calling code in its stored form, "+86".
	AreaCode string
	// Number is the digits as sent, trunk prefix included: stored and shown.
	Number string
	// Key is what uniqueness and "already so" compare: the number in E.164
	// ("+447911123456"), trunk prefixes dropped as libphonenumber drops them.
	Key string
}

// ParseMobile returns the mobile number areaCode + number. It returns an
// EINVALID *Error naming "areacode" when areaCode is not a country calling
// code, and "phone" when number is not 1 to MaxPhoneDigits ASCII digits or
// not a possible number of that country (libphonenumber's test).
func ParseMobile(areaCode, number string) (Mobile, error) {
	return parseMobile(areaCode, number, "areacode", "phone")
}

// parseMobile is ParseMobile with the request fields the parts came from,
// for its errors to name.
func parseMobile(areaCode, number, areaField, numberField string) (Mobile, error) {
	i := planIndex(areaCode)
	if i < 0 {
		if areaField == numberField {
			return Mobile{}, FieldError(areaField, "%s must start with a country calling code, such as 0086-, +86- or 86-", areaField)
		}
		return Mobile{}, FieldError(areaField, "%s must be a country calling code, such as 0086, +86 or 86", areaField)
	}
	if !isDigits(number) {
		return Mobile{}, FieldError(numberField, "%s must be 1 to %d digits after the country code", numberField, MaxPhoneDigits)
	}
	cc := plans[i].areaCode()
	key, ok := mobileKey(i, number)
	if !ok {
		return Mobile{}, FieldError(numberField, "%s is not a possible number for country code %s", numberField, cc)
	}
	return Mobile{AreaCode: cc, Number: number, Key: key}, nil
}

func isDigits(s string) bool {
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

// CanonicalAreaCode returns the "+<code>" form of a country calling code
// written "0086", "+86" or "86", and false for one libphonenumber lacks.
func CanonicalAreaCode(s string) (string, bool) {
	i := planIndex(s)
	if i < 0 {
		return "", false
	}
	return plans[i].areaCode(), true
}

// plan is the part of libphonenumber's metadata for one country calling
// code that mobileKey needs; plans.go is generated.
type plan struct {
	code             uint16
	prefixForParsing string // national_prefix_for_parsing, a regexp; "" for none
	prefixTransform  string // national_prefix_transform_rule; "" for none
	generalPattern   string // the general national number pattern
	lengths          uint32 // bit n: n digits is a possible length
	localLengths     uint32 // bit n: n digits is possible for local dialling only
}

// planIndex returns the index in plans of a country calling code written
// "0086", "+86" or "86", or -1 for one libphonenumber lacks.
func planIndex(s string) int {
	digits := s
	switch {
	case strings.HasPrefix(s, "+"):
		digits = s[1:]
	case strings.HasPrefix(s, "00"):
		digits = s[2:]
	}
	if len(digits) == 0 || len(digits) > 3 || digits[0] == '0' || !isDigits(digits) {
		return -1
	}
	code, _ := strconv.Atoi(digits) // 1 to 3 ASCII digits: cannot fail
	i := sort.Search(len(plans), func(i int) bool { return int(plans[i].code) >= code })
	if i == len(plans) || int(plans[i].code) != code {
		return -1
	}
	return i
}

// areaCode returns the stored form of p's calling code, "+86".
func (p *plan) areaCode() string { return "+" + strconv.Itoa(int(p.code)) }

// planRegexps holds each plan's regular expressions, compiled on first use:
// a process needs few of them, and compiling all would slow cold starts.
var planRegexps [len(plans)]struct {
	once            sync.Once
	prefix, general *regexp.Regexp
}

// regexps returns the regular expressions of plans[i].
func regexps(i int) (prefix, general *regexp.Regexp) {
	p, r := &plans[i], &planRegexps[i]
	r.once.Do(func() {
		if p.prefixForParsing != "" {
			r.prefix = regexp.MustCompile("^(?:" + p.prefixForParsing + ")")
		}
		r.general = regexp.MustCompile("^(?:" + p.generalPattern + ")$")
	})
	return r.prefix, r.general
}

// libphonenumber's bounds on a national significant number.
const (
	minNSN = 2
	maxNSN = 17
)

// lengthFit is libphonenumber's ValidationResult for a number's length.
type lengthFit int

const (
	possible lengthFit = iota
	possibleLocalOnly
	tooShort
	tooLong
	invalidLength
)

// fit is libphonenumber's testNumberLength for n digits under p.
func (p *plan) fit(n int) lengthFit {
	has := func(m uint32) bool { return n < 32 && m&(1<<n) != 0 }
	switch {
	case p.lengths == 0:
		return invalidLength
	case has(p.localLengths):
		return possibleLocalOnly
	case has(p.lengths):
		return possible
	case n < lowestBit(p.lengths):
		return tooShort
	case n > highestBit(p.lengths):
		return tooLong
	}
	return invalidLength
}

func lowestBit(m uint32) int {
	for i := 0; i < 32; i++ {
		if m&(1<<i) != 0 {
			return i
		}
	}
	return 32
}

func highestBit(m uint32) int {
	for i := 31; i >= 0; i-- {
		if m&(1<<i) != 0 {
			return i
		}
	}
	return -1
}

// mobileKey returns the E.164 form of digits under plans[i], and whether it
// is a possible number: libphonenumber's Parse, IsPossibleNumber and
// Format(E164) for a known calling code and ASCII digits, step by step in
// the library's order. TestMobileKeyMatchesLibphonenumber holds it to the
// library.
func mobileKey(i int, digits string) (string, bool) {
	p := &plans[i]
	national := digits
	if len(national) < minNSN {
		return "", false
	}
	// Parse: drop a trunk prefix and carrier code when what is left has a
	// possible length.
	if stripped := stripNationalPrefix(i, national); stripped != national {
		switch p.fit(len(stripped)) {
		case tooShort, possibleLocalOnly, invalidLength:
		default:
			national = stripped
		}
	}
	if len(national) < minNSN || len(national) > maxNSN {
		return "", false
	}
	// IsPossibleNumber.
	if p.generalPattern != "" {
		if f := p.fit(len(national)); f != possible && f != possibleLocalOnly {
			return "", false
		}
	}
	return p.areaCode() + national, true
}

// stripNationalPrefix is libphonenumber's
// maybeStripNationalPrefixAndCarrierCode under plans[i]: number without its
// national prefix, or transformed, or unchanged when the prefix does not
// apply.
func stripNationalPrefix(i int, number string) string {
	prefix, general := regexps(i)
	if prefix == nil {
		return number
	}
	groups := prefix.FindStringSubmatchIndex(number)
	if groups == nil {
		return number
	}
	viable := general.MatchString(number)
	last := len(groups)/2 - 1
	if plans[i].prefixTransform == "" || groups[last*2] < 0 {
		rest := number[groups[1]:]
		if viable && !general.MatchString(rest) {
			return number
		}
		return rest
	}
	transformed := prefix.ReplaceAllString(number, plans[i].prefixTransform)
	if viable && !general.MatchString(transformed) {
		return number
	}
	return transformed
}
