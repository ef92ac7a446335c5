package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunFailsFastOnBadConfig: a Lambda with missing configuration must fail
// its init with the variable named, not start and answer 500s.
func TestRunFailsFastOnBadConfig(t *testing.T) {
	env := map[string]string{"AUTH_JWKS_URL": "https://iam.example.com/jwks.json", "AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a"}
	err := run(context.Background(), func(k string) string { return env[k] }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("err = %v, want one naming TABLE_NAME", err)
	}
}
