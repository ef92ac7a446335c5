// Command localnotify is make run's notifier: the notifier function's
// handler over DynamoDB Local's stream (infra/localnotify), on make run's
// table, sending email to its local SES and SMS to localenv.SMSFile. make
// run (infra/cmd/devserver) builds and starts it once the API serves, so
// that the API does not wait for the SES client to compile; it reads make
// run's settings like the other local tools and runs until SIGINT or
// SIGTERM. Its JSON log goes to stdout.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/localnotify"
)

// From is the sender of the local notifier's email.
const From = "no-reply@iam.local.test"

// retries is how often a failing batch is tried again: the template's
// NotifierRetries default.
const retries = 3

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "localnotify:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	s, err := localenv.Load(getenv)
	if err != nil {
		return err
	}
	ddbPort, err := s.PortNumber(localenv.DDBPort)
	if err != nil {
		return err
	}
	var level slog.Level
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", v)
		}
	}
	return localnotify.Run(ctx, localnotify.Options{
		DynamoEndpoint: "http://127.0.0.1:" + strconv.Itoa(ddbPort), Table: s.Get(localenv.Table),
		SESEndpoint: s.SESEndpoint(), From: From, SMSFile: localenv.SMSFile, DeadLetterFile: localenv.DeadLetterFile,
		Retries: retries, Logger: slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level})),
	})
}
