package bare

import "testing"

// The audit record keeps what the store's masking keeps, no more.
func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"john@example.com":  "j***@e***.com",
		"a@b":               "a***@b***",
		"@x.example":        "***@x***.example",
		"e2e0001@fresh.e2e": "e***@f***.e2e",
	} {
		if got := mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
}
