package streams_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/streams"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

var endpoint string

func TestMain(m *testing.M) {
	in, err := ddblocal.Start(context.Background(), ddblocal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "streams tests need DynamoDB Local:", err)
		os.Exit(1)
	}
	endpoint = in.Endpoint()
	code := m.Run()
	_ = in.Stop()
	os.Exit(code)
}

// table creates a table with the store's definition (a keys-only stream)
// and returns its name and a client.
func table(t *testing.T) (string, *dynamodb.Client) {
	t.Helper()
	name := fmt.Sprintf("streams-%d", time.Now().UnixNano())
	c := ddblocal.Client(endpoint)
	if _, err := c.CreateTable(t.Context(), ddbtable.Definition(name)); err != nil {
		t.Fatal(err)
	}
	return name, c
}

func put(t *testing.T, c *dynamodb.Client, table, pk string) {
	t.Helper()
	_, err := c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "#X"},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// collector records what the handler was given, and fails the records it
// is told to, as many times as it is told.
type collector struct {
	mu       sync.Mutex
	seen     []string // pk of every record handed over, attempts included
	fail     map[string]int
	failures []streams.Failure
}

func (c *collector) handle(_ context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range ev.Records {
		pk := r.Change.Keys["pk"].String()
		c.seen = append(c.seen, pk)
		if c.fail[pk] > 0 {
			c.fail[pk]--
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}
		}
	}
	return events.DynamoDBEventResponse{}
}

func (c *collector) snapshot() ([]string, []streams.Failure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen), slices.Clone(c.failures)
}

// run polls table with h until done returns true or 20 s pass.
func run(t *testing.T, table string, col *collector, retries int, done func([]string, []streams.Failure) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- streams.Run(ctx, streams.Options{
			Client: streams.LocalClient(endpoint), Table: table, Filter: dynamo.OutboxFilter,
			Retries: retries, Interval: 20 * time.Millisecond,
			OnFailure: func(_ context.Context, f streams.Failure) {
				col.mu.Lock()
				col.failures = append(col.failures, f)
				col.mu.Unlock()
			},
		}, col.handle)
	}()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if done(col.snapshot()) {
			break
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestDeliversNewOutboxItemsInOrder: only inserts of outbox items pass the
// filter, in the order they were written.
func TestDeliversNewOutboxItemsInOrder(t *testing.T) {
	name, c := table(t)
	for _, pk := range []string{"OUTBOX#1", "USER#u1", "OUTBOX#2", "DOMAIN#d", "OUTBOX#3"} {
		put(t, c, name, pk)
	}
	// An update of an outbox item is not a new message.
	put(t, c, name, "OUTBOX#1")
	col := &collector{fail: map[string]int{}}
	run(t, name, col, 2, func(seen []string, _ []streams.Failure) bool { return len(seen) >= 3 })
	seen, _ := col.snapshot()
	if want := []string{"OUTBOX#1", "OUTBOX#2", "OUTBOX#3"}; !slices.Equal(seen, want) {
		t.Errorf("handed over %v, want %v", seen, want)
	}
}

// TestRetriesThenGivesUp: a failing record is retried from itself (what
// came before it is not handed over again); one that keeps failing goes
// to OnFailure after Retries more tries, and what follows it is delivered.
func TestRetriesThenGivesUp(t *testing.T) {
	name, c := table(t)
	for _, pk := range []string{"OUTBOX#a", "OUTBOX#flaky", "OUTBOX#bad", "OUTBOX#z"} {
		put(t, c, name, pk)
	}
	col := &collector{fail: map[string]int{"OUTBOX#flaky": 1, "OUTBOX#bad": 100}}
	run(t, name, col, 2, func(seen []string, f []streams.Failure) bool {
		return len(f) > 0 && slices.Contains(seen, "OUTBOX#z")
	})
	seen, failures := col.snapshot()
	count := func(pk string) int {
		n := 0
		for _, s := range seen {
			if s == pk {
				n++
			}
		}
		return n
	}
	if count("OUTBOX#a") != 1 || count("OUTBOX#flaky") != 2 || count("OUTBOX#bad") != 3 || count("OUTBOX#z") != 1 {
		t.Errorf("handed over %v: want a once, flaky twice, bad 1+2 times, z once", seen)
	}
	if len(failures) != 1 || failures[0].Attempts != 3 || failures[0].SequenceNumber == "" {
		t.Errorf("failures %+v, want bad's, after 3 attempts", failures)
	}
}

// TestNoStream: a table without a stream is an error, not a silent poller.
func TestNoStream(t *testing.T) {
	c := ddblocal.Client(endpoint)
	def := ddbtable.Definition(fmt.Sprintf("nostream-%d", time.Now().UnixNano()))
	def.StreamSpecification = nil
	if _, err := c.CreateTable(t.Context(), def); err != nil {
		t.Fatal(err)
	}
	err := streams.Run(t.Context(), streams.Options{Client: streams.LocalClient(endpoint), Table: *def.TableName}, func(context.Context, events.DynamoDBEvent) events.DynamoDBEventResponse {
		return events.DynamoDBEventResponse{}
	})
	if err == nil {
		t.Error("want an error for a table without a stream")
	}
}

func TestBadFilter(t *testing.T) {
	err := streams.Run(t.Context(), streams.Options{Client: streams.LocalClient(endpoint), Table: "x", Filter: `{"a":[{"numeric":[">",1]}]}`}, nil)
	if err == nil {
		t.Error("want an error for filter syntax the poller does not know")
	}
}
