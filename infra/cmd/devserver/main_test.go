package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunServesSeededDemoAndStopsEverything is `make run` end to end: the
// real program says each step as it goes, starts DynamoDB Local and the
// local SES, seeds the demo users, serves the API and the local JWKS, runs
// the notifier, writes the settings later commands read, and prints the
// demo users, where codes arrive and a call to try; the call works, and a
// change in the verifying account is finished with the code the notifier
// delivered; cancelling it (what SIGINT/SIGTERM do) stops the API, Java
// and node.
func TestRunServesSeededDemoAndStopsEverything(t *testing.T) {
	ddbPort, port, sesPort := freePort(t), freePort(t), freePort(t)
	t.Chdir(workDir(t))
	env := map[string]string{
		"DDB_PORT": strconv.Itoa(ddbPort),
		"PORT":     strconv.Itoa(port),
		"SES_PORT": strconv.Itoa(sesPort),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &tailbuf.Buffer{}, &tailbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, stdout, stderr) }()

	deadline := time.Now().Add(90 * time.Second)
	// The call to try is the last thing printed, in one write.
	for !strings.Contains(stderr.String(), "X-Auth-Token") {
		select {
		case err := <-done:
			t.Fatalf("run returned before ready: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 90 s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := stderr.String()
	const alice, dave = "0638848aa7801dbe1f01c01e92b95df7", "3d5e7f9a1b2c4d6e8f0a1b3c5d7e9f02"
	api := "http://127.0.0.1:" + strconv.Itoa(port)
	// One line per step, in order, then the demo users and the call.
	steps := []string{
		"starting DynamoDB Local on 127.0.0.1:" + strconv.Itoa(ddbPort),
		"starting the local SES on 127.0.0.1:" + strconv.Itoa(sesPort),
		"creating table iam-userinfo-local",
		"seeding the demo account d-demo: alice, bob, carol",
		"seeding the demo account d-verify: dave",
		"serving the API and the local JWKS (/.well-known/jwks.json) on " + api,
		"ready: the API on " + api,
		"alice  " + alice + "  d-demo    a normal user",
		"bob    7a1c2b3d4e5f60718293a4b5c6d7e8f9  d-demo    holds bob@example.com",
		"carol  0f1e2d3c4b5a69788796a5b4c3d2e1f0  d-demo    disabled",
		"dave   " + dave + "  d-verify  his account verifies changes",
		"TOKEN=$(make -s token USER=dave)",
		"codes and notices sent: make outbox (email: the local SES on 127.0.0.1:" + strconv.Itoa(sesPort),
		"curl -i -X PUT " + api + "/v3.0/OS-USER/users/" + alice + "/info",
	}
	at := 0
	for _, want := range steps {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("the output lacks %q after what came before:\n%s", want, out)
		}
		at += i + len(want)
	}
	for u := range roles {
		if !strings.Contains(out, "TOKEN=$(make -s token USER="+u+")") {
			t.Errorf("no token command for %s", u)
		}
	}

	// The settings later commands read.
	s, err := localenv.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		localenv.DDBPort: strconv.Itoa(ddbPort), localenv.Port: strconv.Itoa(port),
		localenv.JWKSURL: api + devkeys.JWKSPath, localenv.KeysDir: devkeys.DefaultDir,
		localenv.SESPort: strconv.Itoa(sesPort),
	} {
		if got := s.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", localenv.File, name, got, want)
		}
	}
	keys := devkeys.DefaultDir
	res, err := http.Get(api + devkeys.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(jwks), `"keys"`) {
		t.Errorf("GET %s: %d %s, want the JWKS", devkeys.JWKSPath, res.StatusCode, jwks)
	}

	key, err := devkeys.LoadOrCreate(keys) // the key run made
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, user, domain, path, body string) int {
		tok, err := key.Sign(devkeys.Claims{Subject: user, DomainID: domain})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(method, api+"/v3.0/OS-USER/users/"+user+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json;charset=utf8")
		req.Header.Set("X-Auth-Token", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := call(http.MethodPut, alice, "d-demo", "/info", `{"user":{"areacode":"0086","phone":"18292010816","email":"abcdefg@123.com"}}`); got != http.StatusNoContent {
		t.Errorf("the reference example: got %d, want 204", got)
	}
	if got := call(http.MethodPut, alice, "d-demo", "/info", `{"user":{"email":"bob@example.com"}}`); got != http.StatusConflict {
		t.Errorf("bob's seeded email: got %d, want 409", got)
	}
	// dave's account verifies changes: the code reaches the local SES by
	// the notifier, and finishes the change.
	if got := call(http.MethodPut, dave, "d-verify", "/info", `{"user":{"email":"dave.new@example.com"}}`); got != http.StatusAccepted {
		t.Errorf("dave's change: got %d, want 202", got)
	}
	code := codeSentTo(t, "http://127.0.0.1:"+strconv.Itoa(sesPort), "dave.new@example.com")
	if after := stderr.String()[strings.Index(stderr.String(), "X-Auth-Token"):]; !strings.Contains(after, "building the notifier into bin/localnotify") ||
		!strings.Contains(after, "the notifier delivers codes and notices") {
		t.Errorf("after the call to try, no word of the notifier being built and started:\n%s", stderr.String())
	}
	if got := call(http.MethodPost, dave, "d-verify", "/info/verification", `{"verification":{"email_code":"`+code+`"}}`); got != http.StatusNoContent {
		t.Errorf("dave's verification with the delivered code: got %d, want 204", got)
	}
	if !strings.Contains(stdout.String(), `"msg":"request"`) {
		t.Errorf("no JSON request log on stdout: %s", stdout.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30 s of cancellation")
	}
	if !strings.Contains(stderr.String(), "stopping the API, the notifier, the local SES and DynamoDB Local") {
		t.Errorf("it did not say it was stopping:\n%s", stderr.String())
	}
	for _, p := range []int{port, ddbPort, sesPort} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after stop", p)
		}
	}
}

// codeSentTo waits for the local SES to hold an email to address and
// returns the six-digit code in it.
func codeSentTo(t *testing.T, ses, address string) string {
	t.Helper()
	code := regexp.MustCompile(`\b\d{6}\b`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		emails, err := seslocal.Emails(t.Context(), ses)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range emails {
			if slices.Contains(e.To, address) {
				if c := code.FindString(e.Text); c != "" {
					return c
				}
				t.Fatalf("the email to %s holds no code: %q", address, e.Text)
			}
		}
	}
	t.Fatalf("no email to %s within 30 s", address)
	return ""
}

// workDir returns a fresh working directory for make run, removed after
// the test: inside the repository's .cache, so that it still finds the
// module (and DynamoDB Local) from there, and writes its settings and keys
// there rather than next to this test.
func workDir(t *testing.T) string {
	t.Helper()
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, ".cache", "tmp")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "devserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestRunRejectsBadPorts(t *testing.T) {
	for _, name := range []string{"DDB_PORT", "PORT", "SES_PORT"} {
		err := run(context.Background(), func(k string) string {
			if k == name {
				return "eighty"
			}
			return ""
		}, &tailbuf.Buffer{}, &tailbuf.Buffer{})
		if want := name + ` set in the environment is "eighty", not a port number`; err == nil || err.Error() != want {
			t.Errorf("%s=eighty: err = %v, want %q", name, err, want)
		}
	}
}

// TestLeanBuild: make run's server does not compile the SDK's configuration
// code (STS, SSO, shared files...), a quarter of a cold build; it reaches
// DynamoDB Local with a client configured explicitly. Nor the notifier
// (its SES and Streams clients), which it builds once the API serves.
func TestLeanBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/config") || strings.Contains(pkg, "/service/sts") ||
			strings.Contains(pkg, "/service/sesv2") || pkg == "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams" ||
			strings.HasSuffix(pkg, "/infra/localnotify") {
			t.Errorf("the server depends on %s", pkg)
		}
	}
}

// TestRunSaysWhichPortIsTaken: a port in use stops make run before Java
// starts, with the variable to change.
func TestRunSaysWhichPortIsTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	for _, name := range []string{"PORT", "DDB_PORT", "SES_PORT"} {
		env := map[string]string{"PORT": strconv.Itoa(freePort(t)), "DDB_PORT": strconv.Itoa(freePort(t)), "SES_PORT": strconv.Itoa(freePort(t)), name: taken}
		stderr := &tailbuf.Buffer{}
		err := run(context.Background(), func(k string) string { return env[k] }, &tailbuf.Buffer{}, stderr)
		if err == nil || !strings.HasPrefix(err.Error(), name+" "+taken+" is not free") || !strings.Contains(err.Error(), "or choose another: "+name+"=") {
			t.Errorf("%s taken: err = %v", name, err)
		}
		if strings.Contains(stderr.String(), "starting DynamoDB Local") {
			t.Errorf("%s taken: Java was started", name)
		}
	}
}
