package rie_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/rie"

	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// buildEcho compiles testdata/echo, a function that reports its environment.
func buildEcho(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if err := rie.Build(context.Background(), "./testdata/echo", bin, ""); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestEmulator(t *testing.T) {
	if _, err := rie.Find(""); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IAM_USERINFO_PARENT_ONLY", "leak")
	stdout := &tailbuf.Buffer{}
	e, err := rie.Start(context.Background(), rie.Options{
		Bootstrap: buildEcho(t),
		Env:       map[string]string{"GREETING": "hello", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
		Stdout:    stdout,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	env := func(name string) (value, set string) {
		t.Helper()
		out, err := e.Invoke(t.Context(), []byte(`{"env":"`+name+`"}`))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		var r struct{ Value, Set string }
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("response %q: %v", out, err)
		}
		return r.Value, r.Set
	}
	t.Run("PassesEnv", func(t *testing.T) {
		if v, _ := env("GREETING"); v != "hello" {
			t.Errorf("GREETING = %q, want hello", v)
		}
		// Dummy credentials must reach the SDK, or it goes looking for
		// real ones (the metadata endpoint, a profile).
		if v, _ := env("AWS_ACCESS_KEY_ID"); v != "local" {
			t.Errorf("AWS_ACCESS_KEY_ID = %q, want local", v)
		}
	})
	t.Run("InheritsNothing", func(t *testing.T) {
		if v, set := env("IAM_USERINFO_PARENT_ONLY"); set == "yes" {
			t.Errorf("the test process's variable reached the function: %q", v)
		}
	})
	t.Run("FunctionError", func(t *testing.T) {
		_, err := e.Invoke(t.Context(), []byte(`{"fail":true}`))
		var fe *rie.FunctionError
		if !errors.As(err, &fe) || !strings.Contains(fe.Message, "asked to fail") {
			t.Errorf("err = %v, want a *FunctionError with the function's message", err)
		}
	})
	t.Run("ConcurrentInvokesQueue", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				_, err := e.Invoke(t.Context(), []byte(`{"env":"GREETING"}`))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent invoke: %v", err)
			}
		}
	})
	if !strings.Contains(stdout.String(), "echo: got an event") {
		t.Errorf("the function's stdout did not reach Options.Stdout: %q", stdout.String())
	}
}

// TestStopEndsTheFunctionToo: the function the emulator forked must not
// outlive Stop.
func TestStopEndsTheFunctionToo(t *testing.T) {
	boot := buildEcho(t)
	e, err := rie.Start(context.Background(), rie.Options{Bootstrap: boot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Invoke(t.Context(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	pids := pidsOf(t, boot)
	if len(pids) == 0 {
		t.Fatal("the function is not running after an invoke")
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("function process %d still alive after Stop", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := e.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := rie.Start(context.Background(), rie.Options{}); err == nil {
		t.Error("no bootstrap: want an error")
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := rie.Start(context.Background(), rie.Options{Bootstrap: missing}); err == nil {
		t.Error("missing bootstrap: want an error")
	}
	t.Setenv(rie.PathEnv, missing)
	if _, err := rie.Find(""); err == nil {
		t.Errorf("%s pointing nowhere: want an error", rie.PathEnv)
	}
}

// pidsOf returns the processes whose executable is path (Linux /proc).
func pidsOf(t *testing.T, path string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("reading /proc (the emulator and this check run on Linux only): %v", err)
	}
	var pids []int
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", en.Name(), "exe")); err == nil && exe == path {
			pids = append(pids, pid)
		}
	}
	return pids
}
