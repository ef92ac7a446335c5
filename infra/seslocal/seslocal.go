// Package seslocal starts and stops a local Amazon SES v2 API (the npm
// package aws-ses-v2-local, run with node) for tests and the local server,
// bound to 127.0.0.1, and reads back what it was asked to send.
package seslocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// installDir is where `make deps` installs the package, under the module
// root.
const installDir = ".cache/seslocal"

// DirEnv names the variable that, when Options.Dir is empty, holds the
// folder into which the package was installed (the npm --prefix).
const DirEnv = "SES_LOCAL_DIR"

// Options configures Start. The zero value is usable.
type Options struct {
	// Dir is the npm prefix holding node_modules/aws-ses-v2-local; empty
	// means $SES_LOCAL_DIR, else .cache/seslocal under the module root.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Stdout and Stderr receive the process's output; nil discards it.
	Stdout, Stderr io.Writer
}

// Instance is a running local SES.
type Instance struct {
	port  int
	group *proc.Group
}

// Endpoint returns its base URL, for AWS_ENDPOINT_URL_SESV2.
func (in *Instance) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(in.port) }

// Start launches the local SES and returns once it answers. It returns an
// error naming the fix when node or the package is missing, and one with the
// process's output when it does not answer within 30 s or ctx ends first.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node not found on PATH: install Node.js 18+")
	}
	dir, err := resolveDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	cli := filepath.Join(dir, "node_modules", "aws-ses-v2-local", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("aws-ses-v2-local not found under %s: run 'make deps'", dir)
	}
	port := opts.Port
	if port == 0 {
		if port, err = proc.FreePort(); err != nil {
			return nil, fmt.Errorf("seslocal: pick a port: %w", err)
		}
	}
	tail := &tailbuf.Buffer{Max: 4096}
	cmd := exec.CommandContext(ctx, node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = writers(opts.Stdout, tail), writers(opts.Stderr, tail)
	group, err := proc.StartGroup(cmd)
	if err != nil {
		return nil, fmt.Errorf("seslocal: start node: %w", err)
	}
	in := &Instance{port: port, group: group}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := in.Emails(ctx); err == nil {
			return in, nil
		}
		select {
		case <-group.Done():
			return nil, fmt.Errorf("seslocal: exited while starting: %s", tail.String())
		case <-ctx.Done():
			in.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.Stop()
			return nil, fmt.Errorf("seslocal: no answer on port %d within 30 s: %s", port, tail.String())
		}
	}
}

// Stop ends the process (SIGTERM, then SIGKILL after a second) and waits
// for it. Calling it again does nothing.
func (in *Instance) Stop() { _ = in.group.Stop(time.Second) }

// Email is one message the local SES was asked to send.
type Email struct {
	To      []string
	Subject string
	Text    string
	At      time.Time
}

// Emails returns every email sent so far, oldest first.
func (in *Instance) Emails(ctx context.Context) ([]Email, error) {
	return Emails(ctx, in.Endpoint())
}

// Emails returns every email the local SES at endpoint was asked to send,
// oldest first.
func Emails(ctx context.Context, endpoint string) ([]Email, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/store", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("seslocal: /store answered %s", resp.Status)
	}
	var store struct {
		Emails []struct {
			Destination struct{ To []string } `json:"destination"`
			Subject     string                `json:"subject"`
			Body        struct{ Text string } `json:"body"`
			At          int64                 `json:"at"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		return nil, fmt.Errorf("seslocal: /store: %w", err)
	}
	out := make([]Email, len(store.Emails))
	for i, e := range store.Emails {
		out[i] = Email{To: e.Destination.To, Subject: e.Subject, Text: e.Body.Text, At: time.Unix(e.At, 0).UTC()}
	}
	return out, nil
}

func resolveDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(DirEnv)
	}
	if dir != "" {
		return dir, nil
	}
	root, err := proc.ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("seslocal: %w; set %s", err, DirEnv)
	}
	return filepath.Join(root, installDir), nil
}

func writers(w io.Writer, t *tailbuf.Buffer) io.Writer {
	if w == nil {
		return t
	}
	return io.MultiWriter(w, t)
}
