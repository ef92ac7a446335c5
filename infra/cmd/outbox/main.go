// Command outbox is `make outbox`: it prints the messages the local notifier
// has delivered so far (email from the local SES, SMS from their file), one
// JSON line each, oldest first, newest last, so that a developer can read a
// verification code and finish a change by hand.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/infra/smssink"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "outbox:", err)
		os.Exit(1)
	}
}

// line is one delivered message as printed.
type line struct {
	Channel string `json:"channel"`
	To      string `json:"to"`
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text"`
	at      time.Time
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	ses := fs.String("ses", "", "the local SES's URL")
	sms := fs.String("sms", "", "the SMS file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ses == "" || *sms == "" {
		return fmt.Errorf("usage: outbox -ses <local SES URL> -sms <SMS file>")
	}
	emails, err := seslocal.Emails(ctx, *ses)
	if err != nil {
		return fmt.Errorf("no local SES answers at %s: start it with make run (%v)", *ses, err)
	}
	var out []line
	for _, e := range emails {
		for _, to := range e.To {
			out = append(out, line{Channel: "email", To: to, Subject: e.Subject, Text: e.Text, at: e.At})
		}
	}
	texts, err := smssink.Read(*sms)
	if err != nil {
		return err
	}
	for _, m := range texts {
		out = append(out, line{Channel: "sms", To: m.To, Text: m.Text, at: m.At})
	}
	// SES local keeps whole seconds: within one, emails stay in sending order.
	slices.SortStableFunc(out, func(a, b line) int { return a.at.Truncate(time.Second).Compare(b.at.Truncate(time.Second)) })
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, l := range out {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}
