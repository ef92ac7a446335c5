package localenv_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/once"
	"github.com/iam-userinfo/userinfo/infra/proc"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func written(port, ddbPort string) map[string]string {
	return map[string]string{
		localenv.DDBPort: ddbPort, localenv.Port: port, localenv.Table: "t-from-file",
		localenv.Issuer: "https://issuer.test", localenv.Audience: "aud-from-file",
		localenv.JWKSURL: localenv.LocalJWKSURL(port), localenv.KeysDir: ".local/other-keys",
		localenv.SESPort: "18005",
	}
}

// TestEnvironmentOverFileOverDefaults: what make run wrote is read back; a
// variable set in the environment wins; with no file, the defaults.
func TestEnvironmentOverFileOverDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := localenv.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		localenv.DDBPort: "8000", localenv.Port: "3000", localenv.Table: localenv.DefaultTable,
		localenv.JWKSURL: "http://127.0.0.1:3000/.well-known/jwks.json", localenv.KeysDir: ".local/keys",
		localenv.SESPort: "8005",
	} {
		if got := s.Get(name); got != want {
			t.Errorf("no file: %s = %q, want the default %q", name, got, want)
		}
	}

	if err := localenv.Write(written("13000", "18000")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(localenv.File); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want a 0600 file", localenv.File, fi, err)
	}
	s, err = localenv.Load(env(map[string]string{localenv.Table: "t-explicit"}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		localenv.DDBPort: "18000", localenv.Port: "13000", localenv.Table: "t-explicit",
		localenv.Audience: "aud-from-file", localenv.JWKSURL: "http://127.0.0.1:13000/.well-known/jwks.json",
		localenv.KeysDir: ".local/other-keys", localenv.SESPort: "18005",
	} {
		if got := s.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestLoadRejectsAMalformedFile(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(".local", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(localenv.File, []byte("# ok\nDDB_PORT=1\nnonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := localenv.Load(env(nil))
	if err == nil || !strings.Contains(err.Error(), localenv.File+":3:") || !strings.Contains(err.Error(), "make run") {
		t.Errorf("err = %v, want one naming line 3 and what to do", err)
	}
}

// TestDynamoDB: a later command finds the DynamoDB Local and table where the
// settings say, or says in one line what is missing, which setting said
// where, and what to do.
func TestDynamoDB(t *testing.T) {
	ctx := context.Background()
	in, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	if err := ddbtable.Create(ctx, ddblocal.Client(in.Endpoint()), "t-from-file"); err != nil {
		t.Fatal(err)
	}
	nobody, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := localenv.Write(written("13000", strconv.Itoa(in.Port()))); err != nil {
		t.Fatal(err)
	}

	t.Run("Found", func(t *testing.T) {
		s, _ := localenv.Load(env(nil))
		endpoint, err := s.DynamoDB(ctx)
		if err != nil || endpoint != in.Endpoint() {
			t.Errorf("DynamoDB() = %q, %v, want %s", endpoint, err, in.Endpoint())
		}
	})
	for _, tt := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"ErrNothingWhereTheFileSays", nil, nil},
		{"ErrNothingWhereTheEnvironmentSays", map[string]string{localenv.DDBPort: strconv.Itoa(nobody)},
			[]string{"no DynamoDB Local answers on 127.0.0.1:" + strconv.Itoa(nobody), "DDB_PORT set in the environment", "start make run"}},
		{"ErrNoTable", map[string]string{localenv.Table: "t-other"},
			[]string{"has no table t-other", "TABLE_NAME set in the environment", "DDB_PORT from " + localenv.File, "make run"}},
		{"ErrNotAPort", map[string]string{localenv.DDBPort: "eighty"}, []string{`DDB_PORT set in the environment is "eighty", not a port number`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ErrNothingWhereTheFileSays" {
				if err := localenv.Write(written("13000", strconv.Itoa(nobody))); err != nil {
					t.Fatal(err)
				}
				defer localenv.Write(written("13000", strconv.Itoa(in.Port())))
				tt.want = []string{"no DynamoDB Local answers on 127.0.0.1:" + strconv.Itoa(nobody), "DDB_PORT from " + localenv.File, "start make run"}
			}
			s, _ := localenv.Load(env(tt.env))
			_, err := s.DynamoDB(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") || once.Repeated(msg) != nil {
				t.Errorf("error %q is not one line that says each thing once", msg)
			}
		})
	}
}
