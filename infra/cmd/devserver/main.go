// Command devserver is `make run`: it starts Amazon's DynamoDB Local, creates
// the table, makes a local signing key and JWKS, seeds demo users and serves
// the same handler the Lambda function runs, on 127.0.0.1. Ctrl-C or SIGTERM
// stops everything it started, Java included.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	ddbPort, err := strconv.Atoi(env("DDB_PORT", "8000"))
	if err != nil {
		return fmt.Errorf("DDB_PORT must be a port number")
	}
	port, err := strconv.Atoi(env("PORT", "3000"))
	if err != nil {
		return fmt.Errorf("PORT must be a port number")
	}
	// Fail before starting Java if the API's port is taken.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("PORT %d: %w", port, err)
	}
	defer ln.Close()

	key, err := devkeys.LoadOrCreate(env(devkeys.DirEnv, devkeys.DefaultDir))
	if err != nil {
		return err
	}
	ddb, err := ddblocal.Start(ctx, ddblocal.Options{Port: ddbPort, Stderr: stderr})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	for k, v := range ddblocal.ClientEnv(ddb.Endpoint()) {
		if k == "AWS_ENDPOINT_URL_DYNAMODB" || getenv(k) == "" {
			os.Setenv(k, v) // the SDK reads its own variables from the process
		}
	}

	cfg, err := app.LoadConfig(func(name string) string {
		switch name {
		case "TABLE_NAME":
			return env(name, seed.DefaultTable)
		case "AUTH_JWKS_URL":
			return env(name, key.JWKSURL())
		case "AUTH_ISSUER":
			return env(name, devkeys.DefaultIssuer)
		case "AUTH_AUDIENCE":
			return env(name, devkeys.DefaultAudience)
		}
		return getenv(name)
	})
	if err != nil {
		return err
	}
	client, err := dynamo.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := dynamo.CreateTable(ctx, client, cfg.TableName); err != nil {
		return err
	}
	demo, err := seed.Demo()
	if err != nil {
		return err
	}
	if err := seed.Apply(ctx, dynamo.New(client, cfg.TableName, dynamo.Options{}), demo); err != nil {
		return err
	}
	h, err := app.New(ctx, cfg, app.NewLogger(stdout, cfg.LogLevel))
	if err != nil {
		return err
	}
	// ReadTimeout too: the handler's 5 s deadline does not cover reading the
	// body, and a client that declares a body and stalls would hold a
	// connection forever. (In production API Gateway reads the body first.)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	alice := demo.Users[0]
	fmt.Fprintf(stderr, `ready: API on http://127.0.0.1:%d (DynamoDB Local on %s, table %s)
try:
  curl -i -X PUT -H 'Accept:application/json' -H 'Content-Type:application/json;charset=utf8' \
    -H "X-Auth-Token:$(make -s token USER=%s DOMAIN=%s)" \
    -d '{"user":{"areacode":"0086","phone":"18292010816","email":"abcdefg@123.com"}}' \
    http://127.0.0.1:%d/v3.0/OS-USER/users/%s/info
`, port, ddb.Endpoint(), cfg.TableName, alice.ID, alice.DomainID, port, alice.ID)

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		fmt.Fprintln(stderr, "stopping")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
