package auth

import (
	"crypto/sha256"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

const (
	// DefaultCacheSize is how many verified tokens a Verifier remembers when
	// Config.CacheSize is zero: more callers than an instance, serving one
	// request at a time, meets within maxCacheAge.
	DefaultCacheSize = 8192
	// maxCacheAge caps how long a verified token is trusted without a new
	// signature check, whatever its exp.
	maxCacheAge = 5 * time.Minute
)

// verified is a verified token's principal, and until when it holds.
type verified struct {
	principal userinfo.Principal
	until     time.Time
}

// tokenCache remembers verified tokens by the SHA-256 of the whole token,
// so a repeat skips the signature check (BenchmarkVerify, Cached against
// Uncached). A token that differs in any byte is a miss. Only successes are
// cached.
type tokenCache struct {
	lru    *lru.Cache[[sha256.Size]byte, verified]
	now    func() time.Time
	leeway time.Duration // the parser's, added to exp
}

// newTokenCache returns a cache of size entries, or nil (off) for a
// negative size. leeway is the parser's on exp.
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

// add remembers a verified token until its exp plus leeway, or for
// maxCacheAge if sooner.
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

// purge forgets every verified token, when the issuer withdrew or replaced
// a key: a token it signed must be refused, not served from the cache.
func (c *tokenCache) purge() {
	if c != nil {
		c.lru.Purge()
	}
}
