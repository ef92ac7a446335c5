// Package dynamo is the store of the API and the notifier: users, account
// policies, uniqueness guards, pending changes, the outbox and the audit
// trail in one DynamoDB table (keys.go, items.go), with userinfo's rules as
// conditions (conditions.go). Its errors are userinfo's, or wrapped errors
// (500). Local tooling is in infra/ddbtable.
package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// DefaultAuditRetention is how long the table's TTL keeps audit records
// when Options.AuditRetention is zero.
const DefaultAuditRetention = 400 * 24 * time.Hour

// Options configures a Store. The zero value is usable.
type Options struct {
	// AuditRetention is how long an audit record lives; 0 means
	// DefaultAuditRetention.
	AuditRetention time.Duration
	// Now stamps changes that carry no time; nil means time.Now.
	Now func() time.Time
}

// Store implements userinfo.Store on one DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	client    *dynamodb.Client
	table     string
	retention time.Duration
	now       func() time.Time
}

var _ userinfo.Store = (*Store)(nil)

// New returns a Store on table without calling DynamoDB: a missing table
// fails the first call (500).
func New(client *dynamodb.Client, table string, opts Options) *Store {
	if opts.AuditRetention <= 0 {
		opts.AuditRetention = DefaultAuditRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, table: table, retention: opts.AuditRetention, now: opts.Now}
}

// GetUser returns the user id with a strongly consistent read: the write
// that follows is conditional on its version, so a stale read would only buy
// a StaleError. It returns ENOTFOUND, EUNAVAILABLE when DynamoDB throttles or
// cannot be reached, or a wrapped error.
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

// errorf returns a plain (500) error. Pass it ids, codes or attribute
// names, never a value read from an item.
func errorf(format string, args ...any) error {
	return fmt.Errorf("dynamo: "+format, args...)
}
