// Command echo is a Lambda function for the rie package's tests: it answers
// an event {"env": NAME} with that variable's value, fails for
// {"fail": true}, and prints a line to stdout for every event.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Env  string `json:"env"`
	Fail bool   `json:"fail"`
}

func main() {
	lambda.Start(func(_ context.Context, ev event) (map[string]string, error) {
		fmt.Println("echo: got an event")
		if ev.Fail {
			return nil, errors.New("asked to fail")
		}
		v, ok := os.LookupEnv(ev.Env)
		set := "no"
		if ok {
			set = "yes"
		}
		return map[string]string{"value": v, "set": set}, nil
	})
}
