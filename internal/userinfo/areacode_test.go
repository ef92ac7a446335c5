package userinfo_test

import (
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestCallingCodesMatchLibphonenumber keeps the built-in table honest: it must
// accept exactly the calling codes libphonenumber knows. The library is a test
// dependency only, so its metadata stays out of the Lambda binary.
func TestCallingCodesMatchLibphonenumber(t *testing.T) {
	known := phonenumbers.GetSupportedCallingCodes()
	for code := 1; code <= 999; code++ {
		s := strconv.Itoa(code)
		_, ok := userinfo.CanonicalAreaCode(s)
		if _, want := known[code]; ok != want {
			t.Errorf("CanonicalAreaCode(%q) accepted = %v, libphonenumber knows it = %v", s, ok, want)
		}
	}
}
