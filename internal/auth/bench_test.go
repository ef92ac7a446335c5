package auth_test

import "testing"

// BenchmarkVerify measures the per-request cost of Verify with a warm key
// cache: run with -benchmem, since allocations are what a busy Lambda pays
// for in GC. "Uncached" checks the signature every time (token cache off);
// "Cached" is a repeated token, the common case of one client calling again.
func BenchmarkVerify(b *testing.B) {
	ks := keys()
	uncached := fileVerifierWith(b, -1, fixedNow)
	cached := fileVerifier(b)
	for _, k := range []*testKey{ks.ec, ks.rsa, ks.ed} {
		tok := k.sign(b, validClaims(), nil)
		b.Run(k.method.Alg()+"/Uncached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := uncached.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.method.Alg()+"/Cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cached.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// A rejected token must be cheap too: it is what an attacker sends.
	b.Run("RejectTooLong", func(b *testing.B) {
		tok := string(make([]byte, 9000))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cached.Verify(b.Context(), tok); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
