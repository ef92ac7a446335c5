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

// Messages shown to the caller. They never say which check failed beyond
// expiry: telling a prober "wrong audience" or "unknown key" helps them, and
// an expired token is the one failure a legitimate client acts on (by
// getting a new token).
const (
	msgInvalid = "The token is missing, invalid or expired."
	msgExpired = "The token has expired."
)

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// Causes kept in userinfo.Error.Err for the log. They are fixed values on
// purpose: the library's errors can quote parts of the token (the kid, claim
// values), and a token is attacker-controlled text that must not reach the
// logs verbatim, nor could a log line then be trusted to hold no credential.
var (
	errNoToken      = errors.New("auth: no token")
	errTooLong      = errors.New("auth: token longer than 8 KiB, not parsed")
	errNoKID        = errors.New("auth: token has no kid header")
	errWeakKey      = errors.New("auth: JWKS key is on the wrong curve for ES256 or under 2048 bits")
	errNoIssuedAt   = errors.New("auth: token has no iat claim")
	errNoSubject    = errors.New("auth: token has no sub claim")
	errNoDomainID   = errors.New("auth: token has no domain_id claim")
	errUnrecognised = errors.New("auth: token rejected")
	// errNoKeys is not the caller's fault: the issuer's JWKS has never been
	// fetched (it was down at start and still is), so no token can be
	// judged. It answers 503, so clients retry instead of discarding a
	// good token; an unknown kid with keys in the cache stays a 401, so an
	// attacker cannot turn random kids into 503s.
	errNoKeys        = errors.New("auth: the JWKS holds no keys yet (issuer unreachable)")
	orderedSentinels = []error{
		// Most specific first: a failed key lookup is also "unverifiable".
		errNoKID, errWeakKey, jwkset.ErrKeyNotFound, keyfunc.ErrKeyfunc,
		errNoIssuedAt, errNoSubject, errNoDomainID,
		jwt.ErrTokenMalformed, jwt.ErrInvalidKeyType, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenExpired,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenUnverifiable, jwt.ErrTokenInvalidClaims,
	}
)

// claims is the payload Verify reads. Typed rather than jwt.MapClaims so
// that JSON decoding does one pass into fixed fields and a wrongly typed
// domain_id (a number, say) fails decoding instead of passing as "".
type claims struct {
	jwt.RegisteredClaims
	DomainID string `json:"domain_id"`
}

// Validate adds the claims this API requires to the library's checks; the
// parser calls it after the signature and the standard claims passed.
func (c *claims) Validate() error {
	switch {
	case c.IssuedAt == nil:
		// Revocation compares iat with the user's revocation time; a token
		// without iat could never be revoked.
		return errNoIssuedAt
	case c.Subject == "":
		return errNoSubject
	case c.DomainID == "":
		return errNoDomainID
	}
	return nil
}

// Verify checks token and returns the principal it names. It returns an
// EUNAUTHORIZED *userinfo.Error for an empty token, a token over
// MaxTokenLength bytes (not parsed), one that is malformed, signed with an
// algorithm other than RS256, ES256 or EdDSA, lacks a kid naming a JWKS key,
// has a bad signature, another issuer, no matching audience, is expired, not
// yet valid or lacks exp, iat, sub or domain_id. The message never quotes
// the token; Err holds a fixed cause for the log. It returns EUNAVAILABLE
// when an https JWKS has never been fetched, so nothing can be verified.
func (v *Verifier) Verify(ctx context.Context, token string) (userinfo.Principal, error) {
	if token == "" {
		return userinfo.Principal{}, unauthorized(msgInvalid, errNoToken)
	}
	if len(token) > MaxTokenLength {
		return userinfo.Principal{}, unauthorized(msgInvalid, errTooLong)
	}
	// []byte(token) copies the token to the heap (any real token is over
	// the compiler's 32-byte stack buffer): the one allocation of a hit.
	key := sha256.Sum256([]byte(token))
	if p, ok := v.cache.get(key); ok {
		return p, nil
	}
	// On a miss, c is the one other allocation Verify makes itself: the
	// parser holds it behind an interface. The closure stays on the stack;
	// it carries the request's ctx to the key lookup, which may fetch the
	// JWKS for an unknown kid and must then honour the request's deadline.
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

// key returns the JWKS key for t's kid. The parser has already checked the
// alg against allowedAlgs, and it checks the key's Go type against the alg,
// so an RSA key never verifies an ES256 token; headers such as jku, x5u and
// jwk are never read, because a token must not choose its own key.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	// Without a kid, keyfunc would try every key in the set; requiring one
	// keeps verification to one signature check per token.
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
		// RFC 7518 ties ES256 to P-256; the library checks only the type.
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

// cause returns the first known sentinel in err's chain, so the log says why
// a token failed without repeating anything the token contained.
func cause(err error) error {
	for _, s := range orderedSentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return errUnrecognised
}
