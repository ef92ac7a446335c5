// Command invoke is `make invoke EVENT=events/<name>.json`: it runs the
// real Lambda bootstrap under the AWS Lambda Runtime Interface Emulator
// (what `sam local invoke` runs inside its container), against the
// DynamoDB Local, table and keys of the running make run, found through its
// settings (infra/localenv). It renders the event's placeholders, sends it,
// prints the proxy response on stdout (logs go to stderr), and stops the
// emulator. Without a DynamoDB Local where the settings say, it says so and
// starts nothing.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/rie"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	eventPath := fs.String("event", "", "the event file (events/<name>.json, or a rendered .local/events/<name>.json)")
	bootstrap := fs.String("bootstrap", "bin/amd64/bootstrap", "the function binary")
	rieBin := fs.String("rie", "", "aws-lambda-rie (default: bin/aws-lambda-rie, then PATH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *eventPath == "" {
		return errors.New("usage: make invoke EVENT=events/<name>.json")
	}
	s, err := localenv.Load(getenv)
	if err != nil {
		return err
	}
	key, err := s.Key()
	if err != nil {
		return err
	}
	tpl, err := readEvent(*eventPath, stderr)
	if err != nil {
		return err
	}
	tokens, err := sampleevents.DemoTokens(key, s.Get(localenv.Issuer), s.Get(localenv.Audience))
	if err != nil {
		return err
	}
	event, err := sampleevents.Render(tpl, tokens)
	if err != nil {
		return fmt.Errorf("%s: %w", *eventPath, err)
	}
	endpoint, err := s.DynamoDB(ctx)
	if err != nil {
		return err
	}
	emu, err := rie.Start(ctx, rie.Options{RIE: *rieBin, Bootstrap: *bootstrap, Env: functionEnv(s, endpoint, getenv), Stdout: stderr, Stderr: stderr})
	if err != nil {
		return err
	}
	defer emu.Stop()
	out, err := emu.Invoke(ctx, event)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Write(out)
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

// functionEnv is the function's whole environment: make run's DynamoDB
// Local, table and issuer, with the optional variables passed on.
func functionEnv(s *localenv.Settings, endpoint string, getenv func(string) string) map[string]string {
	env := ddblocal.ClientEnv(endpoint)
	for _, name := range []string{localenv.Table, localenv.JWKSURL, localenv.Issuer, localenv.Audience} {
		env[name] = s.Get(name)
	}
	for _, name := range []string{"LOG_LEVEL", "AUDIT_RETENTION_DAYS"} {
		if v := getenv(name); v != "" {
			env[name] = v
		}
	}
	return env
}

// readEvent returns the event at path. A rendered event that make events
// has not written yet is rendered from its sample instead, which the
// caller does to every event anyway.
func readEvent(path string, stderr io.Writer) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if !errors.Is(err, fs.ErrNotExist) || filepath.Clean(filepath.Dir(path)) != sampleevents.RenderedDir {
		return raw, err
	}
	sample := filepath.Join(sampleevents.SourceDir, filepath.Base(path))
	raw, serr := os.ReadFile(sample)
	if serr != nil {
		return nil, fmt.Errorf("%w, and there is no %s to render it from (the samples are %s/*.json)", err, sample, sampleevents.SourceDir)
	}
	fmt.Fprintf(stderr, "invoke: %s is not rendered (make events renders them all); rendering %s\n", path, sample)
	return raw, nil
}
