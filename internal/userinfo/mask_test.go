package userinfo_test

import (
	"testing"
	"unicode/utf8"

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

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"plain text, code IAM.0001":                           "plain text, code IAM.0001",
		"user john@example.com not found":                     "user j***@e***.com not found",
		"number 13800000055 of the wrong type":                "number ***0055 of the wrong type",
		"request 12345 took 3 ms":                             "request 12345 took 3 ms",
		"token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln end": "token [token] end",
		"half a token eyJhbGciOiJFUzI1NiJ9.eyJzdWIi":          "half a token [token]",
	}
	for in, want := range tests {
		if got := userinfo.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 8, "short"},
		{"exactly8", 8, "exactly8"},
		{"abcdefghij", 8, "abcdefgh…"},
		{"abcdefgé", 8, "abcdefg…"}, // é is bytes 7 and 8
		{"日本語", 4, "日…"},
		{"日本語", 2, "…"},
	}
	for _, tt := range tests {
		if got := userinfo.Truncate(tt.in, tt.n); got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
