// Package faultproxy is a reverse proxy for tests that stands between the
// AWS SDK and DynamoDB Local and makes chosen requests fail the way
// DynamoDB fails: throttling errors with their real shapes, transaction
// cancellations, HTTP 500, reset connections and answers slower than any
// deadline. DynamoDB Local itself never fails, so without it the retry,
// classification and deadline code paths would only be tested by hand.
//
// Point a client at Proxy.URL (AWS_ENDPOINT_URL_DYNAMODB); the proxy
// counts what reaches it per operation, so a test can tell how many
// attempts the SDK made.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBody bounds a request body the proxy buffers. DynamoDB's largest
// request (a 100-item transaction) is 4 MB; anything bigger is a bug.
const maxBody = 16 << 20

// Rule picks requests to fail. With none of First, Every and Rate set, it
// picks every request of its operation.
type Rule struct {
	// Op is the operation matched against X-Amz-Target ("GetItem",
	// "TransactWriteItems", ...); "" matches every operation.
	Op string
	// Fault is what a picked request gets.
	Fault Fault
	// First, when positive, picks only the first First matching requests:
	// a transient fault the SDK's retries may outlast.
	First int
	// Every, when positive, picks every Every-th matching request.
	Every int
	// Rate, when positive, picks each matching request with this
	// probability, from a generator seeded with Seed (so a run repeats).
	Rate float64
	Seed uint64
}

func (r Rule) validate() error {
	set := 0
	for _, on := range []bool{r.First != 0, r.Every != 0, r.Rate != 0} {
		if on {
			set++
		}
	}
	switch {
	case set > 1:
		return fmt.Errorf("faultproxy: rule for %q: set at most one of First, Every and Rate", r.Op)
	case r.First < 0 || r.Every < 0 || r.Rate < 0 || r.Rate > 1:
		return fmt.Errorf("faultproxy: rule for %q: First and Every must be positive, Rate in (0, 1]", r.Op)
	case r.Op != "" && strings.Contains(r.Op, "."):
		return fmt.Errorf("faultproxy: rule op %q: give the operation name without the %s prefix", r.Op, targetPrefix)
	}
	return nil
}

// armed is a rule with its count of matching requests.
type armed struct {
	Rule
	seen int
	rng  *rand.Rand
}

func (a *armed) picks() bool {
	switch {
	case a.First > 0:
		return a.seen <= a.First
	case a.Every > 0:
		return a.seen%a.Every == 0
	case a.Rate > 0:
		return a.rng.Float64() < a.Rate
	}
	return true
}

// Proxy is a running fault-injecting proxy on 127.0.0.1. It is safe for
// concurrent use.
type Proxy struct {
	srv       *httptest.Server
	rp        *httputil.ReverseProxy
	transport *http.Transport
	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	rules    []*armed
	requests map[string]int
	injected map[string]int
}

// New starts a proxy on 127.0.0.1 in front of target (DynamoDB Local's
// base URL), with rules armed as SetRules arms them. It returns an error
// when target is not an http URL or a rule is invalid. Close stops it.
func New(target string, rules ...Rule) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: want http://host:port", target)
	}
	p := &Proxy{
		closing: make(chan struct{}),
		transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	if err := p.SetRules(rules...); err != nil {
		return nil, err
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The SDK signed the Host it sent; keep it.
			pr.Out.Host = pr.In.Host
		},
		Transport: p.transport,
		ErrorLog:  log.New(io.Discard, "", 0),
		// A client that left, or DynamoDB Local gone: answer as a
		// gateway would, without logging into the test's output.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	// httptest binds 127.0.0.1 only, and its Close waits for handlers.
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p, nil
}

// URL returns the proxy's base URL, http://127.0.0.1:<port>.
func (p *Proxy) URL() string { return p.srv.URL }

// SetRules replaces the rules and zeroes every counter, so a test can warm
// up through a clean proxy, then arm it. The first rule that picks a
// request decides its fault; every rule whose Op matches counts it. It
// returns an error, and changes nothing, when a rule is invalid.
func (p *Proxy) SetRules(rules ...Rule) error {
	as := make([]*armed, len(rules))
	for i, r := range rules {
		if err := r.validate(); err != nil {
			return err
		}
		as[i] = &armed{Rule: r, rng: rand.New(rand.NewPCG(r.Seed, 0x5eed))}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = as
	p.requests = map[string]int{}
	p.injected = map[string]int{}
	return nil
}

// Requests returns how many requests for op (e.g. "GetItem") reached the
// proxy since the rules were last set: the SDK's attempts.
func (p *Proxy) Requests(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[op]
}

// Injected returns how many requests for op got a fault since the rules
// were last set.
func (p *Proxy) Injected(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected[op]
}

// Close stops the proxy: held requests are let go unanswered, then it
// waits for every handler to return. It is safe to call more than once.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.closing)
		p.srv.Close()
		p.transport.CloseIdleConnections()
	})
}

// pick counts a request for op and returns the fault it gets, if any.
func (p *Proxy) pick(op string) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[op]++
	var f Fault
	picked := false
	for _, a := range p.rules {
		if a.Op != "" && a.Op != op {
			continue
		}
		a.seen++
		if !picked && a.picks() {
			f, picked = a.Fault, true
		}
	}
	if picked {
		p.injected[op]++
	}
	return f, picked
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	// Buffered whole: TransactionCanceled counts its items, AfterForward
	// replays it, and net/http notices a client that leaves only once the
	// body has been read.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	f, picked := p.pick(op)
	if !picked {
		p.rp.ServeHTTP(w, r)
		return
	}
	var answer *httptest.ResponseRecorder
	if f.forward {
		answer = httptest.NewRecorder()
		p.rp.ServeHTTP(answer, r)
	}
	if f.delay > 0 && !p.hold(r.Context(), f.delay) {
		return // the client gave up (or the proxy is closing): nothing to send
	}
	switch {
	case f.reset:
		resetConnection(w)
	case f.status != 0:
		writeError(w, f, body)
	case answer != nil:
		copyAnswer(w, answer)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// hold waits d, and reports false when the client or the proxy goes first.
func (p *Proxy) hold(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-p.closing:
	}
	return false
}

func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes()) // an error means the client left
}
