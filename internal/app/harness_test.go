package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// ddbEndpoint is the DynamoDB Local that TestMain starts for the package.
var ddbEndpoint string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ddb, err := ddblocal.Start(context.Background(), ddblocal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration tests need DynamoDB Local:", err)
		return 1
	}
	defer ddb.Stop()
	ddbEndpoint = ddb.Endpoint()
	for k, v := range ddblocal.ClientEnv(ddbEndpoint) {
		os.Setenv(k, v)
	}
	code := m.Run()
	// After every test, whatever each one checked of its own logs: the
	// whole run's logs against every secret any test used.
	if !runLogs.check(os.Stderr) && code == 0 {
		code = 1
	}
	return code
}

// testLogger returns the logger of one test's API at level: its JSON lines
// go to logs, and to runLogs too.
func testLogger(logs *tailbuf.Buffer, level slog.Level) *slog.Logger {
	return app.NewLogger(io.MultiWriter(logs, &runLogs), level)
}

// apiEnv is the real API over HTTP on 127.0.0.1, built by app.New exactly as
// the Lambda function builds it, on a fresh table in DynamoDB Local.
type apiEnv struct {
	t      testing.TB
	url    string
	table  string
	client *dynamodb.Client
	store  *ddbtable.Table
	key    *devkeys.Key
	logs   *tailbuf.Buffer

	// handler is what url serves; the Lambda front door wraps it.
	handler http.Handler

	mu      sync.Mutex
	secrets []string // every token, email and phone the test used: never to be logged
}

// newEnv builds the API on a new table. Unless endpoint is empty, the API's
// DynamoDB client talks to endpoint instead (a fault proxy) while the test's
// own client keeps talking to DynamoDB Local. env holds extra NAME=value
// settings for the API's configuration (AUDIT_RETENTION_DAYS=7, say).
func newEnv(t testing.TB, endpoint string, env ...string) *apiEnv {
	t.Helper()
	ctx := context.Background()
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	table := "t-" + randomID()
	if err := ddbtable.Create(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	key, err := devkeys.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &apiEnv{t: t, table: table, client: client, key: key, logs: &tailbuf.Buffer{},
		store: ddbtable.New(client, table, dynamo.Options{})}

	vars := map[string]string{
		"TABLE_NAME":    table,
		"AUTH_JWKS_URL": key.JWKSURL(),
		"AUTH_ISSUER":   devkeys.DefaultIssuer,
		"AUTH_AUDIENCE": devkeys.DefaultAudience,
		"LOG_LEVEL":     "debug",
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	cfg, err := app.LoadConfig(func(name string) string { return vars[name] })
	if err != nil {
		t.Fatal(err)
	}
	apiClient := client
	if endpoint != "" {
		// Only the API's client goes through the proxy.
		t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
		apiClient, err = awsconfig.NewClient(ctx)
		os.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddbEndpoint)
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := app.New(ctx, cfg, testLogger(e.logs, cfg.LogLevel), apiClient)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url, e.handler = srv.URL, h
	t.Cleanup(e.checkLogs)
	return e
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// secret records a value that must never appear in the logs.
func (e *apiEnv) secret(v ...string) {
	runLogs.addSecrets(v...)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, v...)
}

// checkLogs fails the test if any token, email or phone it used appears in
// the API's logs in clear, and if the logs are not one JSON object a line.
func (e *apiEnv) checkLogs() {
	logs := e.logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if len(s) >= 4 && strings.Contains(logs, s) {
			e.t.Errorf("the logs contain %q in clear", s)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line != "" && !strings.HasPrefix(line, "{") {
			e.t.Errorf("log line is not JSON: %s", line)
		}
	}
}

// seedUser writes a user (and its guards) straight through the store.
func (e *apiEnv) seedUser(u userinfo.User) {
	e.t.Helper()
	if u.Email != "" {
		e.secret(u.Email)
	}
	if u.Phone != "" {
		e.secret(u.Phone)
	}
	if err := e.store.UpsertUser(context.Background(), u); err != nil {
		e.t.Fatalf("seed %s: %v", u.ID, err)
	}
}

func (e *apiEnv) user(id string) *userinfo.User {
	e.t.Helper()
	u, err := e.store.GetUser(context.Background(), id)
	if err != nil {
		e.t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

// token returns a valid token for sub in domain, issued now.
func (e *apiEnv) token(sub, domain string) string {
	return e.tokenWith(devkeys.Claims{Subject: sub, DomainID: domain})
}

func (e *apiEnv) tokenWith(c devkeys.Claims) string {
	e.t.Helper()
	tok, err := e.key.Sign(c)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secret(tok)
	return tok
}

type response struct {
	status int
	header http.Header
	body   string
}

func path(userID string) string { return "/v3.0/OS-USER/users/" + userID + "/info" }

// put sends PUT path with the reference's headers and body.
func (e *apiEnv) put(p, token, body string) response {
	return e.do(http.MethodPut, p, map[string]string{
		"Content-Type": "application/json;charset=utf8",
		"Accept":       "application/json",
		"X-Auth-Token": token,
	}, strings.NewReader(body))
}

func (e *apiEnv) do(method, p string, headers map[string]string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+p, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func userBody(fields string) string { return `{"user":{` + fields + `}}` }
