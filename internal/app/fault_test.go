package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/internal/app"
)

// faultProxy forwards to DynamoDB Local, except that operations named in
// faults are answered with the given DynamoDB error instead. It counts the
// requests that reach it per operation.
type faultProxy struct {
	faults map[string]func(http.ResponseWriter)
	calls  map[string]*atomic.Int64
}

func newFaultProxy(t *testing.T, faults map[string]func(http.ResponseWriter)) (*faultProxy, string) {
	target, _ := url.Parse(ddbEndpoint)
	p := &faultProxy{faults: faults, calls: map[string]*atomic.Int64{}}
	for _, op := range []string{"GetItem", "TransactWriteItems"} {
		p.calls[op] = &atomic.Int64{}
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		if c, ok := p.calls[op]; ok {
			c.Add(1)
		}
		if f, ok := p.faults[op]; ok {
			f(w)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func dynamoError(status int, typ, extra string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected"%s}`, typ, extra)
	}
}

func TestStoreFaults(t *testing.T) {
	throttledTx := `,"CancellationReasons":[{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity"},{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"None"}]`
	tests := []struct {
		name   string
		faults map[string]func(http.ResponseWriter)
	}{
		{"ErrReadThrottledProvisioned", map[string]func(http.ResponseWriter){"GetItem": dynamoError(400, "ProvisionedThroughputExceededException", "")}},
		{"ErrReadThrottled", map[string]func(http.ResponseWriter){"GetItem": dynamoError(400, "ThrottlingException", "")}},
		{"ErrRequestLimitExceeded", map[string]func(http.ResponseWriter){"GetItem": dynamoError(400, "RequestLimitExceeded", "")}},
		{"ErrWriteThrottled", map[string]func(http.ResponseWriter){"TransactWriteItems": dynamoError(400, "ThrottlingException", "")}},
		{"ErrTransactionThrottled", map[string]func(http.ResponseWriter){"TransactWriteItems": dynamoError(400, "TransactionCanceledException", throttledTx)}},
		{"ErrInternalServerError", map[string]func(http.ResponseWriter){"TransactWriteItems": dynamoError(500, "InternalServerError", "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, endpoint := newFaultProxy(t, tt.faults)
			e := newEnv(t, endpoint)
			seedStandard(e)
			e.secret("alice.fault@example.com")
			r := e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"alice.fault@example.com"`))
			wantError(t, r, http.StatusServiceUnavailable, "")
			if r.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			for op, n := range proxy.calls {
				if got := n.Load(); got > 3 {
					t.Errorf("%s reached DynamoDB %d times: retries are not bounded", op, got)
				}
			}
			if u := e.user(aliceID); u.Email != "alice@example.com" || u.Version != 1 {
				t.Errorf("a failed request changed the user: %+v", u)
			}
		})
	}
	t.Run("ErrUnreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		e := newEnv(t, closed)
		wantError(t, e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"x@example.com"`)), http.StatusServiceUnavailable, "")
	})
}

func TestUnexpectedStoreErrorIs500(t *testing.T) {
	key, err := devkeys.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	h, err := app.New(context.Background(), app.Config{TableName: "no-such-table", JWKSURL: key.JWKSURL(), Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience}, app.NewLogger(logs, 0))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &apiEnv{t: t, url: srv.URL, key: key, logs: logs}
	t.Cleanup(e.checkLogs)
	r := e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"x@example.com"`))
	wantError(t, r, http.StatusInternalServerError, "IAM.0006")
	if strings.Contains(r.body, "no-such-table") || strings.Contains(r.body, "ResourceNotFound") {
		t.Errorf("the 500 body leaks internals: %s", r.body)
	}
	if !strings.Contains(logs.String(), "ResourceNotFound") {
		t.Errorf("the log lacks the cause of the 500: %s", logs.String())
	}
}
