// Package streams feeds a DynamoDB table's stream to a Lambda stream
// handler, as Lambda's event source mapping does in AWS: with DynamoDB
// Local, nothing else polls. It reads the stream with the dynamodbstreams
// API, keeps the records the mapping's filter lets through, hands them over
// in batches as events.DynamoDBEvent, retries a batch from the record the
// handler reports failed, and after the last retry gives that record to
// OnFailure (in AWS, the mapping's on-failure destination, an SQS queue)
// and goes on.
package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler handles one batch and reports the records that failed; an empty
// response means the whole batch succeeded.
type Handler func(ctx context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse

// Failure is what OnFailure gets for a record that failed every attempt:
// as in the on-failure record Lambda sends to SQS, where it is, not what.
type Failure struct {
	StreamARN      string    `json:"streamArn"`
	ShardID        string    `json:"shardId"`
	SequenceNumber string    `json:"sequenceNumber"`
	Attempts       int       `json:"attempts"`
	At             time.Time `json:"at"`
}

// Options configures Run.
type Options struct {
	// Client reads the stream.
	Client *dynamodbstreams.Client
	// Table is the table whose (one, latest) stream is read.
	Table string
	// Filter is the event source mapping's filter pattern (Lambda's filter
	// syntax: nested objects whose leaves are lists of literal strings or
	// {"prefix": "..."}); empty lets every record through.
	Filter string
	// BatchSize bounds a batch; 0 means 100, Lambda's default for streams.
	BatchSize int
	// Retries is how often a failing batch is tried again before its failed
	// record goes to OnFailure.
	Retries int
	// Interval is the pause between polls of an idle stream; 0 means 100 ms.
	Interval time.Duration
	// OnFailure receives each record that failed every attempt.
	OnFailure func(context.Context, Failure)
	// Logger receives the poller's own troubles; nil discards.
	Logger *slog.Logger
}

// Run polls the stream until ctx ends, from the oldest record still in it
// (TRIM_HORIZON), and returns nil then; it returns an error when the table
// has no stream or the filter cannot be read.
func Run(ctx context.Context, opts Options, h Handler) error {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	match, err := compileFilter(opts.Filter)
	if err != nil {
		return err
	}
	list, err := opts.Client.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(opts.Table)})
	if err != nil {
		return fmt.Errorf("streams: list the streams of %s: %w", opts.Table, err)
	}
	if len(list.Streams) == 0 {
		return fmt.Errorf("streams: table %s has no stream", opts.Table)
	}
	p := &poller{opts: opts, h: h, match: match, arn: aws.ToString(list.Streams[len(list.Streams)-1].StreamArn), iters: map[string]*string{}}
	for {
		busy, err := p.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			opts.Logger.Warn("stream poll failed", slog.String("error", err.Error()))
		}
		if !busy {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(opts.Interval):
			}
		}
	}
}

type poller struct {
	opts  Options
	h     Handler
	match func(map[string]any) bool
	arn   string
	// iters holds each open shard's next iterator; a closed shard maps to nil.
	iters map[string]*string
}

// round reads every open shard once and reports whether any gave records.
func (p *poller) round(ctx context.Context) (bool, error) {
	desc, err := p.opts.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.arn)})
	if err != nil {
		return false, err
	}
	busy := false
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		it, known := p.iters[id]
		if !known {
			out, err := p.opts.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(p.arn), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return busy, err
			}
			it = out.ShardIterator
			p.iters[id] = it
		}
		if it == nil {
			continue // closed and read to its end
		}
		out, err := p.opts.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
		if err != nil {
			return busy, err
		}
		p.iters[id] = out.NextShardIterator
		busy = busy || len(out.Records) > 0
		var batch []events.DynamoDBEventRecord
		for _, r := range out.Records {
			rec := convertRecord(r, p.arn)
			if p.match(filterView(rec)) {
				batch = append(batch, rec)
			}
		}
		for len(batch) > 0 {
			n := min(len(batch), p.opts.BatchSize)
			p.deliver(ctx, id, batch[:n])
			batch = batch[n:]
		}
	}
	return busy, nil
}

// deliver hands batch to the handler, retrying from a failed record, and
// passes a record that fails 1+Retries attempts in a row to OnFailure.
func (p *poller) deliver(ctx context.Context, shard string, batch []events.DynamoDBEventRecord) {
	attempts, failing := 0, ""
	for len(batch) > 0 && ctx.Err() == nil {
		resp := p.h(ctx, events.DynamoDBEvent{Records: batch})
		if len(resp.BatchItemFailures) == 0 {
			return
		}
		// Lambda goes on from the lowest failed sequence number.
		failed := slices.IndexFunc(batch, func(r events.DynamoDBEventRecord) bool {
			return slices.ContainsFunc(resp.BatchItemFailures, func(f events.DynamoDBBatchItemFailure) bool {
				return f.ItemIdentifier == r.Change.SequenceNumber
			})
		})
		if failed < 0 {
			p.opts.Logger.Warn("stream handler reported a record not in its batch")
			return
		}
		batch = batch[failed:]
		if seq := batch[0].Change.SequenceNumber; seq != failing {
			attempts, failing = 0, seq
		}
		if attempts++; attempts > p.opts.Retries {
			if p.opts.OnFailure != nil {
				p.opts.OnFailure(ctx, Failure{StreamARN: p.arn, ShardID: shard, SequenceNumber: failing, Attempts: attempts, At: time.Now().UTC()})
			}
			batch, attempts, failing = batch[1:], 0, ""
		}
	}
}

// convertRecord turns a dynamodbstreams record into the event record
// Lambda would hand a function.
func convertRecord(r types.Record, arn string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: arn,
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys: convertMap(d.Keys), NewImage: convertMap(d.NewImage), OldImage: convertMap(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

func convertMap(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = convertValue(v)
	}
	return out
}

func convertValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = convertValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(convertMap(x.Value))
	}
	return events.NewNullAttribute()
}

// filterView is the record as Lambda's filters see it: its JSON form.
func filterView(r events.DynamoDBEventRecord) map[string]any {
	raw, _ := json.Marshal(r) // plain strings, maps and numbers: cannot fail
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// compileFilter returns a matcher for a Lambda filter pattern, or an error
// for syntax this poller does not know.
func compileFilter(pattern string) (func(map[string]any) bool, error) {
	if pattern == "" {
		return func(map[string]any) bool { return true }, nil
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(pattern), &p); err != nil {
		return nil, fmt.Errorf("streams: filter: %w", err)
	}
	if err := checkPattern(p); err != nil {
		return nil, err
	}
	return func(r map[string]any) bool { return matches(p, r) }, nil
}

func checkPattern(p map[string]any) error {
	for k, v := range p {
		switch x := v.(type) {
		case map[string]any:
			if err := checkPattern(x); err != nil {
				return err
			}
		case []any:
			for _, e := range x {
				if _, ok := e.(string); ok {
					continue
				}
				if m, ok := e.(map[string]any); ok && len(m) == 1 {
					if _, ok := m["prefix"].(string); ok {
						continue
					}
				}
				return fmt.Errorf("streams: filter: %s: only literal strings and {\"prefix\": ...} are supported", k)
			}
		default:
			return fmt.Errorf("streams: filter: %s: want an object or a list", k)
		}
	}
	return nil
}

// matches reports whether record r satisfies pattern p: every key of p
// present in r, objects matched recursively, a list matched when any of its
// entries matches r's value.
func matches(p map[string]any, r map[string]any) bool {
	for k, v := range p {
		rv, ok := r[k]
		if !ok {
			return false
		}
		switch x := v.(type) {
		case map[string]any:
			rm, ok := rv.(map[string]any)
			if !ok || !matches(x, rm) {
				return false
			}
		case []any:
			s, ok := rv.(string)
			if !ok || !slices.ContainsFunc(x, func(e any) bool { return matchesValue(e, s) }) {
				return false
			}
		}
	}
	return true
}

func matchesValue(e any, s string) bool {
	if lit, ok := e.(string); ok {
		return lit == s
	}
	prefix, _ := e.(map[string]any)["prefix"].(string)
	return strings.HasPrefix(s, prefix)
}

// LocalClient returns a DynamoDB Streams client for the DynamoDB Local at
// endpoint, set up as ddblocal.Client is (no AWS setup of the developer's
// read), with the SDK's usual retries: a poller's calls are not probes.
// It lives here, not in ddblocal, so that what uses DynamoDB Local without
// its stream (make run's server) does not compile the Streams client.
func LocalClient(endpoint string) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "streams"}, nil
		}),
	})
}
