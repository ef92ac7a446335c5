package userinfo_test

import (
	"testing"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func TestMask(t *testing.T) {
	emails := map[string]string{
		"john@example.com":       "j***@e***.com",
		"a@b":                    "a***@b***",
		"jürgen@mail.example.de": "j***@m***.de",
		"not-an-email":           "***",
	}
	for in, want := range emails {
		if got := userinfo.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
	phones := map[string]string{
		"18292010816": "***0816",
		"123":         "***3",
		"1":           "***",
		"":            "***",
	}
	for in, want := range phones {
		if got := userinfo.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
