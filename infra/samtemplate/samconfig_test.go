package samtemplate_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// samconfig is samconfig.toml as "env.command.parameters" → key → value.
// Only the TOML that SAM writes is read: tables, and keys with a string,
// boolean or number value on one line.
type samconfig map[string]map[string]string

func readSamconfig(t *testing.T) samconfig {
	t.Helper()
	cfg, err := loadSamconfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func loadSamconfig() (samconfig, error) {
	f, err := os.Open(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, table := samconfig{"": {}}, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			table = strings.Trim(line, "[]")
			if _, dup := cfg[table]; dup {
				return nil, fmt.Errorf("samconfig.toml:%d: table [%s] repeated", n, table)
			}
			cfg[table] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("samconfig.toml:%d: not key = value: %s", n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if strings.HasPrefix(v, `"`) {
				s, err := strconv.Unquote(v)
				if err != nil {
					return nil, fmt.Errorf("samconfig.toml:%d: %v", n, err)
				}
				v = s
			}
			cfg[table][k] = v
		}
	}
	return cfg, sc.Err()
}

// overrideRE matches one Key=Value of parameter_overrides; a value with
// spaces is quoted.
var overrideRE = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)

func overrides(s string) map[string]string {
	out := map[string]string{}
	for _, m := range overrideRE.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		out[m[1]] = v
	}
	return out
}

// TestSamconfig: both environments build and deploy as the README says,
// and every parameter they set exists in the template with a value the
// template allows; none the template requires is left out.
func TestSamconfig(t *testing.T) {
	tpl, _ := load(t)
	params := tpl.Section("Parameters")
	cfg := readSamconfig(t)
	if cfg[""]["version"] != "0.1" {
		t.Errorf("version = %q, want 0.1", cfg[""]["version"])
	}
	if got := cfg["default.local_invoke.parameters"]["env_vars"]; got != "events/env.json" {
		t.Errorf("default.local_invoke env_vars = %q, want events/env.json", got)
	}
	stacks := map[string]string{}
	for _, env := range []string{"default", "prod"} {
		build, deploy := cfg[env+".build.parameters"], cfg[env+".deploy.parameters"]
		if build["cached"] != "true" || build["parallel"] != "true" {
			t.Errorf("[%s.build.parameters] %v: want cached and parallel", env, build)
		}
		for k, want := range map[string]string{"resolve_s3": "true", "confirm_changeset": "true"} {
			if deploy[k] != want {
				t.Errorf("[%s.deploy.parameters] %s = %q, want %s", env, k, deploy[k], want)
			}
		}
		caps := strings.Fields(deploy["capabilities"])
		for _, want := range []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} {
			if !slices.Contains(caps, want) {
				t.Errorf("[%s.deploy.parameters] capabilities %v lack %s", env, caps, want)
			}
		}
		if deploy["stack_name"] == "" || deploy["region"] == "" {
			t.Errorf("[%s.deploy.parameters] needs stack_name and region: %v", env, deploy)
		}
		stacks[deploy["stack_name"]] = env

		set := overrides(deploy["parameter_overrides"])
		for name, v := range set {
			p, ok := params[name].(map[string]any)
			if !ok {
				t.Errorf("[%s] parameter_overrides sets %s, which template.yaml does not declare", env, name)
				continue
			}
			if allowed, ok := p["AllowedValues"].([]any); ok && !slices.Contains(stringsOf(allowed), v) {
				t.Errorf("[%s] %s=%q is not one of %v", env, name, v, allowed)
			}
			if pat, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile(pat).MatchString(v) {
				t.Errorf("[%s] %s=%q does not match %s", env, name, v, pat)
			}
		}
		// Each deploy names its own issuer and alarm address (sam deploy
		// --guided saves them): a value committed here would be a
		// placeholder, as these were.
		for _, name := range []string{"AuthIssuer", "AuthAudience", "AuthJwksUrl", "AlarmEmail"} {
			if v, ok := set[name]; ok {
				t.Errorf("[%s] parameter_overrides sets %s=%q: leave it to the deploy (sam deploy --guided)", env, name, v)
			}
		}
		wantEnv := map[string]string{"default": "dev", "prod": "prod"}[env]
		if set["Environment"] != wantEnv {
			t.Errorf("[%s] Environment=%q, want %s", env, set["Environment"], wantEnv)
		}
	}
	if len(stacks) != 2 {
		t.Errorf("default and prod deploy to the same stack: %v", stacks)
	}
	prod := overrides(cfg["prod.deploy.parameters"]["parameter_overrides"])
	for k, want := range map[string]string{"TracingMode": "Active", "LogLevel": "warn"} {
		if prod[k] != want {
			t.Errorf("prod %s=%q, want %s", k, prod[k], want)
		}
	}
	if prod["ReservedConcurrency"] == "" {
		t.Error("prod has no ceiling on concurrency: set ReservedConcurrency")
	}
}

func stringsOf(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case int:
			out = append(out, strconv.Itoa(x))
		}
	}
	return out
}
