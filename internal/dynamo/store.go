// Package dynamo is the request path's store: the API's and the notifier's
// reads and writes of users, account policies, uniqueness guards, pending
// changes, the outbox and the audit trail, in one DynamoDB table (keys.go,
// items.go), with userinfo's rules as conditions (conditions.go). Every
// failure leaves it in the domain's terms (userinfo.Error,
// userinfo.StaleError) or as a wrapped error that the HTTP layer answers
// with 500. Local tools and tests do the rest with infra/ddbtable.
package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
		Key:            UserKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify("GetItem", err)
	}
	if len(out.Item) == 0 {
		return nil, userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	u, err := DecodeUser(out.Item)
	if err != nil {
		return nil, errorf("GetItem: user %s: %v", id, err)
	}
	return u, nil
}

// errorf returns a plain (500) error. Its arguments must be ids, codes or
// attribute names, never a value read from an item.
func errorf(format string, args ...any) error {
	return fmt.Errorf("dynamo: "+format, args...)
}
