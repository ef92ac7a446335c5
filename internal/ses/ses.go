// Package ses sends email with Amazon SES (API v2). Only the notifier links
// it: the API function never sends anything itself.
package ses

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// Sender sends plain-text email from one verified SES identity.
type Sender struct {
	client *sesv2.Client
	from   string
}

// New returns a Sender that sends through client from the address from,
// which SES must have verified (or whose domain it has verified).
func New(client *sesv2.Client, from string) *Sender {
	return &Sender{client: client, from: from}
}

// SendEmail sends subject and text to to, as UTF-8 plain text. Its error
// names the operation and SES's request id; SES's own message may quote an
// address, so callers redact it before logging.
func (s *Sender) SendEmail(ctx context.Context, to, subject, text string) error {
	_, err := s.client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(subject), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(text), Charset: aws.String("UTF-8")}},
		}},
	})
	if err != nil {
		return fmt.Errorf("ses: %w", err)
	}
	return nil
}
