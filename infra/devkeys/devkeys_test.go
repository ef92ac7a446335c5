package devkeys_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func TestLoadOrCreate(t *testing.T) {
	t.Run("SameKIDOnReload", func(t *testing.T) {
		dir := t.TempDir()
		k1 := mustLoad(t, dir)
		pem1 := mustRead(t, filepath.Join(dir, "signing-key.pem"))
		k2 := mustLoad(t, dir)
		if k1.KID() != k2.KID() || k1.KID() == "" {
			t.Fatalf("KIDs %q and %q, want the same non-empty one", k1.KID(), k2.KID())
		}
		if pem2 := mustRead(t, filepath.Join(dir, "signing-key.pem")); string(pem1) != string(pem2) {
			t.Fatal("the key file changed on reload")
		}
	})

	t.Run("KIDIsThumbprint", func(t *testing.T) {
		k := mustLoad(t, t.TempDir())
		var set struct{ Keys []map[string]string }
		if err := json.Unmarshal(mustRead(t, k.JWKSPath()), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("jwks.json: %v, %d keys", err, len(set.Keys))
		}
		j := set.Keys[0]
		for _, c := range []string{"x", "y"} {
			if b, err := base64.RawURLEncoding.DecodeString(j[c]); err != nil || len(b) != 32 {
				t.Fatalf("%s = %q, want 32 bytes of base64url", c, j[c])
			}
		}
		// RFC 7638 section 3.2, written out by hand for an EC key.
		canonical := `{"crv":"` + j["crv"] + `","kty":"` + j["kty"] + `","x":"` + j["x"] + `","y":"` + j["y"] + `"}`
		sum := sha256.Sum256([]byte(canonical))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); k.KID() != want {
			t.Fatalf("kid = %q, want thumbprint %q", k.KID(), want)
		}
	})

	t.Run("CreatesPrivateFiles", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "keys")
		k := mustLoad(t, dir)
		assertMode(t, dir, 0o700)
		assertMode(t, filepath.Join(dir, "signing-key.pem"), 0o600)
		if k.JWKSPath() != filepath.Join(dir, "jwks.json") {
			t.Errorf("JWKSPath = %q", k.JWKSPath())
		}
		if want := "file://" + k.JWKSPath(); k.JWKSURL() != want {
			t.Errorf("JWKSURL = %q, want %q", k.JWKSURL(), want)
		}
	})

	t.Run("JWKSHasNoPrivateKey", func(t *testing.T) {
		dir := t.TempDir()
		k := mustLoad(t, dir)
		raw := mustRead(t, k.JWKSPath())
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 1 {
			t.Fatalf("jwks.json has %d keys, want 1", len(set.Keys))
		}
		jwk := set.Keys[0]
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := jwk[private]; ok {
				t.Errorf("jwks.json has private member %q", private)
			}
		}
		for name, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": k.KID()} {
			if jwk[name] != want {
				t.Errorf("jwks.json %s = %v, want %q", name, jwk[name], want)
			}
		}
		d, err := privateKey(t, dir).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), base64.RawURLEncoding.EncodeToString(d)) {
			t.Error("jwks.json contains the private scalar")
		}
	})

	t.Run("JWKSRecreatedWhenDeleted", func(t *testing.T) {
		dir := t.TempDir()
		k := mustLoad(t, dir)
		want := mustRead(t, k.JWKSPath())
		if err := os.Remove(k.JWKSPath()); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, mustLoad(t, dir).JWKSPath()); string(got) != string(want) {
			t.Fatalf("recreated jwks.json = %s, want %s", got, want)
		}
	})

	t.Run("ConcurrentCreatorsAgree", func(t *testing.T) {
		dir := t.TempDir()
		const n = 16
		kids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				k, err := devkeys.LoadOrCreate(dir)
				if err != nil {
					t.Error(err)
					return
				}
				kids[i] = k.KID()
			})
		}
		wg.Wait()
		for _, kid := range kids {
			if kid != kids[0] {
				t.Fatalf("creators got kids %q", kids)
			}
		}
		if !strings.Contains(string(mustRead(t, filepath.Join(dir, "jwks.json"))), kids[0]) {
			t.Error("jwks.json does not publish the winning key")
		}
		// Every loser's temporary file is gone.
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("dir holds %d entries, want signing-key.pem and jwks.json", len(entries))
		}
	})

	t.Run("ErrInvalidKeyFileKept", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "signing-key.pem")
		junk := []byte("not a key\n")
		if err := os.WriteFile(path, junk, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := devkeys.LoadOrCreate(dir); err == nil {
			t.Fatal("LoadOrCreate accepted a junk key file")
		}
		if got := mustRead(t, path); string(got) != string(junk) {
			t.Fatal("LoadOrCreate overwrote an unreadable key file")
		}
	})

	t.Run("ErrWrongCurve", func(t *testing.T) {
		dir := t.TempDir()
		p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(p384)
		if err != nil {
			t.Fatal(err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, "signing-key.pem"), pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := devkeys.LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "P-256") {
			t.Fatalf("LoadOrCreate err = %v, want one about P-256", err)
		}
	})
}

func TestSign(t *testing.T) {
	dir := t.TempDir()
	k := mustLoad(t, dir)
	v, err := auth.NewVerifier(t.Context(), auth.Config{
		JWKSURL: k.JWKSURL(), Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience,
	})
	if err != nil {
		t.Fatalf("NewVerifier(%s): %v", k.JWKSURL(), err)
	}

	t.Run("VerifiesWithAuth", func(t *testing.T) {
		iat := time.Now().Add(-time.Minute).Truncate(time.Second)
		tok, err := k.Sign(devkeys.Claims{Subject: "user-1", DomainID: "domain-1", IssuedAt: iat})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(t.Context(), tok)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if p.UserID != "user-1" || p.DomainID != "domain-1" || !p.IssuedAt.Equal(iat) {
			t.Fatalf("principal = %+v", p)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		iat := time.Unix(1_750_000_000, 0)
		tok, err := k.Sign(devkeys.Claims{Subject: "user-1", DomainID: "domain-1", IssuedAt: iat})
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		parsed, _, err := jwt.NewParser().ParseUnverified(tok, claims)
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Header["alg"] != "ES256" || parsed.Header["kid"] != k.KID() {
			t.Errorf("header = %v", parsed.Header)
		}
		want := map[string]any{
			"iss": devkeys.DefaultIssuer, "aud": []any{devkeys.DefaultAudience},
			"iat": float64(iat.Unix()), "exp": float64(iat.Add(devkeys.DefaultLifetime).Unix()),
		}
		for name, w := range want {
			if got, _ := json.Marshal(claims[name]); string(got) != string(mustJSON(t, w)) {
				t.Errorf("%s = %s, want %s", name, got, mustJSON(t, w))
			}
		}
		if _, ok := claims["nbf"]; ok {
			t.Error("nbf present although NotBefore was zero")
		}
	})

	t.Run("ErrExpiredRejected", func(t *testing.T) {
		tok, err := k.Sign(devkeys.Claims{Subject: "user-1", DomainID: "domain-1", IssuedAt: time.Now().Add(-3 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); userinfo.ErrorCode(err) != userinfo.EUNAUTHORIZED {
			t.Fatalf("Verify = %v, want EUNAUTHORIZED", err)
		}
	})

	t.Run("ErrMissingDomainIDRejected", func(t *testing.T) {
		tok, err := k.Sign(devkeys.Claims{Subject: "user-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); userinfo.ErrorCode(err) != userinfo.EUNAUTHORIZED {
			t.Fatalf("Verify = %v, want EUNAUTHORIZED", err)
		}
	})
}

func mustLoad(t *testing.T, dir string) *devkeys.Key {
	t.Helper()
	k, err := devkeys.LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return k
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %v, want %v", path, got, want)
	}
}

func privateKey(t *testing.T, dir string) *ecdsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(mustRead(t, filepath.Join(dir, "signing-key.pem")))
	if block == nil {
		t.Fatal("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("key is %T", k)
	}
	return priv
}

// TestHandlerServesJWKS: the JWKS served over http (what make run publishes
// at JWKSPath on loopback) is the file's, and a verifier fetching it
// accepts the key's tokens.
func TestHandlerServesJWKS(t *testing.T) {
	k := mustLoad(t, t.TempDir())
	mux := http.NewServeMux()
	mux.Handle(devkeys.JWKSPath, k.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + devkeys.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || string(body) != string(mustRead(t, k.JWKSPath())) {
		t.Fatalf("GET: %d %s %q, want 200 application/json and jwks.json's content", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if res, err := http.Post(srv.URL+devkeys.JWKSPath, "application/json", nil); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v, want 405", res, err)
	}

	v, err := auth.NewVerifier(t.Context(), auth.Config{JWKSURL: srv.URL + devkeys.JWKSPath, Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.Sign(devkeys.Claims{Subject: "u1", DomainID: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("a token of the key does not verify against the served JWKS: %v", err)
	}
}
