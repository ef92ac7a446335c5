// Command notifier is the Lambda function that delivers the outbox from
// the table's stream (notify) with SES and SNS. It only wires.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/notify"
	"github.com/iam-userinfo/userinfo/internal/ses"
	"github.com/iam-userinfo/userinfo/internal/sns"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}

// run builds the notifier once and hands it to the Lambda runtime. It
// returns only when the configuration or a client fails.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := notify.LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ddb, err := awsconfig.NewClient(ctx)
	if err != nil {
		return fmt.Errorf("dynamodb client: %w", err)
	}
	// Bounded: a batch that keeps failing is Lambda's to retry.
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(3))
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	n := notify.New(
		dynamo.New(ddb, cfg.TableName, dynamo.Options{}),
		ses.New(sesv2.NewFromConfig(awsCfg), cfg.EmailFrom),
		sns.New(awssns.NewFromConfig(awsCfg), cfg.SMSSenderID),
		logger, nil)
	lambda.StartWithOptions(func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		// Failures go back as batch item failures: a Lambda error would
		// retry the whole batch.
		return n.HandleStream(ctx, ev, dynamo.OutboxID), nil
	}, lambda.WithContext(ctx))
	return nil
}
