// Command token prints a token signed by the local development key:
// `make token USER=<id> [DOMAIN=<id>]`. Local use only: the key lives in a
// git-ignored folder and production verifies against the issuer's JWKS.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	user := fs.String("user", "", "user id (the token's sub)")
	domain := fs.String("domain", "d-demo", "account id (the token's domain_id)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("usage: make token USER=<id> [DOMAIN=<id>]")
	}
	dir := getenv(devkeys.DirEnv)
	if dir == "" {
		dir = devkeys.DefaultDir
	}
	key, err := devkeys.LoadOrCreate(dir)
	if err != nil {
		return err
	}
	now := time.Now()
	tok, err := key.Sign(devkeys.Claims{
		Subject: *user, DomainID: *domain,
		Issuer: getenv("AUTH_ISSUER"), Audience: getenv("AUTH_AUDIENCE"),
		IssuedAt: now, ExpiresAt: now.Add(*ttl),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
