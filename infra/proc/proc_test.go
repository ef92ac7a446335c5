package proc

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFreePortIsBindable(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d", port)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not bindable on 127.0.0.1: %v", port, err)
	}
	l.Close()
}

func TestModuleRootFindsThisModule(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "module github.com/iam-userinfo/userinfo\n") {
		t.Errorf("%s/go.mod is not this module's", root)
	}
	// The test runs in infra/proc, two levels below the root.
	wd, _ := os.Getwd()
	if want := filepath.Dir(filepath.Dir(wd)); root != want {
		t.Errorf("ModuleRoot() = %s, want %s", root, want)
	}
}

func TestModuleRootWalksUp(t *testing.T) {
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(top, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	if root, err := ModuleRoot(); err != nil || root != top {
		t.Fatalf("ModuleRoot() = %q, %v; want %q", root, err, top)
	}
}

func TestKillGroup(t *testing.T) {
	if err := KillGroup(exec.Command("true"), syscall.SIGKILL); err != nil {
		t.Fatalf("KillGroup on an unstarted command: %v", err)
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := KillGroup(cmd, syscall.SIGKILL); err != nil {
		t.Fatalf("KillGroup: %v", err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("Wait = %v, want killed by SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("process still running 10 s after SIGKILL to its group")
	}
	// Reaped by Wait, the group is gone.
	if err := KillGroup(cmd, syscall.SIGTERM); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("KillGroup on a gone group = %v, want ESRCH", err)
	}
}

func TestGroupStop(t *testing.T) {
	g, err := StartGroup(exec.CommandContext(t.Context(), "sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-g.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	var ee *exec.ExitError
	if !errors.As(g.Err(), &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("Err() = %v, want killed by SIGTERM", g.Err())
	}
	if err := g.Stop(10 * time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
