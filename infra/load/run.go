package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// DefaultRequestTimeout bounds one request when Config.RequestTimeout is
// zero. It is API Gateway's integration timeout: a request the API has not
// answered by then is the gateway's 504 in production, a broken promise.
const DefaultRequestTimeout = 29 * time.Second

// APIDeadline is the API's own bound on a request (httpapi's default
// RequestTimeout). Answers slower than it are counted in Report.Late.
const APIDeadline = httpapi.DefaultRequestTimeout

// lagProbe is the sleep whose oversleeping Report.TimerLag measures.
const lagProbe = 20 * time.Millisecond

// Config says what load to send.
type Config struct {
	// BaseURL is the API's base URL, e.g. http://127.0.0.1:3000.
	BaseURL string
	// Population is who sends the requests and what they contest; seed it
	// into the table first (Population.Seed).
	Population Population
	// Token returns a valid token for the user; Run calls it once per
	// user, before the clock starts.
	Token func(userID, domainID string) (string, error)
	// Clients is how many requests are in flight at once.
	Clients int
	// Requests is how many requests are sent in all.
	Requests int
	// Seed fixes which user sends which request: the same seed sends the
	// same requests (their interleaving is the scheduler's).
	Seed uint64
	// RequestTimeout bounds each request; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Mix, when set, replaces the contention mix: it returns which user
	// (an index into Population.Users) sends request n, and the body. A
	// performance comparison uses it to send uncontested work only.
	Mix func(n int) (user int, body string)
}

// Report is what a run measured.
type Report struct {
	Requests int
	Clients  int
	Seed     uint64 // Config.Seed, to repeat the run's request mix
	// Statuses counts responses by HTTP status.
	Statuses map[int]int
	// TransportErrors counts requests that got no response at all.
	TransportErrors int
	// FirstError is the first transport error's text, for the log.
	FirstError string
	Elapsed    time.Duration
	// P50, P99 and Max are the latencies of requests that got a response.
	P50, P99, Max time.Duration
	// Late counts responses slower than APIDeadline: the API promises an
	// answer by then, so on a healthy host this is 0.
	Late int
	// TimerLag is the most a short sleep overslept in this process during
	// the run. Seconds mean the host starved the process of CPU (other
	// jobs on the machine): deadlines fire late and the tail latencies are
	// the host's, not the API's.
	TimerLag time.Duration
	// Applied holds the X-Request-Id of every 204. Every request changes
	// at least one value of its user, so each 204 must have written
	// exactly one audit record with this request id.
	Applied []string
	// Uncertain holds the X-Request-Id of every 503: its change may have
	// been made (a lost answer) or not, never half.
	Uncertain []string
}

// Throughput returns responses per second over the whole run.
func (r Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.TransportErrors) / r.Elapsed.Seconds()
}

// String returns the report on one line.
func (r Report) String() string {
	var st []string
	for _, code := range slices.Sorted(maps.Keys(r.Statuses)) {
		st = append(st, fmt.Sprintf("%d=%d", code, r.Statuses[code]))
	}
	s := fmt.Sprintf("requests=%d clients=%d seed=%d elapsed=%v throughput=%.0f/s p50=%v p99=%v max=%v statuses[%s]",
		r.Requests, r.Clients, r.Seed, r.Elapsed.Round(time.Millisecond), r.Throughput(),
		r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond), strings.Join(st, " "))
	s += fmt.Sprintf(" late=%d timer_lag=%v", r.Late, r.TimerLag.Round(time.Millisecond))
	if r.TransportErrors > 0 {
		s += fmt.Sprintf(" transport_errors=%d (first: %s)", r.TransportErrors, r.FirstError)
	}
	return s
}

// result is one request's outcome.
type result struct {
	status    int // 0: no response
	latency   time.Duration
	requestID string
	err       error
}

// Run sends cfg.Requests requests from cfg.Clients concurrent clients and
// returns what they got. It stops early when ctx ends, and then returns
// the report so far with ctx's error. It returns an error before sending
// anything when cfg is incomplete or a token cannot be made.
func Run(ctx context.Context, cfg Config) (Report, error) {
	switch {
	case cfg.BaseURL == "" || cfg.Token == nil:
		return Report{}, errors.New("load: BaseURL and Token are required")
	case cfg.Clients < 1 || cfg.Requests < 1:
		return Report{}, errors.New("load: Clients and Requests must be positive")
	case len(cfg.Population.Users) == 0 || len(cfg.Population.Emails) == 0 || len(cfg.Population.Phones) == 0:
		return Report{}, errors.New("load: the population needs users and contested values")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	tokens := make([]string, len(cfg.Population.Users))
	for i, u := range cfg.Population.Users {
		tok, err := cfg.Token(u.ID, u.DomainID)
		if err != nil {
			return Report{}, fmt.Errorf("load: token for %s: %w", u.ID, err)
		}
		tokens[i] = tok
	}
	// One keep-alive connection per client: the default two idle
	// connections per host would open and close thousands, exhausting
	// ephemeral ports and measuring handshakes instead of the API.
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: cfg.Clients,
		IdleConnTimeout:     30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: cfg.RequestTimeout}

	results := make([]result, cfg.Requests)
	var next atomic.Int64
	var wg sync.WaitGroup
	stopProbe := make(chan struct{})
	lag := make(chan time.Duration, 1)
	go probeTimerLag(stopProbe, lag)
	begin := time.Now()
	for range cfg.Clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := int(next.Add(1)) - 1
				if n >= cfg.Requests {
					return
				}
				results[n] = send(ctx, client, cfg, tokens, n)
			}
		})
	}
	wg.Wait()
	r := summarise(results, cfg, time.Since(begin))
	close(stopProbe)
	r.TimerLag = <-lag
	return r, ctx.Err()
}

// Average returns the host's 1, 5 and 15 minute load averages from
// /proc/loadavg, or "?" where there is none: the measuring tools print it
// beside their figures, since two shared cores make every timing depend on
// what else runs.
func Average() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// probeTimerLag sleeps lagProbe again and again until stop is closed, then
// sends the most any sleep overran.
func probeTimerLag(stop <-chan struct{}, out chan<- time.Duration) {
	var worst time.Duration
	for {
		select {
		case <-stop:
			out <- worst
			return
		default:
		}
		t0 := time.Now()
		time.Sleep(lagProbe)
		worst = max(worst, time.Since(t0)-lagProbe)
	}
}

// send makes request n: user and values are drawn from a generator seeded
// by the run's seed and n, so a run is reproducible whatever the order.
func send(ctx context.Context, client *http.Client, cfg Config, tokens []string, n int) result {
	var i int
	var b string
	if cfg.Mix != nil {
		i, b = cfg.Mix(n)
	} else {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(n)))
		i = rng.IntN(len(cfg.Population.Users))
		b = body(rng, cfg.Population, n)
	}
	u := cfg.Population.Users[i]
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		cfg.BaseURL+"/v3.0/OS-USER/users/"+u.ID+"/info", strings.NewReader(b))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("X-Auth-Token", tokens[i])
	begin := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	_, _ = io.Copy(io.Discard, res.Body) // drained, so the connection is reused
	res.Body.Close()
	return result{status: res.StatusCode, latency: time.Since(begin), requestID: res.Header.Get("X-Request-Id")}
}

// body returns request n's JSON. Each request claims a contested value or
// releases the user's, and always also sets a value unique to the request:
// so every request changes something, and every 204 must leave exactly
// one audit record (a request that changed nothing would leave none, and
// could not be told apart from a lost one).
func body(rng *rand.Rand, p Population, n int) string {
	freshEmail := fmt.Sprintf("r%07d@fresh.load.example", n)
	freshPhone := fmt.Sprintf("7%09d", n)
	freshArea := []string{"0044", "+44", "44"}[rng.IntN(3)]
	switch k := rng.IntN(10); {
	case k < 4:
		// A contested email in a random case: the same address to the API.
		email := p.Emails[rng.IntN(len(p.Emails))]
		if rng.IntN(2) == 0 {
			email = strings.ToUpper(email[:1]) + email[1:]
		}
		return fmt.Sprintf(`{"user":{"email":%q,"areacode":%q,"phone":%q}}`, email, freshArea, freshPhone)
	case k < 8:
		// A contested number in any of the published forms: the same
		// number to the API.
		area := []string{"0086", "+86", "86"}[rng.IntN(3)]
		phone := p.Phones[rng.IntN(len(p.Phones))]
		switch rng.IntN(3) {
		case 0:
			return fmt.Sprintf(`{"user":{"email":%q,"mobile":%q}}`, freshEmail, area+"-"+phone)
		case 1:
			return fmt.Sprintf(`{"user":{"email":%q,"areacode":%q,"mobile":%q}}`, freshEmail, area, phone)
		}
		return fmt.Sprintf(`{"user":{"email":%q,"areacode":%q,"phone":%q}}`, freshEmail, area, phone)
	default:
		return fmt.Sprintf(`{"user":{"email":%q,"areacode":%q,"phone":%q}}`, freshEmail, freshArea, freshPhone)
	}
}

func summarise(results []result, cfg Config, elapsed time.Duration) Report {
	r := Report{Clients: cfg.Clients, Seed: cfg.Seed, Statuses: map[int]int{}, Elapsed: elapsed}
	var lat []time.Duration
	for _, res := range results {
		switch {
		case res.status == 0 && res.err == nil:
			continue // never sent: the run was cut short
		case res.status == 0:
			r.TransportErrors++
			if r.FirstError == "" {
				r.FirstError = res.err.Error()
			}
		default:
			r.Statuses[res.status]++
			lat = append(lat, res.latency)
			if res.latency > APIDeadline {
				r.Late++
			}
		}
		r.Requests++
		switch res.status {
		case http.StatusNoContent:
			r.Applied = append(r.Applied, res.requestID)
		case http.StatusServiceUnavailable:
			r.Uncertain = append(r.Uncertain, res.requestID)
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P99, r.Max = Percentile(lat, 50), Percentile(lat, 99), lat[len(lat)-1]
	}
	return r
}

// Percentile returns the p-th percentile of sorted by the nearest-rank
// method: the value at rank ceil(p/100 * len), so the p50 of an even count
// is the lower middle. The measuring tools all use it, so their figures
// compare.
func Percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}
