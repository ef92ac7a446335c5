// Command coldstart is `make coldstart`: it measures the real bootstrap's
// cold start under aws-lambda-rie, beside a hello-world aws-lambda-go
// function (infra/bench/hello) measured in the same run, and prints a
// markdown table.
//
// One sample is one fresh emulator and one fresh function process: the time
// runs from the invoke that makes the emulator exec the bootstrap to the end
// of the first response, which for the real function must be a 204 through
// GetItem and TransactWriteItems on a warm DynamoDB Local (seeded with the
// demo users; each process gets a fresh token for alice and a body that
// changes her email, alternating between two values). Peak RSS is the
// function process's VmHWM, read after its response and before it is
// stopped. For each process it also reads the emulator's INIT REPORT (exec
// to the runtime's first poll: Lambda's Init Duration) and times a second,
// warm invoke, so that init, the first request's own extra cost and the
// work any request does (DynamoDB's answers) can be told apart. Samples of
// the binaries alternate, so drift in the machine's load falls on all of
// them. Everything it starts, it stops.
package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iam-userinfo/userinfo/infra/bench/bare"
	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/load"
	"github.com/iam-userinfo/userinfo/infra/rie"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
)

const table = "iam-userinfo-coldstart"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// sample is one fresh process's cold start.
type sample struct {
	took   time.Duration // invoke to the end of the first response
	init   time.Duration // the emulator's INIT REPORT: exec to the runtime's first /next
	warm   time.Duration // a second invoke of the same process (another email)
	hwmKiB int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 20, "fresh processes of each binary")
	event := fs.String("event", "events/success.json", "the event template (its body is replaced)")
	warm := fs.Int("warm", 600, "GetItem+TransactWriteItems pairs that warm DynamoDB Local first")
	prebuilt := fs.String("bootstrap", "", "measure this prebuilt bootstrap as ours (e.g. another commit's) instead of building ./functions/userinfo; arm64 size is still the tree's")
	other := fs.String("also", "", "a prebuilt bootstrap (e.g. another commit's) measured as a fourth binary beside the others, for an A/B in one run; its arm64 size is the tree's")
	jwksHTTPS := fs.Bool("jwks-https", false, "serve the JWKS over https on 127.0.0.1 (as in production) instead of a file:// URL")
	jwksDelay := fs.Duration("jwks-delay", 0, "with -jwks-https, how long the issuer takes to answer")
	verbose := fs.Bool("v", false, "pass the function's and emulator's output to stderr, with GODEBUG=inittrace=1,gctrace=1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("-n must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins := []*binary{
		{name: "userinfo bootstrap", pkg: "./functions/userinfo"},
		{name: "bare SDK Lambda (same DynamoDB calls)", pkg: "./infra/bench/barelambda"},
		{name: "hello-world aws-lambda-go", pkg: "./infra/bench/hello"},
	}
	if *other != "" {
		bins = append(bins, &binary{name: "userinfo bootstrap (-also " + filepath.Base(filepath.Dir(*other)) + ")", pkg: "./functions/userinfo", prebuilt: *other})
	}
	bins[0].prebuilt = *prebuilt
	armSizes := map[string]int64{} // by package: -also's is the tree's, built once
	for i, b := range bins {
		// Each at its own path: peakRSS finds the process by it.
		b.path = filepath.Join(dir, strconv.Itoa(i), "bootstrap")
		if b.prebuilt != "" {
			if err := copyFile(b.prebuilt, b.path); err != nil {
				return err
			}
		} else if err := rie.Build(ctx, b.pkg, b.path, runtime.GOARCH); err != nil {
			return err
		}
		if b.size, err = fileSize(b.path); err != nil {
			return err
		}
		if size, ok := armSizes[b.pkg]; ok {
			b.sizeARM = size
			continue
		}
		arm := filepath.Join(dir, strconv.Itoa(i)+"-arm64", "bootstrap")
		if err := rie.Build(ctx, b.pkg, arm, "arm64"); err != nil {
			return err
		}
		if b.sizeARM, err = fileSize(arm); err != nil {
			return err
		}
		armSizes[b.pkg] = b.sizeARM
	}
	tpl, err := os.ReadFile(*event)
	if err != nil {
		return err
	}

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
	demo, err := seed.Demo()
	if err != nil {
		return err
	}
	if err := seed.Apply(ctx, ddbtable.New(client, table, dynamo.Options{}), demo); err != nil {
		return err
	}
	key, err := devkeys.LoadOrCreate(filepath.Join(dir, "keys"))
	if err != nil {
		return err
	}
	tokens, err := sampleevents.DemoTokens(key, "", "")
	if err != nil {
		return err
	}
	env := ddblocal.ClientEnv(ddb.Endpoint())
	env["TABLE_NAME"] = table
	env["AUTH_JWKS_URL"] = key.JWKSURL()
	jwksNote := "file:// JWKS"
	if *jwksHTTPS {
		url, ca, stop, err := serveJWKS(key.JWKSPath(), *jwksDelay, dir)
		if err != nil {
			return err
		}
		defer stop()
		// Go on Linux trusts the roots in SSL_CERT_FILE: the test server's.
		env["AUTH_JWKS_URL"], env["SSL_CERT_FILE"] = url, ca
		jwksNote = fmt.Sprintf("https JWKS on 127.0.0.1 answering after %v", *jwksDelay)
	}
	env["AUTH_ISSUER"] = devkeys.DefaultIssuer
	env["AUTH_AUDIENCE"] = devkeys.DefaultAudience

	if *verbose {
		env["GODEBUG"] = "inittrace=1,gctrace=1"
	}
	invokes := 0
	coldStart := func(bin string) (sample, error) {
		invokes++
		ev, err := render(tpl, tokens, fmt.Sprintf("alice-%d@coldstart.example", invokes))
		if err != nil {
			return sample{}, err
		}
		var out tailbuf.Buffer
		opts := rie.Options{Bootstrap: bin, Env: env, Stdout: &out, Stderr: &out}
		if *verbose {
			opts.Stdout, opts.Stderr = io.MultiWriter(&out, stderr), io.MultiWriter(&out, stderr)
		}
		emu, err := rie.Start(ctx, opts)
		if err != nil {
			return sample{}, err
		}
		defer emu.Stop()
		start := time.Now()
		res, err := emu.Invoke(ctx, ev)
		took := time.Since(start)
		if err != nil {
			return sample{}, err
		}
		if err := want204(bin, res); err != nil {
			return sample{}, err
		}
		hwm, err := peakRSS(bin)
		if err != nil {
			return sample{}, err
		}
		initTook, err := initReport(out.String())
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", bin, err)
		}
		invokes++
		if ev, err = render(tpl, tokens, fmt.Sprintf("alice-%d@coldstart.example", invokes)); err != nil {
			return sample{}, err
		}
		start = time.Now()
		res, err = emu.Invoke(ctx, ev)
		warmTook := time.Since(start)
		if err != nil {
			return sample{}, err
		}
		if err := want204(bin, res); err != nil {
			return sample{}, err
		}
		return sample{took: took, init: initTook, warm: warmTook, hwmKiB: hwm}, nil
	}

	// DynamoDB Local is a JVM: its first few hundred transactions run
	// slowly (15-120 ms instead of 2-5) until the JIT has compiled them. Warm it in this
	// process (on bob, so alice's item is only the functions'), then one
	// warm-up invoke per binary for the page cache.
	bob := ""
	for _, u := range demo.Users {
		if u.Name == "bob" {
			bob = u.ID
		}
	}
	w := &bare.Writer{Client: client, Table: table}
	for i := range *warm {
		if err := w.ChangeEmail(ctx, bob, fmt.Sprintf("bob-%d@coldstart.example", i)); err != nil {
			return fmt.Errorf("warm DynamoDB Local: %w", err)
		}
	}
	for _, b := range bins {
		if _, err := coldStart(b.path); err != nil {
			return fmt.Errorf("warm-up %s: %w", b.name, err)
		}
	}
	loadBefore := load.Average()
	for i := range *n {
		// Rotate which goes first, so none always follows another.
		for j := range bins {
			b := bins[(i+j)%len(bins)]
			s, err := coldStart(b.path)
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			b.samples = append(b.samples, s)
		}
	}

	fmt.Fprintf(stdout, "Cold start under aws-lambda-rie: invoke (the emulator execs the bootstrap) to the end of the first response; %d fresh processes each, rotating order, one warm-up invoke each before; %s; DynamoDB Local warmed with %d in-process GetItem+TransactWriteItems; %s; GOARCH=%s; load average before %s, after %s.\n\n",
		*n, jwksNote, *warm, time.Now().UTC().Format(time.RFC3339), runtime.GOARCH, loadBefore, load.Average())
	took := func(x sample) time.Duration { return x.took }
	initOf := func(x sample) time.Duration { return x.init }
	warmOf := func(x sample) time.Duration { return x.warm }
	penalty := func(x sample) time.Duration { return x.took - x.warm }
	hello, bareSDK := bins[2].samples, bins[1].samples
	fmt.Fprintln(stdout, "| binary | first response median ms | p90 ms | vs hello (median / p90) | vs bare SDK (median / p90) | init ms (INIT REPORT) | init vs hello | warm invoke ms | first − warm ms | peak RSS MiB (median / max) | size MiB ("+runtime.GOARCH+") | size MiB (arm64) |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	hm, hp := stats(hello, took)
	bm, bp := stats(bareSDK, took)
	hi, _ := stats(hello, initOf)
	for _, b := range bins {
		m, p := stats(b.samples, took)
		im, _ := stats(b.samples, initOf)
		wm, _ := stats(b.samples, warmOf)
		pm, _ := stats(b.samples, penalty)
		rm, rx := rss(b.samples)
		fmt.Fprintf(stdout, "| %s | %.1f | %.1f | %.2fx / %.2fx | %.2fx / %.2fx | %.1f | %.2fx | %.1f | %.1f | %.1f / %.1f | %.2f | %.2f |\n",
			b.name, ms(m), ms(p), ms(m)/ms(hm), ms(p)/ms(hp), ms(m)/ms(bm), ms(p)/ms(bp), ms(im), ms(im)/ms(hi), ms(wm), ms(pm), rm, rx, mib(b.size), mib(b.sizeARM))
	}
	return nil
}

// want204 returns an error unless res is a proxy response with status 204.
func want204(bin string, res []byte) error {
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.StatusCode != 204 {
		return fmt.Errorf("%s answered %s, want a 204", bin, res)
	}
	return nil
}

// initReport returns the init duration the emulator reports for its
// function ("INIT REPORT(durationMs: 11.465000)"): from exec of the
// bootstrap to its first call for the next event, what Lambda reports as
// Init Duration.
func initReport(out string) (time.Duration, error) {
	_, rest, ok := strings.Cut(out, "INIT REPORT(durationMs: ")
	if !ok {
		return 0, errors.New("the emulator printed no INIT REPORT")
	}
	num, _, ok := strings.Cut(rest, ")")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("unreadable INIT REPORT %q", num)
	}
	return time.Duration(v * float64(time.Millisecond)), nil
}

// binary is one function measured, and its samples.
type binary struct {
	name, pkg, path string
	prebuilt        string // measured instead of building pkg
	size, sizeARM   int64
	samples         []sample
}

func fileSize(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// serveJWKS serves the JWKS file at path over https on 127.0.0.1, each
// answer after delay, and writes the server's certificate to dir/ca.pem.
// It returns the JWKS URL, the certificate's path and a func that stops it.
func serveJWKS(path string, delay time.Duration, dir string) (string, string, func(), error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", "", nil, err
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	}))
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		srv.Close()
		return "", "", nil, err
	}
	return srv.URL + "/jwks.json", ca, srv.Close, nil
}

func copyFile(from, to string) error {
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, raw, 0o755)
}

// render returns the event template with a fresh token for alice and a
// body setting her email to email.
func render(tpl []byte, tokens sampleevents.TokenFunc, email string) ([]byte, error) {
	raw, err := sampleevents.Render(tpl, tokens)
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"user": map[string]string{"email": email}})
	if err != nil {
		return nil, err
	}
	ev["body"] = string(body)
	ev["isBase64Encoded"] = false
	return json.Marshal(ev)
}

// peakRSS returns the VmHWM, in KiB, of the one running process whose
// executable is bin. Each binary lives at its own path, and the emulator
// runs one function process at a time.
func peakRSS(bin string) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe"))
		if err != nil || exe != bin {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", p.Name(), "status"))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			}
		}
	}
	return 0, fmt.Errorf("no running process for %s", bin)
}

// stats returns the median and p90 of one measure of the samples.
func stats(s []sample, get func(sample) time.Duration) (median, p90 time.Duration) {
	d := make([]time.Duration, len(s))
	for i, x := range s {
		d[i] = get(x)
	}
	slices.Sort(d)
	return load.Percentile(d, 50), load.Percentile(d, 90)
}

func rss(s []sample) (median, max float64) {
	k := make([]int, len(s))
	for i, x := range s {
		k[i] = x.hwmKiB
	}
	slices.Sort(k)
	return float64(k[(len(k)-1)/2]) / 1024, float64(k[len(k)-1]) / 1024
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }
