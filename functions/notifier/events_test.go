package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/rie"
	"github.com/iam-userinfo/userinfo/infra/samlocal"
	"github.com/iam-userinfo/userinfo/infra/sampleevents"
	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// sampleEvent is the notifier's sample event: a stream batch of one new
// outbox item, as the event source mapping hands it over.
const sampleEvent = "../../events/notifier/outbox-batch.json"

// TestSampleEventUnderTheEmulator runs the real notifier bootstrap under
// aws-lambda-rie with the sample batch, against DynamoDB Local and the
// local SES, with the environment sam local invoke hands its container (the
// template's variables, events/env.json over them; make run's ports there
// replaced by this test's): for a message that is not in the table (the
// sample's, as committed) it reports no failure and sends nothing; for a
// message that is, it sends it once, however often the batch comes.
func TestSampleEventUnderTheEmulator(t *testing.T) {
	if _, err := rie.Find(""); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := rie.Build(ctx, ".", bootstrap, ""); err != nil {
		t.Fatal(err)
	}
	ddb, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ddb.Stop()
	ses, err := seslocal.Start(ctx, seslocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ses.Stop()
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../events/" + sampleevents.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	envFile := strings.NewReplacer(
		"http://127.0.0.1:8000", ddb.Endpoint(),
		localenv.FromEnvironment(func(string) string { return "" }).SESEndpoint(), ses.Endpoint(),
	).Replace(string(raw))
	env, err := samlocal.Env(tpl, "NotifierFunction", []byte(envFile))
	if err != nil {
		t.Fatal(err)
	}
	client := ddblocal.Client(ddb.Endpoint())
	table := env["TABLE_NAME"]
	if err := ddbtable.Create(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	logs := &tailbuf.Buffer{}
	emu, err := rie.Start(ctx, rie.Options{Bootstrap: bootstrap, Env: env, Stdout: logs, Stderr: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Stop()
	sample, err := os.ReadFile(sampleEvent)
	if err != nil {
		t.Fatal(err)
	}
	invoke := func(event []byte) []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		out, err := emu.Invoke(ctx, event)
		if err != nil {
			t.Fatalf("invoke: %v\n%s", err, logs.String())
		}
		var resp struct {
			BatchItemFailures []struct {
				ItemIdentifier string `json:"itemIdentifier"`
			} `json:"batchItemFailures"`
			ErrorMessage string `json:"errorMessage"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.ErrorMessage != "" {
			t.Fatalf("answer %s (%v): want a batch response", out, err)
		}
		var failed []string
		for _, f := range resp.BatchItemFailures {
			failed = append(failed, f.ItemIdentifier)
		}
		return failed
	}

	if failed := invoke(sample); len(failed) != 0 {
		t.Errorf("the committed sample: failures %v, want none (its message is not in the table)", failed)
	}

	// A real message: a change's transaction writes it, as the API does.
	store := ddbtable.New(client, table, dynamo.Options{})
	u := userinfo.User{ID: "u1", DomainID: "d1", Email: "old@example.com", Enabled: true}
	if err := store.UpsertUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	cur, err := store.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	nw, _ := userinfo.ParseEmail("new@example.com")
	id := fmt.Sprintf("%016x", time.Now().UnixNano())
	err = store.ApplyChange(ctx, userinfo.Change{
		User: cur, Email: &nw, Actor: userinfo.Principal{UserID: "u1", DomainID: "d1", IssuedAt: time.Now()},
		Meta: userinfo.RequestMeta{RequestID: "req-1", SourceIP: "192.0.2.1"}, At: time.Now(),
		Messages: []userinfo.Message{{ID: id, Kind: userinfo.MsgEmailChanged, To: "old@example.com", UserID: "u1", Field: "email",
			NewValue: "n***@e***.com", SourceIP: "192.0.2.1", RequestID: "req-1", At: time.Now()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	event := bytes.Replace(sample, []byte("OUTBOX#0123456789abcdef"), []byte("OUTBOX#"+id), 1)
	for range 2 { // a retried batch
		if failed := invoke(event); len(failed) != 0 {
			t.Fatalf("failures %v\n%s", failed, logs.String())
		}
	}
	emails, err := ses.Emails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(emails) != 1 || emails[0].To[0] != "old@example.com" || !strings.Contains(emails[0].Text, "n***@e***.com") {
		t.Errorf("emails %+v: want the notice once", emails)
	}
	if regexp.MustCompile(`old@example\.com`).MatchString(logs.String()) {
		t.Errorf("the function logged the address:\n%s", logs.String())
	}
}
