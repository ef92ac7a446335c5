package dynamo_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// itemAccess is one item the request path touched: the IAM action that
// authorises it and the item's partition key.
type itemAccess struct{ action, pk string }

// accessRecordingClient returns a client that notes the action and
// partition key of every item each call touches, transaction items one by
// one, as IAM authorises them.
func accessRecordingClient(t *testing.T) (*dynamodb.Client, func() []itemAccess) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []itemAccess
	)
	note := func(action string, key map[string]types.AttributeValue) {
		pk, _ := key[dynamo.AttrPK].(*types.AttributeValueMemberS)
		if pk == nil {
			t.Errorf("%s without a string partition key", action)
			return
		}
		mu.Lock()
		seen = append(seen, itemAccess{action, pk.Value})
		mu.Unlock()
	}
	record := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordItems",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				switch p := in.Parameters.(type) {
				case *dynamodb.GetItemInput:
					note("dynamodb:GetItem", p.Key)
				case *dynamodb.UpdateItemInput:
					note("dynamodb:UpdateItem", p.Key)
				case *dynamodb.TransactWriteItemsInput:
					for _, it := range p.TransactItems {
						switch {
						case it.Put != nil:
							note("dynamodb:PutItem", it.Put.Item)
						case it.Update != nil:
							note("dynamodb:UpdateItem", it.Update.Key)
						case it.Delete != nil:
							note("dynamodb:DeleteItem", it.Delete.Key)
						case it.ConditionCheck != nil:
							note("dynamodb:ConditionCheckItem", it.ConditionCheck.Key)
						}
					}
				default:
					t.Errorf("unexpected call with %T", in.Parameters)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
	rc, err := awsconfig.NewClient(context.Background(), config.WithAPIOptions([]func(*middleware.Stack) error{record}))
	if err != nil {
		t.Fatal(err)
	}
	return rc, func() []itemAccess {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// stringLike reports whether s matches the IAM StringLike pattern p: *
// stands for any run of characters, ? for one.
func stringLike(p, s string) bool {
	re := regexp.QuoteMeta(p)
	re = strings.ReplaceAll(re, `\*`, ".*")
	re = strings.ReplaceAll(re, `\?`, ".")
	return regexp.MustCompile("^" + re + "$").MatchString(s)
}

// runRequestPath takes the request path through every branch with the
// client rc: taken, applied (both old values released) and stale changes,
// and in an account that verifies changes a request of both values, a
// wrong code and the right one.
func runRequestPath(t *testing.T, rc *dynamodb.Client) {
	t.Helper()
	ctx := context.Background()
	seed := newStore(client)
	domain := newID("d-")
	u := seedUser(t, seed, domain, "grants@example.com", "+86", "13200000010")
	seedUser(t, seed, domain, "taken-grants@example.com", "", "")

	s := newStore(rc)
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"taken-grants@example.com", "new-grants@example.com", "stale-grants@example.com"} {
		c := change(u)
		c.Email = email(addr)
		c.Mobile = mobile("+86", "13200000011")
		c.Messages = []userinfo.Message{message(userinfo.MsgEmailChanged)}
		c.Messages[0].UserID = u.ID
		_ = s.ApplyChange(ctx, c)
	}
	w := newVerifyWorld(t)
	w.s = newStore(rc)
	w.svc = userinfo.NewService(w.s, func() time.Time { return w.now })
	cur, err := w.s.GetUser(ctx, w.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.UpdateContact(ctx, w.principal(w.alice), cur, userinfo.Update{Email: ptr("grants-new@example.com"), Mobile: ptr("0086-13200000030")}, userinfo.RequestMeta{RequestID: newID("r-")}); err != nil {
		t.Fatal(err)
	}
	w.deliver(t, w.alice, "123456")
	_ = w.verify(t, w.alice, "000000")
	if err := w.verify(t, w.alice, "123456"); err != nil {
		t.Fatal(err)
	}
}

// TestRequestPathStaysInGrants: every item the request path reads or writes
// is allowed by a Grant (the role derived from Grants is not short), and
// every action and key pattern of Grants is used (it is not loose).
func TestRequestPathStaysInGrants(t *testing.T) {
	rc, seen := accessRecordingClient(t)
	runRequestPath(t, rc)
	checkGrants(t, seen(), dynamo.Grants())
}

// checkGrants fails t when an access is allowed by no grant, or a grant's
// action and pattern is never used.
func checkGrants(t *testing.T, seen []itemAccess, grants []dynamo.Grant) {
	t.Helper()
	used := map[string]bool{} // action + " " + pattern
	for _, a := range seen {
		allowed := false
		for _, g := range grants {
			if !slices.Contains(g.Actions, a.action) {
				continue
			}
			for _, p := range g.LeadingKeys {
				if stringLike(p, a.pk) {
					allowed = true
					used[a.action+" "+p] = true
				}
			}
		}
		if !allowed {
			t.Errorf("%s on partition %q is allowed by no grant", a.action, a.pk)
		}
	}
	for _, g := range grants {
		for _, action := range g.Actions {
			for _, p := range g.LeadingKeys {
				if !used[action+" "+p] {
					t.Errorf("grant of %s on %q is never used", action, p)
				}
			}
		}
	}
}

func TestStringLike(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		want bool
	}{
		{"USER#*", "USER#abc", true},
		{"USER#*", "DOMAIN#d", false},
		{"DOMAIN#*#EMAIL#*", "DOMAIN#d#EMAIL#a@b", true},
		{"DOMAIN#*#EMAIL#*", "DOMAIN#d", false},
		{"DOMAIN#*", "DOMAIN#d#PHONE#+86", true},
		{"a?c", "abc", true},
		{"a.c", "abc", false},
	} {
		if got := stringLike(tt.p, tt.s); got != tt.want {
			t.Errorf("stringLike(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}
