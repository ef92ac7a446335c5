// Command outbox is `make outbox`: it prints the messages make run's
// notifier has delivered so far (email from the local SES, SMS from their
// file), one JSON line each, oldest first, newest last, so that a developer
// can read a verification code and finish a change by hand. With -to it
// prints only the messages to that address, waiting for the first (delivery
// is asynchronous); with -code, only the newest one's code.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/infra/smssink"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
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

// codeRE finds a verification code: the first six-digit number of a
// message (codes come first in each message that holds one).
var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	s, err := localenv.Load(getenv)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	ses := fs.String("ses", s.SESEndpoint(), "the local SES's URL (default: make run's)")
	sms := fs.String("sms", localenv.SMSFile, "the SMS file")
	to := fs.String("to", "", "only messages to this address or number, waiting for the first")
	wait := fs.Duration("wait", 30*time.Second, "how long -to waits (make run builds the notifier after the API: on a cold build cache, seconds)")
	code := fs.Bool("code", false, "print only the code of the newest message to -to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *code && *to == "" {
		return errors.New("-code needs -to: make outbox TO=<address> CODE=1")
	}
	var out []line
	for deadline := time.Now().Add(*wait); ; time.Sleep(100 * time.Millisecond) {
		if out, err = delivered(ctx, *ses, *sms, *to); err != nil || len(out) > 0 || *to == "" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing sent to %s within %v", *to, *wait)
		}
	}
	if err != nil {
		return err
	}
	if *code {
		c := codeRE.FindString(out[len(out)-1].Text)
		if c == "" {
			return fmt.Errorf("the newest message to %s holds no code", *to)
		}
		_, err := fmt.Fprintln(stdout, c)
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, l := range out {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// delivered returns the messages delivered so far, to the address to or
// all when it is empty, oldest first.
func delivered(ctx context.Context, ses, sms, to string) ([]line, error) {
	emails, err := seslocal.Emails(ctx, ses)
	if err != nil {
		return nil, fmt.Errorf("no local SES answers at %s: start make run in another terminal first (%v)", ses, err)
	}
	var out []line
	for _, e := range emails {
		for _, rcpt := range e.To {
			out = append(out, line{Channel: "email", To: rcpt, Subject: e.Subject, Text: e.Text, at: e.At})
		}
	}
	texts, err := smssink.Read(sms)
	if err != nil {
		return nil, err
	}
	for _, m := range texts {
		out = append(out, line{Channel: "sms", To: m.To, Text: m.Text, at: m.At})
	}
	if to != "" {
		out = slices.DeleteFunc(out, func(l line) bool { return l.To != to })
	}
	// SES local keeps whole seconds: within one, emails stay in sending order.
	slices.SortStableFunc(out, func(a, b line) int { return a.at.Truncate(time.Second).Compare(b.at.Truncate(time.Second)) })
	return out, nil
}
