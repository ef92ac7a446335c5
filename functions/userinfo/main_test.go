package main

import (
	"bytes"
	"context"
	"os/exec"
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

// TestLinksNoSender: the API function never sends a message itself (the
// notifier does, from the outbox), so it links neither SES nor SNS, and its
// cold start and binary stay as they were.
func TestLinksNoSender(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/sesv2") || strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/sns") ||
			strings.HasSuffix(pkg, "/internal/ses") || strings.HasSuffix(pkg, "/internal/sns") {
			t.Errorf("the API function links %s", pkg)
		}
	}
}
