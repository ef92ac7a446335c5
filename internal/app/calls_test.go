package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/faultproxy"
)

// opRecorder stands between the API's DynamoDB client and the fault proxy
// and keeps the body of every request by operation, so a test can read
// what was asked (ConsistentRead, say) as well as how often.
type opRecorder struct {
	mu     sync.Mutex
	bodies map[string][][]byte
}

// newOpRecorder starts a recorder forwarding to target; its URL is the
// endpoint to give the API.
func newOpRecorder(t *testing.T, target string) (*opRecorder, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &opRecorder{bodies: map[string][][]byte{}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host // the SDK signed the Host it sent
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		op := r.Header.Get("X-Amz-Target")
		op = op[strings.LastIndexByte(op, '.')+1:]
		rec.mu.Lock()
		rec.bodies[op] = append(rec.bodies[op], body)
		rec.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

// take returns the bodies recorded since the last take, by operation.
func (r *opRecorder) take() map[string][][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bodies
	r.bodies = map[string][][]byte{}
	return b
}

// TestDynamoCallsPerRequest counts the DynamoDB calls of a request at the
// fault proxy (with no rules, a pass-through counter): a request that
// changes the user makes exactly one strongly consistent GetItem and one
// TransactWriteItems; the same request repeated, which changes nothing,
// makes one GetItem and writes nothing. No other operation is called.
func TestDynamoCallsPerRequest(t *testing.T) {
	p, err := faultproxy.New(ddbEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	rec, endpoint := newOpRecorder(t, p.URL())
	e := newEnv(t, endpoint)
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	const body = `{"user":{"email":"alice.calls@example.com","areacode":"0086","phone":"13900000002"}}`
	e.secret("alice.calls@example.com", "13900000002")

	tests := []struct {
		name           string
		gets, transact int
	}{
		{"Changing", 1, 1},
		{"IdempotentRepeat", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.SetRules(); err != nil {
				t.Fatal(err)
			}
			rec.take()
			if r := e.put(path(aliceID), alice, body); r.status != http.StatusNoContent {
				t.Fatalf("status = %d, want 204; body %s", r.status, r.body)
			}
			if n := p.Requests(get); n != tt.gets {
				t.Errorf("GetItem calls = %d, want %d", n, tt.gets)
			}
			if n := p.Requests(transact); n != tt.transact {
				t.Errorf("TransactWriteItems calls = %d, want %d", n, tt.transact)
			}
			calls := rec.take()
			for op, bodies := range calls {
				if op != get && op != transact {
					t.Errorf("unexpected %d %s call(s)", len(bodies), op)
				}
			}
			for _, b := range calls[get] {
				var in struct {
					ConsistentRead *bool
					TableName      string
				}
				if err := json.Unmarshal(b, &in); err != nil {
					t.Fatalf("GetItem body: %v", err)
				}
				if in.ConsistentRead == nil || !*in.ConsistentRead {
					t.Errorf("GetItem without ConsistentRead: %s", b)
				}
				if in.TableName != e.table {
					t.Errorf("GetItem on table %q, want %q", in.TableName, e.table)
				}
			}
		})
	}
}
