// Package auth verifies the X-Auth-Token that callers present: a JWT issued
// by the IAM token issuer and signed with a key from the issuer's JWKS. It
// turns a token into a userinfo.Principal, or into an EUNAUTHORIZED error
// whose message is safe to show.
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
// Config.Leeway is zero: the issuer's clock and Lambda's are not the same
// clock, and a minute covers NTP drift without extending a token's life much.
const DefaultLeeway = 60 * time.Second

// MaxTokenLength is the longest token Verify will parse, in bytes. Real IAM
// tokens are well under 2 KiB; anything longer is refused before base64 or
// JSON decoding so that an oversized header cannot buy CPU or memory.
const MaxTokenLength = 8 << 10

const (
	// jwksFetchTimeout bounds every JWKS fetch, including the first one,
	// which NewVerifier starts in the background: a hanging issuer must
	// not hold the requests that wait for it, nor a goroutine, for long.
	jwksFetchTimeout = 5 * time.Second
	// jwksRefreshMax is the longest time between two fetches of the JWKS:
	// a key the issuer withdraws is refused at most this long, plus one
	// fetch (jwksFetchTimeout), after it is gone: within 5 minutes.
	jwksRefreshMax = 4 * time.Minute
	// jwksRefreshMin is the shortest: a shorter Cache-Control max-age (or
	// no-cache) is honoured down to it, and a failed fetch is tried again
	// after it, so no answer of the issuer's makes us hammer it.
	jwksRefreshMin = time.Minute
	// unknownKIDInterval is the least time between two fetches triggered by
	// a token whose kid is not in the cached JWKS. Without it, anyone could
	// turn random kids into a flood of requests to the issuer.
	unknownKIDInterval = time.Minute
)

// allowedAlgs are the only signing algorithms accepted. Asymmetric only:
// "none" is unsigned, and HS* would let anyone holding the public key (it is
// public) mint tokens if a JWKS key were ever used as an HMAC secret.
var allowedAlgs = []string{"RS256", "ES256", "EdDSA"}

// signingUses are the JWK "use" values a verification key may carry: a key
// published for encryption must not verify signatures, and "use" is optional.
var signingUses = []jwkset.USE{jwkset.UseSig, ""}

// Config configures a Verifier. JWKSURL, Issuer and Audience are required.
type Config struct {
	// JWKSURL is where the issuer's public keys are: an https:// URL in
	// production; for development and tests, an http:// URL on a loopback
	// host (make run's local issuer) or a file:// URL (read once).
	JWKSURL string
	// Issuer is the exact value the iss claim must have.
	Issuer string
	// Audience is a value the aud claim must contain.
	Audience string
	// Leeway is the clock skew tolerated on time claims; zero means
	// DefaultLeeway.
	Leeway time.Duration
	// HTTPClient fetches an https JWKS; nil means a client with a 5 s
	// timeout that refuses redirects away from https.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheSize is how many verified tokens are remembered so a repeated
	// token skips the signature check; zero means DefaultCacheSize, a
	// negative value turns the cache off.
	CacheSize int
	// Logger receives failed background JWKS refreshes; nil means
	// slog.Default(). The API passes its own JSON logger so that an issuer
	// outage shows in the same log stream as the requests it affects.
	Logger *slog.Logger

	// refreshMin replaces jwksRefreshMin when set (tests only: a real issuer
	// must never be asked more often).
	refreshMin time.Duration
}

// Verifier verifies tokens against one issuer's JWKS. It is safe for
// concurrent use and meant to be built once per process: it holds the key
// cache, and for an https JWKS a goroutine that refreshes it.
type Verifier struct {
	keys   keySource
	parser *jwt.Parser
	cache  *tokenCache
}

// keySource is what Verify needs of a JWKS: a key lookup that honours the
// request's ctx, and the cache itself, to tell "no keys yet" from "unknown
// kid". keyfunc.Keyfunc has it, and so has remoteKeys.
type keySource interface {
	KeyfuncCtx(ctx context.Context) jwt.Keyfunc
	Storage() jwkset.Storage
}

// NewVerifier validates cfg and returns a Verifier for it. For a file://
// JWKSURL it reads the file now and returns an error when the file cannot be
// read, is not a JWKS, or holds no usable signing key. For an https:// URL it
// returns at once and fetches the JWKS in the background: a network round
// trip must not lengthen the Lambda init phase, and a Verify that comes
// before the fetch has finished waits for it (see remoteKeys). When the
// issuer is down, tokens fail until a later fetch succeeds rather than keep
// the function from starting; the background refresh ends when ctx ends. It
// returns an error naming the configuration variable at fault for a missing
// issuer or audience, a negative leeway, or a URL CheckJWKSURL refuses. An
// http:// URL on a loopback host is fetched as an https one is.
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
		// Not now: the first fetch runs beside the rest of init (and the
		// runtime's first poll), and only a Verify that needs keys before
		// it has finished waits for it.
		keys = fetchConcurrently(ctx, u.String(), cfg.HTTPClient, cfg.Logger, cfg.refreshMin, cache.purge)
	}

	return &Verifier{
		keys:  keys,
		cache: cache,
		// One parser for the process: it is immutable once built, so sharing
		// it across concurrent requests is safe and costs nothing per call.
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			// A token "issued" in the future is forged or from a broken
			// clock; either way it would outlive a revocation.
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

// CheckJWKSURL returns nil when raw is a JWKS URL NewVerifier accepts, and
// an error naming AUTH_JWKS_URL and the accepted forms otherwise: https with
// a host; http only with a loopback host, where no one on the network can
// stand in for the issuer (make run serves its local keys so, for sam local
// invoke and make invoke); file:// on this machine.
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
	// Plain http elsewhere would let anyone on the path substitute their
	// own keys.
	return nil, errJWKSURL
}

// loopback reports whether host is a loopback address, or localhost, which
// resolves to one (RFC 6761).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fileStorage reads and parses a JWKS file once. A development key set does
// not rotate under a running process, so there is nothing to refresh.
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

// usableKey reports whether k could ever verify a token Verify accepts;
// a file with none of them is a misconfiguration to catch at start-up.
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

// httpsOnlyRedirect refuses a redirect to anything but https: following one
// to http would let a network attacker serve the keys.
func httpsOnlyRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return errors.New("auth: JWKS redirect away from https refused")
	}
	if len(via) >= 5 {
		return errors.New("auth: too many JWKS redirects")
	}
	return nil
}
