package auth

import (
	"context"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Causes the tests assert on, so that a rejection is known to be for the
// reason the case is about and not for another one.
var (
	ErrNoToken    = errNoToken
	ErrTooLong    = errTooLong
	ErrNoKID      = errNoKID
	ErrWeakKey    = errWeakKey
	ErrNoIssuedAt = errNoIssuedAt
	ErrNoSubject  = errNoSubject
	ErrNoDomainID = errNoDomainID
)

// CountKeyLookups replaces v's key source with one that counts how often a
// token's key is looked up, which is once per signature check: the cache
// tests observe through it which tokens were verified from scratch.
func CountKeyLookups(v *Verifier) *int {
	n := new(int)
	v.keys = &countingKeys{inner: v.keys, n: n}
	return n
}

type countingKeys struct {
	inner keySource
	n     *int
}

func (c *countingKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	*c.n++
	return c.inner.KeyfuncCtx(ctx)
}

func (c *countingKeys) Storage() jwkset.Storage { return c.inner.Storage() }

// FirstFetchDone returns a channel closed once v's first JWKS fetch has
// finished (at once for a file JWKS), so that a test can pin the state of
// the issuer during that fetch.
func FirstFetchDone(v *Verifier) <-chan struct{} {
	if r, ok := v.keys.(*remoteKeys); ok {
		return r.ready
	}
	done := make(chan struct{})
	close(done)
	return done
}

// KeyRefreshes returns how many JWKS fetches of v have succeeded.
func KeyRefreshes(v *Verifier) int64 {
	if r, ok := v.keys.(*remoteKeys); ok {
		return r.refreshes.Load()
	}
	return 0
}

// WithRefreshFloor returns cfg with the shortest time between two JWKS
// fetches set to floor, so that a test can follow a short max-age.
func WithRefreshFloor(cfg Config, floor time.Duration) Config {
	cfg.refreshMin = floor
	return cfg
}

// The refresh schedule's bounds and its rule, for the schedule's own test.
const (
	JWKSRefreshMax   = jwksRefreshMax
	JWKSRefreshMin   = jwksRefreshMin
	JWKSFetchTimeout = jwksFetchTimeout
)

func NextRefresh(h http.Header, failed bool) time.Duration {
	return nextRefresh(maxAge(h), failed, jwksRefreshMin)
}
