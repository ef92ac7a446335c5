package dynamo_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/faultproxy"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// newProxy returns a fault proxy in front of DynamoDB Local, stopped when
// the test ends.
func newProxy(t *testing.T, rules ...faultproxy.Rule) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(endpoint, rules...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// clientAt returns a client whose endpoint is url, configured the way
// operators configure it: through AWS_ENDPOINT_URL_DYNAMODB.
func clientAt(t *testing.T, url string, opts ...func(*config.LoadOptions) error) *ddbtable.Table {
	t.Helper()
	t.Setenv(dynamo.EndpointEnv, url)
	c, err := awsconfig.NewClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return newStore(c)
}

func TestFaultsAreUnavailable(t *testing.T) {
	seed := newStore(client)
	u := seedUser(t, seed, newID("d-"), "fault@example.com", "", "")
	getUser := func(s *ddbtable.Table) error { _, err := s.GetUser(context.Background(), u.ID); return err }
	applyChange := func(s *ddbtable.Table) error {
		c := change(u)
		c.Email = email("other@example.com")
		return s.ApplyChange(context.Background(), c)
	}
	const get, transact = "GetItem", "TransactWriteItems"

	tests := []struct {
		name         string
		fault        faultproxy.Fault
		op           string
		opts         []func(*config.LoadOptions) error
		wantAttempts int
	}{
		{"ProvisionedThroughputExceeded", faultproxy.ProvisionedThroughputExceeded, get, nil, dynamo.MaxAttemptsPerCall},
		{"ThrottlingException", faultproxy.Throttling, get, nil, dynamo.MaxAttemptsPerCall},
		{"RequestLimitExceeded", faultproxy.RequestLimitExceeded, transact, nil, dynamo.MaxAttemptsPerCall},
		{"HTTP500", faultproxy.InternalServerError, transact, nil, dynamo.MaxAttemptsPerCall},
		{"HTTP503NoBody", faultproxy.Error(503, ""), get, nil, dynamo.MaxAttemptsPerCall},
		{"ConnectionReset", faultproxy.ConnectionReset, get, nil, dynamo.MaxAttemptsPerCall},
		// Not retried by the SDK: a cancelled transaction is an answer.
		{"TransactionThrottled", faultproxy.TransactionCanceled(faultproxy.ReasonThrottling), transact, nil, 1},
		{"AttemptsCutByOption", faultproxy.Throttling, get, []func(*config.LoadOptions) error{awsconfig.WithMaxAttempts(1)}, 1},
		// A retry bucket that cannot pay for one throttle retry (5 tokens):
		// the SDK gives up with ratelimit.QuotaExceededError.
		{"RetryQuotaExhausted", faultproxy.Throttling, get,
			[]func(*config.LoadOptions) error{config.WithRetryer(func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.NewTokenRateLimit(1) })
			})}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProxy(t)
			s := clientAt(t, p.URL(), tt.opts...)
			// Through the proxy, unfaulted, the store works: the faults
			// below are the proxy's, not a broken setup.
			if err := getUser(s); err != nil {
				t.Fatalf("through the proxy: %v", err)
			}
			if err := p.SetRules(faultproxy.Rule{Fault: tt.fault}); err != nil {
				t.Fatal(err)
			}
			call := getUser
			if tt.op == transact {
				call = applyChange
			}

			begin := time.Now()
			err := call(s)
			elapsed := time.Since(begin)

			if userinfo.ErrorCode(err) != userinfo.EUNAVAILABLE || userinfo.ErrorMessage(err) != "The user store is temporarily unavailable." {
				t.Fatalf("err = %v, want EUNAVAILABLE", err)
			}
			if got := p.Requests(tt.op); got != tt.wantAttempts {
				t.Errorf("%d attempts reached the proxy, want %d", got, tt.wantAttempts)
			}
			// Three attempts with at most 100 ms between them; the SDK's
			// defaults took seconds.
			if elapsed > time.Second {
				t.Errorf("took %v, want well under a second", elapsed)
			}
			if tt.name == "RetryQuotaExhausted" && !errors.As(err, new(ratelimit.QuotaExceededError)) {
				t.Errorf("err = %v, want QuotaExceededError in its chain", err)
			}
		})
	}
}

// TestTransactionConflictIsStale: DynamoDB cancels a transaction that
// collides with another one in flight. The store must report a race (so
// the service recomputes), not a failure, and not retry by itself.
func TestTransactionConflictIsStale(t *testing.T) {
	seed := newStore(client)
	u := seedUser(t, seed, newID("d-"), "conflict@example.com", "", "")
	p := newProxy(t, faultproxy.Rule{Op: "TransactWriteItems", Fault: faultproxy.TransactionCanceled(faultproxy.ReasonTransactionConflict)})
	c := change(u)
	c.Email = email("other@example.com")
	err := clientAt(t, p.URL()).ApplyChange(context.Background(), c)
	var stale *userinfo.StaleError
	if !errors.As(err, &stale) || stale.Current != nil {
		t.Fatalf("err = %v, want *StaleError without a current user", err)
	}
	if n := p.Requests("TransactWriteItems"); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	s := clientAt(t, closed)

	begin := time.Now()
	_, err = s.GetUser(context.Background(), "u-1")
	if userinfo.ErrorCode(err) != userinfo.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("took %v against a closed port", d)
	}
}

func TestDeadlineIsUnavailable(t *testing.T) {
	// An answer that never comes in time: the caller's deadline decides.
	p := newProxy(t, faultproxy.Rule{Fault: faultproxy.Delay(5 * time.Second)})
	s := clientAt(t, p.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := s.GetUser(ctx, "u-1")
	if userinfo.ErrorCode(err) != userinfo.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("took %v with a 200 ms deadline", d)
	}
	if strings.Contains(userinfo.ErrorMessage(err), "context") {
		t.Errorf("message leaks internals: %q", userinfo.ErrorMessage(err))
	}
}

// TestLostResponseIsIdempotent has the proxy forward a transaction to
// DynamoDB Local, then drop its answer (a 500, or a reset connection), as a
// load balancer might. The SDK retries with the same ClientRequestToken,
// and the change must be reported as applied, once.
func TestLostResponseIsIdempotent(t *testing.T) {
	for _, f := range []faultproxy.Fault{faultproxy.InternalServerError, faultproxy.ConnectionReset} {
		t.Run(f.String(), func(t *testing.T) {
			p := newProxy(t, faultproxy.Rule{Op: "TransactWriteItems", Fault: f.AfterForward(), First: 1})
			seed := newStore(client)
			domain := newID("d-")
			u := seedUser(t, seed, domain, "lost@example.com", "", "")
			s := clientAt(t, p.URL())
			c := change(u)
			c.Email = email("found@example.com")
			if err := s.ApplyChange(context.Background(), c); err != nil {
				t.Fatalf("ApplyChange after a lost response: %v", err)
			}
			if n := p.Requests("TransactWriteItems"); n != 2 {
				t.Fatalf("%d transactions reached DynamoDB, want 2 (the lost one and its retry)", n)
			}
			got, err := seed.GetUser(context.Background(), u.ID)
			if err != nil || got.Version != u.Version+1 || got.Email != "found@example.com" {
				t.Errorf("user = %+v, %v; want one change applied", got, err)
			}
			recs, err := seed.AuditRecords(context.Background(), u.ID, time.Time{}, fixedNow.Add(time.Hour))
			if err != nil || len(recs) != 1 {
				t.Errorf("%d audit records, %v; want 1", len(recs), err)
			}
			assertGuardsMatchUsers(t, seed, domain, u.ID)
		})
	}
}
