package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/devkeys"

	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRunServesSeededDemoAndStopsEverything is `make run` end to end: the
// real program starts DynamoDB Local, seeds the demo users and serves the
// API; the curl it prints works; cancelling it (what SIGINT/SIGTERM do)
// stops the API and Java.
func TestRunServesSeededDemoAndStopsEverything(t *testing.T) {
	ddbPort, port := freePort(t), freePort(t)
	keys := t.TempDir()
	env := map[string]string{
		"DDB_PORT": strconv.Itoa(ddbPort),
		"PORT":     strconv.Itoa(port),
		"KEYS_DIR": keys,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &tailbuf.Buffer{}, &tailbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, stdout, stderr) }()

	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(stderr.String(), "ready:") {
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
	ready := stderr.String()
	const alice = "0638848aa7801dbe1f01c01e92b95df7"
	for _, want := range []string{"http://127.0.0.1:" + strconv.Itoa(port), "curl -i -X PUT", "X-Auth-Token:", "/v3.0/OS-USER/users/" + alice + "/info", "make -s token USER=" + alice} {
		if !strings.Contains(ready, want) {
			t.Errorf("the ready line lacks %q:\n%s", want, ready)
		}
	}

	key, err := devkeys.LoadOrCreate(keys) // the key run made
	if err != nil {
		t.Fatal(err)
	}
	tok, err := key.Sign(devkeys.Claims{Subject: alice, DomainID: "d-demo"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+strconv.Itoa(port)+"/v3.0/OS-USER/users/"+alice+"/info", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json;charset=utf8")
		req.Header.Set("X-Auth-Token", tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := put(`{"user":{"areacode":"0086","phone":"18292010816","email":"abcdefg@123.com"}}`); got != http.StatusNoContent {
		t.Errorf("the reference example: got %d, want 204", got)
	}
	if got := put(`{"user":{"email":"bob@example.com"}}`); got != http.StatusConflict {
		t.Errorf("bob's seeded email: got %d, want 409", got)
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
	for _, p := range []int{port, ddbPort} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after stop", p)
		}
	}
}

func TestRunRejectsBadPorts(t *testing.T) {
	for _, name := range []string{"DDB_PORT", "PORT"} {
		err := run(context.Background(), func(k string) string {
			if k == name {
				return "eighty"
			}
			return ""
		}, &tailbuf.Buffer{}, &tailbuf.Buffer{})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=eighty: err = %v, want one naming %s", name, err, name)
		}
	}
}
