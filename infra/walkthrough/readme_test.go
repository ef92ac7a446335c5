package walkthrough_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// shellScript returns the commands to run in one shell and the script: each
// as printed, but 127.0.0.1:3000 made port, followed by a marker line with
// its exit status. make test (this suite) and sam (Docker) are left out.
func shellScript(cmds []command, port int) ([]command, string) {
	var ran []command
	script := "exec 2>&1\n"
	for _, c := range cmds {
		if c.text == "make test" || strings.HasPrefix(c.text, "sam ") {
			continue
		}
		ran = append(ran, c)
		script += strings.ReplaceAll(c.text, "127.0.0.1:3000", "127.0.0.1:"+strconv.Itoa(port)) +
			"\nprintf '\\n" + marker + " %d\\n' $?\n"
	}
	return ran, script
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
