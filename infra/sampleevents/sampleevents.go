// Package sampleevents renders the sample Lambda events kept in events/.
//
// A committed event cannot hold a token: it would expire, and a test or a
// developer would then get 401 where the event promises 204. The files
// therefore hold placeholders, replaced when the events are used:
//
//	{{token NAME}}              a token for the demo user NAME (alice, bob, carol, dave)
//	{{token NAME expired}}      the same, expired an hour ago
//	{{oversized-body N}}        a JSON body of N bytes, escaped to sit in the
//	                            event's body string, for the 413 event
//
// `make events` writes the rendered files to .local/events (git-ignored) for
// `sam local invoke -e`; `make invoke` and the tests render on the fly.
package sampleevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/seed"
)

// SourceDir holds the sample events, with placeholders, relative to the
// repository's root; RenderedDir (git-ignored) the events make events
// renders from them.
const (
	SourceDir   = "events"
	RenderedDir = ".local/events"
)

// EnvFile is the file in the events folder that is not an event: the
// variables for `sam local invoke --env-vars`, keyed by the function's
// logical id.
const EnvFile = "env.json"

// Lifetime is how long a rendered token lives: a working day, so that
// rendered files stay usable for a session and never for long.
const Lifetime = 12 * time.Hour

// maxOversized bounds {{oversized-body N}}, so a typo cannot ask for
// gigabytes.
const maxOversized = 1 << 20

// TokenFunc returns a token for the demo user called name, an expired one
// when expired is set. It returns an error for a name it does not know.
type TokenFunc func(name string, expired bool) (string, error)

// DemoTokens returns a TokenFunc signing with key for the demo users of
// seed.Demo, with the given issuer and audience (empty means devkeys'
// defaults, as the local server uses). It fails only if the embedded demo
// data is broken.
func DemoTokens(key *devkeys.Key, issuer, audience string) (TokenFunc, error) {
	demo, err := seed.Demo()
	if err != nil {
		return nil, err
	}
	users := make(map[string]seed.User, len(demo.Users))
	for _, u := range demo.Users {
		users[u.Name] = u
	}
	return func(name string, expired bool) (string, error) {
		u, ok := users[name]
		if !ok {
			names := make([]string, 0, len(users))
			for n := range users {
				names = append(names, n)
			}
			sort.Strings(names)
			return "", fmt.Errorf("no demo user %q (there are %s)", name, strings.Join(names, ", "))
		}
		now := time.Now()
		c := devkeys.Claims{Subject: u.ID, DomainID: u.DomainID, Issuer: issuer, Audience: audience, IssuedAt: now, ExpiresAt: now.Add(Lifetime)}
		if expired {
			// An hour past expiry: far beyond the verifier's 60 s leeway.
			c.IssuedAt, c.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour)
		}
		return key.Sign(c)
	}, nil
}

// placeholder matches {{verb args}}; anything between the braces is
// parsed by Render, so a misspelt placeholder is an error, not left as is.
var placeholder = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// Render returns tpl with every placeholder replaced. It returns an error
// naming the placeholder when one is unknown or malformed or tokens fails,
// and when the result is not valid JSON.
func Render(tpl []byte, tokens TokenFunc) ([]byte, error) {
	var errs []error
	out := placeholder.ReplaceAllFunc(tpl, func(m []byte) []byte {
		v, err := expand(strings.Fields(string(m[2:len(m)-2])), tokens)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
		}
		return []byte(v)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !json.Valid(out) {
		return nil, errors.New("the rendered event is not valid JSON")
	}
	return out, nil
}

func expand(f []string, tokens TokenFunc) (string, error) {
	switch {
	case len(f) == 2 && f[0] == "token":
		return tokens(f[1], false)
	case len(f) == 3 && f[0] == "token" && f[2] == "expired":
		return tokens(f[1], true)
	case len(f) == 2 && f[0] == "oversized-body":
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 32 || n > maxOversized {
			return "", fmt.Errorf("size must be a number from 32 to %d", maxOversized)
		}
		quoted, _ := json.Marshal(string(oversizedBody(n))) // a string: cannot fail
		return string(quoted[1 : len(quoted)-1]), nil
	}
	return "", errors.New("unknown placeholder: want {{token NAME}}, {{token NAME expired}} or {{oversized-body N}}")
}

// oversizedBody returns a well-formed request body of exactly n bytes, so
// only its size can be what the API refuses.
func oversizedBody(n int) []byte {
	const head, tail = `{"user":{"email":"`, `@example.com"}}`
	return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
}

// NotifierDir is the folder of the notifier's events (stream batches), under
// the events folder: no API event, so Files leaves it out.
const NotifierDir = "notifier"

// Files returns the API's sample events under dir, sorted: every *.json
// file but EnvFile, in dir and its folders (events/not-deployed holds the
// events of front doors the template does not create) but NotifierDir. It
// returns an error when dir cannot be read or holds none.
func Files(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == NotifierDir {
			return filepath.SkipDir
		}
		if !d.IsDir() && filepath.Ext(path) == ".json" && !(filepath.Dir(path) == filepath.Clean(dir) && d.Name() == EnvFile) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no sample events (*.json) in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// RenderDir renders every event of src into dst (created 0700: the files
// hold live tokens) under the same relative paths, and returns the paths
// written. It
// stops at the first event that fails to render, naming it.
func RenderDir(src, dst string, tokens TokenFunc) ([]string, error) {
	files, err := Files(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		tpl, err := os.ReadFile(f)
		if err != nil {
			return written, err
		}
		out, err := Render(tpl, tokens)
		if err != nil {
			return written, fmt.Errorf("%s: %w", f, err)
		}
		rel, err := filepath.Rel(src, f)
		if err != nil {
			return written, err
		}
		path := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return written, err
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
