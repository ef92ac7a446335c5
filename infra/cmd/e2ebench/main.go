// Command e2ebench is `make e2ebench`: the API end to end (the local HTTP
// server with the real handler, as infra/cmd/loadtest runs it, driven by
// infra/load) beside infra/bench/bare, the same DynamoDB calls made
// directly with the SDK, at several client counts, in the same run and on
// the same DynamoDB Local. It prints a markdown table; the difference
// between the two sides is the API's overhead.
//
// Both sides do identical, uncontested, successful work: request n is sent
// by user n mod users (at least four times as many users as clients, so no
// two requests in flight touch the same user) and sets that user's email to
// an address no request has used before. Each point runs the same number of
// requests on both sides, alternating which side goes first; one warm-up
// run of each side comes before the first point. Everything it starts, it
// stops.
package main

import (
	"context"
	"errors"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/infra/bench/bare"
	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/load"
	"github.com/iam-userinfo/userinfo/infra/localapi"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

const table = "iam-userinfo-e2ebench"

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
	rounds := fs.Int("rounds", 3, "rounds per client count; the table shows each side's median")
	cpuProfile := fs.String("cpuprofile", "", "after the table, profile one more API run (the largest client count) into this file")
	verbose := fs.Bool("v", false, "print each API run's load report (statuses, max latency, timer lag) to stderr")
	warm := fs.Int("warm", 1200, "warm-up requests before the first point, half on each side")
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
	if *requests < 1 || *rounds < 1 || *warm < 4 {
		return errors.New("-requests and -rounds must be positive, -warm at least 4")
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
	client, err := dynamo.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		return err
	}
	pop := load.NewPopulation(2, users(counts), 1)
	if err := pop.Seed(ctx, dynamo.New(client, table, dynamo.Options{})); err != nil {
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
	url, shutdown, err := localapi.Serve(ctx, table, key, "", io.Discard)
	if err != nil {
		return err
	}
	defer shutdown()
	bw, err := bareWriter(ctx)
	if err != nil {
		return err
	}

	var seq atomic.Int64 // every email ever set is new
	fresh := func(side string) string { return fmt.Sprintf("%s%08d@fresh.e2e.example", side, seq.Add(1)) }
	api := func(clients, n int) (point, error) {
		r, err := load.Run(ctx, load.Config{
			BaseURL: url, Population: pop, Clients: clients, Requests: n,
			Token: func(id, domain string) (string, error) {
				return key.Sign(devkeys.Claims{Subject: id, DomainID: domain, ExpiresAt: time.Now().Add(time.Hour)})
			},
			Mix: func(n int) (int, string) {
				return n % len(pop.Users), fmt.Sprintf(`{"user":{"email":%q}}`, fresh("api"))
			},
		})
		if err != nil {
			return point{}, err
		}
		if *verbose {
			fmt.Fprintln(stderr, "api:", r)
		}
		return point{rps: r.Throughput(), p50: r.P50, p99: r.P99, errors: r.Requests - r.Statuses[http.StatusNoContent]}, nil
	}
	direct := func(clients, n int) (point, error) {
		return runBare(ctx, clients, n, func(ctx context.Context, i int) error {
			return bw.ChangeEmail(ctx, pop.Users[i%len(pop.Users)].ID, fresh("sdk"))
		})
	}

	// Warm-up: DynamoDB Local is a JVM whose first thousand or so
	// transactions run slower (interpreted, then compiled in tiers); a
	// side measured earlier would pay for it. Both sides' pools fill too.
	for range 2 {
		if _, err := direct(warmClients, *warm/4); err != nil {
			return err
		}
		if _, err := api(warmClients, *warm/4); err != nil {
			return err
		}
	}
	load1, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "End to end on DynamoDB Local: %d requests per side, client count and round, %d rounds (median shown, order alternating), after %d warm-up requests; %s; load average before: %s\n",
		*requests, *rounds, *warm, time.Now().UTC().Format(time.RFC3339), strings.Join(strings.Fields(string(load1))[:3], " "))
	fmt.Fprintln(stdout, "| clients | ours rps | ours p50 ms | ours p99 ms | bare SDK rps | bare p50 ms | bare p99 ms | rps ours/bare | p50 ours/bare | p99 ours/bare | CPU µs/req ours / bare | errors ours/bare |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range counts {
		var ours, sdk []point
		for r := range *rounds {
			// Alternate the order, so neither side always runs on a
			// table (and a JVM heap) the other has just grown.
			sides := []func() error{
				func() error {
					p, err := measure(func() (point, error) { return api(c, *requests) })
					ours = append(ours, p)
					return err
				},
				func() error {
					p, err := measure(func() (point, error) { return direct(c, *requests) })
					sdk = append(sdk, p)
					return err
				},
			}
			if r%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			for _, side := range sides {
				if err := side(); err != nil {
					return err
				}
			}
		}
		o, b := median(ours), median(sdk)
		fmt.Fprintf(stdout, "| %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %.2fx | %.2fx | %.2fx | %.0f / %.0f | %d/%d |\n",
			c, o.rps, ms(o.p50), ms(o.p99), b.rps, ms(b.p50), ms(b.p99),
			o.rps/b.rps, ms(o.p50)/ms(b.p50), ms(o.p99)/ms(b.p99),
			float64(o.cpu.Microseconds())/float64(*requests), float64(b.cpu.Microseconds())/float64(*requests), o.errors, b.errors)
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
		_, err = api(slices.Max(counts), *requests)
		pprof.StopCPUProfile()
		if err != nil {
			return err
		}
	}
	load2, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "\nLoad average after: %s.\n", strings.Join(strings.Fields(string(load2))[:3], " "))
	return nil
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
		o.BaseEndpoint = aws.String(os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"))
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
	p.p50, p.p99 = percentile(lat, 50), percentile(lat, 99)
	return p, nil
}

func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
