package once_test

import (
	"slices"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/once"
)

func TestRepeated(t *testing.T) {
	tests := []struct {
		name, msg string
		want      []string
	}{
		{"Once", "seed: users.json: users[0] (u1): email: not an address", nil},
		{"Empty", "", nil},
		{"DoubledPrefix", "seed: seed: user \"u1\": conflict", []string{"seed"}},
		{"CauseRepeated", "unauthorized: The token is missing, invalid or expired.: unauthorized: The token is missing, invalid or expired.: token is malformed",
			[]string{"unauthorized", "The token is missing, invalid or expired."}},
		{"CaseAndFullStop", "Conflict: conflict.", []string{"conflict."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := once.Repeated(tt.msg); !slices.Equal(got, tt.want) {
				t.Errorf("Repeated(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}
