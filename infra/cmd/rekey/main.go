// Command rekey moves the uniqueness guards of a table to the keys of the
// current rules (userinfo.KeyVersion: canonical email and E.164 mobile
// keys), one value per transaction, and reports what it cannot move (two
// users whose values now have one key, values the rules now refuse, guards
// no user holds) instead of choosing a winner. Run it after deploying a
// change of the key rules or of their numbering-plan data; running it again
// moves nothing and reports the same.
//
//	go run ./infra/cmd/rekey -table iam-userinfo-prod [-dry-run]
//
// It talks to DynamoDB as the SDK is configured (credentials, AWS_REGION,
// AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local). Exit status: 0 when every
// value is guarded under its current key, 2 when the report lists values
// for an operator, 1 on an error. The report names accounts, kinds and user
// ids, never an email or a number.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// errAttention is run's error when the table needs an operator.
var errAttention = errors.New("some values need an operator (see above); the others are re-keyed")

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout)
	switch {
	case errors.Is(err, errAttention):
		fmt.Fprintln(os.Stderr, "rekey:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "rekey:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("rekey", flag.ContinueOnError)
	table := fs.String("table", getenv("TABLE_NAME"), "the table (default $TABLE_NAME)")
	dryRun := fs.Bool("dry-run", false, "report what would move, write nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" {
		return errors.New("usage: rekey -table <name> [-dry-run] (or set TABLE_NAME)")
	}
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		return err
	}
	r, err := ddbtable.New(client, *table, dynamo.Options{}).Rekey(ctx, ddbtable.RekeyOptions{DryRun: *dryRun})
	if r != nil {
		report(stdout, *table, *dryRun, r)
	}
	if err != nil {
		return err
	}
	if !r.Clean() {
		return errAttention
	}
	return nil
}

func report(w io.Writer, table string, dryRun bool, r *ddbtable.RekeyReport) {
	moved := "moved"
	if dryRun {
		moved = "to move (dry run)"
	}
	fmt.Fprintf(w, "table %s, key version %d: %d users read, %d values already under their current key, %d %s\n",
		table, userinfo.KeyVersion, r.Users, r.Current, len(r.Moved), moved)
	for _, c := range r.Collisions {
		holder := "no user holds it yet"
		if c.Holder != "" {
			holder = "held by user " + c.Holder
		}
		fmt.Fprintf(w, "collision: account %s, %s: one key for users %v (%s); left under their old keys\n", c.DomainID, c.Kind, c.Users, holder)
	}
	for _, v := range r.Invalid {
		fmt.Fprintf(w, "invalid: account %s, %s of user %s: refused by the current rules; left under its old key\n", v.DomainID, v.Kind, v.UserID)
	}
	for _, v := range r.Changed {
		fmt.Fprintf(w, "changed: account %s, %s of user %s kept changing; run rekey again\n", v.DomainID, v.Kind, v.UserID)
	}
	for _, g := range r.Orphans {
		fmt.Fprintf(w, "orphan: account %s, %s guard (key version %d) of user %s, which does not hold it\n", g.DomainID, g.Kind, g.Version, g.UserID)
	}
}
