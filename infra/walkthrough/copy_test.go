package walkthrough_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// freshCopy copies the repository's files as a clone of this tree would
// have them: tracked ones, and new ones that are not ignored.
func freshCopy(t *testing.T, root, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files (this test copies the repository's files): %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the working tree
		}
		target := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(src, target, fi.Mode()); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// shareInstalls links the copy's .cache/ddblocal and .cache/seslocal to
// the repository's, installed by make deps before the tests.
func shareInstalls(t *testing.T, root, clone string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(clone, ".cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ddblocal", "seslocal"} {
		installed := filepath.Join(root, ".cache", name)
		if _, err := os.Stat(filepath.Join(installed, ".installed")); err != nil {
			t.Fatalf("%s is not installed: run make deps (make test does)", installed)
		}
		if err := os.Symlink(installed, filepath.Join(clone, ".cache", name)); err != nil {
			t.Fatal(err)
		}
	}
}

// environment is this process's, without anything that would set what
// make run decides (a developer's fresh shell has none of it).
func environment(t *testing.T) []string {
	t.Helper()
	drop := []string{"DDB_PORT", "PORT", "SES_PORT", "SES_LOCAL_DIR", "TABLE_NAME", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "KEYS_DIR",
		"LOG_LEVEL", "AUDIT_RETENTION_DAYS", "AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_LOCAL_DIR", "AWS_LAMBDA_RIE",
		"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return env
}

func makeHelp(t *testing.T, dir string, env []string) string {
	t.Helper()
	cmd := exec.Command("make", "help")
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	return string(out)
}

func commandOutput(ctx context.Context, cmd *exec.Cmd) (string, error) {
	out := &tailbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return out.String(), ctx.Err()
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
