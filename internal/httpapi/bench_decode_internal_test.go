package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkDecode measures reading, decoding and validating the body of a
// PUT that sets all three members: decodeUpdate as the handler runs it, then
// Update.Validate as UpdateContact runs it first. make bench compares it with the whole baseline
// request (internal/bench), to show its share of a request.
func BenchmarkDecode(b *testing.B) {
	const body = `{"user":{"email":"alice.one@example.org","areacode":"0086","phone":"18292010816"}}`
	rd := strings.NewReader(body)
	r := httptest.NewRequest(http.MethodPut, "/v3.0/OS-USER/users/x/info", nil)
	r.Header.Set("Content-Type", "application/json;charset=utf8")
	r.Body, r.ContentLength = io.NopCloser(rd), int64(len(body))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		upd, err := decodeUpdate(w, r)
		if err != nil {
			b.Fatal(err)
		}
		if err := upd.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
