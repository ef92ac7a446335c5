package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
)

// The token attack table: every way a caller may try to get past
// X-Auth-Token, through HTTP against the real API (app.New, the real
// verifier on the local ES256 JWKS, DynamoDB Local). The verifier's unit
// tests (internal/auth) cover the same rows per cause, and RSA keys; here
// the point is the answer a caller gets, and that nothing was written.

// attackClaims returns valid claims for alice, issued now, with overrides
// applied (a nil value deletes the claim).
func attackClaims(overrides map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": aliceID, "domain_id": domainA, "iss": devkeys.DefaultIssuer, "aud": devkeys.DefaultAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// signingKey returns the env's real signing key, read from the PEM file
// devkeys keeps next to the JWKS: the attack rows need tokens whose
// signature is genuine and whose header or claims devkeys.Sign cannot make.
func (e *apiEnv) signingKey() *ecdsa.PrivateKey {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(e.key.JWKSPath()), "signing-key.pem"))
	if err != nil {
		e.t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		e.t.Fatal("signing-key.pem holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

// sign returns a token with claims and header (kid defaults to the real
// one; a nil value deletes a header), signed by key with method.
func (e *apiEnv) sign(m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	e.t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = e.key.KID()
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secret(s)
	return s
}

// unsigned returns header.payload. with an empty signature: alg "none"
// in any spelling, which the JWT library would refuse to produce.
func unsigned(header map[string]any, claims jwt.MapClaims) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// attackerSite serves the attacker's JWKS (and anything else) and counts
// requests: a verifier that followed jku, x5u or a URL-shaped kid shows here.
func attackerSite(t *testing.T, pub *ecdsa.PublicKey) (*httptest.Server, *atomic.Int64, map[string]any) {
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "attacker", ALG: jwkset.AlgES256, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	}))
	t.Cleanup(srv.Close)
	one, err := json.Marshal(jwk.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	var embedded map[string]any
	if err := json.Unmarshal(one, &embedded); err != nil {
		t.Fatal(err)
	}
	return srv, &hits, embedded
}

func TestTokenAttacks(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	body := userBody(`"email":"mallory@example.com"`)
	e.secret("mallory@example.com")
	now := time.Now()
	genuine := e.signingKey()
	ok := attackClaims(nil)

	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	site, siteHits, attackerJWK := attackerSite(t, &attacker.PublicKey)
	other, err := devkeys.LoadOrCreate(t.TempDir()) // a key the JWKS does not hold
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Sign(devkeys.Claims{Subject: aliceID, DomainID: domainA})
	e.secret(foreign)
	valid := e.token(aliceID, domainA)
	parts := strings.Split(valid, ".")
	badSig := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	jwks, err := os.ReadFile(e.key.JWKSPath())
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := x509.MarshalPKIXPublicKey(&genuine.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub})
	noneHeader := func(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "JWT", "kid": e.key.KID()} }
	pad := strings.Repeat("x", 8<<10)

	tests := []struct {
		name   string
		token  string
		header map[string]string // instead of X-Auth-Token, when set
		path   string            // alice's unless set
		status int
	}{
		{name: "ErrNoToken", status: 401},
		{name: "ErrMalformed", token: "not-a-jwt", status: 401},
		{name: "ErrBadSignature", token: badSig, status: 401},
		{name: "ErrAlgNone", token: unsigned(noneHeader("none"), ok), status: 401},
		{name: "ErrAlgNoneCapitalised", token: unsigned(noneHeader("None"), ok), status: 401},
		{name: "ErrAlgNoneWithRealSignature", token: unsigned(noneHeader("none"), ok) + parts[2], status: 401},
		// The local key is ES256: HMAC keyed with its public forms. RSA
		// public keys as HMAC secrets are in internal/auth's unit table.
		{name: "ErrHS256KeyedWithJWKS", token: e.sign(jwt.SigningMethodHS256, jwks, nil, ok), status: 401},
		{name: "ErrHS256KeyedWithECPublicKeyPEM", token: e.sign(jwt.SigningMethodHS256, ecPubPEM, nil, ok), status: 401},
		{name: "ErrWrongKeyUnknownKID", token: foreign, status: 401},
		{name: "ErrWrongKeyKnownKID", token: e.sign(jwt.SigningMethodES256, attacker, nil, ok), status: 401},
		{name: "ErrNoKID", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": nil}, ok), status: 401},
		{name: "ErrKIDNotString", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": []string{e.key.KID()}}, ok), status: 401},
		{name: "ErrKIDPathTraversal", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": "../../etc/passwd"}, ok), status: 401},
		{name: "ErrKIDJWKSPath", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": e.key.JWKSPath()}, ok), status: 401},
		{name: "ErrKIDFileURL", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": "file:///etc/passwd"}, ok), status: 401},
		{name: "ErrKIDFileURLOfJWKS", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": e.key.JWKSURL()}, ok), status: 401},
		{name: "ErrKIDHTTPSURL", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": "https://evil.example/jwks#k"}, ok), status: 401},
		{name: "ErrKIDAttackerURL", token: e.sign(jwt.SigningMethodES256, attacker, map[string]any{"kid": site.URL + "/jwks.json#attacker"}, ok), status: 401},
		{name: "ErrKIDWithSuffix", token: e.sign(jwt.SigningMethodES256, genuine, map[string]any{"kid": e.key.KID() + "\x00"}, ok), status: 401},
		{name: "ErrJKUToAttackerKey", token: e.sign(jwt.SigningMethodES256, attacker, map[string]any{"kid": "attacker", "jku": site.URL + "/jwks.json"}, ok), status: 401},
		{name: "ErrJKUWithKnownKID", token: e.sign(jwt.SigningMethodES256, attacker, map[string]any{"jku": site.URL + "/jwks.json"}, ok), status: 401},
		{name: "ErrX5UToAttackerCert", token: e.sign(jwt.SigningMethodES256, attacker, map[string]any{"kid": "attacker", "x5u": site.URL + "/cert.pem"}, ok), status: 401},
		{name: "ErrJWKEmbeddedAttackerKey", token: e.sign(jwt.SigningMethodES256, attacker, map[string]any{"jwk": attackerJWK}, ok), status: 401},
		{name: "ErrJWKEmbeddedWithItsKID", token: e.sign(jwt.SigningMethodES256, attacker, map[string]any{"kid": "attacker", "jwk": attackerJWK}, ok), status: 401},
		{name: "ErrExpired", token: e.tokenWith(devkeys.Claims{Subject: aliceID, DomainID: domainA, IssuedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(-2 * time.Hour)}), status: 401},
		{name: "ErrExpiredBeyondLeeway", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})), status: 401},
		{name: "ErrNoExpiry", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"exp": nil})), status: 401},
		{name: "ErrNotYetValid", token: e.tokenWith(devkeys.Claims{Subject: aliceID, DomainID: domainA, NotBefore: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}), status: 401},
		{name: "ErrIssuedInFuture", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"iat": now.Add(10 * time.Minute).Unix()})), status: 401},
		{name: "ErrNoIssuedAt", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"iat": nil})), status: 401},
		{name: "ErrWrongIssuer", token: e.tokenWith(devkeys.Claims{Subject: aliceID, DomainID: domainA, Issuer: "https://evil.example"}), status: 401},
		{name: "ErrIssuerCaseChanged", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"iss": strings.ToUpper(devkeys.DefaultIssuer)})), status: 401},
		{name: "ErrIssuerTrailingSlash", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"iss": devkeys.DefaultIssuer + "/"})), status: 401},
		{name: "ErrWrongAudience", token: e.tokenWith(devkeys.Claims{Subject: aliceID, DomainID: domainA, Audience: "another-api"}), status: 401},
		{name: "ErrMissingAudience", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"aud": nil})), status: 401},
		{name: "ErrAudienceListWithoutUs", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"aud": []string{"a", "b"}})), status: 401},
		{name: "ErrMissingSub", token: e.tokenWith(devkeys.Claims{DomainID: domainA}), status: 401},
		{name: "ErrSubNotString", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"sub": []string{aliceID}})), status: 401},
		{name: "ErrMissingDomainID", token: e.tokenWith(devkeys.Claims{Subject: aliceID}), status: 401},
		{name: "ErrOversizedGarbage", token: valid + strings.Repeat("A", 8<<10), status: 401},
		{name: "ErrOversizedGenuine", token: e.sign(jwt.SigningMethodES256, genuine, nil, attackClaims(map[string]any{"pad": pad})), status: 401},
		{name: "ErrBearerPrefixInXAuthToken", token: "Bearer " + valid, status: 401},
		{name: "ErrAuthorizationBearerOnly", header: map[string]string{"Authorization": "Bearer " + valid}, status: 401},
		{name: "ErrCookieOnly", header: map[string]string{"Cookie": "X-Auth-Token=" + valid}, status: 401},
		{name: "ErrQueryParameterOnly", path: path(aliceID) + "?X-Auth-Token=" + valid, status: 401},
		{name: "ErrSubOfAnotherUser", token: e.token(bobID, domainA), status: 403},
		{name: "ErrDomainOfAnotherAccount", token: e.token(aliceID, domainB), status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.secret(tt.token)
			headers := map[string]string{"Content-Type": "application/json;charset=utf8", "X-Auth-Token": tt.token}
			if tt.header != nil {
				headers = map[string]string{"Content-Type": "application/json;charset=utf8"}
				for k, v := range tt.header {
					headers[k] = v
				}
			}
			p := tt.path
			if p == "" {
				p = path(aliceID)
			}
			r := e.do(http.MethodPut, p, headers, strings.NewReader(body))
			code := map[int]string{401: "IAM.0001", 403: "IAM.0002"}[tt.status]
			b := wantError(t, r, tt.status, code)
			// Which check failed is the log's business, not the caller's.
			for _, hint := range []string{"kid", "key", "audience", "issuer", "signature", "alg", "claim"} {
				if strings.Contains(strings.ToLower(b.Message), hint) {
					t.Errorf("error_msg %q tells the caller which check failed (%s)", b.Message, hint)
				}
			}
		})
	}
	t.Run("ErrRevoked", func(t *testing.T) {
		old := e.tokenWith(devkeys.Claims{Subject: bobID, DomainID: domainA, IssuedAt: now.Add(-10 * time.Minute)})
		u := e.user(bobID)
		u.TokensRevokedAt = now.Add(-5 * time.Minute)
		e.seedUser(*u)
		wantError(t, e.put(path(bobID), old, body), http.StatusUnauthorized, "IAM.0001")
		if r := e.put(path(bobID), e.token(bobID, domainA), body); r.status != http.StatusNoContent {
			t.Errorf("a token issued after the revocation: got %d %s", r.status, r.body)
		}
	})
	t.Run("JKUX5UJWKHeadersIgnoredOnGenuineToken", func(t *testing.T) {
		// Ignored, not merely refused: a genuine token that carries them
		// still works, and the URLs in them are never fetched.
		tok := e.sign(jwt.SigningMethodES256, genuine, map[string]any{"jku": site.URL + "/jwks.json", "x5u": site.URL + "/cert.pem", "jwk": attackerJWK},
			attackClaims(map[string]any{"sub": daveID, "domain_id": domainB}))
		e.secret("dave.jku@example.org")
		if r := e.put(path(daveID), tok, userBody(`"email":"dave.jku@example.org"`)); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s, want 204", r.status, r.body)
		}
	})
	if n := siteHits.Load(); n != 0 {
		t.Errorf("the attacker's site was fetched %d times: a token chose where its key comes from", n)
	}
	if u := e.user(aliceID); u.Email != "alice@example.com" || u.Version != 1 {
		t.Errorf("a rejected token changed alice: %+v", u)
	}
	recs, err := e.store.AuditRecords(context.Background(), aliceID, now.Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(recs) != 0 {
		t.Errorf("alice has %d audit records (%v), want none", len(recs), err)
	}
}
