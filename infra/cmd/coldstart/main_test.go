package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/sampleevents"
)

// Each fresh process gets the template's event with a token for alice and
// a body that sets the email it is given.
func TestRender(t *testing.T) {
	tpl, err := os.ReadFile("../../../events/success.json")
	if err != nil {
		t.Fatal(err)
	}
	tokens := sampleevents.TokenFunc(func(name string, expired bool) (string, error) { return "tok-" + name, nil })
	raw, err := render(tpl, tokens, "alice-7@coldstart.example")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
		Headers         map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	// A plain JSON body, as the deployed REST API sends it.
	if ev.IsBase64Encoded || ev.Body != `{"user":{"email":"alice-7@coldstart.example"}}` {
		t.Errorf("body %q, base64 %v", ev.Body, ev.IsBase64Encoded)
	}
	if ev.Headers["X-Auth-Token"] != "tok-alice" {
		t.Errorf("X-Auth-Token = %q", ev.Headers["X-Auth-Token"])
	}
}

func TestStats(t *testing.T) {
	var s []sample
	for i := 20; i >= 1; i-- {
		s = append(s, sample{took: time.Duration(i) * time.Millisecond, init: time.Duration(i) * time.Microsecond, hwmKiB: i * 1024})
	}
	med, p90 := stats(s, func(x sample) time.Duration { return x.took })
	if med != 10*time.Millisecond || p90 != 18*time.Millisecond {
		t.Errorf("median %v, p90 %v", med, p90)
	}
	if med, _ := stats(s, func(x sample) time.Duration { return x.init }); med != 10*time.Microsecond {
		t.Errorf("init median %v", med)
	}
	if m, x := rss(s); m != 10 || x != 20 {
		t.Errorf("rss median %v, max %v", m, x)
	}
}

func TestInitReport(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want time.Duration
		err  string
	}{
		{"29 Nov 2026 04:01:31,401 [INFO] (rapid) INIT REPORT(durationMs: 11.465000)\nREPORT RequestId: x", 11465 * time.Microsecond, ""},
		{"START\nINIT REPORT(durationMs: 6.2)", 6200 * time.Microsecond, ""},
		{"nothing here", 0, "no INIT REPORT"},
		{"INIT REPORT(durationMs: soon)", 0, "unreadable"},
	} {
		got, err := initReport(tc.out)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("initReport(%q) error %v, want %q", tc.out, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("initReport(%q) = %v, %v; want %v", tc.out, got, err, tc.want)
		}
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kib, err := peakRSS(exe)
	if err != nil || kib <= 0 {
		t.Errorf("peakRSS = %d, %v", kib, err)
	}
	if _, err := peakRSS(exe + "-absent"); err == nil || !strings.Contains(err.Error(), "no running process") {
		t.Errorf("absent binary: %v", err)
	}
}
