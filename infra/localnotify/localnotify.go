// Package localnotify runs the notifier as make run and the tests need it:
// the notifier function's own handler (internal/notify), fed by a poller of
// DynamoDB Local's stream (infra/streams) in place of Lambda's event source
// mapping, sending email to a local SES (infra/seslocal) and SMS to a file
// (infra/smssink), and what it gives up on to a dead-letter file in place
// of the SQS queue.
package localnotify

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/jsonl"
	"github.com/iam-userinfo/userinfo/infra/smssink"
	"github.com/iam-userinfo/userinfo/infra/streams"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/notify"
	"github.com/iam-userinfo/userinfo/internal/ses"
)

// Options configures Run. Every field but Logger and SESAttempts is required.
type Options struct {
	DynamoEndpoint string // DynamoDB Local
	Table          string
	SESEndpoint    string // the local SES (seslocal.Instance.Endpoint)
	From           string // the address codes and notices come from
	SMSFile        string // where SMS go (smssink)
	DeadLetterFile string // where messages that failed every attempt go, one JSON line each
	// Retries is how often a failing batch is tried again (the template's
	// NotifierRetries).
	Retries int
	// SESAttempts bounds the SES client's own attempts per message; 0 means
	// the SDK's default.
	SESAttempts int
	Logger      *slog.Logger
}

// Run delivers the outbox of opts.Table until ctx ends, and returns nil
// then; it returns an error when the table has no stream.
func Run(ctx context.Context, opts Options) error {
	if opts.DynamoEndpoint == "" || opts.Table == "" || opts.SESEndpoint == "" || opts.From == "" || opts.SMSFile == "" || opts.DeadLetterFile == "" {
		return errors.New("localnotify: the DynamoDB and SES endpoints, table, sender, SMS and dead-letter files are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	email := sesv2.New(sesv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(opts.SESEndpoint),
		// The local SES wants a signed request; any key will do.
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "localnotify"}, nil
		}),
		RetryMaxAttempts: opts.SESAttempts,
	})
	n := notify.New(dynamo.New(ddblocal.Client(opts.DynamoEndpoint), opts.Table, dynamo.Options{}),
		ses.New(email, opts.From), &smssink.Sink{Path: opts.SMSFile}, opts.Logger, nil)
	dlq := &deadLetters{path: opts.DeadLetterFile, logger: opts.Logger}
	return streams.Run(ctx, streams.Options{
		Client: streams.LocalClient(opts.DynamoEndpoint), Table: opts.Table, Filter: dynamo.OutboxFilter,
		Retries: opts.Retries, OnFailure: dlq.add, Logger: opts.Logger,
	}, func(ctx context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
		return n.HandleStream(ctx, ev, dynamo.OutboxID)
	})
}

// deadLetters appends each failure to a JSON-lines file.
type deadLetters struct {
	mu     sync.Mutex
	path   string
	logger *slog.Logger
}

func (d *deadLetters) add(_ context.Context, f streams.Failure) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := jsonl.Append(d.path, f); err != nil {
		d.logger.Error("dead letter not written", slog.String("error", err.Error()))
	}
}

// DeadLetters returns the failures in the dead-letter file at path, oldest
// first; none when there is no file.
func DeadLetters(path string) ([]streams.Failure, error) { return jsonl.Read[streams.Failure](path) }
