// Package bench_test measures the warm request path of the API against the
// smallest honest handler doing the same essential work, in one `go test`
// run so that both see the same machine state. `make bench` runs it and
// prints the table with ratios (infra/cmd/benchreport).
//
// What the baseline does, and nothing else: decode the API Gateway event
// (events.APIGatewayProxyRequest JSON), check the token's ES256 signature
// with golang-jwt and the same public key (no cache), and write a 204 proxy
// response. Ours does that plus routing, the body, validation, the
// authorisation read and write (to an in-memory store), the log line and
// every check the API makes.
package bench_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/lambdaproxy"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

const (
	aliceID  = "0638848aa7801dbe1f01c01e92b95df7"
	domainID = "d-demo"
	userPath = "/v3.0/OS-USER/users/" + aliceID + "/info"
)

// bodies alternate, so that every request changes alice's details and
// writes: the path measured is the full one, not the idempotent shortcut.
var bodies = [2]string{
	`{"user":{"email":"alice.one@example.org","areacode":"0086","phone":"18292010816"}}`,
	`{"user":{"email":"alice.two@example.org","areacode":"0086","phone":"18292010817"}}`,
}

// fixture is what every benchmark shares: the dev key, a token, and the
// two events carrying it (one per body).
type fixture struct {
	key    *devkeys.Key
	pub    *ecdsa.PublicKey
	token  string
	events [2][]byte
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
	keyDir  string // the dev key's folder, removed when the run ends
)

func TestMain(m *testing.M) {
	code := m.Run()
	if keyDir != "" {
		os.RemoveAll(keyDir)
	}
	os.Exit(code)
}

func loadFixture(b *testing.B) *fixture {
	b.Helper()
	fixOnce.Do(func() {
		keyDir, fixErr = os.MkdirTemp("", "bench-keys-")
		if fixErr != nil {
			return
		}
		fix.key, fixErr = devkeys.LoadOrCreate(keyDir)
		if fixErr != nil {
			return
		}
		fix.pub, fixErr = publicKey(fix.key.JWKSPath())
		if fixErr != nil {
			return
		}
		now := time.Now()
		fix.token, fixErr = fix.key.Sign(devkeys.Claims{Subject: aliceID, DomainID: domainID,
			IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
		if fixErr != nil {
			return
		}
		for i, body := range bodies {
			if fix.events[i], fixErr = restEvent(fix.token, body); fixErr != nil {
				return
			}
		}
	})
	if fixErr != nil {
		b.Fatal(fixErr)
	}
	return &fix
}

// publicKey reads the one key of the dev JWKS, as the baseline's key.
func publicKey(path string) (*ecdsa.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	k, err := jwkset.NewJWKFromMarshal(set.Keys[0], jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	return k.Key().(*ecdsa.PublicKey), nil
}

// restEvent returns a REST API proxy event as a REGIONAL API sends it (the
// shape of events/success.json: both header maps, a plain JSON body, the
// request context).
func restEvent(token, body string) ([]byte, error) {
	headers := map[string]string{
		"Accept":            "application/json",
		"Content-Type":      "application/json;charset=utf8",
		"Host":              "abcdef1234.execute-api.eu-west-1.amazonaws.com",
		"User-Agent":        "curl/8.5.0",
		"X-Amzn-Trace-Id":   "Root=1-6749a3c0-1c2d3e4f5a6b7c8d9e0f1a2b",
		"X-Auth-Token":      token,
		"X-Forwarded-For":   "198.51.100.7",
		"X-Forwarded-Port":  "443",
		"X-Forwarded-Proto": "https",
	}
	multi := make(map[string][]string, len(headers))
	for k, v := range headers {
		multi[k] = []string{v}
	}
	return json.Marshal(events.APIGatewayProxyRequest{
		Resource:          "/v3.0/OS-USER/users/{user_id}/info",
		Path:              userPath,
		HTTPMethod:        http.MethodPut,
		Headers:           headers,
		MultiValueHeaders: multi,
		PathParameters:    map[string]string{"user_id": aliceID},
		Body:              body,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         "123456789012",
			ResourceID:        "a1b2c3",
			Stage:             "dev",
			DomainPrefix:      "abcdef1234",
			ExtendedRequestID: "Kq3bNFyNjoEF000=",
			RequestID:         "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			Identity:          events.APIGatewayRequestIdentity{SourceIP: "198.51.100.7", UserAgent: "curl/8.5.0"},
			DomainName:        "abcdef1234.execute-api.eu-west-1.amazonaws.com",
			ResourcePath:      "/v3.0/OS-USER/users/{user_id}/info",
			HTTPMethod:        http.MethodPut,
			APIID:             "abcdef1234",
			Protocol:          "HTTP/1.1",
		},
	})
}

// memStore is the store behind the interface, answered in memory: one
// user, writes conditional on its version as DynamoDB's are.
type memStore struct {
	mu   sync.Mutex
	user userinfo.User
}

func newMemStore() *memStore {
	at := time.Now().Add(-24 * time.Hour)
	return &memStore{user: userinfo.User{ID: aliceID, DomainID: domainID, Name: "alice",
		Email: "alice@example.com", Enabled: true, Version: 1, CreatedAt: at, UpdatedAt: at}}
}

func (s *memStore) GetUser(_ context.Context, id string) (*userinfo.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.user.ID {
		return nil, userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	u := s.user
	return &u, nil
}

func (s *memStore) ApplyChange(_ context.Context, c userinfo.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.User.Version != s.user.Version {
		cur := s.user
		return &userinfo.StaleError{Current: &cur}
	}
	if c.Email != nil {
		s.user.Email, s.user.EmailKey = c.Email.Address, userinfo.CurrentKey(c.Email.Key)
	}
	if c.Mobile != nil {
		s.user.AreaCode, s.user.Phone, s.user.PhoneKey = c.Mobile.AreaCode, c.Mobile.Number, userinfo.CurrentKey(c.Mobile.Key)
	}
	s.user.Version++
	s.user.UpdatedAt = c.At
	return nil
}

// newHandler returns the API's handler as app.New builds it, with the
// in-memory store and a verifier on the dev key: cacheSize -1 checks the
// signature on every request, 0 keeps the default token cache. The log is
// the real JSON log, written to io.Discard.
func newHandler(b *testing.B, f *fixture, cacheSize int) (http.Handler, *slog.Logger) {
	b.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: f.key.JWKSURL(),
		Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience, CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	logger := app.NewLogger(io.Discard, slog.LevelInfo)
	return httpapi.NewServer(logger, httpapi.Config{}, v, userinfo.NewService(newMemStore(), nil)), logger
}

// baselineParser checks what a minimal handler would: ES256 only, and the
// standard time claims golang-jwt checks by default.
var baselineParser = jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}))

// baselineVerify checks token's signature with pub, nothing cached.
func baselineVerify(token string, pub *ecdsa.PublicKey) error {
	_, err := baselineParser.Parse(token, func(*jwt.Token) (any, error) { return pub, nil })
	return err
}

// baselineInvoke is the smallest honest handler for the same event.
func baselineInvoke(payload []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	status := http.StatusNoContent
	if baselineVerify(ev.Headers["X-Auth-Token"], pub) != nil {
		status = http.StatusUnauthorized
	}
	return json.Marshal(events.APIGatewayProxyResponse{StatusCode: status})
}

var status204 = []byte(`"statusCode":204`)

// BenchmarkEvent is the warm Lambda path: API Gateway event bytes in,
// proxy response bytes out, as the runtime calls lambdaproxy.Proxy.Invoke.
func BenchmarkEvent(b *testing.B) {
	f := loadFixture(b)
	b.Run("Baseline", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			out, err := baselineInvoke(f.events[i%2], f.pub)
			if err != nil || !bytes.Contains(out, status204) {
				b.Fatalf("%s %v", out, err)
			}
			i++
		}
	})
	for _, c := range []struct {
		name string
		size int
	}{{"CacheOff", -1}, {"CacheOn", 0}} {
		b.Run(c.name, func(b *testing.B) {
			h, logger := newHandler(b, f, c.size)
			p := lambdaproxy.New(h, logger)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				out, err := p.Invoke(ctx, f.events[i%2])
				if err != nil || !bytes.Contains(out, status204) {
					b.Fatalf("%s %v", out, err)
				}
				i++
			}
		})
	}
}

// BenchmarkHTTP is the same path through the local server: a real net/http
// server on 127.0.0.1 and a keep-alive client. Its baseline is the smallest
// net/http handler that checks the same signature and answers 204.
func BenchmarkHTTP(b *testing.B) {
	f := loadFixture(b)
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if baselineVerify(r.Header.Get("X-Auth-Token"), f.pub) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	hOff, _ := newHandler(b, f, -1)
	hOn, _ := newHandler(b, f, 0)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"Baseline", baseline}, {"CacheOff", hOff}, {"CacheOn", hOn}} {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			client := srv.Client()
			url := srv.URL + userPath
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(bodies[i%2]))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("X-Auth-Token", f.token)
				req.Header.Set("Content-Type", "application/json;charset=utf8")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusNoContent {
					b.Fatalf("status %d", res.StatusCode)
				}
				i++
			}
		})
	}
}

// BenchmarkVerify is token verification alone: the baseline's golang-jwt
// parse with the public key, and the API's auth.Verifier on the same token
// with its token cache off and on.
func BenchmarkVerify(b *testing.B) {
	f := loadFixture(b)
	b.Run("Baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := baselineVerify(f.token, f.pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		size int
	}{{"CacheOff", -1}, {"CacheOn", 0}} {
		b.Run(c.name, func(b *testing.B) {
			v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: f.key.JWKSURL(),
				Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience, CacheSize: c.size})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, f.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The double's accounts never verify changes (ApplyChange never answers
// userinfo.ErrVerificationRequired), so these are never reached.

func (s *memStore) GetPending(context.Context, string, string) (*userinfo.Pending, error) {
	return nil, nil
}

func (s *memStore) RequestChange(context.Context, userinfo.ChangeRequest) error {
	return errors.New("no verification in this double")
}

func (s *memStore) WrongCode(context.Context, *userinfo.Pending) (int, error) {
	return 0, errors.New("no verification in this double")
}
