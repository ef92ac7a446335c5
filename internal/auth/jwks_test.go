package auth_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// quick is how long a rejection may take when it must not wait for the
// unknown-kid rate limiter; the limiter's own interval is a minute.
const quick = 2 * time.Second

func TestVerifyHTTPS(t *testing.T) {
	ks := keys()

	t.Run("ValidRS256ES256EdDSA", func(t *testing.T) {
		s := newJWKSServer(t, jwksJSON(t, ks.published()...))
		v := httpsVerifier(t, s)
		for _, k := range []*testKey{ks.rsa, ks.ec, ks.ed} {
			if _, err := v.Verify(t.Context(), k.sign(t, validClaims(), nil)); err != nil {
				t.Errorf("%s: %v", k.kid, err)
			}
		}
		if n := s.fetches.Load(); n != 1 {
			t.Errorf("fetches = %d, want 1 (at start only)", n)
		}
	})

	t.Run("RotatedKeyFetchedOnceOnUnknownKID", func(t *testing.T) {
		s := newJWKSServer(t, jwksJSON(t, ks.ec))
		v := httpsVerifier(t, s)
		if _, err := v.Verify(t.Context(), ks.ec.sign(t, validClaims(), nil)); err != nil {
			t.Fatal(err)
		}

		s.serve(jwksJSON(t, ks.ec, ks.rotatedEC))
		if _, err := v.Verify(t.Context(), ks.rotatedEC.sign(t, validClaims(), nil)); err != nil {
			t.Fatalf("rotated key: %v", err)
		}
		if n := s.fetches.Load(); n != 2 {
			t.Fatalf("fetches = %d after rotation, want 2", n)
		}

		// A second unknown kid within the minute: the issuer now has it, but
		// the limiter must keep us from asking, and must not make us wait.
		s.serve(jwksJSON(t, ks.ec, ks.rotatedEC, ks.anotherRotation))
		start := time.Now()
		_, err := v.Verify(t.Context(), ks.anotherRotation.sign(t, validClaims(), nil))
		assertUnauthorized(t, err, jwkset.ErrKeyNotFound, "")
		if d := time.Since(start); d > quick {
			t.Errorf("rejection took %v, want under %v", d, quick)
		}
		if n := s.fetches.Load(); n != 2 {
			t.Errorf("fetches = %d after a second unknown kid, want still 2", n)
		}
	})

	t.Run("IssuerDownAtStartThenBack", func(t *testing.T) {
		s := newJWKSServer(t, jwksJSON(t, ks.ec))
		s.down.Store(true)
		v := httpsVerifier(t, s) // must not fail
		s.down.Store(false)
		// The first unknown kid may fetch at once: the limiter starts full.
		if _, err := v.Verify(t.Context(), ks.ec.sign(t, validClaims(), nil)); err != nil {
			t.Fatalf("Verify after the issuer came back: %v", err)
		}
		if n := s.fetches.Load(); n != 2 {
			t.Errorf("fetches = %d, want 2", n)
		}
	})

	t.Run("IssuerDownAtStartAndStillDown", func(t *testing.T) {
		s := newJWKSServer(t, jwksJSON(t, ks.ec))
		s.down.Store(true)
		v := httpsVerifier(t, s)
		tok := ks.ec.sign(t, validClaims(), nil)
		_, err := v.Verify(t.Context(), tok)
		assertUnavailable(t, err)

		// Back up, but within the minute: still refused, without a fetch.
		s.down.Store(false)
		start := time.Now()
		_, err = v.Verify(t.Context(), tok)
		assertUnavailable(t, err)
		if d := time.Since(start); d > quick {
			t.Errorf("rejection took %v, want under %v", d, quick)
		}
		if n := s.fetches.Load(); n != 2 {
			t.Errorf("fetches = %d, want 2 (start, first unknown kid)", n)
		}
	})

	t.Run("IssuerUnreachableAtStart", func(t *testing.T) {
		// A port nothing listens on: connection refused, as when the issuer
		// is down rather than answering with an error.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		start := time.Now()
		v, err := auth.NewVerifier(t.Context(), auth.Config{
			JWKSURL: "https://" + addr + "/jwks.json", Issuer: testIssuer, Audience: testAudience,
			HTTPClient: &http.Client{Timeout: time.Second}, Now: fixedNow,
		})
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}
		if d := time.Since(start); d > quick {
			t.Errorf("NewVerifier took %v with the issuer down, want under %v", d, quick)
		}
		_, err = v.Verify(t.Context(), ks.ec.sign(t, validClaims(), nil))
		assertUnavailable(t, err)
	})

	t.Run("RefreshGoroutineEndsWithContext", func(t *testing.T) {
		s := newJWKSServer(t, jwksJSON(t, ks.ec))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		v, err := auth.NewVerifier(ctx, auth.Config{
			JWKSURL: s.srv.URL, Issuer: testIssuer, Audience: testAudience,
			HTTPClient: s.srv.Client(), Now: fixedNow,
		})
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}
		// The refresh goroutine starts after the first fetch.
		<-auth.FirstFetchDone(v)
		if refreshGoroutines() == 0 {
			t.Fatal("no refresh goroutine after NewVerifier")
		}
		cancel()
		for deadline := time.Now().Add(quick); refreshGoroutines() > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d refresh goroutines still running after ctx ended", refreshGoroutines())
			}
		}
	})
}

// TestVerifyHTTPLoopback: a plain-http JWKS on a loopback host (make run's
// local issuer, reached so by sam local invoke) is fetched and verifies
// tokens as an https one does. Other hosts are refused (TestNewVerifier).
func TestVerifyHTTPLoopback(t *testing.T) {
	ks := keys()
	raw := jwksJSON(t, ks.ec)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want http on 127.0.0.1", srv.URL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: srv.URL + "/.well-known/jwks.json", Issuer: testIssuer, Audience: testAudience, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), ks.ec.sign(t, validClaims(), nil)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// refreshGoroutines counts the JWKS refresh goroutines running in the
// process. It recognises them by jwkset's function name, the only handle a
// library goroutine offers; earlier subtests' goroutines end with their
// cleanups, so the count falls to zero once this test's ctx ends.
func refreshGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "auth.(*remoteKeys).refreshLoop")
}

func TestNewVerifier(t *testing.T) {
	ks := keys()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	good := writeJWKS(t, jwksJSON(t, ks.ec))
	hmacOnly := `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}`
	encOnly := strings.Replace(string(jwksJSON(t, ks.ec)), `"use":"sig"`, `"use":"enc"`, 1)

	for _, tc := range []struct {
		name    string
		cfg     auth.Config
		wantErr string // a substring; "" means success
	}{
		{name: "ValidFile", cfg: auth.Config{JWKSURL: good, Issuer: testIssuer, Audience: testAudience}},
		{name: "ErrHTTPURL", cfg: auth.Config{JWKSURL: "http://iam.example.com/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be an https:// URL, an http:// URL on a loopback host"},
		{name: "ErrHTTPOnAllInterfaces", cfg: auth.Config{JWKSURL: "http://0.0.0.0:3000/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrHTTPOnPrivateAddress", cfg: auth.Config{JWKSURL: "http://10.0.0.1/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrHTTPOnLoopbackLookalike", cfg: auth.Config{JWKSURL: "http://127.0.0.1.example.com/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrHTTPLocalhostSubdomain", cfg: auth.Config{JWKSURL: "http://localhost.example.com/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "HTTPOnLoopbackIPv4", cfg: auth.Config{JWKSURL: "http://127.0.0.1:1/jwks.json", Issuer: testIssuer, Audience: testAudience}},
		{name: "HTTPOnLoopbackIPv6", cfg: auth.Config{JWKSURL: "http://[::1]:1/jwks.json", Issuer: testIssuer, Audience: testAudience}},
		{name: "HTTPOnLocalhost", cfg: auth.Config{JWKSURL: "http://localhost:1/jwks.json", Issuer: testIssuer, Audience: testAudience}},
		{name: "ErrNoScheme", cfg: auth.Config{JWKSURL: "/etc/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrEmptyURL", cfg: auth.Config{Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrHTTPSWithoutHost", cfg: auth.Config{JWKSURL: "https:///jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrFileOnRemoteHost", cfg: auth.Config{JWKSURL: "file://example.com/jwks.json", Issuer: testIssuer, Audience: testAudience}, wantErr: "AUTH_JWKS_URL must be"},
		{name: "ErrNoIssuer", cfg: auth.Config{JWKSURL: good, Audience: testAudience}, wantErr: "AUTH_ISSUER is required"},
		{name: "ErrNoAudience", cfg: auth.Config{JWKSURL: good, Issuer: testIssuer}, wantErr: "AUTH_AUDIENCE is required"},
		{name: "ErrNegativeLeeway", cfg: auth.Config{JWKSURL: good, Issuer: testIssuer, Audience: testAudience, Leeway: -time.Second}, wantErr: "AUTH_LEEWAY"},
		{name: "ErrFileMissing", cfg: auth.Config{JWKSURL: "file://" + filepath.Join(dir, "absent.json"), Issuer: testIssuer, Audience: testAudience}, wantErr: "cannot read"},
		{name: "ErrFileNotJSON", cfg: auth.Config{JWKSURL: file("junk.json", "not json"), Issuer: testIssuer, Audience: testAudience}, wantErr: "not a valid JWKS"},
		{name: "ErrFileNoKeys", cfg: auth.Config{JWKSURL: file("empty.json", `{"keys":[]}`), Issuer: testIssuer, Audience: testAudience}, wantErr: "no usable signing key"},
		{name: "ErrFileOnlyHMACKey", cfg: auth.Config{JWKSURL: file("oct.json", hmacOnly), Issuer: testIssuer, Audience: testAudience}, wantErr: "no usable signing key"},
		{name: "ErrFileOnlyEncryptionKey", cfg: auth.Config{JWKSURL: file("enc.json", encOnly), Issuer: testIssuer, Audience: testAudience}, wantErr: "no usable signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := auth.NewVerifier(t.Context(), tc.cfg)
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("NewVerifier = %v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewVerifier err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// assertUnavailable checks err is the 503 answer for "no keys to judge with".
func assertUnavailable(t *testing.T, err error) {
	t.Helper()
	if code := userinfo.ErrorCode(err); code != userinfo.EUNAVAILABLE {
		t.Fatalf("ErrorCode = %q (%v), want %q", code, err, userinfo.EUNAVAILABLE)
	}
}
