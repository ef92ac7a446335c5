// Package ddbtest runs a package's tests against a DynamoDB Local of their
// own, with clients built as the API builds them (awsconfig.NewClient). It
// is for tests only: make run's server does not link the SDK's
// configuration code, so ddblocal cannot offer this.
package ddbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Run starts DynamoDB Local, points the process's AWS environment at it,
// calls setup (nil: none) with the instance's endpoint and a client from
// awsconfig.NewClient, runs m and stops the instance. It returns the exit
// code for os.Exit: m.Run's, or 1 when a step before it fails, with the
// reason on stderr (that pkg's tests need DynamoDB Local, when it does not
// start).
func Run(m *testing.M, pkg string, setup func(ctx context.Context, endpoint string, c *dynamodb.Client) error) int {
	ctx := context.Background()
	in, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests need DynamoDB Local: %v\n", pkg, err)
		return 1
	}
	defer in.Stop()
	setEnv(in.Endpoint())
	c, err := awsconfig.NewClient(ctx)
	if err == nil && setup != nil {
		err = setup(ctx, in.Endpoint(), c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// setEnv sets ddblocal.ClientEnv, and dummy credentials and no shared
// config files, so that nothing on the developer's machine (a profile, SSO,
// the metadata endpoint) is used.
func setEnv(endpoint string) {
	nowhere := filepath.Join(os.TempDir(), "ddbtest-no-such-file")
	env := ddblocal.ClientEnv(endpoint)
	env["AWS_CONFIG_FILE"] = nowhere
	env["AWS_SHARED_CREDENTIALS_FILE"] = nowhere
	for k, v := range env {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"} {
		os.Unsetenv(k)
	}
}

// RecordingClient returns a client from awsconfig.NewClient that notes the
// name of every operation it is asked to call, and a function that returns
// those names, sorted. It fails t when the client cannot be built.
func RecordingClient(t testing.TB) (*dynamodb.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	record := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordOperation",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				seen[awsmiddleware.GetOperationName(ctx)] = true
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
	rc, err := awsconfig.NewClient(context.Background(), config.WithAPIOptions([]func(*middleware.Stack) error{record}))
	if err != nil {
		t.Fatal(err)
	}
	return rc, func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ops []string
		for op := range seen {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		return ops
	}
}

// NewID returns prefix followed by 12 random hex digits: tests that share a
// table stay apart by using fresh user and account ids.
func NewID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// SeedUser writes a user of domainID with a fresh id and a verified email
// and mobile number, and returns it as stored. It fails t when either call
// fails.
func SeedUser(t testing.TB, s *ddbtable.Table, domainID, email, areaCode, phone string) *userinfo.User {
	t.Helper()
	ctx := context.Background()
	u := userinfo.User{
		ID: NewID("u-"), DomainID: domainID, Name: "user",
		Email: email, EmailVerified: email != "",
		AreaCode: areaCode, Phone: phone, PhoneVerified: phone != "",
		Enabled: true,
	}
	if err := s.UpsertUser(ctx, u); err != nil {
		t.Fatalf("UpsertUser: %v", err)
	}
	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	return got
}
