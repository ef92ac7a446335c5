package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// TestErrorAnswers: one answer for each status the API gives, so that API
// Gateway's own answers, keyed by status, can be held to it.
func TestErrorAnswers(t *testing.T) {
	answers := httpapi.ErrorAnswers()
	want := map[int]string{
		http.StatusBadRequest: "IAM.0011", http.StatusUnauthorized: "IAM.0001", http.StatusForbidden: "IAM.0002",
		http.StatusNotFound: "IAM.0004", http.StatusMethodNotAllowed: "IAM.0013", http.StatusConflict: "IAM.0005",
		http.StatusRequestEntityTooLarge: "IAM.0012", http.StatusInternalServerError: "IAM.0006",
		http.StatusServiceUnavailable: "IAM.0007", http.StatusTooManyRequests: "IAM.0014",
	}
	if len(answers) != len(want) {
		t.Errorf("%d answers, want %d: two error codes share a status, or one is new", len(answers), len(want))
	}
	for status, code := range want {
		a := answers[status]
		if a.Status != status || a.IAMCode != code || a.Message == "" {
			t.Errorf("answer for %d = %+v, want IAM code %s and a message", status, a, code)
		}
	}
}
