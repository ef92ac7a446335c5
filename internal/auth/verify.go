package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Messages shown to the caller. Only expiry is told apart, since a client
// acts on it; any other detail would help a prober.
const (
	msgInvalid = "The token is missing, invalid or expired."
	msgExpired = "The token has expired."
)

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// Causes kept in userinfo.Error.Err for the log: fixed values, since the
// library's errors can quote parts of the token.
var (
	errNoToken      = errors.New("auth: no token")
	errTooLong      = errors.New("auth: token longer than 8 KiB, not parsed")
	errNoKID        = errors.New("auth: token has no kid header")
	errWeakKey      = errors.New("auth: JWKS key is on the wrong curve for ES256 or under 2048 bits")
	errNoIssuedAt   = errors.New("auth: token has no iat claim")
	errNoSubject    = errors.New("auth: token has no sub claim")
	errNoDomainID   = errors.New("auth: token has no domain_id claim")
	errUnrecognised = errors.New("auth: token rejected")
	// errNoKeys: the JWKS has never been fetched, so no token can be
	// judged; EUNAVAILABLE, so clients retry. An unknown kid among stored
	// keys stays EUNAUTHORIZED, so random kids cannot make 503s.
	errNoKeys        = errors.New("auth: the JWKS holds no keys yet (issuer unreachable)")
	orderedSentinels = []error{
		// Most specific first.
		errNoKID, errWeakKey, jwkset.ErrKeyNotFound, keyfunc.ErrKeyfunc,
		errNoIssuedAt, errNoSubject, errNoDomainID,
		jwt.ErrTokenMalformed, jwt.ErrInvalidKeyType, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenExpired,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenUnverifiable, jwt.ErrTokenInvalidClaims,
	}
)

// claims is the payload Verify reads; typed, so a domain_id that is not a
// string fails decoding.
type claims struct {
	jwt.RegisteredClaims
	DomainID string `json:"domain_id"`
}

// Validate adds the claims this API requires to the library's checks.
func (c *claims) Validate() error {
	switch {
	case c.IssuedAt == nil:
		// Without iat a token could not be revoked.
		return errNoIssuedAt
	case c.Subject == "":
		return errNoSubject
	case c.DomainID == "":
		return errNoDomainID
	}
	return nil
}

// Verify returns the principal token names. It returns EUNAUTHORIZED for a
// token that is empty, over MaxTokenLength bytes, malformed, not signed
// with RS256, ES256 or EdDSA by a JWKS key named by its kid, of another
// issuer or audience, expired, not yet valid, or without exp, iat, sub or
// domain_id; Err holds a fixed cause for the log. It returns EUNAVAILABLE
// while the JWKS has never been fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (userinfo.Principal, error) {
	if token == "" {
		return userinfo.Principal{}, unauthorized(msgInvalid, errNoToken)
	}
	if len(token) > MaxTokenLength {
		return userinfo.Principal{}, unauthorized(msgInvalid, errTooLong)
	}
	key := sha256.Sum256([]byte(token))
	if p, ok := v.cache.get(key); ok {
		return p, nil
	}
	// The key lookup may fetch the JWKS for an unknown kid: under the
	// request's ctx.
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		if errors.Is(err, errNoKeys) {
			return userinfo.Principal{}, userinfo.Unavailable(errNoKeys, "The token issuer's keys are temporarily unavailable.")
		}
		if errors.Is(err, jwt.ErrTokenExpired) {
			return userinfo.Principal{}, unauthorized(msgExpired, jwt.ErrTokenExpired)
		}
		return userinfo.Principal{}, unauthorized(msgInvalid, cause(err))
	}
	p := userinfo.Principal{UserID: c.Subject, DomainID: c.DomainID, IssuedAt: c.IssuedAt.Time}
	v.cache.add(key, p, c.ExpiresAt.Time)
	return p, nil
}

// key returns the JWKS key for t's kid; the parser checks the alg and the
// key's type. A token must not choose its key: jku, x5u and jwk are not
// read (TestVerify).
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	// Without a kid keyfunc would try every key.
	if kid, _ := t.Header[jwkset.HeaderKID].(string); kid == "" {
		return nil, errNoKID
	}
	k, err := v.keys.KeyfuncCtx(ctx)(t)
	if err != nil {
		if all, rerr := v.keys.Storage().KeyReadAll(ctx); rerr == nil && len(all) == 0 {
			return nil, errNoKeys
		}
		return nil, err
	}
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		// RFC 7518 ties ES256 to P-256; the library checks the type only.
		if k.Curve != elliptic.P256() {
			return nil, errWeakKey
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, errWeakKey
		}
	}
	return k, nil
}

func unauthorized(msg string, cause error) error {
	return &userinfo.Error{Code: userinfo.EUNAUTHORIZED, Message: msg, Err: cause}
}

// cause returns the first known sentinel in err's chain: why a token
// failed, without its content.
func cause(err error) error {
	for _, s := range orderedSentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return errUnrecognised
}
