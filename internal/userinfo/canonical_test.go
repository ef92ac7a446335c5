package userinfo_test

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestEmailCanonicalForms: each address either has the key given (the same
// key as every other spelling of the same address) or is refused; what is
// stored is the NFC form of what was typed.
func TestEmailCanonicalForms(t *testing.T) {
	tests := []struct {
		name, in string
		key      string // "" means refused
		stored   string // "" means the input itself
	}{
		{"Plain", "bob@example.com", "bob@example.com", ""},
		{"CaseFolded", "Bob@EXAMPLE.com", "bob@example.com", ""},
		{"FullWidthLetters", "ｂｏｂ@example.com", "bob@example.com", ""},
		{"FullWidthDomain", "bob@ｅｘａｍｐｌｅ.com", "bob@example.com", ""},
		{"NFDLocalPart", "jose\u0301@example.com", "jos\u00e9@example.com", "jos\u00e9@example.com"},
		{"NFCLocalPart", "jos\u00e9@example.com", "jos\u00e9@example.com", ""},
		{"UnicodeDomain", "bob@exämple.com", "bob@xn--exmple-cua.com", ""},
		{"PunycodeDomain", "bob@xn--exmple-cua.com", "bob@xn--exmple-cua.com", ""},
		{"PunycodeDomainUpperCase", "bob@XN--EXMPLE-CUA.COM", "bob@xn--exmple-cua.com", ""},
		{"NFDDomain", "bob@exa\u0308mple.com", "bob@xn--exmple-cua.com", "bob@ex\u00e4mple.com"},
		// Full case folding: ß is ss, ẞ too; the ligature ﬁ is fi.
		{"SharpS", "straße@example.de", "strasse@example.de", ""},
		{"CapitalSharpS", "STRAẞE@example.de", "strasse@example.de", ""},
		{"LigatureFi", "ﬁnance@example.com", "finance@example.com", ""},
		{"LigatureFf", "oﬀice@example.com", "office@example.com", ""},
		// Non-transitional IDNA keeps ß in a domain: straße.de is its own.
		{"SharpSDomain", "a@straße.de", "a@xn--strae-oqa.de", ""},
		// Turkish: dotless ı and dotted İ are letters of their own under
		// full (not Turkic) folding: İ folds to i + U+0307.
		{"TurkishDotlessI", "bıll@example.com", "bıll@example.com", ""},
		{"TurkishDottedCapitalI", "BİLL@example.com", "bi\u0307ll@example.com", ""},
		{"PlainBill", "BILL@example.com", "bill@example.com", ""},
		{"GreekFinalSigma", "ΟΔΟΣ@example.gr", "οδοσ@example.gr", ""},
		// Mixed scripts: a Cyrillic а in the domain is another domain.
		{"MixedScriptDomain", "bob@exаmple.com", "bob@xn--exmple-4nf.com", ""},
		{"Superscript", "bob²@example.com", "bob2@example.com", ""},
		// Refused: characters that do not show, or show as what they are not.
		{"ErrZeroWidthSpace", "bob\u200b@example.com", "", ""},
		{"ErrZeroWidthJoiner", "bob\u200d@example.com", "", ""},
		{"ErrRightToLeftOverride", "bob\u202e@example.com", "", ""},
		{"ErrLeftToRightMark", "bob@example\u200e.com", "", ""},
		{"ErrSoftHyphen", "b\u00adob@example.com", "", ""},
		{"ErrByteOrderMark", "\ufeffbob@example.com", "", ""},
		{"ErrVariationSelector", "bob\ufe0f@example.com", "", ""},
		{"ErrCombiningGraphemeJoiner", "bo\u034fb@example.com", "", ""},
		{"ErrHangulFiller", "bob\u3164@example.com", "", ""},
		{"ErrPrivateUse", "bob\ue000@example.com", "", ""},
		{"ErrUnassigned", "bob\U000e0fff@example.com", "", ""},
		{"ErrControl", "bob\u0085@example.com", "", ""},
		{"ErrNoBreakSpace", "bob\u00a0@example.com", "", ""},
		{"ErrIdeographicSpace", "bob\u3000@example.com", "", ""},
		{"ErrFullWidthAt", "bob＠example.com", "", ""},
		{"ErrBadPunycode", "bob@xn--zz.com", "", ""},
		{"ErrUnderscoreDomain", "bob@exa_mple.com", "", ""},
		{"ErrLabelTooLong", "bob@" + strings.Repeat("a", 64) + ".com", "", ""},
		{"ErrBidiDomain", "bob@a\u05d0.com", "", ""},
		{"ErrDomainLiteral", "bob@[127.0.0.1]", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := userinfo.ParseEmail(tt.in)
			if tt.key == "" {
				if err == nil || userinfo.ErrorField(err) != "email" {
					t.Fatalf("ParseEmail(%q) = %+v, %v; want an error naming email", tt.in, e, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEmail(%q): %v", tt.in, err)
			}
			stored := tt.stored
			if stored == "" {
				stored = tt.in
			}
			if e.Key != tt.key || e.Address != stored {
				t.Errorf("ParseEmail(%q) = key %q, stored %q; want %q, %q", tt.in, e.Key, e.Address, tt.key, stored)
			}
		})
	}
}

// TestEmailLengthLimit: 255 characters, counted as sent and as stored.
func TestEmailLengthLimit(t *testing.T) {
	at255 := strings.Repeat("é", 243) + "@example.com"
	if _, err := userinfo.ParseEmail(at255); err != nil {
		t.Errorf("255 characters (486 bytes): %v", err)
	}
	if _, err := userinfo.ParseEmail("é" + at255); err == nil {
		t.Error("256 characters accepted")
	}
	// 300 characters as sent that compose to fewer in NFC: still too long.
	decomposed := strings.Repeat("e\u0301", 150) + "@example.com"
	if _, err := userinfo.ParseEmail(decomposed); err == nil {
		t.Error("an address over the limit as sent was accepted")
	}
}

// TestMobileCanonicalForms: each number either has the E.164 key given
// (one key for every spelling of one number) or is refused, naming the
// member it came in.
func TestMobileCanonicalForms(t *testing.T) {
	tests := []struct {
		name             string
		areaCode, number string
		key              string // "" means refused
	}{
		{"China", "+86", "13800000055", "+8613800000055"},
		{"ChinaLeading00", "0086", "13800000055", "+8613800000055"},
		{"ChinaBare", "86", "13800000055", "+8613800000055"},
		{"UKWithTrunkZero", "+44", "07911123456", "+447911123456"},
		{"UKWithoutTrunkZero", "+44", "7911123456", "+447911123456"},
		{"RussiaTrunkEight", "+7", "89123456789", "+79123456789"},
		{"Russia", "+7", "9123456789", "+79123456789"},
		{"USTrunkOne", "+1", "12015550123", "+12015550123"},
		{"US", "+1", "2015550123", "+12015550123"},
		// Argentina's mobile prefix 15 becomes the international 9.
		{"ArgentinaNational", "+54", "0111512345678", "+5491112345678"},
		{"ArgentinaInternational", "+54", "91112345678", "+5491112345678"},
		// Italy keeps its leading zero: it is not a trunk prefix.
		{"ItalyLeadingZero", "+39", "0612345678", "+390612345678"},
		{"NonGeographic", "+800", "12345678", "+80012345678"},
		// Refused.
		{"ErrCountryCodeRepeated", "+86", "8613800000055", ""},
		{"ErrCountryCodeInNumber", "+86", "+8613800000055", ""},
		{"ErrInternationalPrefixInNumber", "+44", "00447911123456", ""},
		{"ErrSpaces", "+86", "138 0000 0055", ""},
		{"ErrDashes", "+86", "138-0000-0055", ""},
		{"ErrLeadingSpace", "+86", " 13800000055", ""},
		{"ErrFullWidthDigits", "+86", "１３８００００００５５", ""},
		{"ErrTooShort", "+86", "1", ""},
		{"ErrTooLongForTheCountry", "+44", "791112345678", ""},
		{"ErrTooLongForAnyCountry", "+1", strings.Repeat("2", 18), ""},
		{"ErrOver32Digits", "+1", strings.Repeat("2", 33), ""},
		{"ErrAreaCodeWithSpace", "+86 ", "13800000055", ""},
		{"ErrAreaCodeDash", "-86", "13800000055", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := userinfo.ParseMobile(tt.areaCode, tt.number)
			if tt.key == "" {
				if err == nil || userinfo.ErrorField(err) == "" {
					t.Fatalf("ParseMobile(%q, %q) = %+v, %v; want an error naming a field", tt.areaCode, tt.number, m, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMobile(%q, %q): %v", tt.areaCode, tt.number, err)
			}
			if m.Key != tt.key || m.Number != tt.number || !strings.HasPrefix(m.Key, m.AreaCode) {
				t.Errorf("ParseMobile(%q, %q) = %+v, want key %q", tt.areaCode, tt.number, m, tt.key)
			}
		})
	}
}

// TestUnicodeTablesAgree: "unassigned" is judged with the unicode package,
// normalisation, folding and IDNA with x/text's and x/net's tables; all
// must be of one Unicode version, or a character could be unassigned to
// one and mapped by another.
func TestUnicodeTablesAgree(t *testing.T) {
	for name, v := range map[string]string{"norm": norm.Version, "cases": cases.UnicodeVersion, "idna": idna.UnicodeVersion} {
		if v != unicode.Version {
			t.Errorf("%s tables are Unicode %s, the unicode package's %s", name, v, unicode.Version)
		}
	}
}
