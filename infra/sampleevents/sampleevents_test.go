package sampleevents_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// eventsDir is the committed sample events, from this package's folder.
const eventsDir = "../../events"

func demoTokens(t *testing.T) (sampleevents.TokenFunc, *auth.Verifier) {
	t.Helper()
	key, err := devkeys.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := sampleevents.DemoTokens(key, "", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(t.Context(), auth.Config{JWKSURL: key.JWKSURL(), Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience})
	if err != nil {
		t.Fatal(err)
	}
	return tokens, v
}

// TestRenderTokens: each placeholder becomes a token the API's own verifier
// accepts for that demo user, or rejects as expired.
func TestRenderTokens(t *testing.T) {
	tokens, v := demoTokens(t)
	out, err := sampleevents.Render([]byte(`{"a":"{{token alice}}","b":"{{ token bob }}","c":"{{token alice expired}}"}`), tokens)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for field, wantUser := range map[string]string{"a": "0638848aa7801dbe1f01c01e92b95df7", "b": "7a1c2b3d4e5f60718293a4b5c6d7e8f9"} {
		p, err := v.Verify(context.Background(), got[field])
		if err != nil || p.UserID != wantUser || p.DomainID != "d-demo" {
			t.Errorf("%s: principal %+v, err %v; want user %s of d-demo", field, p, err, wantUser)
		}
	}
	if _, err := v.Verify(context.Background(), got["c"]); userinfo.ErrorCode(err) != userinfo.EUNAUTHORIZED {
		t.Errorf("expired placeholder: err = %v, want EUNAUTHORIZED", err)
	}
}

func TestRenderErrors(t *testing.T) {
	tokens, _ := demoTokens(t)
	for name, tpl := range map[string]string{
		"ErrUnknownVerb":   `{"a":"{{tokn alice}}"}`,
		"ErrUnknownUser":   `{"a":"{{token mallory}}"}`,
		"ErrExtraWord":     `{"a":"{{token alice stale}}"}`,
		"ErrSizeNotNumber": `{"a":"{{oversized-body big}}"}`,
		"ErrSizeTooLarge":  `{"a":"{{oversized-body 99999999}}"}`,
		"ErrNotJSON":       `{"a":{{token alice}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := sampleevents.Render([]byte(tpl), tokens); err == nil {
				t.Errorf("Render(%s) = %s, want an error", tpl, out)
			}
		})
	}
}

// TestOversizedBody: exactly the size asked, and well-formed JSON, so a 413
// can only come from the size.
func TestOversizedBody(t *testing.T) {
	out, err := sampleevents.Render([]byte(`{"body":"{{oversized-body 40000}}"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ Body string }
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	body := []byte(ev.Body)
	if len(body) != 40000 || !json.Valid(body) {
		t.Errorf("body of %d bytes, valid JSON %v; want 40000 and valid", len(body), json.Valid(body))
	}
}

// jwtShaped matches a JWS compact serialisation: base64url JSON header and
// payload ("eyJ" is `{"`).
var jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.`)

// TestCommittedEventsHoldNoToken: a committed token would expire and turn
// its event's promised outcome into a 401; and each event must render.
func TestCommittedEventsHoldNoToken(t *testing.T) {
	tokens, _ := demoTokens(t)
	files, err := sampleevents.Files(eventsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if jwtShaped.Match(raw) {
			t.Errorf("%s holds a token; use a {{token NAME}} placeholder", f)
		}
		if _, err := sampleevents.Render(raw, tokens); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestRenderDir(t *testing.T) {
	tokens, _ := demoTokens(t)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for name, body := range map[string]string{
		"a.json":             `{"t":"{{token alice}}"}`,
		"b.json":             `{"n":1}`,
		sampleevents.EnvFile: `{"UserInfoFunction":{}}`,
		"notes.txt":          "not an event",
		"c.json.orig":        "{}",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	written, err := sampleevents.RenderDir(src, dst, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || filepath.Base(written[0]) != "a.json" || filepath.Base(written[1]) != "b.json" {
		t.Fatalf("written %v, want a.json and b.json only", written)
	}
	st, err := os.Stat(written[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the file holds a live token", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(written[0])
	if strings.Contains(string(raw), "{{") {
		t.Errorf("placeholder left in %s", raw)
	}
}
