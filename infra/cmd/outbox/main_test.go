package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

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
	if err := run(ctx, []string{"-ses", in.Endpoint(), "-sms", file}, &out); err != nil {
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
	if err := run(ctx, []string{"-ses", "http://127.0.0.1:1", "-sms", file}, &out); err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("no local SES: %v, want an error that says what to do", err)
	}
}
