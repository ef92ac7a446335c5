package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/iam-userinfo/userinfo/internal/auth"
)

const (
	testIssuer   = "https://iam.example.test"
	testAudience = "iam-userinfo"
)

// testNow is the fixed clock of every verifier in these tests, so that time
// claims are exact and no case depends on how fast the machine is.
var testNow = time.Unix(1_750_000_000, 0)

func fixedNow() time.Time { return testNow }

// testKey is a signing key and how the JWKS publishes it.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   any
	pub    any
	// jwkAlg is the "alg" published in the JWKS; "" publishes none, as many
	// issuers do, which leaves the alg/key-type match to the JWT library.
	jwkAlg jwkset.ALG
}

type keySet struct {
	rsa, ec, ed     *testKey // published, usable
	ec384, rsa1024  *testKey // published, refused by policy
	attackerEC      *testKey // never published
	attackerRSA     *testKey // never published
	rotatedEC       *testKey // published by the https tests after start
	anotherRotation *testKey // never published within the tests' minute
}

// keys returns the test keys, generated once per test binary: RSA key
// generation takes long enough to matter when done per test.
var keys = sync.OnceValue(func() *keySet {
	rsaKey := func(bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return k
	}
	ecKey := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	r, r1024, ar := rsaKey(2048), rsaKey(1024), rsaKey(2048)
	e, e384, ae, re, ne := ecKey(elliptic.P256()), ecKey(elliptic.P384()), ecKey(elliptic.P256()), ecKey(elliptic.P256()), ecKey(elliptic.P256())
	return &keySet{
		rsa:             &testKey{kid: "rsa-1", method: jwt.SigningMethodRS256, priv: r, pub: &r.PublicKey, jwkAlg: jwkset.AlgRS256},
		ec:              &testKey{kid: "ec-1", method: jwt.SigningMethodES256, priv: e, pub: &e.PublicKey},
		ed:              &testKey{kid: "ed-1", method: jwt.SigningMethodEdDSA, priv: edPriv, pub: edPub, jwkAlg: jwkset.AlgEdDSA},
		ec384:           &testKey{kid: "ec-384", method: jwt.SigningMethodES384, priv: e384, pub: &e384.PublicKey},
		rsa1024:         &testKey{kid: "rsa-weak", method: jwt.SigningMethodRS256, priv: r1024, pub: &r1024.PublicKey, jwkAlg: jwkset.AlgRS256},
		attackerEC:      &testKey{kid: "attacker-ec", method: jwt.SigningMethodES256, priv: ae, pub: &ae.PublicKey},
		attackerRSA:     &testKey{kid: "attacker-rsa", method: jwt.SigningMethodRS256, priv: ar, pub: &ar.PublicKey},
		rotatedEC:       &testKey{kid: "ec-2", method: jwt.SigningMethodES256, priv: re, pub: &re.PublicKey},
		anotherRotation: &testKey{kid: "ec-3", method: jwt.SigningMethodES256, priv: ne, pub: &ne.PublicKey},
	}
})

// published is the key set the issuer serves at start.
func (ks *keySet) published() []*testKey {
	return []*testKey{ks.rsa, ks.ec, ks.ed, ks.ec384, ks.rsa1024}
}

// jwk returns k's public key as a JWK, marshalled by jwkset.
func (k *testKey) jwk(t testing.TB) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: k.kid, ALG: k.jwkAlg, USE: jwkset.UseSig,
	}})
	if err != nil {
		t.Fatalf("jwk(%s): %v", k.kid, err)
	}
	return j.Marshal()
}

// jwksJSON returns a JWKS document holding the public halves of ks.
func jwksJSON(t testing.TB, ks ...*testKey) []byte {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range ks {
		set.Keys = append(set.Keys, k.jwk(t))
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// writeJWKS writes raw to a fresh file and returns its file:// URL.
func writeJWKS(t testing.TB, raw []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "file", Path: path}).String()
}

// validClaims returns claims every verifier in these tests accepts.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       "user-123",
		"domain_id": "domain-456",
		"iat":       testNow.Add(-10 * time.Second).Unix(),
		"nbf":       testNow.Add(-10 * time.Second).Unix(),
		"exp":       testNow.Add(time.Hour).Unix(),
	}
}

// with returns a copy of validClaims changed by set; a nil value removes
// the claim.
func with(set map[string]any) jwt.MapClaims {
	c := validClaims()
	for k, v := range set {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign returns claims signed by k with k's kid and method; header entries
// are added to the JOSE header, and a nil value removes one.
func (k *testKey) sign(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	for h, v := range header {
		if v == nil {
			delete(tok.Header, h)
		} else {
			tok.Header[h] = v
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatalf("sign(%s): %v", k.kid, err)
	}
	return s
}

// fileVerifier returns a Verifier reading the published test keys from a
// file, with the test clock.
func fileVerifier(t testing.TB) *auth.Verifier {
	t.Helper()
	return fileVerifierWith(t, 0, fixedNow)
}

// fileVerifierWith is fileVerifier with a token cache of cacheSize entries
// (negative: off) and the clock now.
func fileVerifierWith(t testing.TB, cacheSize int, now func() time.Time) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(t.Context(), auth.Config{
		JWKSURL:   writeJWKS(t, jwksJSON(t, keys().published()...)),
		Issuer:    testIssuer,
		Audience:  testAudience,
		Now:       now,
		CacheSize: cacheSize,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// jwksServer is an issuer's JWKS endpoint on 127.0.0.1 that counts fetches
// and can be taken down and brought back.
type jwksServer struct {
	srv     *httptest.Server
	fetches atomic.Int64
	body    atomic.Pointer[[]byte]
	down    atomic.Bool
	// cacheControl is sent as Cache-Control when set.
	cacheControl atomic.Pointer[string]
}

func newJWKSServer(t testing.TB, raw []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.body.Store(&raw)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "issuer down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if cc := s.cacheControl.Load(); cc != nil {
			w.Header().Set("Cache-Control", *cc)
		}
		_, _ = w.Write(*s.body.Load())
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv.Listener = l
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) serve(raw []byte) { s.body.Store(&raw) }

// httpsVerifier returns a Verifier for s whose refresh goroutine ends with
// the test, once its first fetch (concurrent with NewVerifier) has finished,
// so that the state of s during that fetch is the one the test set.
func httpsVerifier(t testing.TB, s *jwksServer) *auth.Verifier {
	t.Helper()
	return httpsVerifierWith(t, s, func(c auth.Config) auth.Config { return c })
}

// httpsVerifierWith is httpsVerifier with its configuration passed through
// adjust first.
func httpsVerifierWith(t testing.TB, s *jwksServer, adjust func(auth.Config) auth.Config) *auth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := auth.NewVerifier(ctx, adjust(auth.Config{
		JWKSURL:    s.srv.URL + "/.well-known/jwks.json",
		Issuer:     testIssuer,
		Audience:   testAudience,
		HTTPClient: s.srv.Client(),
		Now:        fixedNow,
	}))
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	<-auth.FirstFetchDone(v)
	return v
}
