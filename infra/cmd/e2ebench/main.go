// Command e2ebench is `make e2ebench`: the API end to end (the local HTTP
// server with the real handler, as infra/cmd/loadtest runs it, driven by
// infra/load) beside infra/bench/bare, the same DynamoDB calls made
// directly with the SDK, at several client counts, in the same run and on
// the same DynamoDB Local. It prints a markdown table; the difference
// between the two sides is the API's overhead. A second table shows a third
// side: the bare calls behind a minimal local net/http handler, driven like
// the API, which splits that overhead into the loopback HTTP hop (with the
// load generator's client, which runs in this process too) and the API's
// own work.
//
// Every side does identical, uncontested, successful work: request n is
// sent by user n mod users (at least four times as many users as clients,
// so no two requests in flight touch the same user) and sets that user's
// email to an address no request has used before. Each point runs the same
// number of requests on every side, rotating which goes first; warm-up runs
// of each side come before the first point. Everything it starts, it stops.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/infra/bench/bare"
	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/load"
	"github.com/iam-userinfo/userinfo/infra/localapi"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
)

const table = "iam-userinfo-e2ebench"

// sideCount is how many sides run: the API, the bare SDK calls, and the
// bare calls behind a minimal HTTP handler.
const sideCount = 3

// warmClients is the warm-up's client count.
const warmClients = 8

// users returns the population size for runs at counts clients: four
// users per client of the largest run, the warm-up's included, so that no
// two requests in flight touch the same user (request n goes to user n mod
// users) and no run measures contention.
func users(counts []int) int { return 4 * max(slices.Max(counts), warmClients) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "e2ebench:", err)
		os.Exit(1)
	}
}

// point is one side's measurement at one client count.
type point struct {
	rps      float64
	p50, p99 time.Duration
	errors   int           // non-204 answers or failed calls
	cpu      time.Duration // this process's CPU time (user+system) during the run
}

// measure runs f and adds the CPU time this process spent meanwhile: for
// the API that is the server and the load generator's HTTP client, for the
// baseline the SDK calls alone.
func measure(f func() (point, error)) (point, error) {
	before := cpuTime()
	p, err := f()
	p.cpu = cpuTime() - before
	return p, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// median returns, field by field, the median of the rounds' points
// (the upper one of an even count); errors are summed.
func median(ps []point) point {
	pick := func(get func(point) float64) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = get(p)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m := point{
		rps: pick(func(p point) float64 { return p.rps }),
		p50: time.Duration(pick(func(p point) float64 { return float64(p.p50) })),
		p99: time.Duration(pick(func(p point) float64 { return float64(p.p99) })),
		cpu: time.Duration(pick(func(p point) float64 { return float64(p.cpu) })),
	}
	for _, p := range ps {
		m.errors += p.errors
	}
	return m
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e2ebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// 1000, not fewer: the p99 of n samples is the (n/100)th worst, and of
	// 300 it moved by 30 % between runs at one client.
	requests := fs.Int("requests", 1000, "requests per side, client count and round")
	// A multiple of the three sides, so each goes first as often as the
	// others: the side that follows a point's switch of client count, or
	// the warm-up, meets a JVM in a different state.
	rounds := fs.Int("rounds", 3, "rounds per client count, the sides' order rotating; the table shows each side's median")
	cpuProfile := fs.String("cpuprofile", "", "after the table, profile one more API run (the largest client count) into this file")
	verbose := fs.Bool("v", false, "print each API run's load report (statuses, max latency, timer lag) to stderr")
	warm := fs.Int("warm", 3000, "warm-up requests before the first point, shared by the sides over two runs each")
	clientList := fs.String("clients", "1,8,32", "client counts, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var counts []int
	for f := range strings.SplitSeq(*clientList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("-clients: %q is not a positive number", f)
		}
		counts = append(counts, c)
	}
	if *requests < 1 || *rounds < 1 || *warm < 2*sideCount {
		return fmt.Errorf("-requests and -rounds must be positive, -warm at least %d (a request per side and warm-up run)", 2*sideCount)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()

	ddb, err := ddblocal.Start(ctx, ddblocal.Options{Stderr: stderr})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	for k, v := range ddblocal.ClientEnv(ddb.Endpoint()) {
		os.Setenv(k, v)
	}
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := ddbtable.Create(ctx, client, table); err != nil {
		return err
	}
	pop := load.NewPopulation(2, users(counts), 1)
	if err := pop.Seed(ctx, ddbtable.New(client, table, dynamo.Options{})); err != nil {
		return err
	}
	keys, err := os.MkdirTemp("", "e2ebench-keys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(keys)
	key, err := devkeys.LoadOrCreate(keys)
	if err != nil {
		return err
	}
	url, shutdown, err := localapi.Serve(ctx, client, table, key, "", io.Discard)
	if err != nil {
		return err
	}
	defer shutdown()
	bw, err := bareWriter(ctx)
	if err != nil {
		return err
	}

	hopURL, stopHop, err := serveBareHTTP(bw)
	if err != nil {
		return err
	}
	defer stopHop()

	var seq atomic.Int64 // every email ever set is new
	fresh := func(side string) string { return fmt.Sprintf("%s%08d@fresh.e2e.example", side, seq.Add(1)) }
	// through drives base with infra/load, as the load test drives the API.
	through := func(name, base string, clients, n int) (point, error) {
		r, err := load.Run(ctx, load.Config{
			BaseURL: base, Population: pop, Clients: clients, Requests: n,
			Token: func(id, domain string) (string, error) {
				return key.Sign(devkeys.Claims{Subject: id, DomainID: domain, ExpiresAt: time.Now().Add(time.Hour)})
			},
			Mix: func(n int) (int, string) {
				return n % len(pop.Users), fmt.Sprintf(`{"user":{"email":%q}}`, fresh(name))
			},
		})
		if err != nil {
			return point{}, err
		}
		if *verbose {
			fmt.Fprintln(stderr, name+":", r)
		}
		return point{rps: r.Throughput(), p50: r.P50, p99: r.P99, errors: r.Requests - r.Statuses[http.StatusNoContent]}, nil
	}
	sides := [sideCount]side{
		{name: "api", run: func(clients, n int) (point, error) { return through("api", url, clients, n) }},
		{name: "sdk", run: func(clients, n int) (point, error) {
			return runBare(ctx, clients, n, func(ctx context.Context, i int) error {
				return bw.ChangeEmail(ctx, pop.Users[i%len(pop.Users)].ID, fresh("sdk"))
			})
		}},
		{name: "hop", run: func(clients, n int) (point, error) { return through("hop", hopURL, clients, n) }},
	}
	api := sides[0]

	// Warm-up: DynamoDB Local is a JVM whose first thousands of
	// transactions run slower (interpreted, then compiled in tiers); a
	// side measured earlier would pay for it (with 1,200 warm-up requests
	// the first point, at one client, still moved by 10 % between runs).
	// Every side's pools fill too.
	for range 2 {
		for _, sd := range sides {
			if _, err := sd.run(warmClients, *warm/(2*sideCount)); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "End to end on DynamoDB Local: %d requests per side, client count and round, %d rounds (median shown, each side first, second and last in turn), after %d warm-up requests; %s; load average before: %s\n",
		*requests, *rounds, *warm, time.Now().UTC().Format(time.RFC3339), load.Average())
	fmt.Fprintln(stdout, "| clients | ours rps | ours p50 ms | ours p99 ms | bare SDK rps | bare p50 ms | bare p99 ms | rps ours/bare | p50 ours/bare | p99 ours/bare | CPU µs/req ours / bare | errors ours/bare |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var hopRows []string
	for _, c := range counts {
		got := make([][]point, len(sides))
		for r := range *rounds {
			// Rotate the order, so no side always runs on a table (and a
			// JVM heap) another has just grown.
			for k := range sides {
				i := (k + r) % len(sides)
				p, err := measure(func() (point, error) { return sides[i].run(c, *requests) })
				if err != nil {
					return fmt.Errorf("%s at %d clients: %w", sides[i].name, c, err)
				}
				got[i] = append(got[i], p)
			}
		}
		o, b, h := median(got[0]), median(got[1]), median(got[2])
		perReq := func(p point) float64 { return float64(p.cpu.Microseconds()) / float64(*requests) }
		fmt.Fprintf(stdout, "| %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %.2fx | %.2fx | %.2fx | %.0f / %.0f | %d/%d |\n",
			c, o.rps, ms(o.p50), ms(o.p99), b.rps, ms(b.p50), ms(b.p99),
			o.rps/b.rps, ms(o.p50)/ms(b.p50), ms(o.p99)/ms(b.p99), perReq(o), perReq(b), o.errors, b.errors)
		hopRows = append(hopRows, fmt.Sprintf("| %d | %.0f | %.2f | %.2f | %.2fx | %.2fx | %.2fx | %.0f | %.2fx | %.2fx | %d |",
			c, h.rps, ms(h.p50), ms(h.p99), h.rps/b.rps, ms(h.p50)/ms(b.p50), ms(h.p99)/ms(b.p99), perReq(h),
			o.rps/h.rps, ms(o.p99)/ms(h.p99), h.errors))
	}
	fmt.Fprintln(stdout, "\nThe same bare SDK calls behind a minimal local net/http handler, driven like the API (the loopback HTTP hop and the load generator's client, without the API):")
	fmt.Fprintln(stdout, "| clients | bare+HTTP rps | p50 ms | p99 ms | rps vs bare | p50 vs bare | p99 vs bare | CPU µs/req | rps ours/bare+HTTP | p99 ours/bare+HTTP | errors |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range hopRows {
		fmt.Fprintln(stdout, row)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		_, err = api.run(slices.Max(counts), *requests)
		pprof.StopCPUProfile()
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nLoad average after: %s.\n", load.Average())
	return nil
}

// side is one of the things measured: run sends n requests' work from
// clients goroutines.
type side struct {
	name string
	run  func(clients, n int) (point, error)
}

// serveBareHTTP serves the baseline's work behind a local net/http server
// of its own, with nothing of the API: it takes the user id from the path
// and the email from the body, makes bw's calls and answers 204 (500 on any
// error). Driven by infra/load like the API, it measures what the loopback
// HTTP hop and the load generator's client cost, so the difference between
// it and the bare side is the hop's, and between the API and it the API's
// own: localapi.ServeHandler gives it the API's server settings. It returns
// its base URL and a function that stops it.
func serveBareHTTP(bw *bare.Writer) (string, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v3.0/OS-USER/users/{user_id}/info", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := bw.ChangeEmail(r.Context(), r.PathValue("user_id"), body.User.Email); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return localapi.ServeHandler(mux)
}

// bareWriter returns the baseline with a plain SDK client. Its only
// settings beyond the defaults are two the API's client has too: the
// connection pool (the default keeps 10 idle connections, which at 32
// clients would measure TCP handshakes, not DynamoDB calls) and no response
// checksum validation against DynamoDB Local.
func bareWriter(ctx context.Context) (*bare.Writer, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(awshttp.NewBuildableClient().
		WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
		})))
	if err != nil {
		return nil, err
	}
	c := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		// As the API's client does against DynamoDB Local, whose answers'
		// x-amz-crc32 the SDK rejects (a warning per call, and the
		// connection is not reused): aws-sdk-go-v2#3545.
		o.DisableValidateResponseChecksum = true
	})
	return &bare.Writer{Client: c, Table: table}, nil
}

// runBare calls do n times from clients goroutines, as load.Run sends
// requests, and measures it the same way (nearest-rank percentiles).
func runBare(ctx context.Context, clients, n int, do func(context.Context, int) error) (point, error) {
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				failed[i] = do(ctx, i) != nil
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if err := ctx.Err(); err != nil {
		return point{}, err
	}
	p := point{rps: float64(n) / elapsed.Seconds()}
	for _, f := range failed {
		if f {
			p.errors++
		}
	}
	slices.Sort(lat)
	p.p50, p.p99 = load.Percentile(lat, 50), load.Percentile(lat, 99)
	return p, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
