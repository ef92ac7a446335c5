package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/rie"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"

	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// eventsDir holds the sample events, relative to this package.
const eventsDir = "../../events"

// outcomes is what each sample event must get from the real function, by
// its path under events/. An event without an entry fails the test, so
// none can be added unchecked.
var outcomes = map[string]struct {
	status  int
	iamCode string // empty for a success
}{
	"success.json":                {http.StatusNoContent, ""},
	"custom-domain.json":          {http.StatusNoContent, ""},
	"missing-token.json":          {http.StatusUnauthorized, "IAM.0001"},
	"expired-token.json":          {http.StatusUnauthorized, "IAM.0001"},
	"other-user-token.json":       {http.StatusForbidden, "IAM.0002"},
	"disabled-user.json":          {http.StatusForbidden, "IAM.0002"},
	"invalid-json.json":           {http.StatusBadRequest, "IAM.0011"},
	"wrong-content-type.json":     {http.StatusBadRequest, "IAM.0011"},
	"email-too-long.json":         {http.StatusBadRequest, "IAM.0073"},
	"phone-without-areacode.json": {http.StatusBadRequest, "IAM.0073"},
	"email-taken.json":            {http.StatusConflict, "IAM.0005"},
	"body-too-large.json":         {http.StatusRequestEntityTooLarge, "IAM.0012"},
	"wrong-method.json":           {http.StatusMethodNotAllowed, "IAM.0013"},
	"unknown-path.json":           {http.StatusNotFound, "IAM.0004"},
	"root-path.json":              {http.StatusNotFound, "IAM.0004"},
	// The demo account applies changes at once: no change waits for a code.
	"verification-nothing-pending.json": {http.StatusBadRequest, "IAM.0073"},
	// Front doors the template does not create (a REST API is what it
	// deploys); the function answers them all the same.
	"not-deployed/http-api-v2.json":  {http.StatusNoContent, ""},
	"not-deployed/function-url.json": {http.StatusNoContent, ""},
}

// TestREADMENamesEveryEvent: the README's list of sample events is the list
// of outcomes.
func TestREADMENamesEveryEvent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range outcomes {
		if strings.HasPrefix(name, "not-deployed/") {
			continue // the README names the folder
		}
		if name := "`" + strings.TrimSuffix(name, ".json") + "`"; !strings.Contains(string(readme), name) {
			t.Errorf("README.md does not name the sample event %s", name)
		}
	}
}

// The environment TestMain sets up: DynamoDB Local with the demo users, a
// signing key, and the function built as `make build` builds it.
var (
	endpoint  string          // DynamoDB Local
	store     *ddbtable.Table // on table, for checking what the function wrote
	key       *devkeys.Key    // signs the events' tokens; its JWKS is the function's
	bootstrap string          // the function binary
)

const table = "iam-userinfo-events-test"

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "userinfo-events-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, err := setUp(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "functions/userinfo tests:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// setUp builds the bootstrap into dir, makes a key there, starts DynamoDB
// Local and seeds the demo users. The returned func stops DynamoDB Local.
func setUp(dir string) (func(), error) {
	// First, so a missing emulator is reported before a 20 s build.
	if _, err := rie.Find(""); err != nil {
		return nil, err
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	ctx := context.Background()
	if err := rie.Build(ctx, ".", bootstrap, ""); err != nil {
		return nil, err
	}
	var err error
	if key, err = devkeys.LoadOrCreate(filepath.Join(dir, "keys")); err != nil {
		return nil, err
	}
	in, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		return nil, fmt.Errorf("DynamoDB Local: %w", err)
	}
	endpoint = in.Endpoint()
	if err := seedTable(ctx); err != nil {
		_ = in.Stop()
		return nil, err
	}
	return func() { _ = in.Stop() }, nil
}

func seedTable(ctx context.Context) error {
	// The SDK reads its endpoint and credentials from the environment; the
	// dummy ones keep a developer's profile out of the test.
	nowhere := filepath.Join(os.TempDir(), "userinfo-events-no-such-file")
	for k, v := range ddblocal.ClientEnv(endpoint) {
		os.Setenv(k, v)
	}
	os.Setenv("AWS_CONFIG_FILE", nowhere)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
	os.Unsetenv("AWS_PROFILE")
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := ddbtable.Create(ctx, client, table); err != nil {
		return err
	}
	store = ddbtable.New(client, table, dynamo.Options{})
	demo, err := seed.Demo()
	if err != nil {
		return err
	}
	return seed.Apply(ctx, store, demo)
}

// functionEnv is the function's whole environment, as make invoke gives it.
func functionEnv() map[string]string {
	env := ddblocal.ClientEnv(endpoint)
	env["TABLE_NAME"] = table
	env["AUTH_JWKS_URL"] = key.JWKSURL()
	env["AUTH_ISSUER"] = devkeys.DefaultIssuer
	env["AUTH_AUDIENCE"] = devkeys.DefaultAudience
	return env
}

// proxyResponse is a REST API or HTTP API proxy response.
type proxyResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
}

func (r proxyResponse) header(name string) string {
	if v := http.Header(r.MultiValueHeaders).Get(name); v != "" {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// TestSampleEvents runs every file in events/ through the real bootstrap
// under aws-lambda-rie, the way sam local invoke does, and checks the
// outcome each one is named for: the events cannot rot unnoticed.
func TestSampleEvents(t *testing.T) {
	files, err := sampleevents.Files(eventsDir)
	if err != nil {
		t.Fatal(err)
	}
	// The other front doors first: success.json's values are then the
	// last alice is given (WritesReachedDynamoDB).
	slices.SortStableFunc(files, func(a, b string) int {
		return cmp.Compare(strings.Count(relEvent(b), "/"), strings.Count(relEvent(a), "/"))
	})
	seen := map[string]bool{}
	for _, f := range files {
		seen[relEvent(f)] = true
	}
	for name := range outcomes {
		if !seen[name] {
			t.Errorf("events/%s is missing", name)
		}
	}
	tokens, err := sampleevents.DemoTokens(key, "", "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &tailbuf.Buffer{}
	emu, err := rie.Start(context.Background(), rie.Options{Bootstrap: bootstrap, Env: functionEnv(), Stdout: logs, Stderr: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Stop()

	for _, f := range files {
		name := relEvent(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			want, ok := outcomes[name]
			if !ok {
				t.Fatalf("no expected outcome for events/%s: add it to outcomes", name)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			event, err := sampleevents.Render(raw, tokens)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			out, err := emu.Invoke(ctx, event)
			if err != nil {
				t.Fatalf("invoke: %v\nlogs:\n%s", err, logs.String())
			}
			var r proxyResponse
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("response %q: %v", out, err)
			}
			if r.StatusCode != want.status {
				t.Fatalf("status %d body %q, want %d", r.StatusCode, r.Body, want.status)
			}
			requestID := eventRequestID(t, event)
			if got := r.header("X-Request-Id"); got != requestID {
				t.Errorf("X-Request-Id %q, want the event's %q", got, requestID)
			}
			if want.iamCode != "" {
				var e struct {
					ErrorCode string `json:"error_code"`
					RequestID string `json:"request_id"`
				}
				if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
					t.Fatalf("body %q: %v", r.Body, err)
				}
				if e.ErrorCode != want.iamCode || e.RequestID != requestID {
					t.Errorf("body %q, want %s and request id %s", r.Body, want.iamCode, requestID)
				}
			}
			// The function's stdout reaches us through the emulator's pipe,
			// which may deliver the log line just after the response.
			logged := func() bool { return strings.Contains(logs.String(), `"request_id":"`+requestID+`"`) }
			for wait := time.Now().Add(5 * time.Second); !logged() && time.Now().Before(wait); {
				time.Sleep(10 * time.Millisecond)
			}
			if !logged() {
				t.Errorf("no log line with the event's request id %s", requestID)
			}
		})
	}
	t.Run("WritesReachedDynamoDB", func(t *testing.T) {
		// success.json runs after the other events that change alice, so
		// she holds its values.
		u, err := store.GetUser(t.Context(), "0638848aa7801dbe1f01c01e92b95df7")
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "abcdefg@123.com" || u.AreaCode != "+86" || u.Phone != "18292010816" {
			t.Errorf("alice is %+v, want success.json's email and mobile", u)
		}
	})
}

// relEvent returns the path of an event file under events/, with slashes.
func relEvent(path string) string {
	rel, err := filepath.Rel(eventsDir, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

// eventRequestID returns the request id API Gateway put in the event.
func eventRequestID(t *testing.T, event []byte) string {
	t.Helper()
	var ev struct {
		RequestContext struct {
			RequestID string `json:"requestId"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(event, &ev); err != nil || ev.RequestContext.RequestID == "" {
		t.Fatalf("the event has no requestContext.requestId (%v)", err)
	}
	return ev.RequestContext.RequestID
}
