// Command devserver is `make run`: it starts Amazon's DynamoDB Local and a
// local SES, creates the table, makes a local signing key, seeds the demo
// users and serves the same handler the Lambda function runs, with the
// local JWKS beside it, on 127.0.0.1. It says each step as it goes, writes
// the settings later commands read (infra/localenv), and once ready prints
// the demo users and a call to try; then it builds and starts the notifier
// (infra/cmd/localnotify) beside the API. Ctrl-C or SIGTERM stops
// everything it started, Java and node included.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

// roles says what each demo user is there to show.
var roles = map[string]string{
	"alice": "a normal user: her own change succeeds",
	"bob":   "holds bob@example.com: alice taking it answers 409",
	"carol": "disabled: her change answers 403",
	"dave":  "his account verifies changes: 202, a code in make outbox",
}

// run serves until ctx ends. Its progress goes to stderr, one line a step;
// the API's JSON request log to stdout.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	// make run decides the settings from its environment and the defaults,
	// and writes them for the commands that come after it.
	s := localenv.FromEnvironment(getenv)
	ddbPort, err := s.PortNumber(localenv.DDBPort)
	if err != nil {
		return err
	}
	port, err := s.PortNumber(localenv.Port)
	if err != nil {
		return err
	}
	sesPort, err := s.PortNumber(localenv.SESPort)
	if err != nil {
		return err
	}
	// Fail before starting Java if a port is taken, saying what to do.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return portTaken(localenv.Port, port, err)
	}
	defer ln.Close()
	for _, p := range []struct {
		name string
		port int
	}{{localenv.DDBPort, ddbPort}, {localenv.SESPort, sesPort}} {
		probe, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
		if err != nil {
			return portTaken(p.name, p.port, err)
		}
		probe.Close() // DynamoDB Local and the SES bind them next
	}

	key, err := s.Key()
	if err != nil {
		return err
	}
	say("starting DynamoDB Local on 127.0.0.1:%d", ddbPort)
	ddb, err := ddblocal.Start(ctx, ddblocal.Options{Port: ddbPort, Stderr: stderr})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	say("starting the local SES on 127.0.0.1:%d", sesPort)
	email, err := seslocal.Start(ctx, seslocal.Options{Port: sesPort, Stderr: stderr})
	if err != nil {
		return err
	}
	defer email.Stop()
	// The settings, and the environment for the rest (LOG_LEVEL, ...).
	cfg, err := app.LoadConfig(s.Get)
	if err != nil {
		return err
	}
	// A client for DynamoDB Local, configured explicitly: nothing of the
	// developer's AWS configuration is read (nor is the SDK's configuration
	// code compiled: a quarter less to build on a cold cache). One attempt
	// a call: DynamoDB Local does not throttle.
	client := ddblocal.Client(ddb.Endpoint())
	say("creating table %s", cfg.TableName)
	if err := ddbtable.Create(ctx, client, cfg.TableName); err != nil {
		return err
	}
	demo, err := seed.Demo()
	if err != nil {
		return err
	}
	for _, a := range demo.Accounts {
		var names []string
		for _, u := range demo.Users {
			if u.DomainID == a.DomainID {
				names = append(names, u.Name)
			}
		}
		say("seeding the demo account %s: %s", a.DomainID, strings.Join(names, ", "))
	}
	if err := seed.Load(ctx, ddbtable.New(client, cfg.TableName, dynamo.Options{}), demo); err != nil {
		return err
	}
	logger := app.NewLogger(stdout, cfg.LogLevel)
	api, err := app.New(ctx, cfg, logger, client)
	if err != nil {
		return err
	}
	// A fresh outbox, as the table and the SES are fresh.
	for _, f := range []string{localenv.SMSFile, localenv.DeadLetterFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	say("serving the API and the local JWKS (%s) on http://127.0.0.1:%d", devkeys.JWKSPath, port)
	// ReadTimeout too: the handler's 5 s deadline does not cover reading the
	// body, and a client that declares a body and stalls would hold a
	// connection forever. (In production API Gateway reads the body first.)
	srv := &http.Server{Handler: withJWKS(api, key), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := localenv.Write(s.Values()); err != nil {
		return err
	}
	printReady(stderr, s, ddb.Endpoint(), email.Endpoint(), demo)
	// The notifier is built once the API serves: its SES client is most of
	// what a cold build would otherwise add to the wait.
	notifyCtx, stopNotifier := context.WithCancel(ctx)
	notified := make(chan error, 1)
	go func() { notified <- runNotifier(notifyCtx, s, getenv, stdout, stderr) }()
	defer func() {
		stopNotifier()
		<-notified
	}()

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case err := <-notified:
		notified <- err // for the deferred wait
		if ctx.Err() == nil {
			return fmt.Errorf("the notifier stopped: %w", err)
		}
	case <-ctx.Done():
	}
	// Ctrl-C reaches the notifier too, which may end first.
	if ctx.Err() != nil {
		say("stopping the API, the notifier, the local SES and DynamoDB Local")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// runNotifier builds bin/localnotify (make localnotify, the local tools'
// build), runs it with make run's settings until ctx ends, and returns what
// ended it.
func runNotifier(ctx context.Context, s *localenv.Settings, getenv func(string) string, stdout, stderr io.Writer) error {
	root, err := proc.ModuleRoot()
	if err != nil {
		return err
	}
	// The environment of make run's own shell, without make's variables
	// (the build is a make of its own), with make run's settings.
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			env = append(env, kv)
		}
	}
	for k, v := range s.Values() {
		env = append(env, k+"="+v)
	}
	if lvl := getenv("LOG_LEVEL"); lvl != "" {
		env = append(env, "LOG_LEVEL="+lvl)
	}
	fmt.Fprintln(stderr, "building the notifier into bin/localnotify (the API serves meanwhile)")
	build := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "-C", root, "localnotify")
	build.Env, build.Stdout, build.Stderr = env, stderr, stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("make localnotify: %w", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "localnotify"))
	cmd.Env, cmd.Stdout, cmd.Stderr = env, stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "the notifier delivers codes and notices from the table's stream: email to the local SES, SMS to %s\n", localenv.SMSFile)
	return cmd.Wait()
}

// portTaken says which port could not be had and how to choose another.
func portTaken(name string, port int, err error) error {
	other := port + 10000
	if other > 65535 {
		other = port - 10000
	}
	return fmt.Errorf("%s %d is not free (%v): stop what holds it (another make run?), or choose another: %s=%d make run", name, port, err, name, other)
}

// withJWKS serves the local key's JWKS at devkeys.JWKSPath, the issuer's
// part, and everything else with api. Not an http.ServeMux: it would clean
// and redirect odd paths the API must answer itself, as it does in Lambda.
func withJWKS(api http.Handler, key *devkeys.Key) http.Handler {
	jwks := key.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == devkeys.JWKSPath {
			jwks.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// printReady says where everything is, who the demo users are with a token
// command for each, where codes and notices arrive, and a first call to try.
func printReady(w io.Writer, s *localenv.Settings, ddbEndpoint, sesEndpoint string, demo seed.Data) {
	base := "http://127.0.0.1:" + s.Get(localenv.Port)
	fmt.Fprintf(w, "ready: the API on %s (DynamoDB Local on %s, table %s); later commands read %s; Ctrl-C stops everything\n",
		base, strings.TrimPrefix(ddbEndpoint, "http://"), s.Get(localenv.Table), localenv.File)
	fmt.Fprintln(w, "demo users:")
	for _, u := range demo.Users {
		fmt.Fprintf(w, "  %-6s %s  %-9s %-56s TOKEN=$(make -s token USER=%s)\n", u.Name, u.ID, u.DomainID, roles[u.Name], u.Name)
	}
	fmt.Fprintf(w, "codes and notices sent: make outbox (email: the local SES on %s; SMS: %s)\n",
		strings.TrimPrefix(sesEndpoint, "http://"), localenv.SMSFile)
	alice := demo.Users[0]
	fmt.Fprintf(w, `try it (README.md, "Try it", has more calls):
  TOKEN=$(make -s token USER=%s)
  curl -i -X PUT %s/v3.0/OS-USER/users/%s/info \
    -H 'Content-Type: application/json;charset=utf8' -H "X-Auth-Token: $TOKEN" \
    -d '{"user":{"areacode":"0086","phone":"18292010816","email":"abcdefg@123.com"}}'
`, alice.Name, base, alice.ID)
}
