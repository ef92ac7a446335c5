package ddblocal

import (
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/proc"
)

func TestStartStop(t *testing.T) {
	ctx := context.Background()
	in, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := in.cmd.Process.Pid
	t.Cleanup(func() { _ = in.Stop() })

	if in.Port() == 0 || in.Endpoint() != "http://127.0.0.1:"+itoa(in.Port()) {
		t.Fatalf("Endpoint() = %q, Port() = %d", in.Endpoint(), in.Port())
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(in.Port()), time.Second)
	if err != nil {
		t.Fatalf("not listening after Start: %v", err)
	}
	conn.Close()

	if err := in.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := in.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	assertGone(t, pid, in.Port())
}

func TestCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in, err := Start(ctx, Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	pid := in.cmd.Process.Pid
	cancel()
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.Stop()
		t.Fatal("process still running 10 s after its context was cancelled")
	}
	if err := in.Stop(); err != nil {
		t.Fatalf("Stop after cancel: %v", err)
	}
	assertGone(t, pid, in.Port())
}

// TestJavaWritesOnlyUnderCache: Java's temporary files (the SQLite native
// library DynamoDB Local extracts) go to the instance's own folder under
// .cache/tmp, which Stop removes; no hsperfdata file is written; and
// stopping, by Stop or by cancelling ctx as Ctrl-C does in make run, lets
// the JVM exit by itself on SIGTERM (status 143) instead of killing it.
func TestJavaWritesOnlyUnderCache(t *testing.T) {
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"Stop", "Cancel"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in, err := Start(ctx, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Stop()
			if rel, err := filepath.Rel(filepath.Join(root, tempRoot), in.tmp); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("java.io.tmpdir %s is not under %s", in.tmp, tempRoot)
			}
			// A table makes DynamoDB Local load SQLite, extracting it.
			if _, err := Client(in.Endpoint()).CreateTable(ctx, tableInput("tmpcheck")); err != nil {
				t.Fatal(err)
			}
			if libs, _ := filepath.Glob(filepath.Join(in.tmp, "*sqlite*")); len(libs) == 0 {
				t.Errorf("no SQLite library in %s: is java.io.tmpdir ignored?", in.tmp)
			}
			pid := in.cmd.Process.Pid
			if _, err := os.Stat(filepath.Join(os.TempDir(), "hsperfdata_"+userName(t), strconv.Itoa(pid))); err == nil {
				t.Errorf("the JVM wrote its hsperfdata file")
			}

			if how == "Stop" {
				if err := in.Stop(); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
				select {
				case <-in.done:
				case <-time.After(2 * stopGrace):
					t.Fatal("Java still running after its context was cancelled")
				}
			}
			<-in.done
			if ws, ok := in.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signaled() || ws.ExitStatus() != 128+int(syscall.SIGTERM) {
				t.Errorf("Java ended with %v, want exit status 143: its own exit on SIGTERM", in.cmd.ProcessState)
			}
			if err := in.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			if _, err := os.Stat(in.tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left after Stop (%v)", in.tmp, err)
			}
		})
	}
}

func userName(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func TestStartErrors(t *testing.T) {
	t.Run("ErrJarMissing", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Start(context.Background(), Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), "DynamoDB Local not found under "+dir) ||
			!strings.Contains(err.Error(), "make deps") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrJarMissingFromEnv", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		t.Setenv(DirEnv, dir)
		_, err := Start(context.Background(), Options{})
		if err == nil || !strings.Contains(err.Error(), "DynamoDB Local not found under "+dir) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrJavaMissing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := Start(context.Background(), Options{})
		if err == nil || !strings.HasPrefix(err.Error(), "java not found on PATH: install Java 17+") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrExitedWithStderr", func(t *testing.T) {
		// A jar that is not a jar makes java exit at once with a message
		// on stderr, which Start must report instead of waiting.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "DynamoDBLocal.jar"), []byte("not a jar"), 0o644); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		_, err := Start(context.Background(), Options{Dir: dir, Port: mustFreePort(t)})
		if !errors.Is(err, errExited) || !strings.Contains(err.Error(), "jarfile") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(begin); d > 20*time.Second {
			t.Fatalf("took %v to notice the exit", d)
		}
	})
}

// TestAnswersNothingListening: Answers is false, and quick, when nothing
// listens at the endpoint.
func TestAnswersNothingListening(t *testing.T) {
	begin := time.Now()
	if Answers(context.Background(), "http://127.0.0.1:"+itoa(mustFreePort(t))) {
		t.Fatal("Answers = true with nothing listening")
	}
	if d := time.Since(begin); d > probeTimeout+time.Second {
		t.Fatalf("Answers took %v", d)
	}
}

func assertGone(t *testing.T, pid, port int) {
	t.Helper()
	// The process was reaped by Wait, so signal 0 finds nothing.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists (kill 0: %v)", pid, err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists (kill 0: %v)", pid, err)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), time.Second); err == nil {
		conn.Close()
		t.Errorf("port %d still accepts connections", port)
	}
}

func mustFreePort(t *testing.T) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }

func tableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	}
}
