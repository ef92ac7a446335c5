package dynamo_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// faultProxy stands in front of DynamoDB Local, which never throttles. Until
// fault is cleared it answers every request with status and body; then it
// forwards. It counts the requests it answers itself.
type faultProxy struct {
	*httptest.Server
	status   int
	body     string
	faulty   atomic.Bool
	attempts atomic.Int32
}

func newFaultProxy(t *testing.T, status int, body string) *faultProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{status: status, body: body}
	rp := httputil.NewSingleHostReverseProxy(target)
	// httptest binds 127.0.0.1 only.
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.faulty.Load() {
			rp.ServeHTTP(w, r)
			return
		}
		p.attempts.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(p.status)
		_, _ = w.Write([]byte(p.body))
	}))
	t.Cleanup(p.Close)
	return p
}

func awsError(typ, extra string) string {
	return `{"__type":"com.amazonaws.dynamodb.v20120810#` + typ + `","message":"injected by the test proxy"` + extra + `}`
}

// clientAt returns a client whose endpoint is url, configured the way
// operators configure it: through AWS_ENDPOINT_URL_DYNAMODB.
func clientAt(t *testing.T, url string, opts ...func(*config.LoadOptions) error) *dynamo.Store {
	t.Helper()
	t.Setenv(dynamo.EndpointEnv, url)
	c, err := dynamo.NewClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return newStore(c)
}

func TestFaultsAreUnavailable(t *testing.T) {
	seed := newStore(client)
	u := seedUser(t, seed, newID("d-"), "fault@example.com", "", "")
	getUser := func(s *dynamo.Store) error { _, err := s.GetUser(context.Background(), u.ID); return err }
	applyChange := func(s *dynamo.Store) error {
		c := change(u)
		c.Email = ptr("other@example.com")
		return s.ApplyChange(context.Background(), c)
	}
	txThrottled := awsError("TransactionCanceledException",
		`,"CancellationReasons":[{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity of your table or index."},{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"None"}]`)

	tests := []struct {
		name         string
		status       int
		body         string
		call         func(*dynamo.Store) error
		opts         []func(*config.LoadOptions) error
		wantAttempts int32
	}{
		{"ProvisionedThroughputExceeded", 400, awsError("ProvisionedThroughputExceededException", ""), getUser, nil, dynamo.DefaultMaxAttempts},
		{"ThrottlingException", 400, awsError("ThrottlingException", ""), getUser, nil, dynamo.DefaultMaxAttempts},
		{"RequestLimitExceeded", 400, awsError("RequestLimitExceeded", ""), applyChange, nil, dynamo.DefaultMaxAttempts},
		{"HTTP500", 500, awsError("InternalServerError", ""), applyChange, nil, dynamo.DefaultMaxAttempts},
		{"HTTP503NoBody", 503, "", getUser, nil, dynamo.DefaultMaxAttempts},
		// Not retried by the SDK: a cancelled transaction is an answer.
		{"TransactionThrottled", 400, txThrottled, applyChange, nil, 1},
		{"AttemptsCutByOption", 400, awsError("ThrottlingException", ""), getUser,
			[]func(*config.LoadOptions) error{dynamo.WithMaxAttempts(1)}, 1},
		// A retry bucket that cannot pay for one throttle retry (5 tokens):
		// the SDK gives up with ratelimit.QuotaExceededError.
		{"RetryQuotaExhausted", 400, awsError("ThrottlingException", ""), getUser,
			[]func(*config.LoadOptions) error{config.WithRetryer(func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.NewTokenRateLimit(1) })
			})}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFaultProxy(t, tt.status, tt.body)
			s := clientAt(t, p.URL, tt.opts...)
			// Through the proxy, unfaulted, the store works: the faults
			// below are the proxy's, not a broken setup.
			if err := getUser(s); err != nil {
				t.Fatalf("through the proxy: %v", err)
			}
			p.faulty.Store(true)

			begin := time.Now()
			err := tt.call(s)
			elapsed := time.Since(begin)

			if userinfo.ErrorCode(err) != userinfo.EUNAVAILABLE || userinfo.ErrorMessage(err) != "The user store is temporarily unavailable." {
				t.Fatalf("err = %v, want EUNAVAILABLE", err)
			}
			if got := p.attempts.Load(); got != tt.wantAttempts {
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
	// A proxy that never answers in time: the handler's deadline decides.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a gone client only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	s := clientAt(t, slow.URL)
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
// DynamoDB Local, then drop its answer and send a 500, as a load balancer
// might. The SDK retries with the same ClientRequestToken, and the change
// must be reported as applied, once.
func TestLostResponseIsIdempotent(t *testing.T) {
	target, _ := url.Parse(endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	var dropped atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".TransactWriteItems") && dropped.Add(1) == 1 {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(awsError("InternalServerError", "")))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	seed := newStore(client)
	domain := newID("d-")
	u := seedUser(t, seed, domain, "lost@example.com", "", "")
	s := clientAt(t, proxy.URL)
	c := change(u)
	c.Email = ptr("found@example.com")
	if err := s.ApplyChange(context.Background(), c); err != nil {
		t.Fatalf("ApplyChange after a lost response: %v", err)
	}
	if dropped.Load() < 2 {
		t.Fatalf("the SDK did not retry (%d transactions)", dropped.Load())
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
}
