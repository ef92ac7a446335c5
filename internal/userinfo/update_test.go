package userinfo_test

import (
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func ptr(s string) *string { return &s }

func TestUpdateValidate(t *testing.T) {
	tests := []struct {
		name  string
		upd   userinfo.Update
		field string // "" means valid
	}{
		{"ReferenceExample", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr("18292010816"), Email: ptr("abcdefg@123.com")}, ""},
		{"EmailOnly", userinfo.Update{Email: ptr("a@example.com")}, ""},
		{"PhoneWithPlusAreaCode", userinfo.Update{AreaCode: ptr("+86"), Phone: ptr("13800000055")}, ""},
		{"PhoneWithBareAreaCode", userinfo.Update{AreaCode: ptr("86"), Phone: ptr("13800000055")}, ""},
		{"HuaweiMobile", userinfo.Update{Mobile: ptr("0086-12345678910")}, ""},
		{"HuaweiMobilePlus", userinfo.Update{Mobile: ptr("+86-13800000055"), Email: ptr("a@example.com")}, ""},
		{"HuaweiMobileBare", userinfo.Update{Mobile: ptr("44-7911123456")}, ""},
		{"MobileWithAreaCode", userinfo.Update{Mobile: ptr("13800000055"), AreaCode: ptr("0086")}, ""},
		{"TrunkPrefixKept", userinfo.Update{Phone: ptr("07911123456"), AreaCode: ptr("+44")}, ""},
		{"ErrPhoneAndMobile", userinfo.Update{Phone: ptr("13800000055"), AreaCode: ptr("0086"), Mobile: ptr("0086-13800000055")}, "mobile"},
		{"ErrMobileTwoCountryCodes", userinfo.Update{Mobile: ptr("0086-13800000055"), AreaCode: ptr("0086")}, "mobile"},
		{"ErrMobileWithoutCountryCode", userinfo.Update{Mobile: ptr("13800000055")}, "mobile"},
		{"ErrMobileE164WithoutDash", userinfo.Update{Mobile: ptr("+8613800000055")}, "mobile"},
		{"ErrMobileBadCountryCode", userinfo.Update{Mobile: ptr("0089-13800000055")}, "mobile"},
		{"ErrMobileEmptyCountryCode", userinfo.Update{Mobile: ptr("-13800000055")}, "mobile"},
		{"ErrMobileEmptyNumber", userinfo.Update{Mobile: ptr("0086-")}, "mobile"},
		{"ErrMobileEmpty", userinfo.Update{Mobile: ptr("")}, "mobile"},
		{"ErrMobileTwoDashes", userinfo.Update{Mobile: ptr("0086-138-0000-0055")}, "mobile"},
		{"ErrMobileSpaces", userinfo.Update{Mobile: ptr("0086 13800000055")}, "mobile"},
		{"ErrMobileNotPossible", userinfo.Update{Mobile: ptr("0086-8613800000055")}, "mobile"},
		{"ErrMobileWithAreaCodeNotDigits", userinfo.Update{Mobile: ptr("138-00000055"), AreaCode: ptr("0086")}, "mobile"},
		{"ErrMobileWithBadAreaCode", userinfo.Update{Mobile: ptr("13800000055"), AreaCode: ptr("CN")}, "areacode"},
		{"ErrPhoneNotPossible", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr("1")}, "phone"},
		{"ErrPhoneCountryCodeRepeated", userinfo.Update{AreaCode: ptr("+86"), Phone: ptr("8613800000055")}, "phone"},
		{"ErrPhone32DigitsNotPossible", userinfo.Update{AreaCode: ptr("86"), Phone: ptr(strings.Repeat("9", 32))}, "phone"},
		{"EmailAt255Chars", userinfo.Update{Email: ptr(strings.Repeat("a", 243) + "@example.com")}, ""},
		{"EmailUnicodeLocalPart", userinfo.Update{Email: ptr("jürgen@example.com")}, ""},
		{"ErrEmpty", userinfo.Update{}, "user"},
		{"ErrEmailEmpty", userinfo.Update{Email: ptr("")}, "email"},
		{"ErrEmailTooLong", userinfo.Update{Email: ptr(strings.Repeat("a", 244) + "@example.com")}, "email"},
		{"ErrEmailDisplayName", userinfo.Update{Email: ptr("John <john@example.com>")}, "email"},
		{"ErrEmailAngleBrackets", userinfo.Update{Email: ptr("<john@example.com>")}, "email"},
		{"ErrEmailWhitespace", userinfo.Update{Email: ptr("john @example.com")}, "email"},
		{"ErrEmailTrailingNewline", userinfo.Update{Email: ptr("john@example.com\n")}, "email"},
		{"ErrEmailNoAt", userinfo.Update{Email: ptr("john.example.com")}, "email"},
		{"ErrEmailTwoAts", userinfo.Update{Email: ptr("a@b@example.com")}, "email"},
		{"ErrEmailComment", userinfo.Update{Email: ptr("john@example.com(comment)")}, "email"},
		{"ErrEmailNoDomain", userinfo.Update{Email: ptr("john@")}, "email"},
		{"ErrPhoneWithoutAreaCode", userinfo.Update{Phone: ptr("18292010816")}, "areacode"},
		{"ErrAreaCodeWithoutPhone", userinfo.Update{AreaCode: ptr("0086")}, "phone"},
		{"ErrEmailZeroWidthSpace", userinfo.Update{Email: ptr("bob\u200b@example.com")}, "email"},
		{"ErrPhoneEmpty", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr("")}, "phone"},
		{"ErrPhoneTooLong", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr(strings.Repeat("1", 33))}, "phone"},
		{"ErrPhoneNotDigits", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr("182-9201")}, "phone"},
		{"ErrPhoneNonASCIIDigits", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr("١٢٣")}, "phone"},
		{"ErrPhonePlus", userinfo.Update{AreaCode: ptr("0086"), Phone: ptr("+8618292010816")}, "phone"},
		{"ErrAreaCodeUnassigned", userinfo.Update{AreaCode: ptr("0089"), Phone: ptr("13800000055")}, "areacode"},
		{"ErrAreaCodeEmpty", userinfo.Update{AreaCode: ptr(""), Phone: ptr("13800000055")}, "areacode"},
		{"ErrAreaCodeLetters", userinfo.Update{AreaCode: ptr("CN"), Phone: ptr("13800000055")}, "areacode"},
		{"ErrAreaCodeTooLong", userinfo.Update{AreaCode: ptr("+8600"), Phone: ptr("13800000055")}, "areacode"},
		{"ErrAreaCodeDoublePrefix", userinfo.Update{AreaCode: ptr("+0086"), Phone: ptr("13800000055")}, "areacode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.upd.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if got := userinfo.ErrorCode(err); got != userinfo.EINVALID {
				t.Fatalf("ErrorCode = %q (%v), want %q", got, err, userinfo.EINVALID)
			}
			if got := userinfo.ErrorField(err); got != tt.field {
				t.Errorf("ErrorField = %q, want %q", got, tt.field)
			}
			if msg := userinfo.ErrorMessage(err); !strings.Contains(msg, tt.field) {
				t.Errorf("ErrorMessage %q does not name the field %q", msg, tt.field)
			}
		})
	}
}

func TestCanonicalAreaCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0086", "+86", true}, {"+86", "+86", true}, {"86", "+86", true},
		{"1", "+1", true}, {"+1", "+1", true}, {"001", "+1", true},
		{"00358", "+358", true}, {"800", "+800", true},
		{"", "", false}, {"+", "", false}, {"00", "", false}, {"0", "", false},
		{"089", "", false}, {"+999", "", false}, {"+8 6", "", false}, {"+86\n", "", false},
		{"++86", "", false}, {"1234", "", false}, {"٨٦", "", false},
	}
	for _, tt := range tests {
		got, ok := userinfo.CanonicalAreaCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalAreaCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
