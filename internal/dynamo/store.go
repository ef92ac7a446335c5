// Package dynamo stores users, account policies, uniqueness guards and the
// audit trail in one DynamoDB table. It is the only package that knows
// DynamoDB's expressions and key formats (see keys.go); every failure leaves
// it in the domain's terms (userinfo.Error, userinfo.StaleError) or as a
// wrapped error that the HTTP layer answers with 500.
package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// DefaultAuditRetention is how long audit records are kept before the
// table's TTL deletes them, when Options.AuditRetention is zero.
const DefaultAuditRetention = 400 * 24 * time.Hour

// Options configures a Store. The zero value is usable.
type Options struct {
	// AuditRetention is how long an audit record lives; 0 means
	// DefaultAuditRetention.
	AuditRetention time.Duration
	// Now is the clock for timestamps the caller did not provide; nil
	// means time.Now.
	Now func() time.Time
}

// Store implements userinfo.Store on a single DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	client    *dynamodb.Client
	table     string
	retention time.Duration
	now       func() time.Time
}

var _ userinfo.Store = (*Store)(nil)

// New returns a Store on the table called table. It does not call DynamoDB;
// a missing table shows up as a wrapped ResourceNotFoundException (500) on
// the first call.
func New(client *dynamodb.Client, table string, opts Options) *Store {
	if opts.AuditRetention <= 0 {
		opts.AuditRetention = DefaultAuditRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, table: table, retention: opts.AuditRetention, now: opts.Now}
}

// GetUser returns the user with the given id, read with one strongly
// consistent GetItem (the write that follows is conditional on its version,
// so an eventually consistent read would only buy a StaleError). It returns
// an ENOTFOUND *userinfo.Error when there is no such user, EUNAVAILABLE when
// DynamoDB throttles or cannot be reached, and a wrapped error otherwise.
func (s *Store) GetUser(ctx context.Context, id string) (*userinfo.User, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(userPK(id), userSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify("GetItem", err)
	}
	if len(out.Item) == 0 {
		return nil, userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	u, err := decodeUser(out.Item)
	if err != nil {
		return nil, errorf("GetItem: user %s: %v", id, err)
	}
	return u, nil
}

// GetAccount returns the protect policy of the account domainID. A missing
// item or attribute reads as allowed, as ApplyChange enforces it. It returns
// EUNAVAILABLE when DynamoDB throttles or cannot be reached, and a wrapped
// error otherwise.
func (s *Store) GetAccount(ctx context.Context, domainID string) (*userinfo.Account, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(accountPK(domainID), domainSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify("GetItem", err)
	}
	return &userinfo.Account{
		DomainID:      domainID,
		ManageEmail:   getBool(out.Item, attrManageEmail, true),
		ManageMobile:  getBool(out.Item, attrManageMobile, true),
		VerifyChanges: getBool(out.Item, attrVerifyChanges, false),
	}, nil
}

// PutAccount writes the protect policy a, replacing any previous one. It is
// for seeding and tests; the request path only reads the policy. It returns
// EUNAVAILABLE when DynamoDB throttles or cannot be reached, and a wrapped
// error otherwise.
func (s *Store) PutAccount(ctx context.Context, a userinfo.Account) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      encodeAccount(a),
	})
	return classify("PutItem", err)
}

// errorf returns a plain (500) error. Its arguments must be ids, codes or
// attribute names, never a value read from an item.
func errorf(format string, args ...any) error {
	return fmt.Errorf("dynamo: "+format, args...)
}

// exprs collects the placeholders of one request's expressions. DynamoDB
// rejects a request that defines a name or value its expressions do not
// use, so each transaction item gets its own.
type exprs struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExprs() *exprs {
	return &exprs{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// n returns the placeholder for attribute name attr. Every name goes through
// one, so none can collide with DynamoDB's reserved words (NAME, DOMAIN, ...).
func (e *exprs) n(attr string) string {
	e.names["#"+attr] = attr
	return "#" + attr
}

// v returns the placeholder :ph bound to av.
func (e *exprs) v(ph string, av types.AttributeValue) string {
	e.values[":"+ph] = av
	return ":" + ph
}

func (e *exprs) namesOrNil() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *exprs) valuesOrNil() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}
