// Command events is `make events`: it renders the sample events of events/
// into .local/events (git-ignored) with fresh tokens from the local signing
// key, for `sam local invoke -e .local/events/<name>.json`. Tokens live
// sampleevents.Lifetime; run it again when they have expired.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
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
	src := fs.String("src", "events", "the sample events, with placeholders")
	dst := fs.String("dst", ".local/events", "where the rendered events go")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := getenv(devkeys.DirEnv)
	if dir == "" {
		dir = devkeys.DefaultDir
	}
	key, err := devkeys.LoadOrCreate(dir)
	if err != nil {
		return err
	}
	// The same issuer and audience the local server and make invoke use.
	tokens, err := sampleevents.DemoTokens(key, getenv("AUTH_ISSUER"), getenv("AUTH_AUDIENCE"))
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
