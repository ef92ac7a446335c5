package auth_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

const (
	msgInvalid = "The token is missing, invalid or expired."
	msgExpired = "The token has expired."
)

func TestVerify(t *testing.T) {
	ks := keys()
	v := fileVerifier(t)

	// A server the token's jku and x5u headers point at: if the verifier
	// ever followed them, it would show here as a request.
	attacker := newJWKSServer(t, jwksJSON(t, ks.attackerEC))
	attackerJWK := ks.attackerEC.jwk(t)
	smuggling := map[string]any{
		"jku": attacker.srv.URL + "/jwks.json",
		"x5u": attacker.srv.URL + "/cert.pem",
		"jwk": attackerJWK,
	}

	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, ks.rsa.pub)})
	hmacWithPublicKey := func(m jwt.SigningMethod) string {
		tok := jwt.NewWithClaims(m, validClaims())
		tok.Header["kid"] = ks.rsa.kid
		s, err := tok.SignedString(rsaPubPEM)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	algNone := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims())
		tok.Header["kid"] = ks.ec.kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// tampered keeps a valid signature but swaps in another payload.
	tampered := func() string {
		good := strings.Split(ks.ec.sign(t, validClaims(), nil), ".")
		other := strings.Split(ks.ec.sign(t, with(map[string]any{"sub": "admin"}), nil), ".")
		return good[0] + "." + other[1] + "." + good[2]
	}

	for _, tc := range []struct {
		name  string
		token string
		// want is the rejection cause in the error chain; nil means accepted.
		want    error
		wantMsg string
	}{
		{name: "ValidRS256", token: ks.rsa.sign(t, validClaims(), nil)},
		{name: "ValidES256", token: ks.ec.sign(t, validClaims(), nil)},
		{name: "ValidEdDSA", token: ks.ed.sign(t, validClaims(), nil)},
		{name: "ValidAudienceList", token: ks.ec.sign(t, with(map[string]any{"aud": []string{"other", testAudience}}), nil)},
		{name: "ValidExpiredWithinLeeway", token: ks.ec.sign(t, with(map[string]any{"exp": testNow.Add(-59 * time.Second).Unix()}), nil)},
		{name: "ValidNotBeforeWithinLeeway", token: ks.ec.sign(t, with(map[string]any{"nbf": testNow.Add(59 * time.Second).Unix()}), nil)},
		{name: "ValidWithoutNotBefore", token: ks.ec.sign(t, with(map[string]any{"nbf": nil}), nil)},
		{name: "ValidIgnoresJKUX5UJWKHeaders", token: ks.ec.sign(t, validClaims(), smuggling)},

		{name: "ErrMissing", token: "", want: auth.ErrNoToken},
		{name: "ErrMalformedNotJWT", token: "not-a-jwt", want: jwt.ErrTokenMalformed},
		{name: "ErrMalformedSegments", token: "a.b.c", want: jwt.ErrTokenMalformed},
		{name: "ErrMalformedTwoSegments", token: "eyJhbGciOiJFUzI1NiJ9.e30", want: jwt.ErrTokenMalformed},
		{name: "ErrBadSignature", token: tampered(), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrUnknownSignerWithKnownKID", token: ks.attackerEC.sign(t, validClaims(), map[string]any{"kid": ks.ec.kid}), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrUnknownKID", token: ks.attackerEC.sign(t, validClaims(), map[string]any{"kid": "kid-SECRETMARKER"}), want: jwkset.ErrKeyNotFound},
		{name: "ErrNoKID", token: ks.ec.sign(t, validClaims(), map[string]any{"kid": nil}), want: auth.ErrNoKID},
		{name: "ErrNumericKID", token: ks.ec.sign(t, validClaims(), map[string]any{"kid": 1}), want: auth.ErrNoKID},
		{name: "ErrExpired", token: ks.ec.sign(t, with(map[string]any{"exp": testNow.Add(-61 * time.Second).Unix()}), nil), want: jwt.ErrTokenExpired, wantMsg: msgExpired},
		{name: "ErrNotYetValid", token: ks.ec.sign(t, with(map[string]any{"nbf": testNow.Add(61 * time.Second).Unix()}), nil), want: jwt.ErrTokenNotValidYet},
		{name: "ErrIssuedInFuture", token: ks.ec.sign(t, with(map[string]any{"iat": testNow.Add(61 * time.Second).Unix()}), nil), want: jwt.ErrTokenUsedBeforeIssued},
		{name: "ErrWrongIssuer", token: ks.ec.sign(t, with(map[string]any{"iss": "https://evil.example"}), nil), want: jwt.ErrTokenInvalidIssuer},
		{name: "ErrMissingIssuer", token: ks.ec.sign(t, with(map[string]any{"iss": nil}), nil), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "ErrWrongAudience", token: ks.ec.sign(t, with(map[string]any{"aud": "another-api"}), nil), want: jwt.ErrTokenInvalidAudience},
		{name: "ErrMissingAudience", token: ks.ec.sign(t, with(map[string]any{"aud": nil}), nil), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "ErrMissingExp", token: ks.ec.sign(t, with(map[string]any{"exp": nil}), nil), want: jwt.ErrTokenRequiredClaimMissing},
		{name: "ErrMissingIat", token: ks.ec.sign(t, with(map[string]any{"iat": nil}), nil), want: auth.ErrNoIssuedAt},
		{name: "ErrMissingSub", token: ks.ec.sign(t, with(map[string]any{"sub": nil}), nil), want: auth.ErrNoSubject},
		{name: "ErrEmptySub", token: ks.ec.sign(t, with(map[string]any{"sub": ""}), nil), want: auth.ErrNoSubject},
		{name: "ErrMissingDomainID", token: ks.ec.sign(t, with(map[string]any{"domain_id": nil}), nil), want: auth.ErrNoDomainID},
		{name: "ErrEmptyDomainID", token: ks.ec.sign(t, with(map[string]any{"domain_id": ""}), nil), want: auth.ErrNoDomainID},
		{name: "ErrNumericDomainID", token: ks.ec.sign(t, with(map[string]any{"domain_id": 42}), nil), want: jwt.ErrTokenMalformed},
		{name: "ErrAlgNone", token: algNone(), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrHS256WithRSAPublicKeyAsSecret", token: hmacWithPublicKey(jwt.SigningMethodHS256), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrHS384WithRSAPublicKeyAsSecret", token: hmacWithPublicKey(jwt.SigningMethodHS384), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrHS512WithRSAPublicKeyAsSecret", token: hmacWithPublicKey(jwt.SigningMethodHS512), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrPS256NotAllowed", token: withMethod(ks.rsa, jwt.SigningMethodPS256).sign(t, validClaims(), nil), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrRS512NotAllowed", token: withMethod(ks.rsa, jwt.SigningMethodRS512).sign(t, validClaims(), nil), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrJWKAlgMismatch", token: ks.attackerEC.sign(t, validClaims(), map[string]any{"kid": ks.rsa.kid}), want: keyfunc.ErrKeyfunc},
		{name: "ErrKeyTypeMismatch", token: ks.attackerRSA.sign(t, validClaims(), map[string]any{"kid": ks.ec.kid}), want: jwt.ErrInvalidKeyType},
		{name: "ErrWrongCurveForES256", token: ks.attackerEC.sign(t, validClaims(), map[string]any{"kid": ks.ec384.kid}), want: auth.ErrWeakKey},
		{name: "ErrRSAKeyUnder2048Bits", token: ks.rsa1024.sign(t, validClaims(), nil), want: auth.ErrWeakKey},
		{name: "ErrAttackerKeyInJWKHeader", token: ks.attackerEC.sign(t, validClaims(), map[string]any{"kid": ks.ec.kid, "jwk": attackerJWK}), want: jwt.ErrTokenSignatureInvalid},
		{name: "ErrAttackerKeyViaJKU", token: ks.attackerEC.sign(t, validClaims(), smuggling), want: jwkset.ErrKeyNotFound},
		{name: "ErrTooLong", token: ks.ec.sign(t, with(map[string]any{"pad": strings.Repeat("x", auth.MaxTokenLength)}), nil), want: auth.ErrTooLong},
		{name: "ErrTooLongGarbage", token: strings.Repeat("a", auth.MaxTokenLength+1), want: auth.ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want := userinfo.Principal{UserID: "user-123", DomainID: "domain-456", IssuedAt: testNow.Add(-10 * time.Second)}
				if p.UserID != want.UserID || p.DomainID != want.DomainID || !p.IssuedAt.Equal(want.IssuedAt) {
					t.Fatalf("principal = %+v, want %+v", p, want)
				}
				return
			}
			assertUnauthorized(t, err, tc.want, tc.wantMsg)
			if p != (userinfo.Principal{}) {
				t.Errorf("principal = %+v on failure, want zero", p)
			}
		})
	}

	if n := attacker.fetches.Load(); n != 0 {
		t.Errorf("jku/x5u server was fetched %d times, want 0", n)
	}
}

// TestVerifyAtLengthLimit checks the boundary: a token of exactly
// MaxTokenLength bytes is parsed and accepted.
func TestVerifyAtLengthLimit(t *testing.T) {
	ks, v := keys(), fileVerifier(t)
	base := len(ks.ed.sign(t, validClaims(), nil))
	// Unpadded base64 is never 1 (mod 4) long, so one segment alone cannot
	// hit every length: pad the header a little as well as the payload.
	for hp := range 4 {
		hdr := map[string]any{"x-pad": strings.Repeat("h", hp)}
		// Each payload byte costs 4/3 of a byte of base64; start just short.
		for n := (auth.MaxTokenLength-base)*3/4 - 64; ; n++ {
			tok := ks.ed.sign(t, with(map[string]any{"pad": strings.Repeat("x", n)}), hdr)
			if len(tok) > auth.MaxTokenLength {
				break
			}
			if len(tok) < auth.MaxTokenLength {
				continue
			}
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Fatalf("Verify(%d bytes): %v", len(tok), err)
			}
			if _, err := v.Verify(t.Context(), tok+"x"); !errors.Is(err, auth.ErrTooLong) {
				t.Fatalf("Verify(%d bytes) = %v, want ErrTooLong", len(tok)+1, err)
			}
			return
		}
	}
	t.Fatalf("no padding gives exactly %d bytes", auth.MaxTokenLength)
}

func TestVerifyLeeway(t *testing.T) {
	ks := keys()
	v, err := auth.NewVerifier(t.Context(), auth.Config{
		JWKSURL:  writeJWKS(t, jwksJSON(t, ks.ec)),
		Issuer:   testIssuer,
		Audience: testAudience,
		Leeway:   5 * time.Second,
		Now:      fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrExpiredBeyondConfiguredLeeway", func(t *testing.T) {
		_, err := v.Verify(t.Context(), ks.ec.sign(t, with(map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()}), nil))
		assertUnauthorized(t, err, jwt.ErrTokenExpired, msgExpired)
	})
	t.Run("ValidExpiredWithinConfiguredLeeway", func(t *testing.T) {
		if _, err := v.Verify(t.Context(), ks.ec.sign(t, with(map[string]any{"exp": testNow.Add(-4 * time.Second).Unix()}), nil)); err != nil {
			t.Fatal(err)
		}
	})
}

// assertUnauthorized checks that err is an EUNAUTHORIZED *userinfo.Error with
// a generic message, caused by want, and that nothing in it comes from the
// token.
func assertUnauthorized(t *testing.T, err, want error, wantMsg string) {
	t.Helper()
	if wantMsg == "" {
		wantMsg = msgInvalid
	}
	var e *userinfo.Error
	if !errors.As(err, &e) || e.Code != userinfo.EUNAUTHORIZED {
		t.Fatalf("err = %v, want an EUNAUTHORIZED *userinfo.Error", err)
	}
	if e.Message != wantMsg {
		t.Errorf("message = %q, want %q", e.Message, wantMsg)
	}
	if !errors.Is(err, want) {
		t.Errorf("cause = %v, want %v", e.Err, want)
	}
	for _, leak := range []string{"SECRETMARKER", "user-123", "domain-456", "evil.example", "eyJ"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q quotes the token (%q)", err, leak)
		}
	}
}

// withMethod returns k signing with another algorithm under the same kid.
func withMethod(k *testKey, m jwt.SigningMethod) *testKey {
	c := *k
	c.method = m
	return &c
}

func mustPKIX(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
