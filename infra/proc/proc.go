// Package proc holds the few process and host helpers that the launchers of
// local child processes share: infra/ddblocal (DynamoDB Local), infra/rie
// (the Lambda Runtime Interface Emulator) and infra/seslocal (the local SES).
// All run their child in its own process group, bind it to a free port on
// 127.0.0.1 and look for what `make deps` installed under the module root;
// keeping one copy of each helper keeps them from drifting apart.
//
// The helpers return the underlying error unwrapped, so each caller can name
// itself in the message as it always has.
package proc

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrNoModule is returned by ModuleRoot when no folder from the working
// directory up to the root holds go.mod.
var ErrNoModule = errors.New("no go.mod above the working directory")

// KillGroup sends sig to the whole process group led by cmd's process, which
// must have been started with SysProcAttr.Setpgid. It does nothing and
// returns nil when cmd has not been started; it returns syscall.ESRCH when
// the group no longer exists.
func KillGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// ModuleRoot walks up from the working directory to the folder holding
// go.mod and returns it. It returns ErrNoModule when there is none, and
// os.Getwd's error when the working directory cannot be found.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModule
		}
		dir = parent
	}
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1. The port is
// released before FreePort returns, so another process may take it before
// the caller binds it; callers that start a child on it retry on a bind
// failure.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Group is a child process running in a process group of its own, started
// by StartGroup.
type Group struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, once done is closed

	stopOnce sync.Once
	stopErr  error
}

// StartGroup starts cmd, which must come from exec.CommandContext, in a
// process group of its own, so that signals reach whatever it forks, and
// with Pdeathsig, so that a test binary killed on timeout leaves no child
// holding its port. When cmd's context ends, the group gets SIGKILL. It
// returns cmd.Start's error.
func StartGroup(cmd *exec.Cmd) (*Group, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return KillGroup(cmd, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &Group{cmd: cmd, done: make(chan struct{})}
	go func() {
		g.err = cmd.Wait()
		close(g.done)
	}()
	return g, nil
}

// Done returns a channel closed once the process has exited.
func (g *Group) Done() <-chan struct{} { return g.done }

// Err returns cmd.Wait's result; call it only once Done is closed.
func (g *Group) Err() error { return g.err }

// Stop sends the group SIGTERM, then SIGKILL after grace, and waits for the
// process to exit; it does nothing when the process has already exited. It
// returns an error only when SIGTERM cannot be delivered; calling it again
// returns the same result.
func (g *Group) Stop(grace time.Duration) error {
	g.stopOnce.Do(func() {
		select {
		case <-g.done:
			return
		default:
		}
		if err := KillGroup(g.cmd, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			g.stopErr = err
		}
		select {
		case <-g.done:
		case <-time.After(grace):
			_ = KillGroup(g.cmd, syscall.SIGKILL)
			<-g.done
		}
	})
	return g.stopErr
}
