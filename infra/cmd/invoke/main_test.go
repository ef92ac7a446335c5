package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/rie"
)

// bootstrap builds the function once for the tests of this package.
var bootstrap = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "invoke-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../../../functions/userinfo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err, string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := bootstrap(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// invoke runs the command as make invoke does, with env as its whole
// environment, and returns the proxy response and the log.
func invoke(t *testing.T, env map[string]string, event string) (status int, log string) {
	t.Helper()
	if _, err := rie.Find(""); err != nil {
		t.Fatal(err)
	}
	bin, err := bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	env["KEYS_DIR"] = t.TempDir()
	var stdout, stderr strings.Builder
	err = run(context.Background(), []string{"-event", "../../../events/" + event, "-bootstrap", bin},
		func(k string) string { return env[k] }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
		t.Fatalf("stdout %q is not the proxy response: %v", stdout.String(), err)
	}
	return r.StatusCode, stderr.String()
}

// TestStartsItsOwnDynamoDB: with nothing on DDB_PORT, it starts DynamoDB
// Local, creates and seeds the table, and stops everything it started.
func TestStartsItsOwnDynamoDB(t *testing.T) {
	status, log := invoke(t, map[string]string{"DDB_PORT": strconv.Itoa(freePort(t))}, "success.json")
	if status != 204 {
		t.Fatalf("status %d, want 204 from the seeded table\n%s", status, log)
	}
	if !strings.Contains(log, "starting one") {
		t.Errorf("the log does not say it started DynamoDB Local:\n%s", log)
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("processes left running: %v", kids)
	}
}

// TestUsesTheRunningDynamoDB: with a DynamoDB Local on DDB_PORT (make run's),
// it uses that one, and leaves it running.
func TestUsesTheRunningDynamoDB(t *testing.T) {
	in, err := ddblocal.Start(context.Background(), ddblocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	env := map[string]string{"DDB_PORT": strconv.Itoa(in.Port()), "TABLE_NAME": "invoke-test"}
	status, log := invoke(t, env, "other-user-token.json")
	if status != 403 {
		t.Fatalf("status %d, want 403\n%s", status, log)
	}
	if strings.Contains(log, "starting one") {
		t.Errorf("it started a DynamoDB Local although one was running:\n%s", log)
	}
	// The table it created and seeded is in the running instance.
	if !ddblocal.Answers(context.Background(), in.Endpoint()) {
		t.Fatal("the running DynamoDB Local was stopped")
	}
	out, err := ddblocal.Client(in.Endpoint()).ListTables(t.Context(), nil)
	if err != nil || len(out.TableNames) != 1 || out.TableNames[0] != "invoke-test" {
		t.Errorf("tables %v (%v), want invoke-test", out, err)
	}
}

func TestUsage(t *testing.T) {
	err := run(context.Background(), nil, func(string) string { return "" }, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "make invoke EVENT=") {
		t.Errorf("err = %v, want the usage", err)
	}
}

// children returns the names of this process's live child processes.
func children(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("reading /proc (this test counts child processes on Linux): %v", err)
	}
	self := strconv.Itoa(os.Getpid())
	var kids []string
	for _, en := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", en.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == self && f[0] != "Z" {
			kids = append(kids, s[:i+1])
		}
	}
	return kids
}
