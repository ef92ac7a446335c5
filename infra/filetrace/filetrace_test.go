package filetrace_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/filetrace"
)

// TestWritten: every way a path is written, from processes the command
// starts, in working directories they change to, is reported once, by its
// absolute path; reads are not.
func TestWritten(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(t.TempDir(), "trace")
	cmd, err := filetrace.Command(trace, "bash", "-c",
		`mkdir -p a/b; cd a; echo hi > f; cat f >/dev/null; (cd b && touch g); mv f h; ln -s h l; ln h hard; cat /etc/hostname >/dev/null; exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir = dir
	if err := cmd.Run(); err == nil {
		t.Fatal("the command's exit status was lost")
	}
	tr, err := filetrace.Parse(trace, dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range []string{"a", "a/b", "a/f", "a/b/g", "a/h", "a/l", "a/hard"} {
		want = append(want, filepath.Join(dir, p))
	}
	want = append(want, "/dev/null")
	slices.Sort(want)
	if got := tr.Written(); !slices.Equal(got, want) {
		t.Errorf("Written() =\n%q\nwant\n%q", got, want)
	}
	var ran []string
	for _, p := range tr.Processes() {
		ran = append(ran, filepath.Base(p.Path)+" "+p.Ending)
	}
	for _, w := range []string{"bash exited with 3", "mkdir exited with 0", "touch exited with 0", "mv exited with 0"} {
		if !slices.Contains(ran, w) {
			t.Errorf("processes %q lack %q", ran, w)
		}
	}
	if strings.Contains(strings.Join(tr.Written(), " "), "/etc/hostname") {
		t.Error("a read is reported as a write")
	}
}
