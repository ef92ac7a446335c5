package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// maxJWKSBytes bounds a JWKS response: a key set is a few KiB, and an
// issuer (or whoever answers in its name) must not make us buffer more.
const maxJWKSBytes = 1 << 20

// remoteKeys is the key source of an https JWKS. Its first fetch runs in
// the background from NewVerifier on; Verify reaches the keys only through
// KeyfuncCtx, which waits for that fetch as long as the request's ctx
// allows, and Storage, which never waits. After the first fetch a
// goroutine fetches the set again every jwksRefreshMax, sooner when the
// issuer's Cache-Control max-age says so (never sooner than refreshMin),
// until ctx ends. A kid not in the set triggers a fetch at most once per
// unknownKIDInterval. When a fetch finds a key withdrawn or replaced,
// withdrawn is called (the verifier forgets the tokens it verified).
//
// jwkset's own HTTP storage refreshes on a fixed ticker and never sees the
// response's headers; the keys are still parsed, stored and looked up by
// jwkset and keyfunc.
type remoteKeys struct {
	url        string
	client     *http.Client
	logger     *slog.Logger
	refreshMin time.Duration
	withdrawn  func()

	storage jwkset.Storage
	lookup  keyfunc.Keyfunc
	unknown *rate.Limiter
	ready   chan struct{} // closed when the first fetch has finished, keys or not

	mu        sync.Mutex   // one fetch at a time
	refreshes atomic.Int64 // successful fetches, for tests
}

// fetchConcurrently returns the key source of the JWKS at rawURL and starts
// its first fetch in a goroutine; the refresh goroutine it then becomes
// ends with ctx. client and logger must not be nil.
func fetchConcurrently(ctx context.Context, rawURL string, client *http.Client, logger *slog.Logger, refreshMin time.Duration, withdrawn func()) *remoteKeys {
	storage := jwkset.NewMemoryStorage()
	lookup, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage, UseWhitelist: signingUses})
	if err != nil {
		// keyfunc.New fails only without a storage.
		panic(err)
	}
	r := &remoteKeys{
		url: rawURL, client: client, logger: logger, refreshMin: refreshMin, withdrawn: withdrawn,
		storage: storage, lookup: lookup,
		// The limiter starts full: the first unknown kid may fetch at once.
		unknown: rate.NewLimiter(rate.Every(unknownKIDInterval), 1),
		ready:   make(chan struct{}),
	}
	go r.refreshLoop(ctx)
	return r
}

// refreshLoop makes the first fetch, then fetches again as nextRefresh says
// until ctx ends.
func (r *remoteKeys) refreshLoop(ctx context.Context) {
	maxAge, err := r.fetch(ctx)
	close(r.ready)
	for ctx.Err() == nil {
		wait := nextRefresh(maxAge, err, r.refreshMin)
		if err != nil {
			r.logger.ErrorContext(ctx, "JWKS refresh failed", "jwks_url", r.url, "retry_in", wait.String(), "error", err.Error())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		maxAge, err = r.fetch(ctx)
	}
}

// nextRefresh returns how long to wait before the next fetch: jwksRefreshMax,
// or the issuer's shorter max-age (maxAge, negative when it gave none), but
// never less than floor, which is also the wait after a failed fetch.
func nextRefresh(maxAge time.Duration, err error, floor time.Duration) time.Duration {
	switch {
	case err != nil:
		return floor
	case maxAge < 0 || maxAge > jwksRefreshMax:
		return jwksRefreshMax
	case maxAge < floor:
		return floor
	}
	return maxAge
}

// maxAge returns the freshness lifetime a Cache-Control header gives: its
// max-age, 0 for no-cache or no-store, and -1 when it says neither.
func maxAge(h http.Header) time.Duration {
	age := time.Duration(-1)
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && n >= 0 {
					age = time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
				}
			}
		}
	}
	return age
}

// fetch gets the JWKS, replaces the stored keys with it, and returns the
// response's max-age (see maxAge). A failed fetch keeps the keys there
// were: an issuer outage must not become ours.
func (r *remoteKeys) fetch(ctx context.Context) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return 0, fmt.Errorf("auth: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := r.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("auth: JWKS fetch: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("auth: JWKS fetch: status %d", res.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(io.LimitReader(res.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return 0, fmt.Errorf("auth: JWKS response: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for _, m := range set.Keys {
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		switch {
		case errors.Is(err, jwkset.ErrUnsupportedKey):
			continue
		case err != nil:
			return 0, fmt.Errorf("auth: JWKS key: %w", err)
		}
		keys = append(keys, k)
	}
	old, _ := r.storage.KeyReadAll(ctx)
	if err := r.storage.KeyReplaceAll(ctx, keys); err != nil {
		return 0, fmt.Errorf("auth: JWKS store: %w", err)
	}
	if withdrawnAny(old, keys) && r.withdrawn != nil {
		r.withdrawn()
	}
	r.refreshes.Add(1)
	return maxAge(res.Header), nil
}

// withdrawnAny reports whether a key of old is missing from now, or is
// there with other key material under its kid.
func withdrawnAny(old, now []jwkset.JWK) bool {
	current := make(map[string]jwkset.JWKMarshal, len(now))
	for _, k := range now {
		current[k.Marshal().KID] = k.Marshal()
	}
	for _, k := range old {
		m, ok := current[k.Marshal().KID]
		if !ok || !reflect.DeepEqual(m, k.Marshal()) {
			return true
		}
	}
	return false
}

// KeyfuncCtx returns a key lookup that first waits for the first fetch,
// for no longer than ctx allows (a lookup that gives up returns ctx's
// error, and Storage then shows no keys, which Verify answers with
// EUNAVAILABLE), and fetches the set again for an unknown kid when the
// limiter allows, without waiting for it.
func (r *remoteKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		select {
		case <-r.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("auth: waiting for the first JWKS fetch: %w", ctx.Err())
		}
		k, err := r.lookup.KeyfuncCtx(ctx)(t)
		if !errors.Is(err, jwkset.ErrKeyNotFound) || !r.unknown.Allow() {
			return k, err
		}
		if _, ferr := r.fetch(ctx); ferr != nil {
			r.logger.ErrorContext(ctx, "JWKS fetch for an unknown kid failed", "jwks_url", r.url, "error", ferr.Error())
			return k, err
		}
		return r.lookup.KeyfuncCtx(ctx)(t)
	}
}

// Storage returns the key cache; it shows no keys until the first fetch
// has found some, and never waits.
func (r *remoteKeys) Storage() jwkset.Storage { return r.storage }
