// Command seed upserts users and accounts from a JSON file into the local
// table that `make run` serves: `make seed FILE=users.json`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	file := fs.String("file", "", "JSON file: an array of users, or {\"accounts\": [...], \"users\": [...]}")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("usage: make seed FILE=users.json")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := seed.Parse(f)
	if err != nil {
		return err
	}
	port, table := getenv("DDB_PORT"), getenv("TABLE_NAME")
	if port == "" {
		port = "8000"
	}
	if table == "" {
		table = seed.DefaultTable
	}
	for k, v := range ddblocal.ClientEnv("http://127.0.0.1:" + port) {
		if getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	client, err := dynamo.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := seed.Apply(ctx, dynamo.New(client, table, dynamo.Options{}), data); err != nil {
		return fmt.Errorf("%w (is `make run` running on DDB_PORT=%s?)", err, port)
	}
	fmt.Printf("seeded %d accounts and %d users into %s\n", len(data.Accounts), len(data.Users), table)
	return nil
}
