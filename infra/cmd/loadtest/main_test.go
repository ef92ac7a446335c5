package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestRunSmall is `make loadtest` end to end at a tiny size: DynamoDB Local
// and the API start, the load runs, the checks pass, and all of it stops.
func TestRunSmall(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-requests", "60", "-clients", "8", "-users", "6", "-contested", "2", "-seed", "3"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"requests=60 clients=8 seed=3", "invariants hold:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"ErrZeroClients":  {"-clients", "0"},
		"ErrUnknownFlag":  {"-users-per-account", "3"},
		"ErrNotANumber":   {"-requests", "many"},
		"ErrNegativeUser": {"-users", "-1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parse(args, io.Discard); err == nil {
				t.Errorf("parse(%q) accepted", args)
			}
		})
	}
	o, err := parse(nil, io.Discard)
	if err != nil || o.requests != 20000 || o.clients != 64 || o.users != 50 || o.accounts != 2 || o.contested != 10 {
		t.Errorf("defaults %+v, %v; want the issue's population and 20,000 requests", o, err)
	}
}
