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

// Client returns a DynamoDB client for the DynamoDB Local at endpoint,
// configured explicitly so that nothing of the developer's AWS setup
// (profile, SSO, region) is read. It makes one attempt per call: callers
// that poll do their own retrying.
func Client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		// Any key works: Start runs DynamoDB Local with -sharedDb, as
		// make run does.
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "ddblocal"}, nil
		}),
		// A polling loop is the retry; an SDK retry would only hide an exit.
		RetryMaxAttempts: 1,
		// DynamoDB Local omits x-amz-crc32 on error responses.
		DisableValidateResponseChecksum: true,
	})
}

// Answers reports whether a DynamoDB answers a ListTables call at endpoint
// within the probe timeout (2 s).
func Answers(ctx context.Context, endpoint string) bool {
	return probe(ctx, Client(endpoint)) == nil
}

// probe makes one ListTables call, bounded by probeTimeout.
func probe(ctx context.Context, client *dynamodb.Client) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	return err
}

// waitReady returns nil once a ListTables call against in succeeds. It
// returns early when the process exits, ctx ends or timeout passes.
func waitReady(ctx context.Context, in *Instance, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := Client(in.Endpoint())
	var lastErr error
	for {
		err := probe(ctx, client)
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
