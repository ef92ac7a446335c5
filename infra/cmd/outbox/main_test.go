package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/infra/smssink"
	"github.com/iam-userinfo/userinfo/internal/ses"
)

// TestPrintsEverythingDelivered: email from the local SES and SMS from their
// file, one JSON line each with channel, to, subject (email) and text,
// oldest first.
func TestPrintsEverythingDelivered(t *testing.T) {
	ctx := context.Background()
	in, err := seslocal.Start(ctx, seslocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(in.Endpoint()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, nil
		})})
	if err := ses.New(client, "no-reply@iam.local.test").SendEmail(ctx, "alice@example.com", "Confirm", "code 123456"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sms.jsonl")
	if err := (&smssink.Sink{Path: file}).SendSMS(ctx, "+8613800000055", "IAM verification code: 654321"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"-ses", in.Endpoint(), "-sms", file}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	var first, second map[string]string
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[1]), &second)
	if first["channel"] != "email" || first["to"] != "alice@example.com" || first["subject"] != "Confirm" || first["text"] != "code 123456" {
		t.Errorf("first line %s", lines[0])
	}
	if second["channel"] != "sms" || second["to"] != "+8613800000055" || second["text"] != "IAM verification code: 654321" {
		t.Errorf("second line %s", lines[1])
	}
	if err := run(ctx, []string{"-ses", "http://127.0.0.1:1", "-sms", file}, noEnv, &out); err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("no local SES: %v, want an error that says what to do", err)
	}

	// -to: only that address's messages; -code: only the newest one's code.
	if err := ses.New(client, "no-reply@iam.local.test").SendEmail(ctx, "alice@example.com", "Confirm", "Your code is 222333. Requested at 2026-11-30 12:00 UTC."); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string // the output, or the error when wantErr
		err  bool
	}{
		{"To", []string{"-to", "+8613800000055"}, `{"channel":"sms","to":"+8613800000055","text":"IAM verification code: 654321"}` + "\n", false},
		{"Code", []string{"-to", "alice@example.com", "-code"}, "222333\n", false},
		{"CodeOfSMS", []string{"-to", "+8613800000055", "-code"}, "654321\n", false},
		{"ErrNothingSentThere", []string{"-to", "nobody@example.com", "-wait", "300ms"}, "nothing sent to nobody@example.com within 300ms", true},
		{"ErrCodeWithoutTo", []string{"-code"}, "-code needs -to: make outbox TO=<address> CODE=1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, append([]string{"-ses", in.Endpoint(), "-sms", file}, c.args...), noEnv, &out)
			switch {
			case c.err && (err == nil || err.Error() != c.want):
				t.Errorf("err = %v, want %q", err, c.want)
			case !c.err && err != nil:
				t.Fatal(err)
			case !c.err && out.String() != c.want:
				t.Errorf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}

// TestWaitsForDelivery: -to waits for a message that is not there yet.
func TestWaitsForDelivery(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sms.jsonl")
	in, err := seslocal.Start(context.Background(), seslocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	go func() {
		time.Sleep(500 * time.Millisecond)
		_ = (&smssink.Sink{Path: file}).SendSMS(context.Background(), "+447911123456", "IAM verification code: 918273")
	}()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-ses", in.Endpoint(), "-sms", file, "-to", "+447911123456", "-code"}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "918273\n" {
		t.Errorf("got %q, want the code sent after the call began", out.String())
	}
}

// TestReadsMakeRunsSettings: without flags, the local SES is the one
// make run's settings name.
func TestReadsMakeRunsSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	err := run(context.Background(), nil, func(k string) string {
		if k == localenv.SESPort {
			return "1"
		}
		return ""
	}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no local SES answers at http://127.0.0.1:1") {
		t.Errorf("err = %v, want it to try SES_PORT's SES", err)
	}
}

func noEnv(string) string { return "" }
