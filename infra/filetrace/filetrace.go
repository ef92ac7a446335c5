// Package filetrace runs a command under strace and reports what it and
// every process it starts wrote to the file system: each file or folder
// created, opened for writing, renamed or linked into place, by absolute
// path. Tests use it to show that a tool leaves nothing outside the
// repository, which a before-and-after listing of a shared /tmp cannot show
// while other programs write there too.
package filetrace

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// syscalls are the calls traced: those that create or write a path, those
// that change or hand down a working directory (relative paths are resolved
// against it), and execve and exits, for Process.
var syscalls = []string{
	"open", "openat", "creat", "mkdir", "mkdirat", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "chdir", "fchdir", "clone", "clone3",
	"fork", "vfork", "execve",
}

// Command returns a command running name with args under strace, which
// writes its trace to traceFile. It returns an error naming the fix when
// strace is not installed. The caller sets the command's Dir, Env and
// output, and starts it; strace ignores SIGINT and SIGTERM, which reach the
// traced processes (signal the process group), and exits when they have.
func Command(traceFile, name string, args ...string) (*exec.Cmd, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil, errors.New("strace not found: install it (apt-get install strace)")
	}
	sargs := []string{
		"-f",         // every process started, and their threads
		"-q",         // no attach messages; exits are kept
		"-y",         // file descriptors with their paths: AT_FDCWD</cwd>, = 3</path>
		"-s", "4096", // whole paths
		"--seccomp-bpf", // stop only at the traced calls
		"-I", "3",       // fatal signals never stop strace itself
		"-e", "signal=none", // no signal lines
		"-e", "trace=" + strings.Join(syscalls, ","),
		"-o", traceFile, "--", name,
	}
	return exec.Command(strace, append(sargs, args...)...), nil
}

// Trace is a parsed trace.
type Trace struct {
	written []string
	procs   []Process
}

// Process is one program a traced process ran (execve), and how it ended.
type Process struct {
	PID    int
	Path   string // the program execve ran
	Ending string // strace's "exited with N" or "killed by SIGX", "" when unknown
}

// Written returns the paths written, sorted and without duplicates.
func (t *Trace) Written() []string { return t.written }

// Processes returns the programs run, in order.
func (t *Trace) Processes() []Process { return t.procs }

var (
	lineRE  = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	callRE  = regexp.MustCompile(`^(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<([^>]*)>)?`)
	fdRE    = regexp.MustCompile(`^(?:AT_FDCWD|\d+)<(.*)>$`)
	endRE   = regexp.MustCompile(`^\+\+\+ (.*) \+\+\+$`)
	writeRE = regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC`)
)

// Parse reads the trace Command's strace wrote. cwd is the working
// directory of the traced command; the others' are followed from it.
func Parse(traceFile, cwd string) (*Trace, error) {
	f, err := os.Open(traceFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &Trace{}
	cwds := map[int]string{}
	first := true
	pending := map[int]string{} // pid → the first half of an unfinished call
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		rest := m[2]
		if first {
			cwds[pid], first = cwd, false
		}
		if head, ok := strings.CutSuffix(rest, " <unfinished ...>"); ok {
			pending[pid] = head
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			_, tail, _ := strings.Cut(rest, " resumed>")
			rest = pending[pid] + tail
			delete(pending, pid)
		}
		if e := endRE.FindStringSubmatch(rest); e != nil {
			for i := range t.procs {
				if t.procs[i].PID == pid {
					t.procs[i].Ending = e[1]
				}
			}
			continue
		}
		c := callRE.FindStringSubmatch(rest)
		if c == nil {
			continue
		}
		name, args, ret, retPath := c[1], splitArgs(c[2]), c[3], c[4]
		if strings.HasPrefix(ret, "-") {
			continue // failed: nothing written
		}
		dir := cwds[pid]
		for _, a := range args {
			if strings.HasPrefix(a, "AT_FDCWD<") {
				dir = fdRE.FindStringSubmatch(a)[1]
				cwds[pid] = dir
				break
			}
		}
		at := func(dirArg, pathArg string) string {
			p := unquote(pathArg)
			if filepath.IsAbs(p) {
				return filepath.Clean(p)
			}
			base := dir
			if fm := fdRE.FindStringSubmatch(dirArg); fm != nil {
				base = fm[1]
			}
			return filepath.Join(base, p)
		}
		var written string
		switch name {
		case "clone", "clone3", "fork", "vfork":
			child, _ := strconv.Atoi(ret)
			cwds[child] = dir
		case "chdir":
			cwds[pid] = at("", arg(args, 0))
		case "fchdir":
			if fm := fdRE.FindStringSubmatch(arg(args, 0)); fm != nil {
				cwds[pid] = fm[1]
			}
		case "execve":
			t.procs = append(t.procs, Process{PID: pid, Path: at("", arg(args, 0))})
		case "open", "creat":
			if name == "creat" || writeRE.MatchString(arg(args, 1)) {
				written = at("", arg(args, 0))
			}
		case "openat":
			if writeRE.MatchString(arg(args, 2)) {
				written = at(arg(args, 0), arg(args, 1))
			}
		case "mkdir":
			written = at("", arg(args, 0))
		case "mkdirat":
			written = at(arg(args, 0), arg(args, 1))
		case "rename", "link", "symlink":
			written = at("", arg(args, 1))
		case "renameat", "renameat2", "linkat":
			written = at(arg(args, 2), arg(args, 3))
		case "symlinkat":
			written = at(arg(args, 1), arg(args, 2))
		}
		if retPath != "" && (name == "open" || name == "openat" || name == "creat") && written != "" {
			written = retPath // the kernel's own absolute path
		}
		if written != "" && !seen[written] {
			seen[written] = true
			t.written = append(t.written, written)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("filetrace: %s: %w", traceFile, err)
	}
	sort.Strings(t.written)
	return t, nil
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// splitArgs splits strace's argument list at its top-level commas: not
// inside quotes, <path> decorations, brackets or braces.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case inQuote && ch == '\\':
			i++
		case ch == '"':
			inQuote = !inQuote
		case inQuote:
		case ch == '<' || ch == '[' || ch == '{' || ch == '(':
			depth++
		case ch == '>' || ch == ']' || ch == '}' || ch == ')':
			depth--
		case ch == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// unquote returns the string a quoted strace argument holds (C escapes,
// which Go's are a superset of); a truncated one ("..." after the quote)
// as far as it goes.
func unquote(a string) string {
	a = strings.TrimSuffix(a, "...")
	if s, err := strconv.Unquote(a); err == nil {
		return s
	}
	return strings.Trim(a, `"`)
}
