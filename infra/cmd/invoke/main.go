// Command invoke is `make invoke EVENT=events/<name>.json`: it runs the
// real Lambda bootstrap under the AWS Lambda Runtime Interface Emulator
// (what `sam local invoke` runs inside its container), against the local
// DynamoDB that `make run` started, or one of its own when none answers on
// DDB_PORT. It sends the event, prints the proxy response on stdout (logs go
// to stderr), and stops everything it started.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/rie"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
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
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	key, err := devkeys.LoadOrCreate(env(devkeys.DirEnv, devkeys.DefaultDir))
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(*eventPath)
	if err != nil {
		return err
	}
	tokens, err := sampleevents.DemoTokens(key, getenv("AUTH_ISSUER"), getenv("AUTH_AUDIENCE"))
	if err != nil {
		return err
	}
	event, err := sampleevents.Render(raw, tokens)
	if err != nil {
		return fmt.Errorf("%s: %w", *eventPath, err)
	}

	table := env("TABLE_NAME", seed.DefaultTable)
	endpoint, stopDB, err := localDynamoDB(ctx, env("DDB_PORT", "8000"), table, stderr)
	if err != nil {
		return err
	}
	defer stopDB()

	fnEnv := ddblocal.ClientEnv(endpoint)
	fnEnv["TABLE_NAME"] = table
	fnEnv["AUTH_JWKS_URL"] = env("AUTH_JWKS_URL", key.JWKSURL())
	fnEnv["AUTH_ISSUER"] = env("AUTH_ISSUER", devkeys.DefaultIssuer)
	fnEnv["AUTH_AUDIENCE"] = env("AUTH_AUDIENCE", devkeys.DefaultAudience)
	for _, name := range []string{"LOG_LEVEL", "AUDIT_RETENTION_DAYS"} {
		if v := getenv(name); v != "" {
			fnEnv[name] = v
		}
	}
	emu, err := rie.Start(ctx, rie.Options{RIE: *rieBin, Bootstrap: *bootstrap, Env: fnEnv, Stdout: stderr, Stderr: stderr})
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

// localDynamoDB returns the endpoint of the DynamoDB Local answering on
// 127.0.0.1:port, or of one it starts when none does, with the table
// present: created and seeded with the demo users when missing, as make
// run would. The returned func stops what was started.
func localDynamoDB(ctx context.Context, port, table string, stderr io.Writer) (string, func(), error) {
	if _, err := strconv.Atoi(port); err != nil {
		return "", nil, errors.New("DDB_PORT must be a port number")
	}
	endpoint, stop := "http://127.0.0.1:"+port, func() {}
	if !ddblocal.Answers(ctx, endpoint) {
		fmt.Fprintf(stderr, "invoke: no DynamoDB Local on port %s (make run starts one); starting one\n", port)
		in, err := ddblocal.Start(ctx, ddblocal.Options{Stderr: stderr})
		if err != nil {
			return "", nil, err
		}
		endpoint, stop = in.Endpoint(), func() { _ = in.Stop() }
	}
	client := ddblocal.Client(endpoint)
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		err = createAndSeed(ctx, client, table)
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("table %s on %s: %w", table, endpoint, err)
	}
	return endpoint, stop, nil
}

func createAndSeed(ctx context.Context, client *dynamodb.Client, table string) error {
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		return err
	}
	demo, err := seed.Demo()
	if err != nil {
		return err
	}
	return seed.Apply(ctx, dynamo.New(client, table, dynamo.Options{}), demo)
}
