package auth_test

import "testing"

// BenchmarkVerify measures the per-request cost of Verify with a warm key
// cache: run with -benchmem, since allocations are what a busy Lambda pays
// for in GC.
func BenchmarkVerify(b *testing.B) {
	ks := keys()
	v := fileVerifier(b)
	for _, k := range []*testKey{ks.ec, ks.rsa, ks.ed} {
		tok := k.sign(b, validClaims(), nil)
		b.Run(k.method.Alg(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), tok); err != nil {
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
			if _, err := v.Verify(b.Context(), tok); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
