package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRunMix: with Config.Mix set, request n goes to the user and carries
// the body Mix returns for n, and nothing of the contention mix.
func TestRunMix(t *testing.T) {
	p := NewPopulation(1, 4, 1)
	var mu sync.Mutex
	got := map[string]string{} // body -> path
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(b)] = r.URL.Path
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	r, err := Run(context.Background(), Config{
		BaseURL: srv.URL, Population: p, Clients: 3, Requests: 12,
		Token: func(id, _ string) (string, error) { return "token-" + id, nil },
		Mix: func(n int) (int, string) {
			return n % len(p.Users), fmt.Sprintf(`{"user":{"email":"m%d@example.com"}}`, n)
		},
	})
	if err != nil || r.Statuses[http.StatusNoContent] != 12 {
		t.Fatalf("report %v, err %v", r, err)
	}
	for n := range 12 {
		path, ok := got[fmt.Sprintf(`{"user":{"email":"m%d@example.com"}}`, n)]
		if !ok || !strings.Contains(path, "/"+p.Users[n%len(p.Users)].ID+"/") {
			t.Errorf("request %d: sent to %q (sent: %v)", n, path, ok)
		}
	}
}
