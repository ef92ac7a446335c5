package auth

import (
	"crypto/sha256"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

const (
	// DefaultCacheSize is how many verified tokens a Verifier remembers when
	// Config.CacheSize is zero. An entry is about 200 bytes, so the cache
	// stays under 2 MiB; a Lambda instance serves one request at a time, so
	// this covers far more distinct callers than one instance ever sees
	// within an entry's life.
	DefaultCacheSize = 8192
	// maxCacheAge caps how long a verified token is trusted without checking
	// its signature again, whatever its exp: a key withdrawn from the JWKS
	// stops being honoured through the cache within this time.
	maxCacheAge = 5 * time.Minute
)

// verified is what the cache remembers of a token whose signature and
// claims were checked: the principal, and until when that check holds.
type verified struct {
	principal userinfo.Principal
	until     time.Time
}

// tokenCache remembers verified tokens by the SHA-256 of the whole token, so
// a repeated token costs a hash and a map lookup instead of a signature
// check (ES256 verification is about 100 µs, most of a warm request).
// Keying by the full token's hash means a token that differs in any byte,
// including its signature, is a miss and is verified from scratch. Only
// successes are cached: a rejected token is never remembered as anything.
type tokenCache struct {
	lru    *lru.Cache[[sha256.Size]byte, verified]
	now    func() time.Time
	leeway time.Duration // the parser's, added to exp
}

// newTokenCache returns a cache of size entries, or nil (caching off) for a
// negative size. leeway is the clock skew the parser tolerates on exp.
func newTokenCache(size int, now func() time.Time, leeway time.Duration) (*tokenCache, error) {
	if size < 0 {
		return nil, nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	c, err := lru.New[[sha256.Size]byte, verified](size)
	if err != nil {
		return nil, err
	}
	return &tokenCache{lru: c, now: now, leeway: leeway}, nil
}

// get returns the principal of a token verified before and still valid.
func (c *tokenCache) get(key [sha256.Size]byte) (userinfo.Principal, bool) {
	if c == nil {
		return userinfo.Principal{}, false
	}
	v, ok := c.lru.Get(key)
	if !ok {
		return userinfo.Principal{}, false
	}
	if !c.now().Before(v.until) {
		c.lru.Remove(key)
		return userinfo.Principal{}, false
	}
	return v.principal, true
}

// add remembers a verified token until it expires (with the leeway the
// parser allowed) or for maxCacheAge, whichever comes first.
func (c *tokenCache) add(key [sha256.Size]byte, p userinfo.Principal, expiresAt time.Time) {
	if c == nil {
		return
	}
	until := c.now().Add(maxCacheAge)
	if exp := expiresAt.Add(c.leeway); exp.Before(until) {
		until = exp
	}
	c.lru.Add(key, verified{principal: p, until: until})
}

// purge forgets every verified token: the issuer withdrew or replaced a key,
// and a token that key signed must be verified again (and refused), not
// honoured from the cache for up to maxCacheAge.
func (c *tokenCache) purge() {
	if c != nil {
		c.lru.Purge()
	}
}
