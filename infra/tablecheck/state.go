// Package tablecheck reads what the API keeps in its table (users,
// uniqueness guards, audit records) through the store's own readers, and
// checks the invariants DynamoDB's transactions must keep whatever fails or
// races: each email and mobile number belongs to at most one user of an
// account, every guard points at a user that holds its value, every held
// value has its guard, and a change moves the user, its guards and its
// audit record together or not at all.
//
// It is for tests and load runs on small tables: it reads everything.
package tablecheck

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// State is the content of a table as far as the API is concerned. Values
// in Users, Guards and Notices are in clear: never log them.
type State struct {
	Users  map[string]userinfo.User          // by user id; users not found are absent
	Guards []ddbtable.Guard                  // of the accounts read, sorted by account, kind and value
	Audits map[string][]ddbtable.AuditRecord // by user id, oldest first
	// Notices are the outbox messages of each user, as far as a change
	// decides them (ids and times are the store's), oldest first.
	Notices map[string][]Notice
	// Items counts every item in the table, so that a stray write the
	// typed readers cannot see (an item of another kind) still shows.
	Items int
}

// Notice is what a change puts in the outbox: which message, to whom.
type Notice struct {
	Kind      userinfo.MessageKind
	To        string // in clear
	NewValue  string // masked
	RequestID string
}

// farFuture bounds audit reads from above: every record ever written.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Read returns the state of table for the users userIDs and the accounts
// domains, with strongly consistent reads. It returns the store's error
// (EUNAVAILABLE when DynamoDB throttles or is unreachable) or the SDK's.
func Read(ctx context.Context, client *dynamodb.Client, table string, domains, userIDs []string) (*State, error) {
	s := ddbtable.New(client, table, dynamo.Options{})
	st := &State{Users: map[string]userinfo.User{}, Audits: map[string][]ddbtable.AuditRecord{}, Notices: map[string][]Notice{}}
	for _, id := range userIDs {
		u, err := s.GetUser(ctx, id)
		switch {
		case userinfo.ErrorCode(err) == userinfo.ENOTFOUND:
		case err != nil:
			return nil, err
		default:
			st.Users[id] = *u
		}
		recs, err := s.AuditRecords(ctx, id, time.Time{}, farFuture)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			st.Audits[id] = recs
		}
	}
	// One scan for every user's messages, not one each.
	msgs, err := s.MessagesOf(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	for _, id := range userIDs {
		for _, m := range msgs[id] {
			st.Notices[id] = append(st.Notices[id], Notice{m.Kind, m.To, m.NewValue, m.RequestID})
		}
	}
	for _, d := range domains {
		gs, err := s.Guards(ctx, d)
		if err != nil {
			return nil, err
		}
		st.Guards = append(st.Guards, gs...)
	}
	slices.SortFunc(st.Guards, ddbtable.CompareGuards)
	n, err := countItems(ctx, client, table)
	if err != nil {
		return nil, err
	}
	st.Items = n
	return st, nil
}

func countItems(ctx context.Context, client *dynamodb.Client, table string) (int, error) {
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{
		TableName: aws.String(table), Select: types.SelectCount, ConsistentRead: aws.Bool(true),
	})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("tablecheck: count items: %w", err)
		}
		n += int(page.Count)
	}
	return n, nil
}

// Clone returns a deep copy of st.
func (st *State) Clone() *State {
	c := &State{Users: map[string]userinfo.User{}, Audits: map[string][]ddbtable.AuditRecord{}, Notices: map[string][]Notice{}, Items: st.Items}
	for id, u := range st.Users {
		c.Users[id] = u
	}
	c.Guards = append([]ddbtable.Guard(nil), st.Guards...)
	for id, recs := range st.Audits {
		c.Audits[id] = append([]ddbtable.AuditRecord(nil), recs...)
	}
	for id, ns := range st.Notices {
		c.Notices[id] = append([]Notice(nil), ns...)
	}
	return c
}

// Equal reports whether st and other hold the same users, guards, audit
// records and number of items.
func (st *State) Equal(other *State) bool {
	return st.Items == other.Items &&
		reflect.DeepEqual(st.Users, other.Users) &&
		reflect.DeepEqual(normalise(st.Guards), normalise(other.Guards)) &&
		reflect.DeepEqual(st.Audits, other.Audits) &&
		reflect.DeepEqual(st.Notices, other.Notices)
}

func normalise(gs []ddbtable.Guard) []ddbtable.Guard {
	if len(gs) == 0 {
		return nil
	}
	return gs
}

// Diff returns a description of how other differs from st, for a test's
// failure message, or "" when they are Equal. It names users, fields and
// counts, not values: a failing CI log must not become a copy of test data
// that might be real.
func (st *State) Diff(other *State) string {
	var out []string
	if st.Items != other.Items {
		out = append(out, fmt.Sprintf("%d items, then %d", st.Items, other.Items))
	}
	for id, u := range st.Users {
		o, ok := other.Users[id]
		switch {
		case !ok:
			out = append(out, "user "+id+" gone")
		case !reflect.DeepEqual(u, o):
			out = append(out, fmt.Sprintf("user %s differs (version %d, then %d)", id, u.Version, o.Version))
		}
	}
	for id := range other.Users {
		if _, ok := st.Users[id]; !ok {
			out = append(out, "user "+id+" appeared")
		}
	}
	if !reflect.DeepEqual(normalise(st.Guards), normalise(other.Guards)) {
		out = append(out, fmt.Sprintf("guards differ (%d, then %d)", len(st.Guards), len(other.Guards)))
	}
	for _, id := range unionKeys(st.Audits, other.Audits) {
		if !reflect.DeepEqual(st.Audits[id], other.Audits[id]) {
			out = append(out, fmt.Sprintf("audit of user %s differs (%d records, then %d)", id, len(st.Audits[id]), len(other.Audits[id])))
		}
	}
	for _, id := range unionKeys(st.Notices, other.Notices) {
		if !reflect.DeepEqual(st.Notices[id], other.Notices[id]) {
			out = append(out, fmt.Sprintf("messages of user %s differ (%d, then %d)", id, len(st.Notices[id]), len(other.Notices[id])))
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
