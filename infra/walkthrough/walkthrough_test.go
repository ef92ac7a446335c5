package walkthrough_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/filetrace"
	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// Bounds on waiting, not timed assertions: a cold build cache on a busy
// two-core machine takes minutes.
const (
	readyWithin = 10 * time.Minute
	stopWithin  = time.Minute
)

// TestReadme is the newcomer's first ten minutes. On a fresh copy of the
// repository (its tracked files and any new ones not ignored, as a clone
// of this tree would have them) it starts `make run`, runs every other
// command of README.md's sh blocks up to the Deployment section, as
// printed and in order, in one shell (so variables carry over), checks
// each answer the README announces (`→ 204`, `→ 401 IAM.0001`), and stops
// make run as Ctrl-C does. Two changes, both forced by running beside other
// programs: make run gets free ports (DDB_PORT, PORT, SES_PORT) instead of
// 8000, 3000 and 8005, so 127.0.0.1:3000 in the commands becomes its port; later commands
// find them in make run's settings file, as a developer's would. Left out:
// `make test` (this suite) and `sam …` (Docker and the SAM CLI; infra/cmd/
// invoke's TestSAMLocalInvokeMatchesMakeInvoke covers sam local invoke).
// The npm installs of DynamoDB Local and the local SES are shared with this
// repository (symlinks to its .cache/ddblocal and .cache/seslocal), so the
// copy does not download them each run.
//
// Everything runs under strace: nothing may be written outside the copy
// except in Go's own caches, Go's temporary build folders and telemetry;
// Java must end by itself on SIGTERM (exit status 143).
func TestReadme(t *testing.T) {
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	clone := filepath.Join(work, "repo")
	freshCopy(t, root, clone)
	env := environment(t)
	// On a fresh clone, make run's first steps install DynamoDB Local and
	// the local SES (this test shares the repository's instead: what make
	// would do is enough).
	dry := exec.Command("make", "-n", "run")
	dry.Dir, dry.Env = clone, env
	plan, err := dry.CombinedOutput()
	build := strings.Index(string(plan), "building the local server")
	for _, install := range []string{"installing DynamoDB Local", "installing a local SES"} {
		if i := strings.Index(string(plan), install); err != nil || i < 0 || build < i {
			t.Errorf("make -n run on a fresh clone: want it to say %s, then building (%v):\n%s", install, err, plan)
		}
	}
	shareInstalls(t, root, clone)
	cmds := readmeCommands(t, filepath.Join(clone, "README.md"))
	if len(cmds) < 2 || cmds[0].text != "make run" || cmds[1].text != "make test" {
		t.Fatalf("README's first commands are %v, want make run and make test", cmds[:min(2, len(cmds))])
	}

	// make run, as a developer starts it in one terminal.
	run := startMakeRun(t, clone, env, filepath.Join(work, "run.trace"))
	defer run.stop(t)
	run.waitReady(t)
	checkRunOutput(t, run.out.String(), run)
	// Then it builds and starts the notifier, the API serving meanwhile.
	run.waitFor(t, "the notifier delivers codes and notices")
	// make run builds and installs only what it uses.
	if got := dirNames(t, filepath.Join(clone, "bin")); !slices.Equal(got, []string{"devserver", "localnotify"}) {
		t.Errorf("bin/ after make run holds %v, want only devserver and localnotify", got)
	}

	// The rest, in a second terminal, as one shell: variables carry over.
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	ran, script := shellScript(cmds[2:], run.port)
	scriptFile := filepath.Join(work, "readme.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmdsTrace := filepath.Join(work, "commands.trace")
	out, err := traced(ctx, t, cmdsTrace, clone, env, "bash", scriptFile)
	if err != nil {
		t.Errorf("the commands' shell: %v", err)
	}
	checkAnswers(t, ran, out)
	// make test's linters, on one package: staticcheck keeps its cache and
	// temporary files in the repository too.
	lintTrace := filepath.Join(work, "lint.trace")
	if out, err := traced(ctx, t, lintTrace, clone, env, "make", "lint", "LINT_PKGS=./infra/once"); err != nil {
		t.Errorf("make lint: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(clone, ".cache", "staticcheck")); err != nil {
		t.Errorf("staticcheck's cache is not under .cache: %v", err)
	}
	help := makeHelp(t, clone, env)
	for _, target := range readmeTargets(t, filepath.Join(clone, "README.md")) {
		if !strings.Contains(help, "make "+target+" ") {
			t.Errorf("make help does not list make %s, which README.md names:\n%s", target, help)
		}
	}

	run.stop(t)
	for _, p := range []int{run.port, run.ddbPort, run.sesPort} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still answers after Ctrl-C", p)
		}
	}
	if left := dirNames(t, filepath.Join(clone, ".cache", "tmp")); len(left) > 0 {
		t.Errorf(".cache/tmp holds %v after Ctrl-C", left)
	}
	checkTraces(t, clone, run.trace, cmdsTrace, lintTrace)
}

// makeRun is make run started as a developer starts it, under strace, on
// free ports.
type makeRun struct {
	cmd                    *exec.Cmd
	out                    *tailbuf.Buffer
	done                   chan error
	stopped                bool
	trace                  string
	port, ddbPort, sesPort int
}

func startMakeRun(t *testing.T, dir string, env []string, trace string) *makeRun {
	t.Helper()
	cmd, err := filetrace.Command(trace, "make", "run")
	if err != nil {
		t.Fatal(err)
	}
	r := &makeRun{cmd: cmd, out: &tailbuf.Buffer{}, done: make(chan error, 1), trace: trace, port: freePort(t), ddbPort: freePort(t), sesPort: freePort(t)}
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, r.out, r.out
	cmd.Env = append(slices.Clone(env), "DDB_PORT="+strconv.Itoa(r.ddbPort), "PORT="+strconv.Itoa(r.port), "SES_PORT="+strconv.Itoa(r.sesPort))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	return r
}

// waitReady returns once make run has printed its call to try, the last
// thing it prints before it builds the notifier.
func (r *makeRun) waitReady(t *testing.T) {
	t.Helper()
	r.waitFor(t, "X-Auth-Token")
}

// waitFor returns once make run has printed text.
func (r *makeRun) waitFor(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(readyWithin); !strings.Contains(r.out.String(), text); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-r.done:
			r.stopped = true
			t.Fatalf("make run ended (%v):\n%s", err, r.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not say %q within %v:\n%s", text, readyWithin, r.out)
		}
	}
}

// stop is Ctrl-C: SIGINT to the terminal's foreground group, make and the
// server (strace ignores it; Java has a group of its own, which the server
// stops).
func (r *makeRun) stop(t *testing.T) {
	if r.stopped {
		return
	}
	r.stopped = true
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(stopWithin):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		t.Errorf("make run still running %v after Ctrl-C", stopWithin)
	}
}

// traced runs name with args in dir under strace, writing the trace to
// trace, and returns its output.
func traced(ctx context.Context, t *testing.T, trace, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd, err := filetrace.Command(trace, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir, cmd.Env = dir, env
	return commandOutput(ctx, cmd)
}

// checkRunOutput checks that make run said each step, in order, then who
// the demo users are, where codes arrive and a call to try.
func checkRunOutput(t *testing.T, out string, r *makeRun) {
	t.Helper()
	at := 0
	for _, want := range []string{
		"building the local server",
		"starting DynamoDB Local on 127.0.0.1:" + strconv.Itoa(r.ddbPort),
		"starting the local SES on 127.0.0.1:" + strconv.Itoa(r.sesPort),
		"creating table",
		"seeding the demo account d-demo: alice, bob, carol",
		"seeding the demo account d-verify: dave",
		"serving the API",
		"ready: the API on http://127.0.0.1:" + strconv.Itoa(r.port),
		"alice", "bob", "carol", "dave", "make outbox", "TOKEN=$(make -s token USER=alice)", "curl -i -X PUT",
	} {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Errorf("make run's output lacks %q after what came before:\n%s", want, out)
			return
		}
		at += i + len(want)
	}
}

// checkTraces lists what the traced commands wrote outside the copy and
// Go's own places, and checks that Java ended on SIGTERM by itself.
func checkTraces(t *testing.T, clone string, traces ...string) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOTELEMETRYDIR").Output()
	if err != nil {
		t.Fatal(err)
	}
	allowed := append(strings.Fields(string(out)), clone)
	java := 0
	for _, f := range traces {
		tr, err := filetrace.Parse(f, clone)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tr.Written() {
			if !slices.ContainsFunc(allowed, func(dir string) bool { return within(p, dir) }) && !goTempOrDevice(p) {
				t.Errorf("written outside the repository: %s", p)
			}
		}
		for _, p := range tr.Processes() {
			if filepath.Base(p.Path) == "java" {
				java++
				if p.Ending != "exited with 143" {
					t.Errorf("Java (pid %d) %s; want its own exit on SIGTERM (status 143)", p.PID, p.Ending)
				}
			}
		}
	}
	if java != 1 {
		t.Errorf("%d Java processes ran, want make run's one", java)
	}
}

// within reports whether p is dir or under it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// goTempOrDevice reports whether p is in one of Go's temporary build
// folders ($TMPDIR/go-build…, removed when go is done), a terminal or
// /dev/null, or a process's own settings under /proc (the JVM sets its
// coredump_filter): no file.
func goTempOrDevice(p string) bool {
	if rel, err := filepath.Rel(os.TempDir(), p); err == nil && strings.HasPrefix(rel, "go-build") {
		return true
	}
	return p == "/dev/null" || p == "/dev/tty" || strings.HasPrefix(p, "/dev/pts/") || strings.HasPrefix(p, "/proc/")
}
