package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRendersEveryEvent: make events writes each sample event, rendered,
// and nothing else (not env.json, which needs no rendering).
func TestRendersEveryEvent(t *testing.T) {
	src, dst := "../../../events", filepath.Join(t.TempDir(), "events")
	env := map[string]string{"KEYS_DIR": t.TempDir()}
	var out strings.Builder
	if err := run([]string{"-src", src, "-dst", dst}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob(filepath.Join(src, "*.json"))
	got, _ := filepath.Glob(filepath.Join(dst, "*.json"))
	if len(got) != len(want)-1 || len(got) == 0 {
		t.Fatalf("rendered %d files from %d (env.json included), want all events but env.json", len(got), len(want))
	}
	for _, f := range got {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "{{") || filepath.Base(f) == "env.json" {
			t.Errorf("%s is not a rendered event", f)
		}
	}
	if !strings.Contains(out.String(), "events rendered") {
		t.Errorf("output %q does not say what it did", out.String())
	}
}
