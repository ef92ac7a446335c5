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

// maxJWKSBytes bounds a JWKS response; a key set is a few KiB.
const maxJWKSBytes = 1 << 20

// remoteKeys is the key source of a fetched JWKS. A goroutine fetches it
// at once, then as nextRefresh says, until ctx ends; a kid not in the set
// triggers a fetch at most once per unknownKIDInterval. A fetch that finds
// a key withdrawn or replaced calls withdrawn.
//
// Not jwkset's HTTP storage: it refreshes on a fixed ticker, blind to
// Cache-Control. jwkset and keyfunc still parse, store and look up the keys.
type remoteKeys struct {
	url        string
	client     *http.Client
	logger     *slog.Logger
	refreshMin time.Duration
	withdrawn  func()

	storage         jwkset.Storage
	lookup          keyfunc.Keyfunc
	unknownKIDLimit *rate.Limiter
	ready           chan struct{} // closed when the first fetch has finished, keys or not

	mu        sync.Mutex   // one fetch at a time
	refreshes atomic.Int64 // successful fetches, for tests
}

// newRemoteKeys returns the key source of the JWKS at rawURL and starts its
// fetching goroutine. client and logger must not be nil.
func newRemoteKeys(ctx context.Context, rawURL string, client *http.Client, logger *slog.Logger, refreshMin time.Duration, withdrawn func()) *remoteKeys {
	storage := jwkset.NewMemoryStorage()
	lookup, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage, UseWhitelist: signingUses})
	if err != nil {
		// keyfunc.New fails only without a storage.
		panic(err)
	}
	r := &remoteKeys{
		url: rawURL, client: client, logger: logger, refreshMin: refreshMin, withdrawn: withdrawn,
		storage: storage, lookup: lookup,
		// Full at start: the first unknown kid may fetch at once.
		unknownKIDLimit: rate.NewLimiter(rate.Every(unknownKIDInterval), 1),
		ready:           make(chan struct{}),
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
		wait := nextRefresh(maxAge, err != nil, r.refreshMin)
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

// nextRefresh returns the wait before the next fetch: the issuer's max-age
// (negative: none) within [floor, jwksRefreshMax], or floor after a failed
// fetch.
func nextRefresh(maxAge time.Duration, failed bool, floor time.Duration) time.Duration {
	switch {
	case failed:
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

// fetch replaces the stored keys with the JWKS and returns its max-age. A
// failed fetch keeps the keys: an issuer outage must not become ours.
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
	if anyWithdrawn(old, keys) && r.withdrawn != nil {
		r.withdrawn()
	}
	r.refreshes.Add(1)
	return maxAge(res.Header), nil
}

// anyWithdrawn reports whether a key of old is missing from now, or has
// other key material under its kid.
func anyWithdrawn(old, now []jwkset.JWK) bool {
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

// KeyfuncCtx returns a key lookup that waits for the first fetch while ctx
// allows, and fetches the set again for an unknown kid when the limiter
// allows.
func (r *remoteKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		select {
		case <-r.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("auth: waiting for the first JWKS fetch: %w", ctx.Err())
		}
		k, err := r.lookup.KeyfuncCtx(ctx)(t)
		if !errors.Is(err, jwkset.ErrKeyNotFound) || !r.unknownKIDLimit.Allow() {
			return k, err
		}
		if _, ferr := r.fetch(ctx); ferr != nil {
			r.logger.ErrorContext(ctx, "JWKS fetch for an unknown kid failed", "jwks_url", r.url, "error", ferr.Error())
			return k, err
		}
		return r.lookup.KeyfuncCtx(ctx)(t)
	}
}

// Storage returns the stored keys, without waiting.
func (r *remoteKeys) Storage() jwkset.Storage { return r.storage }
