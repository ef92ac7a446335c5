// Command loadtest is `make loadtest`: it starts DynamoDB Local and the API
// on 127.0.0.1 as `make run` does, but on a fresh table with a load
// population (load.NewPopulation), runs the contention load against it,
// prints the report and checks the table's invariants (load.Verify). It
// exits 1 when a check fails. Everything it starts, it stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/load"
	"github.com/iam-userinfo/userinfo/infra/localapi"
	"github.com/iam-userinfo/userinfo/infra/tablecheck"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	requests, clients, users, accounts, contested int
	seed                                          uint64
	timeout                                       time.Duration
	logLevel, logFile                             string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.requests, "requests", 20000, "requests in all")
	fs.IntVar(&o.clients, "clients", 64, "concurrent clients")
	fs.IntVar(&o.users, "users", 50, "users")
	fs.IntVar(&o.accounts, "accounts", 2, "accounts the users are spread over")
	fs.IntVar(&o.contested, "contested", 10, "contested email addresses, and as many mobile numbers")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "seed of the request mix (printed, to repeat a run)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up after this long (DynamoDB Local serves about 60 requests a second)")
	fs.StringVar(&o.logLevel, "log-level", "info", "the API's LOG_LEVEL")
	fs.StringVar(&o.logFile, "log", "", "write the API's log to this file (default: discard it; writing it still costs what it costs in production)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.requests < 1 || o.clients < 1 || o.users < 1 || o.accounts < 1 || o.contested < 1 {
		return o, errors.New("-requests, -clients, -users, -accounts and -contested must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	ddb, err := ddblocal.Start(ctx, ddblocal.Options{Stderr: stderr})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	// The SDK reads its endpoint and credentials from the process.
	for k, v := range ddblocal.ClientEnv(ddb.Endpoint()) {
		os.Setenv(k, v)
	}
	keys, err := os.MkdirTemp("", "loadtest-keys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(keys)
	key, err := devkeys.LoadOrCreate(keys)
	if err != nil {
		return err
	}

	const table = "iam-userinfo-load"
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := ddbtable.Create(ctx, client, table); err != nil {
		return err
	}
	pop := load.NewPopulation(o.accounts, o.users, o.contested)
	if err := pop.Seed(ctx, ddbtable.New(client, table, dynamo.Options{})); err != nil {
		return err
	}
	before, err := load.ReadState(ctx, client, table, pop)
	if err != nil {
		return err
	}

	logw := io.Discard
	if o.logFile != "" {
		f, err := os.Create(o.logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	url, shutdown, err := localapi.Serve(ctx, client, table, key, o.logLevel, logw)
	if err != nil {
		return err
	}
	defer shutdown()

	fmt.Fprintf(stdout, "load: %d requests, %d clients, %d users in %d accounts, %d contested values of each kind, seed %d, API %s, DynamoDB Local %s\n",
		o.requests, o.clients, o.users, o.accounts, o.contested, o.seed, url, ddb.Endpoint())
	r, runErr := load.Run(ctx, load.Config{
		BaseURL: url, Population: pop, Clients: o.clients, Requests: o.requests, Seed: o.seed,
		Token: func(id, domain string) (string, error) {
			return key.Sign(devkeys.Claims{Subject: id, DomainID: domain, ExpiresAt: time.Now().Add(o.timeout + time.Hour)})
		},
	})
	fmt.Fprintln(stdout, r)
	if runErr != nil {
		return fmt.Errorf("run cut short: %w", runErr)
	}
	shutdown() // no request in flight while the table is read
	after, err := load.ReadState(context.WithoutCancel(ctx), client, table, pop)
	if err != nil {
		return err
	}
	if err := load.Verify(before, after, r); err != nil {
		return fmt.Errorf("invariants broken:\n%w", err)
	}
	fmt.Fprintf(stdout, "invariants hold: %d audit records for %d answers 204 (%d answers 503 of uncertain outcome)\n",
		audits(before, after), len(r.Applied), len(r.Uncertain))
	return nil
}

// audits counts the audit records written during the run.
func audits(before, after *tablecheck.State) int {
	n := 0
	for _, recs := range before.NewAudits(after) {
		n += len(recs)
	}
	return n
}
