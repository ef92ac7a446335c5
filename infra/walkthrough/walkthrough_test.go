package walkthrough_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
// programs: make run gets free ports (DDB_PORT, PORT) instead of 8000 and
// 3000, so 127.0.0.1:3000 in the commands becomes its port; later commands
// find them in make run's settings file, as a developer's would. Left out:
// `make test` (this suite) and `sam …` (Docker and the SAM CLI; infra/cmd/
// invoke's TestSAMLocalInvokeMatchesMakeInvoke covers sam local invoke).
// DynamoDB Local's npm install is shared with this repository (a symlink to
// its .cache/ddblocal), so the copy does not download 58 MB each run.
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
	// On a fresh clone, make run's first step installs DynamoDB Local (this
	// test shares the repository's instead: what make would do is enough).
	dry := exec.Command("make", "-n", "run")
	dry.Dir, dry.Env = clone, env
	plan, err := dry.CombinedOutput()
	if i, j := strings.Index(string(plan), "installing DynamoDB Local"), strings.Index(string(plan), "building the local server"); err != nil || i < 0 || j < i {
		t.Errorf("make -n run on a fresh clone: want it to say installing DynamoDB Local, then building (%v):\n%s", err, plan)
	}
	shareDynamoDBLocal(t, root, clone)
	cmds := readmeCommands(t, filepath.Join(clone, "README.md"))
	if len(cmds) < 2 || cmds[0].text != "make run" || cmds[1].text != "make test" {
		t.Fatalf("README's first commands are %v, want make run and make test", cmds[:min(2, len(cmds))])
	}
	port, ddbPort := freePort(t), freePort(t)

	// make run, as a developer starts it in one terminal.
	runTrace := filepath.Join(work, "run.trace")
	run, err := filetrace.Command(runTrace, "make", "run")
	if err != nil {
		t.Fatal(err)
	}
	runOut := &tailbuf.Buffer{}
	run.Dir, run.Stdout, run.Stderr = clone, runOut, runOut
	run.Env = append(slices.Clone(env), "DDB_PORT="+strconv.Itoa(ddbPort), "PORT="+strconv.Itoa(port))
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- run.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		// Ctrl-C: SIGINT to the terminal's foreground group, make and the
		// server (strace ignores it; Java has a group of its own).
		_ = syscall.Kill(-run.Process.Pid, syscall.SIGINT)
		select {
		case <-runDone:
		case <-time.After(stopWithin):
			_ = syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
			<-runDone
			t.Errorf("make run still running %v after Ctrl-C", stopWithin)
		}
	}
	defer stop()
	for deadline := time.Now().Add(readyWithin); !strings.Contains(runOut.String(), "X-Auth-Token"); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-runDone:
			stopped = true
			t.Fatalf("make run ended (%v):\n%s", err, runOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run not ready after %v:\n%s", readyWithin, runOut)
		}
	}
	checkRunOutput(t, runOut.String(), port, ddbPort)
	// make run builds and installs only what it uses.
	if got := dirNames(t, filepath.Join(clone, "bin")); !slices.Equal(got, []string{"devserver"}) {
		t.Errorf("bin/ after make run holds %v, want only devserver", got)
	}

	// The rest, in a second terminal.
	script := &strings.Builder{}
	fmt.Fprintln(script, "exec 2>&1")
	var ran []command
	for _, c := range cmds[2:] {
		if c.text == "make test" || strings.HasPrefix(c.text, "sam ") {
			continue
		}
		ran = append(ran, c)
		fmt.Fprintf(script, "%s\nprintf '\\n%s %%d\\n' $?\n", strings.ReplaceAll(c.text, "127.0.0.1:3000", "127.0.0.1:"+strconv.Itoa(port)), marker)
	}
	scriptFile := filepath.Join(work, "readme.sh")
	if err := os.WriteFile(scriptFile, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmdsTrace := filepath.Join(work, "commands.trace")
	sh, err := filetrace.Command(cmdsTrace, "bash", scriptFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	sh.Dir, sh.Env = clone, env
	out, err := commandOutput(ctx, sh)
	if err != nil {
		t.Errorf("the commands' shell: %v", err)
	}
	checkAnswers(t, ran, out)
	// make test's linters, on one package: staticcheck keeps its cache in
	// the repository too.
	lintTrace := filepath.Join(work, "lint.trace")
	lint, err := filetrace.Command(lintTrace, "make", "lint", "LINT_PKGS=./infra/once")
	if err != nil {
		t.Fatal(err)
	}
	lint.Dir, lint.Env = clone, env
	if out, err := commandOutput(ctx, lint); err != nil {
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

	stop()
	for _, p := range []int{port, ddbPort} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still answers after Ctrl-C", p)
		}
	}
	if left := dirNames(t, filepath.Join(clone, ".cache", "tmp")); len(left) > 0 {
		t.Errorf(".cache/tmp holds %v after Ctrl-C", left)
	}
	checkTraces(t, clone, runTrace, cmdsTrace, lintTrace)
}

// marker ends each command's output in the shell's, with its exit status.
const marker = "@@readme-command-done"

type command struct {
	text string // as printed: heredocs and continuation lines included
	note string // the comment line above it and its inline comment, if any
}

func (c command) String() string { return strings.SplitN(c.text, "\n", 2)[0] }

var heredocRE = regexp.MustCompile(`<<-?'?(\w+)'?`)

// readmeCommands returns the commands of README.md's sh blocks before the
// Deployment section, in order.
func readmeCommands(t *testing.T, path string) []command {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body, _, ok := strings.Cut(string(raw), "\n## Deployment")
	if !ok {
		t.Fatal("README.md has no Deployment section to stop at")
	}
	lines := strings.Split(body, "\n")
	var cmds []command
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		note := ""
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			switch trimmed := strings.TrimSpace(l); {
			case trimmed == "":
				continue
			case strings.HasPrefix(trimmed, "#"):
				note = trimmed
				continue
			}
			text := l
			if m := heredocRE.FindStringSubmatch(l); m != nil {
				for i++; i < len(lines); i++ {
					text += "\n" + lines[i]
					if lines[i] == m[1] {
						break
					}
				}
			}
			for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
				i++
				text += "\n" + lines[i]
			}
			// An inline comment annotates its command, like a line above it:
			// "make run    # …" is make run.
			if c, comment, ok := strings.Cut(text, "  #"); ok && !strings.Contains(text, "\n") {
				text, note = strings.TrimSpace(c), note+" "+comment
			}
			cmds = append(cmds, command{text: text, note: note})
			note = ""
		}
	}
	return cmds
}

// answerRE reads an announced answer: `→ 400 IAM.0073, "areacode is
// required when phone is given"` is a status, an IAM code and a message.
var answerRE = regexp.MustCompile(`→ (\d{3})(?: (IAM\.\d{4}))?(?:.*"([^"]+)")?`)

var doneRE = regexp.MustCompile(`(?m)^` + marker + ` (\d+)$`)

// checkAnswers checks that each command succeeded and answered what the
// README says it answers.
func checkAnswers(t *testing.T, ran []command, out string) {
	t.Helper()
	ends := doneRE.FindAllStringSubmatchIndex(out, -1)
	if len(ends) != len(ran) {
		t.Fatalf("%d commands finished of %d:\n%s", len(ends), len(ran), out)
	}
	from, announced := 0, 0
	for i, c := range ran {
		output, code := out[from:ends[i][0]], out[ends[i][2]:ends[i][3]]
		from = ends[i][1]
		if code != "0" {
			t.Errorf("%s: exit status %s:\n%s", c, code, output)
			continue
		}
		m := answerRE.FindStringSubmatch(c.note)
		if m == nil && strings.Contains(c.note, "→") {
			t.Errorf("%s: the README announces an answer this test cannot read: %q", c, c.note)
		}
		if m != nil {
			announced++
			if !strings.Contains(output, "HTTP/1.1 "+m[1]) && !strings.Contains(output, `"statusCode": `+m[1]) {
				t.Errorf("%s: want %s, got:\n%s", c, m[1], output)
			}
			for _, want := range m[2:] {
				if want != "" && !strings.Contains(output, want) {
					t.Errorf("%s: want %q in the answer, got:\n%s", c, want, output)
				}
			}
		}
		switch {
		case strings.HasPrefix(c.text, "make seed"):
			if !strings.Contains(output, "seeded ") {
				t.Errorf("%s: %s", c, output)
			}
		case strings.HasPrefix(c.text, "make token"):
			if !tokenRE.MatchString(output) {
				t.Errorf("%s printed no token: %q", c, output)
			}
		}
	}
	if announced == 0 {
		t.Error("the README announces no answer to check")
	}
}

var tokenRE = regexp.MustCompile(`(?m)^eyJ[\w-]+\.[\w-]+\.[\w-]+$`)

// checkRunOutput checks that make run said each step, in order, then who
// the demo users are and a call to try.
func checkRunOutput(t *testing.T, out string, port, ddbPort int) {
	t.Helper()
	at := 0
	for _, want := range []string{
		"building the local server",
		"starting DynamoDB Local on 127.0.0.1:" + strconv.Itoa(ddbPort),
		"creating table",
		"seeding the demo account d-demo: alice, bob, carol",
		"serving the API",
		"ready: the API on http://127.0.0.1:" + strconv.Itoa(port),
		"alice", "bob", "carol", "TOKEN=$(make -s token USER=alice)", "curl -i -X PUT",
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

// freshCopy copies the repository's files as a clone of this tree would
// have them: tracked ones, and new ones that are not ignored.
func freshCopy(t *testing.T, root, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files (this test copies the repository's files): %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the working tree
		}
		target := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(src, target, fi.Mode()); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// shareDynamoDBLocal links the copy's .cache/ddblocal to the repository's,
// installed by make deps before the tests.
func shareDynamoDBLocal(t *testing.T, root, clone string) {
	t.Helper()
	installed := filepath.Join(root, ".cache", "ddblocal")
	if _, err := os.Stat(filepath.Join(installed, ".installed")); err != nil {
		t.Fatalf("DynamoDB Local is not installed in %s: run make deps (make test does)", installed)
	}
	if err := os.MkdirAll(filepath.Join(clone, ".cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(installed, filepath.Join(clone, ".cache", "ddblocal")); err != nil {
		t.Fatal(err)
	}
}

// environment is this process's, without anything that would set what
// make run decides (a developer's fresh shell has none of it).
func environment(t *testing.T) []string {
	t.Helper()
	drop := []string{"DDB_PORT", "PORT", "TABLE_NAME", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "KEYS_DIR",
		"LOG_LEVEL", "AUDIT_RETENTION_DAYS", "AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_LOCAL_DIR", "AWS_LAMBDA_RIE",
		"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return env
}

// readmeTargets returns the make targets README.md's code names (in sh
// blocks and `code`), but the one SAM calls (build-<function>).
func readmeTargets(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for i, part := range strings.Split(string(raw), "```") {
		if i%2 == 1 {
			code.WriteString(part + "\n") // a fenced block
			continue
		}
		for _, m := range regexp.MustCompile("`[^`\n]+`").FindAllString(part, -1) {
			code.WriteString(m + "\n")
		}
	}
	var targets []string
	for _, m := range regexp.MustCompile(`\bmake (?:-\w+ )*([a-z][a-z0-9-]*)`).FindAllStringSubmatch(code.String(), -1) {
		if !strings.HasPrefix(m[1], "build-") && !slices.Contains(targets, m[1]) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

func makeHelp(t *testing.T, dir string, env []string) string {
	t.Helper()
	cmd := exec.Command("make", "help")
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	return string(out)
}

func commandOutput(ctx context.Context, cmd *exec.Cmd) (string, error) {
	out := &tailbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return out.String(), ctx.Err()
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
