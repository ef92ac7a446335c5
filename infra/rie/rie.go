// Package rie runs a Lambda bootstrap under the AWS Lambda Runtime Interface
// Emulator (aws-lambda-rie), the program `sam local invoke` runs inside its
// container, so the real function binary can be invoked here without Docker.
//
// The emulator's defaults are unusable as they are: it listens on
// 0.0.0.0:8080 and :9001. Start always binds both of its addresses to
// 127.0.0.1 on free ports.
package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// PathEnv names the variable that may hold the emulator's path.
const PathEnv = "AWS_LAMBDA_RIE"

// DefaultTimeout is the function timeout the emulator enforces when
// Options.Timeout is zero: the template's default.
const DefaultTimeout = 10 * time.Second

// readyTimeout bounds the wait for the emulator to listen; it starts in
// milliseconds, and the function itself is started on the first invoke.
const readyTimeout = 10 * time.Second

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 2 * time.Second

// Options configures Start.
type Options struct {
	// RIE is the emulator's path. Empty means $AWS_LAMBDA_RIE, else
	// bin/aws-lambda-rie under the module root (where `make rie` installs
	// it), else aws-lambda-rie on PATH.
	RIE string
	// Bootstrap is the function binary to run; required.
	Bootstrap string
	// Env is the whole environment of the emulator, which passes it on to
	// the function. Nothing of this process's environment is inherited, so
	// a developer's AWS profile or credentials never reach the function.
	Env map[string]string
	// Timeout is the function timeout; zero means DefaultTimeout.
	Timeout time.Duration
	// Stdout receives the function's output (its JSON log lines) and Stderr
	// the emulator's own; nil discards.
	Stdout, Stderr io.Writer
}

// Emulator is a running aws-lambda-rie serving one function.
type Emulator struct {
	url   string
	group *proc.Group

	// invokeMu serialises invokes: the emulator answers a second concurrent
	// one with 400.
	invokeMu sync.Mutex
}

// FunctionError is an invocation that the function answered with an error
// (or a crash) instead of a response. The emulator reports it as HTTP 200
// with a body holding errorMessage and errorType.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("rie: the function failed: %s: %s", e.Type, e.Message)
}

// Find returns the emulator's path as Options.RIE describes it, or an
// error telling how to install it.
func Find(path string) (string, error) {
	if path == "" {
		path = os.Getenv(PathEnv)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("rie: %w", err)
		}
		return path, nil
	}
	if root, err := proc.ModuleRoot(); err == nil {
		p := filepath.Join(root, "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", errors.New("aws-lambda-rie not found: run 'make rie' (or 'make deps'), which installs it into bin/")
}

// Start launches the emulator for opts.Bootstrap and returns once it
// accepts connections. It returns an error naming the fix when the emulator
// is missing, and the emulator's exit status and output when it exits while
// starting. Cancelling ctx kills it; call Stop when done in any case.
func Start(ctx context.Context, opts Options) (*Emulator, error) {
	if opts.Bootstrap == "" {
		return nil, errors.New("rie: no bootstrap given")
	}
	// Absolute, because the emulator runs it from its own folder.
	boot, err := filepath.Abs(opts.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("rie: bootstrap: %w", err)
	}
	if _, err := os.Stat(boot); err != nil {
		return nil, fmt.Errorf("rie: bootstrap: %w", err)
	}
	opts.Bootstrap = boot
	bin, err := Find(opts.RIE)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	// Free ports can be taken between picking and binding: retry then.
	for attempt := 1; ; attempt++ {
		e, err := start(ctx, bin, opts)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			return e, err
		}
	}
}

func start(ctx context.Context, bin string, opts Options) (*Emulator, error) {
	apiPort, err := proc.FreePort()
	if err != nil {
		return nil, fmt.Errorf("rie: pick a port: %w", err)
	}
	runtimePort, err := proc.FreePort()
	if err != nil {
		return nil, fmt.Errorf("rie: pick a port: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))
	cmd := exec.CommandContext(ctx, bin,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(runtimePort)),
		opts.Bootstrap)
	cmd.Dir = filepath.Dir(opts.Bootstrap)
	cmd.Env = []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(opts.Timeout/time.Second))}
	for k, v := range opts.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// os/exec copies stdout and stderr in two goroutines; one lock keeps
	// them from writing at once to a caller's writer (often the same one).
	out, mu := &tailbuf.Buffer{Max: 8192}, &sync.Mutex{}
	cmd.Stdout = writers(opts.Stdout, out, mu)
	cmd.Stderr = writers(opts.Stderr, out, mu)
	// Its own process group, so Stop reaches the function the emulator
	// forks.
	group, err := proc.StartGroup(cmd)
	if err != nil {
		return nil, fmt.Errorf("rie: start %s: %w", bin, err)
	}
	e := &Emulator{url: "http://" + addr + "/2015-03-31/functions/function/invocations", group: group}
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-group.Done():
			return nil, fmt.Errorf("rie: the emulator exited while starting (%v): %s", group.Err(), out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = e.Stop()
			return nil, fmt.Errorf("rie: not listening on %s after %v: %s", addr, readyTimeout, out.String())
		}
	}
}

// Invoke sends one event and returns the function's response. Invocations
// are serialised. It returns a *FunctionError when the function failed
// rather than answered, and an error for any other failure to invoke.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.invokeMu.Lock()
	defer e.invokeMu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("rie: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("rie: read the response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rie: invoke: HTTP %d: %s", res.StatusCode, body)
	}
	// A proxy response never has errorType; the emulator's error report
	// always does.
	var fe FunctionError
	if json.Unmarshal(body, &fe) == nil && fe.Type != "" {
		return nil, &fe
	}
	return body, nil
}

// Stop ends the emulator and the function: SIGTERM to the process group,
// SIGKILL after a grace period. It waits for the emulator to exit and is
// safe to call more than once; it returns an error only when the signal
// cannot be delivered.
func (e *Emulator) Stop() error {
	if err := e.group.Stop(stopGrace); err != nil {
		return fmt.Errorf("rie: stop: %w", err)
	}
	return nil
}

func writers(w io.Writer, t *tailbuf.Buffer, mu *sync.Mutex) io.Writer {
	if w == nil {
		return t
	}
	return io.MultiWriter(&lockedWriter{mu: mu, w: w}, t)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Build builds the Lambda function in dir into out as make build does (the
// Makefile's lambda_build), for Linux on arch, this machine's when empty.
func Build(ctx context.Context, dir, out, arch string) error {
	if arch == "" {
		arch = runtime.GOARCH
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s: %v\n%s", dir, arch, err, b)
	}
	return nil
}
