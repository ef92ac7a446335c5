// Command token prints a token signed by the local development key:
// `make token USER=<name or id> [DOMAIN=<id>]`. A demo user's name (alice,
// bob, carol, dave) stands for their id and account. The key, issuer and audience
// are make run's (infra/localenv). Local use only: the key lives in a
// git-ignored folder and production verifies against the issuer's JWKS.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/seed"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
}

// defaultDomain is the account of a token for a user who is not a demo
// user, when none is given: the demo account.
const defaultDomain = "d-demo"

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	user := fs.String("user", "", "a demo user's name, or a user id (the token's sub)")
	domain := fs.String("domain", "", "account id (the token's domain_id); default: the demo user's, else "+defaultDomain)
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("usage: make token USER=<alice, bob, carol, dave or a user id> [DOMAIN=<id>]")
	}
	sub, dom := *user, defaultDomain
	demo, err := seed.Demo()
	if err != nil {
		return err
	}
	for _, u := range demo.Users {
		if u.Name == *user {
			sub, dom = u.ID, u.DomainID
		}
	}
	if *domain != "" {
		dom = *domain
	}
	s, err := localenv.Load(getenv)
	if err != nil {
		return err
	}
	key, err := s.Key()
	if err != nil {
		return err
	}
	now := time.Now()
	tok, err := key.Sign(devkeys.Claims{
		Subject: sub, DomainID: dom,
		Issuer: s.Get(localenv.Issuer), Audience: s.Get(localenv.Audience),
		IssuedAt: now, ExpiresAt: now.Add(*ttl),
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
