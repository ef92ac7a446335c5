package load

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/tablecheck"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestEveryRequestChangesSomething: Verify counts one audit record per 204,
// which holds only if no request can be a no-op. Each must carry a value
// unique to it, and be valid.
func TestEveryRequestChangesSomething(t *testing.T) {
	p := NewPopulation(2, 50, 10)
	seen := map[string]bool{}
	contested := 0
	for n := range 5000 {
		var req struct {
			User struct{ Email, AreaCode, Phone, Mobile *string } `json:"user"`
		}
		b := body(rand.New(rand.NewPCG(7, uint64(n))), p, n)
		if err := json.Unmarshal([]byte(b), &req); err != nil {
			t.Fatalf("request %d: %v: %s", n, err, b)
		}
		upd := userinfo.Update{Email: req.User.Email, AreaCode: req.User.AreaCode, Phone: req.User.Phone, Mobile: req.User.Mobile}
		if err := upd.Validate(); err != nil {
			t.Fatalf("request %d is invalid: %v: %s", n, err, b)
		}
		phone := upd.Phone
		if phone == nil {
			phone = upd.Mobile
		}
		fresh := 0
		for _, v := range []string{*upd.Email, *phone} {
			if strings.Contains(v, "fresh") || strings.HasPrefix(v, "700") {
				fresh++
				if seen[v] {
					t.Fatalf("request %d reuses %q", n, v)
				}
				seen[v] = true
			}
		}
		if fresh == 0 {
			t.Fatalf("request %d has no value of its own: %s", n, b)
		}
		if fresh == 1 {
			contested++
		}
	}
	if contested < 3000 {
		t.Errorf("%d of 5000 requests contest a value; want most", contested)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	if Percentile(d, 50) != 100 || Percentile(d, 99) != 198 || Percentile(d[:1], 99) != 1 {
		t.Errorf("p50 %v p99 %v", Percentile(d, 50), Percentile(d, 99))
	}
	// e2ebench's cases, from when it had its own copy.
	d = d[:0]
	for i := 1; i <= 300; i++ {
		d = append(d, time.Duration(i))
	}
	if Percentile(d, 50) != 150 || Percentile(d, 99) != 297 {
		t.Errorf("of 300: p50 %v p99 %v", Percentile(d, 50), Percentile(d, 99))
	}
	// coldstart's median and p90 of 20.
	if d = d[:20]; Percentile(d, 50) != 10 || Percentile(d, 90) != 18 {
		t.Errorf("of 20: p50 %v p90 %v", Percentile(d, 50), Percentile(d, 90))
	}
}

func TestAverage(t *testing.T) {
	f := strings.Fields(Average())
	if len(f) != 3 {
		t.Fatalf("Average() = %q, want three numbers", Average())
	}
	for _, v := range f {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			t.Errorf("Average() = %q: %v", Average(), err)
		}
	}
}

// TestRun drives a stub API that answers 204, 409 and 503 in turn and
// checks what Run counts.
func TestRun(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPut || r.Header.Get("X-Auth-Token") == "" || !strings.HasSuffix(r.URL.Path, "/info") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		i := n.Add(1)
		w.Header().Set("X-Request-Id", "r"+strconv.Itoa(int(i)))
		w.WriteHeader([]int{http.StatusNoContent, http.StatusConflict, http.StatusServiceUnavailable}[i%3])
	}))
	defer srv.Close()
	r, err := Run(context.Background(), Config{
		BaseURL: srv.URL, Population: NewPopulation(1, 3, 2), Clients: 4, Requests: 30, Seed: 1,
		Token: func(id, _ string) (string, error) { return "token-" + id, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 30 || r.Statuses[204] != 10 || r.Statuses[409] != 10 || r.Statuses[503] != 10 ||
		len(r.Applied) != 10 || len(r.Uncertain) != 10 || r.P50 <= 0 || r.Throughput() <= 0 {
		t.Errorf("report %v, %d applied, %d uncertain", r, len(r.Applied), len(r.Uncertain))
	}
	t.Run("ErrCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r, err := Run(ctx, Config{BaseURL: srv.URL, Population: NewPopulation(1, 3, 2), Clients: 2, Requests: 1000,
			Token: func(string, string) (string, error) { return "t", nil }})
		if err == nil || r.Requests > 2 {
			t.Errorf("err %v after %d requests", err, r.Requests)
		}
	})
}

// verifyStates builds the states around a run of user u1 (version 1 before,
// version after) where audits lists the request ids that left an audit
// record.
func verifyStates(version int64, audits ...string) (before, after *tablecheck.State) {
	u := userinfo.User{ID: "u1", DomainID: "d1", Email: "a@example.com", Version: 1}
	if err := u.SetKeys(); err != nil {
		panic(err)
	}
	before = &tablecheck.State{
		Users:  map[string]userinfo.User{"u1": u},
		Guards: []ddbtable.Guard{{Kind: dynamo.GuardEmail, Value: "a@example.com", Version: userinfo.KeyVersion, UserID: "u1", DomainID: "d1"}},
		Audits: map[string][]ddbtable.AuditRecord{},
	}
	after = before.Clone()
	u.Version = version
	after.Users["u1"] = u
	for i, id := range audits {
		after.Audits["u1"] = append(after.Audits["u1"], ddbtable.AuditRecord{UserID: "u1", ActorUserID: "u1", RequestID: id, At: time.Unix(int64(i), 0)})
	}
	return before, after
}

func TestVerify(t *testing.T) {
	report := func(statuses map[int]int, applied, uncertain []string) Report {
		return Report{Statuses: statuses, Applied: applied, Uncertain: uncertain}
	}
	tests := []struct {
		name    string
		version int64
		audits  []string
		r       Report
		want    string
	}{
		{"Consistent", 3, []string{"r1", "r2"}, report(map[int]int{204: 2, 409: 1}, []string{"r1", "r2"}, nil), ""},
		{"UncertainApplied", 3, []string{"r1", "r3"}, report(map[int]int{204: 1, 503: 2}, []string{"r1"}, []string{"r3", "r4"}), ""},
		{"Err500", 2, []string{"r1"}, report(map[int]int{204: 1, 500: 1}, []string{"r1"}, nil), "status 500"},
		{"ErrNoResponse", 2, []string{"r1"}, Report{Statuses: map[int]int{204: 1}, Applied: []string{"r1"}, TransportErrors: 1, FirstError: "EOF"}, "got no response"},
		{"ErrAppliedWithoutAudit", 2, []string{"r1"}, report(map[int]int{204: 2}, []string{"r1", "r2"}, nil), "1 left no audit record"},
		{"ErrAuditTwice", 3, []string{"r1", "r1"}, report(map[int]int{204: 1}, []string{"r1"}, nil), "0 left no audit record and 1 more than one"},
		{"ErrAuditOfA409", 3, []string{"r1", "r9"}, report(map[int]int{204: 1, 409: 1}, []string{"r1"}, nil), "request r9, which was not answered 204 or 503"},
		{"ErrVersionWithoutAudit", 3, []string{"r1"}, report(map[int]int{204: 1}, []string{"r1"}, nil), "version rose by 2 with 1 new audit records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, after := verifyStates(tt.version, tt.audits...)
			err := Verify(before, after, tt.r)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Verify() = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("ErrInvariantBroken", func(t *testing.T) {
		before, after := verifyStates(1)
		after.Guards = nil
		if err := Verify(before, after, report(nil, nil, nil)); err == nil || !strings.Contains(err.Error(), "no guard") {
			t.Errorf("Verify() = %v", err)
		}
	})
}
