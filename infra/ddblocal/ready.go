package ddblocal

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// pollInterval is the pause between readiness probes. The probe itself is
// the readiness test; this only keeps a slow JVM from being hammered.
const pollInterval = 100 * time.Millisecond

// probeTimeout bounds one ListTables probe, so a half-started JVM that
// accepts the connection but does not answer cannot stall the wait.
const probeTimeout = 2 * time.Second

// waitReady returns nil once a ListTables call against in succeeds. It
// returns early when the process exits, ctx ends or timeout passes.
func waitReady(ctx context.Context, in *Instance, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(in.Endpoint()),
		// Any key works: the instance runs with -sharedDb.
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "ddblocal"}, nil
		}),
		// This loop is the retry; an SDK retry would only hide the exit.
		RetryMaxAttempts: 1,
		// DynamoDB Local omits x-amz-crc32 on error responses.
		DisableValidateResponseChecksum: true,
	})
	var lastErr error
	for {
		pctx, pcancel := context.WithTimeout(ctx, probeTimeout)
		_, err := client.ListTables(pctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		pcancel()
		if err == nil {
			return nil
		}
		lastErr = err
		t := time.NewTimer(pollInterval)
		select {
		case <-in.done:
			t.Stop()
			return errExited
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ddblocal: not ready on port %d after %v: %w (last probe: %v)", in.port, timeout, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}
