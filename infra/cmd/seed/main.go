// Command seed is `make seed FILE=users.json`: it checks every entry of the
// file against the API's rules, the rest of the file and the running local
// table, and writes the accounts and users only when nothing is wrong. It
// finds the table where make run's settings (infra/localenv) say.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	file := fs.String("file", "", "JSON file: an array of users, or {\"accounts\": [...], \"users\": [...]}")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("usage: make seed FILE=users.json")
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return err // names the file
	}
	data, err := seed.Parse(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	s, err := localenv.Load(getenv)
	if err != nil {
		return err
	}
	endpoint, err := s.DynamoDB(ctx)
	if err != nil {
		return err
	}
	table := s.Get(localenv.Table)
	if err := seed.Load(ctx, ddbtable.New(ddblocal.Client(endpoint), table, dynamo.Options{}), data); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	_, err = fmt.Fprintf(stdout, "seeded %d accounts and %d users from %s into %s\n", len(data.Accounts), len(data.Users), *file, table)
	return err
}
