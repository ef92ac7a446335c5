package auth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/iam-userinfo/userinfo/internal/auth"
)

// TestWithdrawnKeyRefused withdraws a key from the issuer's JWKS while the
// verifier runs: after the next refresh, a token signed by that key is
// refused, even one verified (and cached) before, and the remaining key
// still verifies. The issuer says max-age=1, far under the 4-minute
// ceiling, so the refresh that finds the withdrawal comes after a second:
// it shows a shorter max-age is honoured.
func TestWithdrawnKeyRefused(t *testing.T) {
	ks := keys()
	s := newJWKSServer(t, jwksJSON(t, ks.ec, ks.rotatedEC))
	maxAge := "public, max-age=1"
	s.cacheControl.Store(&maxAge)
	v := httpsVerifierWith(t, s, func(c auth.Config) auth.Config { return auth.WithRefreshFloor(c, 100*time.Millisecond) })
	old, rotated := ks.ec.sign(t, validClaims(), nil), ks.rotatedEC.sign(t, validClaims(), nil)
	for _, tok := range []string{old, rotated, old} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("before the withdrawal: %v", err)
		}
	}

	s.serve(jwksJSON(t, ks.rotatedEC))
	withdrawnAt := auth.KeyRefreshes(v)
	// Wait for a fetch that started after the withdrawal has been stored:
	// two more successful fetches than at the withdrawal.
	deadline := time.Now().Add(30 * time.Second)
	for auth.KeyRefreshes(v) < withdrawnAt+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no refresh in 30 s with max-age=1 (%d fetches)", s.fetches.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := v.Verify(t.Context(), old)
	assertUnauthorized(t, err, jwkset.ErrKeyNotFound, "")
	if _, err := v.Verify(t.Context(), rotated); err != nil {
		t.Errorf("the key still published: %v", err)
	}
}

// TestRefreshSchedule: a withdrawn key is refused within five minutes
// whatever the issuer says, a shorter max-age is honoured down to a minute,
// and nothing the issuer answers makes the verifier ask more often.
func TestRefreshSchedule(t *testing.T) {
	if worst := auth.JWKSRefreshMax + auth.JWKSFetchTimeout; worst > 5*time.Minute {
		t.Errorf("a withdrawn key may be honoured %v after it is gone; the README says 5 minutes", worst)
	}
	tests := []struct {
		name         string
		cacheControl string
		failed       bool
		want         time.Duration
	}{
		{"NoHeader", "", false, auth.JWKSRefreshMax},
		{"LongMaxAge", "public, max-age=86400", false, auth.JWKSRefreshMax},
		{"ShorterMaxAge", "max-age=120", false, 2 * time.Minute},
		{"MaxAgeQuoted", `max-age="90"`, false, 90 * time.Second},
		{"MaxAgeBelowFloor", "max-age=5", false, auth.JWKSRefreshMin},
		{"MaxAgeZero", "max-age=0", false, auth.JWKSRefreshMin},
		{"NoStore", "no-store", false, auth.JWKSRefreshMin},
		{"NoCacheBesideMaxAge", "max-age=3600, no-cache", false, auth.JWKSRefreshMin},
		{"Garbage", "max-age=soon", false, auth.JWKSRefreshMax},
		{"Negative", "max-age=-1", false, auth.JWKSRefreshMax},
		{"FailedFetch", "max-age=3600", true, auth.JWKSRefreshMin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.cacheControl != "" {
				h.Set("Cache-Control", tt.cacheControl)
			}
			if got := auth.NextRefresh(h, tt.failed); got != tt.want {
				t.Errorf("next refresh in %v, want %v", got, tt.want)
			}
		})
	}
	if auth.JWKSRefreshMin < time.Minute {
		t.Errorf("the floor %v would let an issuer's max-age make us ask more than once a minute", auth.JWKSRefreshMin)
	}
}
