package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/internal/auth"
)

// TestTokenVerifies checks that what `make token` prints is accepted by the
// verifier the API builds from the same key.
func TestTokenVerifies(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := run([]string{"-user", "u1", "-domain", "d9"}, func(k string) string {
		if k == "KEYS_DIR" {
			return dir
		}
		return ""
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	key, err := devkeys.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: key.JWKSURL(), Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("the printed token does not verify: %v", err)
	}
	if p.UserID != "u1" || p.DomainID != "d9" {
		t.Errorf("principal = %+v", p)
	}
}

func TestTokenNeedsUser(t *testing.T) {
	if err := run(nil, func(string) string { return "" }, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "USER") {
		t.Errorf("err = %v, want usage naming USER", err)
	}
}
