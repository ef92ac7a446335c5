package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/auth"
)

// slowIssuer is a JWKS endpoint that answers after delay, or not at all
// until the test ends when delay is negative.
func slowIssuer(t *testing.T, raw []byte, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var fetches atomic.Int64
	stop := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		wait := make(<-chan time.Time)
		if delay >= 0 {
			wait = time.After(delay)
		}
		select {
		case <-wait:
		case <-stop:
			return
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	}))
	// Unblock a hanging handler before Close waits for it.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	return srv, &fetches
}

func slowVerifier(t *testing.T, srv *httptest.Server) (*auth.Verifier, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := time.Now()
	v, err := auth.NewVerifier(ctx, auth.Config{
		JWKSURL: srv.URL + "/jwks.json", Issuer: testIssuer, Audience: testAudience,
		HTTPClient: srv.Client(), Now: fixedNow,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v, time.Since(start)
}

// The first JWKS fetch must not block init: NewVerifier returns at once,
// and only a Verify that needs keys before the fetch has finished waits.
func TestFirstFetchConcurrent(t *testing.T) {
	ks := keys()
	const delay = 2 * time.Second

	t.Run("NewVerifierReturnsAtOnce", func(t *testing.T) {
		srv, _ := slowIssuer(t, jwksJSON(t, ks.ec), delay)
		_, took := slowVerifier(t, srv)
		if took > 100*time.Millisecond {
			t.Errorf("NewVerifier took %v with a %v issuer, want well under 100ms", took, delay)
		}
	})

	t.Run("VerifyWaitsThenSucceeds", func(t *testing.T) {
		srv, fetches := slowIssuer(t, jwksJSON(t, ks.ec), delay)
		v, _ := slowVerifier(t, srv)
		start := time.Now()
		p, err := v.Verify(t.Context(), ks.ec.sign(t, validClaims(), nil))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if p.UserID == "" {
			t.Errorf("principal %+v has no user", p)
		}
		// It waited for the fetch already running, not for one of its own.
		if took < delay/2 || took > delay+quick {
			t.Errorf("Verify took %v, want about the issuer's %v", took, delay)
		}
		if n := fetches.Load(); n != 1 {
			t.Errorf("fetches = %d, want 1", n)
		}
	})

	t.Run("ConcurrentVerifiesShareTheFetch", func(t *testing.T) {
		srv, fetches := slowIssuer(t, jwksJSON(t, ks.ec), 300*time.Millisecond)
		v, _ := slowVerifier(t, srv)
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() {
				_, err := v.Verify(t.Context(), ks.ec.sign(t, validClaims(), nil))
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Errorf("Verify: %v", err)
			}
		}
		if n := fetches.Load(); n != 1 {
			t.Errorf("fetches = %d, want 1", n)
		}
	})

	t.Run("IssuerHangingVerifyKeepsTheDeadline", func(t *testing.T) {
		srv, _ := slowIssuer(t, jwksJSON(t, ks.ec), -1)
		v, _ := slowVerifier(t, srv)
		const budget = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(t.Context(), budget)
		defer cancel()
		start := time.Now()
		_, err := v.Verify(ctx, ks.ec.sign(t, validClaims(), nil))
		took := time.Since(start)
		assertUnavailable(t, err)
		if took > budget+200*time.Millisecond {
			t.Errorf("Verify took %v, want within the request's %v", took, budget)
		}
	})
}
