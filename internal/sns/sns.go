// Package sns sends text messages with Amazon SNS, for the notifier.
package sns

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// Sender sends transactional SMS.
type Sender struct {
	client   *sns.Client
	senderID string
}

// New returns a Sender through client; senderID, if not empty, is the
// sender name shown where the country allows one.
func New(client *sns.Client, senderID string) *Sender {
	return &Sender{client: client, senderID: senderID}
}

// SendSMS sends text to the E.164 number to as a transactional message,
// AWS's type for time-sensitive messages such as one-time passwords. Redact
// its error before logging.
func (s *Sender) SendSMS(ctx context.Context, to, text string) error {
	attrs := map[string]types.MessageAttributeValue{
		"AWS.SNS.SMS.SMSType": {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
	}
	if s.senderID != "" {
		attrs["AWS.SNS.SMS.SenderID"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s.senderID)}
	}
	_, err := s.client.Publish(ctx, &sns.PublishInput{PhoneNumber: aws.String(to), Message: aws.String(text), MessageAttributes: attrs})
	if err != nil {
		return fmt.Errorf("sns: %w", err)
	}
	return nil
}
