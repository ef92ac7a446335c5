package auth_test

import (
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func TestTokenCache(t *testing.T) {
	ks := keys()

	t.Run("RepeatSkipsSignatureCheck", func(t *testing.T) {
		v := fileVerifier(t)
		lookups := auth.CountKeyLookups(v)
		tok := ks.ec.sign(t, validClaims(), nil)
		for i := 0; i < 3; i++ {
			p, err := v.Verify(t.Context(), tok)
			if err != nil || p.UserID != "user-123" || p.DomainID != "domain-456" {
				t.Fatalf("Verify #%d = %+v, %v", i, p, err)
			}
		}
		if *lookups != 1 {
			t.Errorf("signature checks = %d for one token verified 3 times, want 1", *lookups)
		}
	})
	t.Run("ErrTamperedCopyOfCachedToken", func(t *testing.T) {
		v := fileVerifier(t)
		tok := ks.ec.sign(t, validClaims(), nil)
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		// Same header and claims, another signature: a different token.
		forged := tok[:len(tok)-4] + "AAAA"
		if forged == tok {
			forged = tok[:len(tok)-4] + "BBBB"
		}
		wantRejected(t, verifyErr(v, t, forged))
	})
	t.Run("ErrCachedTokenExpires", func(t *testing.T) {
		now := testNow
		v := fileVerifierWith(t, 0, func() time.Time { return now })
		lookups := auth.CountKeyLookups(v)
		tok := ks.ec.sign(t, with(map[string]any{"exp": testNow.Add(2 * time.Minute).Unix()}), nil)
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		now = testNow.Add(2*time.Minute + auth.DefaultLeeway - time.Second) // within the leeway: still good, from the cache
		if _, err := v.Verify(t.Context(), tok); err != nil || *lookups != 1 {
			t.Fatalf("within leeway: err %v, signature checks %d; want nil, 1", err, *lookups)
		}
		now = testNow.Add(2*time.Minute + auth.DefaultLeeway + time.Second)
		wantRejected(t, verifyErr(v, t, tok))
	})
	t.Run("EntriesAreRecheckedAfterFiveMinutes", func(t *testing.T) {
		now := testNow
		v := fileVerifierWith(t, 0, func() time.Time { return now })
		lookups := auth.CountKeyLookups(v)
		tok := ks.ec.sign(t, validClaims(), nil) // valid for an hour
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		now = testNow.Add(6 * time.Minute)
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		if *lookups != 2 {
			t.Errorf("signature checks = %d, want 2: an entry older than 5 minutes must be checked again", *lookups)
		}
	})
	t.Run("RejectedTokensAreNotCached", func(t *testing.T) {
		v := fileVerifier(t)
		lookups := auth.CountKeyLookups(v)
		tok := ks.ec.sign(t, with(map[string]any{"iss": "https://evil.example"}), nil)
		for i := 0; i < 2; i++ {
			wantRejected(t, verifyErr(v, t, tok))
		}
		if *lookups != 2 {
			t.Errorf("signature checks = %d for a bad token sent twice, want 2", *lookups)
		}
	})
	t.Run("CacheOff", func(t *testing.T) {
		v := fileVerifierWith(t, -1, fixedNow)
		lookups := auth.CountKeyLookups(v)
		tok := ks.ec.sign(t, validClaims(), nil)
		for i := 0; i < 2; i++ {
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
		}
		if *lookups != 2 {
			t.Errorf("signature checks = %d with the cache off, want 2", *lookups)
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		v := fileVerifierWith(t, 2, fixedNow)
		lookups := auth.CountKeyLookups(v)
		toks := []string{
			ks.ec.sign(t, with(map[string]any{"sub": "a"}), nil),
			ks.ec.sign(t, with(map[string]any{"sub": "b"}), nil),
			ks.ec.sign(t, with(map[string]any{"sub": "c"}), nil),
		}
		for _, tok := range append(toks, toks[0]) {
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
		}
		if *lookups != 4 {
			t.Errorf("signature checks = %d, want 4: the first token was evicted by the third", *lookups)
		}
	})
}

func verifyErr(v *auth.Verifier, t *testing.T, tok string) error {
	_, err := v.Verify(t.Context(), tok)
	return err
}

func wantRejected(t *testing.T, err error) {
	t.Helper()
	if code := userinfo.ErrorCode(err); code != userinfo.EUNAUTHORIZED {
		t.Fatalf("err = %v, want EUNAUTHORIZED", err)
	}
}
