package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/once"
	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/rie"
	"github.com/iam-userinfo/userinfo/infra/samlocal"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

// root is the repository; the tests change the working directory, so it is
// absolute.
var root = func() string {
	r, err := proc.ModuleRoot()
	if err != nil {
		panic(err)
	}
	return r
}()

// bootstrap builds the function once for the tests of this package.
var bootstrap = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "invoke-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bootstrap")
	return bin, rie.Build(context.Background(), filepath.Join(root, "functions", "userinfo"), bin, "")
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, _ := bootstrap(); bin != "" { // built or not
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// localRun is what make run leaves for later commands: DynamoDB Local with
// the table and the demo users, the local key's JWKS served over http on
// loopback, and the settings file naming them, in a working directory of
// the test's own.
type localRun struct {
	ddb      *ddblocal.Instance
	jwksPort int
	key      *devkeys.Key
}

func startLocalRun(t *testing.T) *localRun {
	t.Helper()
	ctx := context.Background()
	in, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop() })
	client := ddblocal.Client(in.Endpoint())
	if err := ddbtable.Create(ctx, client, localenv.DefaultTable); err != nil {
		t.Fatal(err)
	}
	demo, err := seed.Demo()
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Load(ctx, ddbtable.New(client, localenv.DefaultTable, dynamo.Options{}), demo); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	key, err := devkeys.LoadOrCreate(devkeys.DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	// make run serves the JWKS beside the API; here beside nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: key.Handler()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r := &localRun{ddb: in, jwksPort: ln.Addr().(*net.TCPAddr).Port, key: key}
	settings := localenv.FromEnvironment(func(k string) string {
		switch k {
		case localenv.DDBPort:
			return strconv.Itoa(in.Port())
		case localenv.Port:
			return strconv.Itoa(r.jwksPort)
		}
		return ""
	})
	if err := localenv.Write(settings.Values()); err != nil {
		t.Fatal(err)
	}
	return r
}

// invoke runs make invoke's command with an empty environment (everything
// comes from the settings file) and returns the status and the log.
func invoke(t *testing.T, event string) (status int, log string) {
	t.Helper()
	bin, err := bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"-event", event, "-bootstrap", bin, "-rie", rieBin(t)},
		func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	return statusOf(t, []byte(stdout.String())), stderr.String()
}

func rieBin(t *testing.T) string {
	t.Helper()
	p, err := rie.Find(filepath.Join(root, "bin", "aws-lambda-rie"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func statusOf(t *testing.T, response []byte) int {
	t.Helper()
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(response, &r); err != nil || r.StatusCode == 0 {
		t.Fatalf("%q is not a proxy response: %v", response, err)
	}
	return r.StatusCode
}

// TestUsesMakeRunsDynamoDB: with nothing but the settings file, make invoke
// finds make run's DynamoDB Local, table and key; it starts no DynamoDB of
// its own and leaves nothing running.
func TestUsesMakeRunsDynamoDB(t *testing.T) {
	r := startLocalRun(t)
	status, log := invoke(t, filepath.Join(root, "events", "other-user-token.json"))
	if status != http.StatusForbidden {
		t.Fatalf("status %d, want 403\n%s", status, log)
	}
	if kids := children(t); len(kids) != 1 { // the test's own DynamoDB Local
		t.Errorf("processes left running: %v", kids)
	}
	if !ddblocal.Answers(context.Background(), r.ddb.Endpoint()) {
		t.Error("make run's DynamoDB Local was stopped")
	}
}

// TestNoDynamoDB: where the settings say, nothing answers: one line that
// says so and what to do, and nothing started.
func TestNoDynamoDB(t *testing.T) {
	t.Chdir(t.TempDir())
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := localenv.FromEnvironment(func(k string) string {
		if k == localenv.DDBPort {
			return strconv.Itoa(port)
		}
		return ""
	})
	if err := localenv.Write(s.Values()); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"-event", filepath.Join(root, "events", "success.json"), "-bootstrap", "unused"},
		func(string) string { return "" }, &strings.Builder{}, &strings.Builder{})
	want := fmt.Sprintf("no DynamoDB Local answers on 127.0.0.1:%d (DDB_PORT from %s): start make run in another terminal first", port, localenv.File)
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("processes started: %v", kids)
	}
}

// TestRendersAnEventNotYetRendered: make invoke EVENT=.local/events/x.json
// before make events renders events/x.json itself.
func TestRendersAnEventNotYetRendered(t *testing.T) {
	startLocalRun(t)
	if err := os.Symlink(filepath.Join(root, "events"), "events"); err != nil {
		t.Fatal(err)
	}
	status, log := invoke(t, ".local/events/wrong-method.json")
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405\n%s", status, log)
	}
	if !strings.Contains(log, "rendering events/wrong-method.json") {
		t.Errorf("the log does not say what it rendered:\n%s", log)
	}
	err := run(context.Background(), []string{"-event", ".local/events/no-such.json", "-bootstrap", "unused"},
		func(string) string { return "" }, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "no events/no-such.json to render it from") || once.Repeated(err.Error()) != nil {
		t.Errorf("err = %v, want one naming the missing sample once", err)
	}
}

// TestSAMLocalInvokeMatchesMakeInvoke: every sample event in events/, run
// under aws-lambda-rie with exactly the environment `sam local invoke
// --env-vars events/env.json` hands the container (infra/samlocal: the
// template's variables overridden by env.json, SAM's AWS variables, nothing
// of this test's shell), gets the status make invoke gets. env.json names
// make run's default ports (8000, 3000), which other programs may hold
// here: the one change made to it is those two ports, replaced by this
// test's.
func TestSAMLocalInvokeMatchesMakeInvoke(t *testing.T) {
	r := startLocalRun(t)
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", sampleevents.EnvFile))
	if err != nil {
		t.Fatal(err)
	}
	envFile := strings.NewReplacer(
		"127.0.0.1:8000", "127.0.0.1:"+strconv.Itoa(r.ddb.Port()),
		"127.0.0.1:3000", "127.0.0.1:"+strconv.Itoa(r.jwksPort),
	).Replace(string(raw))
	if envFile == string(raw) {
		t.Fatal("env.json names neither 127.0.0.1:8000 nor 127.0.0.1:3000")
	}
	samEnv, err := samlocal.Env(tpl, "UserInfoFunction", []byte(envFile)) // the API; events/notifier is the notifier's
	if err != nil {
		t.Fatal(err)
	}
	// What the developer runs first: make events, then sam local invoke
	// -e .local/events/<name>.json.
	tokens, err := sampleevents.DemoTokens(r.key, samEnv["AUTH_ISSUER"], samEnv["AUTH_AUDIENCE"])
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := sampleevents.RenderDir(filepath.Join(root, "events"), sampleevents.RenderedDir, tokens)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range rendered {
		name, err := filepath.Rel(sampleevents.RenderedDir, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			want, log := invoke(t, filepath.Join(root, "events", name))
			if want >= 500 {
				t.Fatalf("make invoke: %d\n%s", want, log)
			}
			event, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// A fresh emulator per event, as sam local invoke starts a
			// fresh container.
			logs := &strings.Builder{}
			emu, err := rie.Start(t.Context(), rie.Options{RIE: rieBin(t), Bootstrap: bin, Env: samEnv, Stdout: logs, Stderr: logs})
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Stop()
			out, err := emu.Invoke(t.Context(), event)
			if err != nil {
				t.Fatalf("invoke: %v\n%s", err, logs)
			}
			if got := statusOf(t, out); got != want {
				t.Errorf("sam local invoke's environment: %d, make invoke: %d\n%s", got, want, logs)
			}
		})
	}
	if len(rendered) < 2 {
		t.Errorf("%d sample events, want them all", len(rendered))
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
