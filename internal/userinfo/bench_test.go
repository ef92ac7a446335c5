package userinfo_test

import (
	"testing"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// BenchmarkParseEmail and BenchmarkParseMobile measure the canonicalisation
// of one request's values; BENCHMARKS.md quotes them.
func BenchmarkParseEmail(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := userinfo.ParseEmail("alice.one@example.org"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMobile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := userinfo.ParseMobile("0086", "18292010816"); err != nil {
			b.Fatal(err)
		}
	}
}
