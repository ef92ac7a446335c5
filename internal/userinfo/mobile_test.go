package userinfo_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
	"github.com/iam-userinfo/userinfo/internal/userinfo/internal/plangen"
)

// TestPlansGenerated holds the committed plans.go to what the generator
// makes from the library in go.mod: after upgrading the library, run
// go generate ./internal/userinfo.
func TestPlansGenerated(t *testing.T) {
	want, err := plangen.Render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("plans.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("plans.go differs from what plangen renders from github.com/nyaruka/phonenumbers: run go generate ./internal/userinfo")
	}
}

// TestCallingCodesMatchLibphonenumber: the API accepts exactly the calling
// codes libphonenumber knows.
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

// libphonenumber answers what the library itself says of "+<code><digits>":
// whether it is a possible number, and its E.164 form.
func libphonenumber(code int, digits string) (string, bool) {
	num, err := phonenumbers.Parse("+"+strconv.Itoa(code)+digits, "ZZ")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// TestMobileKeyMatchesLibphonenumber holds ParseMobile, which runs on the
// generated data, to the library's Parse, IsPossibleNumber and Format(E164)
// over a large sample for every calling code: random digit strings, every
// example number the metadata has in national form (trunk prefixes and
// carrier codes included), each one digit short and long, and numbers that
// start with each plan's national prefix.
func TestMobileKeyMatchesLibphonenumber(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 2026))
	randomDigits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	cases, possible, stripped := 0, 0, 0
	for code := range phonenumbers.GetSupportedCallingCodes() {
		var samples []string
		for range 200 {
			samples = append(samples, randomDigits(1+rng.IntN(18)))
		}
		for _, region := range phonenumbers.GetRegionCodesForCountryCode(code) {
			var examples []*phonenumbers.PhoneNumber
			if region == "001" {
				examples = append(examples, phonenumbers.GetExampleNumberForNonGeoEntity(code))
			} else {
				for _, typ := range types {
					examples = append(examples, phonenumbers.GetExampleNumberForType(region, typ))
				}
			}
			ndd := phonenumbers.GetNddPrefixForRegion(region, true)
			for _, ex := range examples {
				if ex == nil {
					continue
				}
				nsn := phonenumbers.GetNationalSignificantNumber(ex)
				national := phonenumbers.NormalizeDigitsOnly(phonenumbers.Format(ex, phonenumbers.NATIONAL))
				for _, s := range []string{nsn, national, ndd + nsn, nsn[1:], nsn + "5", ndd + nsn + "5", ndd + nsn[1:]} {
					if s != "" {
						samples = append(samples, s)
					}
				}
			}
			for range 40 {
				samples = append(samples, ndd+randomDigits(3+rng.IntN(13)))
			}
		}
		for _, digits := range samples {
			if len(digits) > userinfo.MaxPhoneDigits {
				continue
			}
			cases++
			wantKey, wantOK := libphonenumber(code, digits)
			m, err := userinfo.ParseMobile("+"+strconv.Itoa(code), digits)
			if (err == nil) != wantOK || m.Key != wantKey {
				t.Errorf("+%d %s: ParseMobile = %q, %v; libphonenumber: %q, possible %v", code, digits, m.Key, err, wantKey, wantOK)
				continue
			}
			if wantOK {
				possible++
				if !strings.HasSuffix(wantKey, digits) {
					stripped++
				}
			}
		}
	}
	t.Logf("%d numbers, %d possible, %d of them with a prefix dropped or transformed", cases, possible, stripped)
	if possible < cases/10 || stripped < 500 {
		t.Errorf("the sample is too weak: %d of %d possible, %d stripped", possible, cases, stripped)
	}
}

// FuzzMobileKey holds ParseMobile to the library for any calling code and
// digits: possible or not, and the same E.164 key.
func FuzzMobileKey(f *testing.F) {
	for _, s := range [][2]string{
		{"44", "07911123456"}, {"86", "013800000055"}, {"54", "0111512345678"}, {"7", "89123456789"},
		{"39", "0612345678"}, {"81", "0312345678"}, {"55", "011987654321"}, {"1", "12015550123"},
		{"378", "0549123456"}, {"261", "0201234567"}, {"800", "12345678"}, {"86", "1"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, code, digits string) {
		cc, err := strconv.Atoi(code)
		if err != nil || strconv.Itoa(cc) != code || !phonenumbers.GetSupportedCallingCodes()[cc] ||
			digits == "" || len(digits) > userinfo.MaxPhoneDigits || strings.Trim(digits, "0123456789") != "" {
			return // not what ParseMobile judges by the plan: refused before
		}
		wantKey, wantOK := libphonenumber(cc, digits)
		m, err := userinfo.ParseMobile("+"+code, digits)
		if (err == nil) != wantOK || m.Key != wantKey {
			t.Errorf("+%s %s: ParseMobile = %q, %v; libphonenumber: %q, possible %v", code, digits, m.Key, err, wantKey, wantOK)
		}
	})
}
