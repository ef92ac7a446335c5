// Package ses sends email with Amazon SES (API v2), for the notifier.
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

// New returns a Sender through client from from, an identity SES verified
// (or in a domain it verified).
func New(client *sesv2.Client, from string) *Sender {
	return &Sender{client: client, from: from}
}

// SendEmail sends subject and text to to as UTF-8 plain text. SES's error
// may quote an address: redact it before logging.
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
