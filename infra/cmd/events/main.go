// Command events is `make events`: it renders the sample events of events/
// into .local/events (git-ignored) with fresh tokens from the local signing
// key (make run's: infra/localenv), for `sam local invoke -e
// .local/events/<name>.json`. Tokens live sampleevents.Lifetime; run it
// again when they have expired.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	src := fs.String("src", sampleevents.SourceDir, "the sample events, with placeholders")
	dst := fs.String("dst", sampleevents.RenderedDir, "where the rendered events go")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := localenv.Load(getenv)
	if err != nil {
		return err
	}
	key, err := s.Key()
	if err != nil {
		return err
	}
	// The same key, issuer and audience make run and make invoke use.
	tokens, err := sampleevents.DemoTokens(key, s.Get(localenv.Issuer), s.Get(localenv.Audience))
	if err != nil {
		return err
	}
	written, err := sampleevents.RenderDir(*src, *dst, tokens)
	if err != nil {
		return err
	}
	for _, p := range written {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintf(stdout, "%d events rendered; their tokens expire in %v\n", len(written), sampleevents.Lifetime)
	return nil
}
