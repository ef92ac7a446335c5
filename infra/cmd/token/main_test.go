package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/internal/auth"
)

// TestTokenVerifies checks that what `make token` prints is accepted by the
// verifier the API builds from the same key, issuer and audience: those of
// the settings make run wrote, or of the environment, which wins.
func TestTokenVerifies(t *testing.T) {
	t.Chdir(t.TempDir())
	written := localenv.FromEnvironment(func(k string) string {
		switch k {
		case localenv.KeysDir:
			return "keys-from-file"
		case localenv.Audience:
			return "aud-from-file"
		}
		return ""
	})
	if err := localenv.Write(written.Values()); err != nil {
		t.Fatal(err)
	}
	const alice = "0638848aa7801dbe1f01c01e92b95df7"
	for _, tt := range []struct {
		name     string
		args     []string
		env      map[string]string
		sub, dom string
		issuer   string
		keysDir  string
		audience string
	}{
		{"IDAndDomain", []string{"-user", "u1", "-domain", "d9"}, nil, "u1", "d9", devkeys.DefaultIssuer, "keys-from-file", "aud-from-file"},
		{"IDWithDemoDomain", []string{"-user", "u1"}, nil, "u1", "d-demo", devkeys.DefaultIssuer, "keys-from-file", "aud-from-file"},
		{"DemoName", []string{"-user", "alice"}, nil, alice, "d-demo", devkeys.DefaultIssuer, "keys-from-file", "aud-from-file"},
		{"EnvironmentWins", []string{"-user", "alice"}, map[string]string{localenv.Issuer: "https://other.test", localenv.KeysDir: "keys-from-env"}, alice, "d-demo", "https://other.test", "keys-from-env", "aud-from-file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(tt.args, func(k string) string { return tt.env[k] }, &out); err != nil {
				t.Fatal(err)
			}
			key, err := devkeys.LoadOrCreate(tt.keysDir)
			if err != nil {
				t.Fatal(err)
			}
			v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: key.JWKSURL(), Issuer: tt.issuer, Audience: tt.audience})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
			if err != nil {
				t.Fatalf("the printed token does not verify: %v", err)
			}
			if p.UserID != tt.sub || p.DomainID != tt.dom {
				t.Errorf("principal = %+v, want %s in %s", p, tt.sub, tt.dom)
			}
		})
	}
}

func TestTokenNeedsUser(t *testing.T) {
	if err := run(nil, func(string) string { return "" }, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "USER") {
		t.Errorf("err = %v, want usage naming USER", err)
	}
}
