// Command userinfo is the Lambda function behind
// PUT /v3.0/OS-USER/users/{user_id}/info. It only wires: configuration,
// the handler, and the Lambda front door (lambdaproxy), which serves REST
// API, HTTP API and function URL events alike.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/lambdaproxy"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "userinfo:", err)
		os.Exit(1)
	}
}

// run builds the handler once, at init, and hands it to the Lambda runtime.
// It returns only when the configuration is invalid or a dependency cannot be
// set up: the runtime then reports an init error instead of serving.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := app.NewLogger(stdout, cfg.LogLevel)
	client, err := awsconfig.NewClient(ctx)
	if err != nil {
		return err
	}
	h, err := app.New(ctx, cfg, logger, client)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(lambdaproxy.New(h, logger), lambda.WithContext(ctx))
	return nil
}
