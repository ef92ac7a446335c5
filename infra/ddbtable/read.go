package ddbtable

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Guard is a uniqueness guard: the claim of one user on a value in its
// account. Value is the value's key (userinfo.Email.Key, Mobile.Key, or a
// key of an older Version), in clear: never log it.
type Guard struct {
	Kind     string // dynamo.GuardEmail or dynamo.GuardPhone
	Value    string
	Version  int // the userinfo.Key version Value was made by
	UserID   string
	DomainID string
}

// Key returns the userinfo.Key the guard is held under.
func (g Guard) Key() userinfo.Key { return userinfo.Key{Version: g.Version, Value: g.Value} }

// decodeGuard returns the guard av holds, and false for an item that is
// not a guard.
func decodeGuard(av dynamo.Item) (Guard, bool) {
	var it dynamo.GuardItem
	if dynamo.UnmarshalItem(av, &it) != nil {
		return Guard{}, false
	}
	kind, k, ok := dynamo.ParseGuardPK(it.DomainID, it.PK)
	return Guard{Kind: kind, Value: k.Value, Version: k.Version, UserID: it.UserID, DomainID: it.DomainID}, ok
}

// Guards returns every guard of the account domainID, sorted by kind,
// version and value. It scans the whole table: for tests and small local
// tables.
func (t *Table) Guards(ctx context.Context, domainID string) ([]Guard, error) {
	var out []Guard
	err := t.scan(ctx, func(av dynamo.Item) error {
		if g, ok := decodeGuard(av); ok && g.DomainID == domainID {
			out = append(out, g)
		}
		return nil
	})
	slices.SortFunc(out, CompareGuards)
	return out, err
}

// CompareGuards orders guards by account, kind, key version and value, as
// slices.SortFunc wants: Guards returns them in this order.
func CompareGuards(a, b Guard) int {
	return cmp.Or(cmp.Compare(a.DomainID, b.DomainID), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Value, b.Value))
}

// scan hands every item of the table, read consistently, to each, and stops
// at its first error.
func (t *Table) scan(ctx context.Context, each func(dynamo.Item) error) error {
	p := dynamodb.NewScanPaginator(t.client, &dynamodb.ScanInput{TableName: aws.String(t.name), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap("Scan", err)
		}
		for _, av := range page.Items {
			if err := each(av); err != nil {
				return err
			}
		}
	}
	return nil
}

// AuditRecord is one audit record as stored. Email and Phone are masked.
type AuditRecord struct {
	UserID        string
	ActorUserID   string
	ActorDomainID string
	RequestID     string
	SourceIP      string
	At            time.Time
	Fields        []string
	Email         string // userinfo.MaskEmail of the new value, "" when unchanged
	AreaCode      string // the new country code, "" when the phone is unchanged
	Phone         string // userinfo.MaskPhone of the new value, "" when unchanged
	ExpiresAt     time.Time
}

// AuditRecords returns the audit records of the user userID written between
// from and to inclusive, oldest first, with one Query on the user's
// partition.
func (t *Table) AuditRecords(ctx context.Context, userID string, from, to time.Time) ([]AuditRecord, error) {
	e, err := expression.NewBuilder().WithKeyCondition(dynamo.AuditKeys(userID, from, to)).Build()
	if err != nil {
		return nil, err
	}
	p := dynamodb.NewQueryPaginator(t.client, &dynamodb.QueryInput{
		TableName: aws.String(t.name), KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ConsistentRead: aws.Bool(true),
	})
	var out []AuditRecord
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("Query", err)
		}
		for _, av := range page.Items {
			var it dynamo.AuditItem
			if err := dynamo.UnmarshalItem(av, &it); err != nil {
				return nil, wrap("Query: audit of user "+userID, err)
			}
			out = append(out, AuditRecord{
				UserID: it.UserID, ActorUserID: it.ActorUserID, ActorDomainID: it.ActorDomainID, RequestID: it.RequestID,
				SourceIP: it.SourceIP, At: it.At, Fields: it.Fields, Email: it.Email, AreaCode: it.AreaCode, Phone: it.Phone,
				ExpiresAt: time.Unix(it.TTL, 0).UTC(),
			})
		}
	}
	return out, nil
}

// Messages returns the outbox messages of userID, delivered or not, sorted
// by time (in clear: never log them). It scans the whole table: for tests
// and small local tables.
func (t *Table) Messages(ctx context.Context, userID string) ([]userinfo.Message, error) {
	ms, err := t.MessagesOf(ctx, []string{userID})
	return ms[userID], err
}

// MessagesOf is Messages for each of userIDs, by user id, with one scan of
// the table.
func (t *Table) MessagesOf(ctx context.Context, userIDs []string) (map[string][]userinfo.Message, error) {
	want := map[string]bool{}
	for _, id := range userIDs {
		want[id] = true
	}
	out := map[string][]userinfo.Message{}
	err := t.scan(ctx, func(av dynamo.Item) error {
		var key struct {
			PK     string `dynamodbav:"pk"`
			UserID string `dynamodbav:"user_id"`
		}
		if attributevalue.UnmarshalMap(av, &key) != nil || !strings.HasPrefix(key.PK, dynamo.OutboxPrefix) || !want[key.UserID] {
			return nil
		}
		var it dynamo.OutboxItem
		err := dynamo.UnmarshalItem(av, &it)
		var m *userinfo.Message
		if err == nil {
			m, err = it.Message()
		}
		if err != nil {
			return wrap("Scan: message "+key.PK, err)
		}
		out[key.UserID] = append(out[key.UserID], *m)
		return nil
	})
	for _, ms := range out {
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].At.Before(ms[j].At) })
	}
	return out, err
}
