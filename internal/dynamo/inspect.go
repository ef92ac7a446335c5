package dynamo

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// The readers in this file let tests and local tools check the table's
// invariants; the request path never calls them.

// GuardEmail and GuardPhone are the values of Guard.Kind.
const (
	GuardEmail = "email"
	GuardPhone = "phone"
)

// Guard is a uniqueness guard: the claim of one user on a value in its
// account. Value is the value's key (userinfo.Email.Key, Mobile.Key, or a
// key of an older Version), in clear: never log it.
type Guard struct {
	Kind     string // GuardEmail or GuardPhone
	Value    string
	Version  int // the userinfo.Key version Value was made by
	UserID   string
	DomainID string
}

// Key returns the userinfo.Key the guard is held under.
func (g Guard) Key() userinfo.Key { return userinfo.Key{Version: g.Version, Value: g.Value} }

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

// Guards returns every guard of the account domainID, sorted by kind,
// version and value. It scans the whole table, so it is for tests and small local
// tables only. It returns EUNAVAILABLE when DynamoDB throttles or cannot be
// reached, and a wrapped error otherwise.
func (s *Store) Guards(ctx context.Context, domainID string) ([]Guard, error) {
	e := newExprs()
	prefix := domainPrefix + domainID + "#"
	filter := e.n(AttrSK) + " = " + e.v("guard", avS(guardSK)) +
		" AND begins_with(" + e.n(AttrPK) + ", " + e.v("prefix", avS(prefix)) + ")"
	var out []Guard
	err := s.scan(ctx, filter, e, func(it item) error {
		if g, ok := decodeGuard(it); ok {
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		if out[i].Version != out[j].Version {
			return out[i].Version < out[j].Version
		}
		return out[i].Value < out[j].Value
	})
	return out, nil
}

// scan reads, with consistent reads, every item of the table that filter
// (with e's placeholders) keeps, and hands each to each, stopping at its
// first error. It returns EUNAVAILABLE when DynamoDB throttles or cannot be
// reached, and a wrapped error otherwise.
func (s *Store) scan(ctx context.Context, filter string, e *exprs, each func(item) error) error {
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String(filter),
		ExpressionAttributeNames:  e.namesOrNil(),
		ExpressionAttributeValues: e.valuesOrNil(),
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify("Scan", err)
		}
		for _, it := range page.Items {
			if err := each(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeGuard returns the guard it holds, and false for an item that is
// not a guard.
func decodeGuard(it item) (Guard, bool) {
	domain := getS(it, attrDomainID)
	kind, k, ok := parseGuardPK(domain, getS(it, AttrPK))
	if !ok || getS(it, AttrSK) != guardSK {
		return Guard{}, false
	}
	g := Guard{Kind: GuardEmail, Value: k.Value, Version: k.Version, UserID: getS(it, attrUserID), DomainID: domain}
	if kind == kindPhone {
		g.Kind = GuardPhone
	}
	return g, true
}

// pk returns the guard's key.
func (g Guard) pk() string {
	kind := kindEmail
	if g.Kind == GuardPhone {
		kind = kindPhone
	}
	return guardPK(g.DomainID, kind, g.Key())
}

// AuditRecords returns the audit records of the user userID written between
// from and to inclusive, oldest first, with one Query on the user's
// partition. It returns EUNAVAILABLE when DynamoDB throttles or cannot be
// reached, and a wrapped error otherwise.
func (s *Store) AuditRecords(ctx context.Context, userID string, from, to time.Time) ([]AuditRecord, error) {
	lo, hi := auditRange(from, to)
	e := newExprs()
	cond := e.n(AttrPK) + " = " + e.v("pk", avS(userPK(userID))) +
		" AND " + e.n(AttrSK) + " BETWEEN " + e.v("lo", avS(lo)) + " AND " + e.v("hi", avS(hi))
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  e.namesOrNil(),
		ExpressionAttributeValues: e.valuesOrNil(),
		ConsistentRead:            aws.Bool(true),
	})
	var out []AuditRecord
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("Query", err)
		}
		for _, it := range page.Items {
			at, err := getTime(it, attrAt)
			if err != nil {
				return nil, errorf("Query: audit of user %s: %v", userID, err)
			}
			exp, err := getN(it, TTLAttribute)
			if err != nil {
				return nil, errorf("Query: audit of user %s: %v", userID, err)
			}
			out = append(out, AuditRecord{
				UserID:        getS(it, attrUserID),
				ActorUserID:   getS(it, attrActorUserID),
				ActorDomainID: getS(it, attrActorDomainID),
				RequestID:     getS(it, attrRequestID),
				SourceIP:      getS(it, attrSourceIP),
				At:            at,
				Fields:        getList(it, attrFields),
				Email:         getS(it, attrEmail),
				AreaCode:      getS(it, attrAreaCode),
				Phone:         getS(it, attrPhone),
				ExpiresAt:     time.Unix(exp, 0).UTC(),
			})
		}
	}
	return out, nil
}

// Messages returns the outbox messages of userID, delivered or not, sorted
// by time (in clear: never log them). It scans the whole table, so it is
// for tests and small local tables only. It returns EUNAVAILABLE when
// DynamoDB throttles or cannot be reached, and a wrapped error otherwise.
func (s *Store) Messages(ctx context.Context, userID string) ([]userinfo.Message, error) {
	var out []userinfo.Message
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("Scan", err)
		}
		for _, av := range page.Items {
			id, ok := strings.CutPrefix(getS(av, AttrPK), outboxPrefix)
			if !ok || getS(av, attrUserID) != userID {
				continue
			}
			var it outboxItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, errorf("Scan: message %s: %v", id, err)
			}
			m, err := it.message(id)
			if err != nil {
				return nil, errorf("Scan: message %s: %v", id, err)
			}
			out = append(out, *m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}
