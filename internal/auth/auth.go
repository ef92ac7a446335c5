// Package auth verifies the X-Auth-Token, a JWT signed with a key of the
// IAM token issuer's JWKS, and turns it into a userinfo.Principal.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when
// Config.Leeway is zero: a minute covers drift between the issuer's clock
// and ours without extending a token's life much.
const DefaultLeeway = 60 * time.Second

// MaxTokenLength is the longest token Verify parses, in bytes: IAM tokens
// are under 2 KiB, and a longer one must not buy decoding CPU or memory.
const MaxTokenLength = 8 << 10

const (
	// jwksFetchTimeout bounds every JWKS fetch: a hanging issuer must not
	// hold the requests waiting for it for long.
	jwksFetchTimeout = 5 * time.Second
	// jwksRefreshMax is the longest time between two JWKS fetches: with one
	// fetch, a withdrawn key verifies for at most 5 minutes
	// (TestRefreshSchedule).
	jwksRefreshMax = 4 * time.Minute
	// jwksRefreshMin is the shortest, also after a failed fetch: no answer
	// of the issuer's makes us hammer it.
	jwksRefreshMin = time.Minute
	// unknownKIDInterval is the least time between two fetches for unknown
	// kids, so random kids cannot flood the issuer.
	unknownKIDInterval = time.Minute
)

// allowedAlgs are the signing algorithms accepted: asymmetric only, as HS*
// with a public key as the secret would let anyone mint tokens.
var allowedAlgs = []string{"RS256", "ES256", "EdDSA"}

// signingUses are the JWK "use" values a verification key may carry ("use"
// is optional; an encryption key must not verify).
var signingUses = []jwkset.USE{jwkset.UseSig, ""}

// Config configures a Verifier. JWKSURL, Issuer and Audience are required.
type Config struct {
	// JWKSURL is the issuer's public keys: https:// in production; http://
	// on a loopback host or file:// (read once) locally.
	JWKSURL string
	// Issuer is the exact value the iss claim must have.
	Issuer string
	// Audience is a value the aud claim must contain.
	Audience string
	// Leeway is the clock skew tolerated on time claims; zero means
	// DefaultLeeway.
	Leeway time.Duration
	// HTTPClient fetches the JWKS; nil means one with a 5 s timeout that
	// refuses redirects away from https.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheSize is how many verified tokens are remembered; zero means
	// DefaultCacheSize, negative turns the cache off.
	CacheSize int
	// Logger receives failed JWKS refreshes; nil means slog.Default().
	Logger *slog.Logger

	// refreshMin replaces jwksRefreshMin in tests.
	refreshMin time.Duration
}

// Verifier verifies tokens against one issuer's JWKS. It is safe for
// concurrent use; build it once per process: it holds the key and token
// caches, and for a fetched JWKS a refreshing goroutine.
type Verifier struct {
	keys   keySource
	parser *jwt.Parser
	cache  *tokenCache
}

// keySource is what Verify needs of a JWKS: a key lookup under the
// request's ctx, and the stored keys, to tell "no keys yet" from "unknown
// kid". keyfunc.Keyfunc and remoteKeys implement it.
type keySource interface {
	KeyfuncCtx(ctx context.Context) jwt.Keyfunc
	Storage() jwkset.Storage
}

// NewVerifier returns a Verifier for cfg. A file:// JWKS is read now: an
// unreadable file, not a JWKS or one without a usable signing key is an
// error. An http(s) JWKS is fetched in the background, so init does not wait
// on the network, and refreshed until ctx ends (see remoteKeys); while the
// issuer is down, tokens fail rather than the function. Other errors name
// the variable at fault: a missing issuer or audience, a negative leeway, a
// URL CheckJWKSURL refuses.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("AUTH_ISSUER is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("AUTH_AUDIENCE is required")
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("AUTH_LEEWAY must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: jwksFetchTimeout, CheckRedirect: httpsOnlyRedirect}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, err := parseJWKSURL(cfg.JWKSURL)
	if err != nil {
		return nil, err
	}

	if cfg.refreshMin == 0 {
		cfg.refreshMin = jwksRefreshMin
	}
	cache, err := newTokenCache(cfg.CacheSize, cfg.Now, cfg.Leeway)
	if err != nil {
		return nil, err
	}
	var keys keySource
	if u.Scheme == "file" {
		storage, err := fileStorage(u.Path)
		if err != nil {
			return nil, err
		}
		if keys, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage, UseWhitelist: signingUses}); err != nil {
			return nil, fmt.Errorf("AUTH_JWKS_URL: %w", err)
		}
	} else {
		keys = newRemoteKeys(ctx, u.String(), cfg.HTTPClient, cfg.Logger, cfg.refreshMin, cache.purge)
	}

	return &Verifier{
		keys:  keys,
		cache: cache,
		// Immutable once built: shared by concurrent requests.
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			// A token issued in the future would outlive a revocation.
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			// Non-canonical base64 would give one signature many spellings.
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// errJWKSURL is the one statement of which JWKS URLs are accepted.
var errJWKSURL = errors.New("AUTH_JWKS_URL must be an https:// URL, an http:// URL on a loopback host (127.0.0.1, ::1 or localhost) or a file:// URL")

// CheckJWKSURL returns nil when NewVerifier accepts raw as a JWKS URL:
// https with a host, http on a loopback host (make run's local issuer),
// file:// on this machine. Its error names AUTH_JWKS_URL and those forms.
func CheckJWKSURL(raw string) error {
	_, err := parseJWKSURL(raw)
	return err
}

func parseJWKSURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errJWKSURL
	}
	switch {
	case u.Scheme == "https" && u.Host != "",
		u.Scheme == "http" && loopback(u.Hostname()),
		u.Scheme == "file" && (u.Host == "" || u.Host == "localhost") && u.Path != "":
		return u, nil
	}
	// Plain http elsewhere would let anyone on the path serve the keys.
	return nil, errJWKSURL
}

// loopback reports whether host is a loopback address or localhost (RFC
// 6761).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fileStorage reads a JWKS file once: a development key set does not
// rotate.
func fileStorage(path string) (jwkset.Storage, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("AUTH_JWKS_URL: cannot read the JWKS file: %w", err)
	}
	kf, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("AUTH_JWKS_URL: the file is not a valid JWKS: %w", err)
	}
	all, err := kf.Storage().KeyReadAll(context.Background())
	if err != nil {
		return nil, fmt.Errorf("AUTH_JWKS_URL: %w", err)
	}
	for _, k := range all {
		if usableKey(k) {
			return kf.Storage(), nil
		}
	}
	return nil, errors.New("AUTH_JWKS_URL: the JWKS file holds no usable signing key (RSA, EC P-256 or Ed25519 with a kid)")
}

// usableKey reports whether k could verify a token Verify accepts.
func usableKey(k jwkset.JWK) bool {
	m := k.Marshal()
	if m.KID == "" || (m.USE != "" && m.USE != jwkset.UseSig) {
		return false
	}
	switch m.KTY {
	case jwkset.KtyRSA:
		return true
	case jwkset.KtyEC:
		return m.CRV == jwkset.CrvP256
	case jwkset.KtyOKP:
		return m.CRV == jwkset.CrvEd25519
	}
	return false
}

// httpsOnlyRedirect refuses a redirect to anything but https, which would
// let a network attacker serve the keys.
func httpsOnlyRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return errors.New("auth: JWKS redirect away from https refused")
	}
	if len(via) >= 5 {
		return errors.New("auth: too many JWKS redirects")
	}
	return nil
}
