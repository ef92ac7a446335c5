// Package proc holds the few process and host helpers that the launchers of
// local child processes share: infra/ddblocal (DynamoDB Local) and infra/rie
// (the Lambda Runtime Interface Emulator). Both run their child in its own
// process group, bind it to a free port on 127.0.0.1 and look for what
// `make deps` installed under the module root; keeping one copy of each
// helper keeps the two from drifting apart.
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
	"syscall"
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
