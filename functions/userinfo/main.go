// Command userinfo is the Lambda function behind
// PUT /v3.0/OS-USER/users/{user_id}/info. It only wires: configuration,
// the handler, and the API Gateway adapter.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/iam-userinfo/userinfo/internal/app"
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
	h, err := app.New(ctx, cfg, app.NewLogger(stdout, cfg.LogLevel))
	if err != nil {
		return err
	}
	lambda.StartWithOptions(httpadapter.New(h).ProxyWithContext, lambda.WithContext(ctx))
	return nil
}
