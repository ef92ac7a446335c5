package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal/ddbtest"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func TestGetUser(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := s.GetUser(ctx, newID("missing-"))
		if userinfo.ErrorCode(err) != userinfo.ENOTFOUND {
			t.Fatalf("err = %v, want ENOTFOUND", err)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		u := userinfo.User{
			ID: newID("u-"), DomainID: newID("d-"), Name: "Zoë",
			Email: "zoe@example.com", EmailVerified: true, AreaCode: "+33", Phone: "612345678",
			Enabled: true, TokensRevokedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
			CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2025, 6, 1, 0, 0, 0, 500, time.UTC),
		}
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		u.Version = 1
		u.EmailKey, u.PhoneKey = userinfo.CurrentKey("zoe@example.com"), userinfo.CurrentKey("+33612345678")
		if !reflect.DeepEqual(*got, u) {
			t.Errorf("GetUser = %+v\nwant %+v", *got, u)
		}
	})
	t.Run("ItemWithoutKeysHoldsVersion1Keys", func(t *testing.T) {
		// As the code before key versions wrote users.
		u := seedUser(t, s, newID("d-"), "Old.Style@Example.com", "+44", "07911123456")
		removeAttribute(t, u.ID, "email_key")
		removeAttribute(t, u.ID, "phone_key")
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.EmailKey != (userinfo.Key{Version: 1, Value: "old.style@example.com"}) || got.PhoneKey != (userinfo.Key{Version: 1, Value: "+4407911123456"}) {
			t.Errorf("keys = %+v, %+v", got.EmailKey, got.PhoneKey)
		}
	})
	// A user item the code cannot trust is a data error (500, logged with
	// the attribute's name), never "not found" nor a lost race.
	for name, spoil := range map[string]func(t *testing.T, id string){
		"ErrVersionMissing": func(t *testing.T, id string) { removeAttribute(t, id, "version") },
		"ErrVersionZero": func(t *testing.T, id string) {
			setAttribute(t, id, "version", &types.AttributeValueMemberN{Value: "0"})
		},
		"ErrVersionNotANumber":  func(t *testing.T, id string) { setAttribute(t, id, "version", avS("3")) },
		"ErrRevokedAtOtherForm": func(t *testing.T, id string) { setAttribute(t, id, "tokens_revoked_at", avS("2026-01-02T03:04:05Z")) },
		"ErrEmailKeyMalformed":  func(t *testing.T, id string) { setAttribute(t, id, "email_key", avS("bob@example.com")) },
		"ErrEnabledMissing":     func(t *testing.T, id string) { removeAttribute(t, id, "enabled") },
		"ErrDomainNotAString": func(t *testing.T, id string) {
			setAttribute(t, id, "domain_id", &types.AttributeValueMemberN{Value: "7"})
		},
		"ErrVerifiedNotABool": func(t *testing.T, id string) { setAttribute(t, id, "email_verified", avS("true")) },
	} {
		t.Run(name, func(t *testing.T) {
			u := seedUser(t, s, newID("d-"), "spoilt@example.com", "", "")
			spoil(t, u.ID)
			_, err := s.GetUser(ctx, u.ID)
			if userinfo.ErrorCode(err) != userinfo.EINTERNAL || !strings.Contains(err.Error(), "attribute") {
				t.Errorf("err = %v, want an internal error naming the attribute", err)
			}
			if strings.Contains(err.Error(), "spoilt") {
				t.Errorf("the error quotes a value: %v", err)
			}
		})
	}
}

func TestAuditRecordsByTime(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	u := seedUser(t, s, newID("d-"), "a0@example.com", "", "")
	// Whole and fractional seconds: RFC3339Nano would write the first as
	// "...:05Z", which sorts after "...:05.5Z".
	base := fixedNow.Add(-time.Hour) // whole seconds
	times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(time.Second), base.Add(time.Minute)}
	for i, at := range times {
		c := change(u)
		c.At = at
		c.Email = email(fmt.Sprintf("a%d@example.com", i+1))
		if err := s.ApplyChange(ctx, c); err != nil {
			t.Fatal(err)
		}
		var err error
		if u, err = s.GetUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []time.Time
	}{
		{"AllInOrder", base, times[3], times},
		{"BoundsInclusive", times[1], times[2], times[1:3]},
		{"Empty", base.Add(2 * time.Second), base.Add(3 * time.Second), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.AuditRecords(ctx, u.ID, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Time
			for _, r := range recs {
				got = append(got, r.At)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestApplyChangeConcurrentSameEmail races 20 users of one account for one
// address. Losers that get StaleError (a TransactionConflict) re-read and
// retry, as the service does; in the end exactly one holds the address.
func TestApplyChangeConcurrentSameEmail(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	domain := newID("d-")
	const n = 20
	users := make([]*userinfo.User, n)
	ids := make([]string, n)
	for i := range users {
		users[i] = seedUser(t, s, domain, fmt.Sprintf("user%d@example.com", i), "", "")
		ids[i] = users[i].ID
	}
	errs := make([]error, n)
	var retries atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range users {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			u := users[i]
			for attempt := 0; attempt < 10; attempt++ {
				c := change(u)
				c.Email = email("Wanted@example.com")
				errs[i] = s.ApplyChange(ctx, c)
				var stale *userinfo.StaleError
				if !errors.As(errs[i], &stale) {
					return
				}
				retries.Add(1)
				if u, errs[i] = s.GetUser(ctx, u.ID); errs[i] != nil {
					return
				}
			}
		}(i)
	}
	close(start)
	wg.Wait()

	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case userinfo.ErrorCode(err) != userinfo.ECONFLICT || userinfo.ErrorField(err) != "email":
			t.Errorf("user %d: %v, want success or ECONFLICT", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d winners, want exactly 1", winners)
	}
	t.Logf("%d StaleError retries along the way", retries.Load())
	assertGuardsMatchUsers(t, s, domain, ids...)
}

// assertGuardsMatchUsers checks the uniqueness invariant of an account:
// every value of the given users has a guard owned by that user under the
// key the user holds it by, and every guard of the account belongs to a
// value a user holds.
func assertGuardsMatchUsers(t *testing.T, s *ddbtable.Table, domain string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	want := map[ddbtable.Guard]bool{}
	for _, id := range ids {
		u, err := s.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "" {
			want[ddbtable.Guard{Kind: dynamo.GuardEmail, Value: u.EmailKey.Value, Version: u.EmailKey.Version, UserID: id, DomainID: domain}] = true
		}
		if u.Phone != "" {
			want[ddbtable.Guard{Kind: dynamo.GuardPhone, Value: u.PhoneKey.Value, Version: u.PhoneKey.Version, UserID: id, DomainID: domain}] = true
		}
	}
	guards, err := s.Guards(ctx, domain)
	if err != nil {
		t.Fatal(err)
	}
	got := map[ddbtable.Guard]bool{}
	for _, g := range guards {
		got[g] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("guards = %v\nwant %v", got, want)
	}
}

// TestOperations checks that the exported operation lists are exactly what
// the code calls, so an IAM policy derived from them is neither short nor
// loose.
func TestOperations(t *testing.T) {
	t.Run("RequestPath", func(t *testing.T) {
		rc, seen := ddbtest.RecordingClient(t)
		runRequestPath(t, rc)
		if got := seen(); !reflect.DeepEqual(got, dynamo.Operations()) {
			t.Errorf("request path called %v, Operations() = %v", got, dynamo.Operations())
		}
	})
}
