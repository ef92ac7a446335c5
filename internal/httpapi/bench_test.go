package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// BenchmarkPut measures the warm path of a successful update: routing,
// token check, authorisation read, decode, validation and a write to the
// in-memory store, with JSON logging to io.Discard. Each iteration sets a
// different email, so every one writes.
func BenchmarkPut(b *testing.B) {
	store := newMemStore()
	logger := slog.New(slog.NewJSONHandler(discard{}, nil))
	h := httpapi.NewServer(logger, httpapi.Config{}, stubAuth{}, userinfo.NewService(store, nil))
	bodies := []string{
		`{"user":{"email":"alice.one@example.org","areacode":"0086","phone":"18292010816"}}`,
		`{"user":{"email":"alice.two@example.org","areacode":"0086","phone":"18292010817"}}`,
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPut, alicePath, strings.NewReader(bodies[i%2]))
		r.Header.Set("X-Auth-Token", aliceToken)
		r.Header.Set("Content-Type", jsonContentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status = %d; body %s", w.Code, w.Body)
		}
		i++
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
