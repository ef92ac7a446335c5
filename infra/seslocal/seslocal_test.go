package seslocal_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/internal/ses"
)

// TestSendAndRead: the SES sender of the notifier, against the local SES,
// and what the local SES says it was asked to send.
func TestSendAndRead(t *testing.T) {
	ctx := context.Background()
	in, err := seslocal.Start(ctx, seslocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	client := sesv2.New(sesv2.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(in.Endpoint()),
		// The local SES wants a signed request; any key will do.
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, nil
		}),
	})
	if err := ses.New(client, "no-reply@iam.local.test").SendEmail(ctx, "alice@example.com", "Subject ü", "Text with ü\nand a line"); err != nil {
		t.Fatal(err)
	}
	got, err := in.Emails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].To) != 1 || got[0].To[0] != "alice@example.com" || got[0].Subject != "Subject ü" || got[0].Text != "Text with ü\nand a line" {
		t.Errorf("emails %+v", got)
	}
}
