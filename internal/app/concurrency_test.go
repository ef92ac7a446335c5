package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/load"
)

// TestContention is the load test: 64 concurrent clients, 50 users
// in two accounts fighting over 10 email addresses and 10 mobile numbers,
// through the real API over HTTP on DynamoDB Local. Every answer must be
// 204, 409 or 503, and afterwards the table must hold what DynamoDB's
// transactions promise (load.Verify): each value with at most one user per
// account, guards and users agreeing, one audit record per 204.
//
// It sends 600 requests, not the 2,000: DynamoDB Local runs a
// transaction in about 10 ms and serves 50-70 requests a second on a
// 2-core machine whatever the concurrency, so 2,000 took about 40 s and
// 600 take about 10. `make loadtest` runs the size and more
// (20,000 by default) with the same generator and checks.
func TestContention(t *testing.T) {
	const (
		accounts  = 2
		users     = 50
		contested = 10
		clients   = 64
		requests  = 600
	)
	ctx := context.Background()
	e := newEnv(t, "")
	pop := load.NewPopulation(accounts, users, contested)
	for _, u := range pop.Users {
		e.secret(u.Email, u.Phone)
	}
	e.secret(pop.Emails...)
	e.secret(pop.Phones...)
	if err := pop.Seed(ctx, e.store); err != nil {
		t.Fatal(err)
	}
	before, err := load.ReadState(ctx, e.client, e.table, pop)
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r, err := load.Run(runCtx, load.Config{
		BaseURL:    e.url,
		Population: pop,
		Token:      func(id, domain string) (string, error) { return e.token(id, domain), nil },
		Clients:    clients,
		Requests:   requests,
		Seed:       uint64(time.Now().UnixNano()), // a new mix every run; the report logs it
	})
	t.Log(r)
	if err != nil {
		t.Fatalf("run cut short: %v", err)
	}

	after, err := load.ReadState(ctx, e.client, e.table, pop)
	if err != nil {
		t.Fatal(err)
	}
	if err := load.Verify(before, after, r); err != nil {
		t.Error(err)
	}
	if r.Requests != requests || r.Statuses[http.StatusNoContent] == 0 || r.Statuses[http.StatusConflict] == 0 {
		t.Errorf("%d requests, statuses %v: want %d, and both 204 and 409 (contention)", r.Requests, r.Statuses, requests)
	}
}
