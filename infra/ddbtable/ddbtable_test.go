package ddbtable_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal/ddbtest"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// table is the one table every test shares; tests stay apart by using
// fresh random user and domain ids.
const table = "ddbtable-test"

var client *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(ddbtest.Run(m, "ddbtable", func(ctx context.Context, _ string, c *dynamodb.Client) error {
		client = c
		return ddbtable.Create(ctx, client, table)
	}))
}

// newID and seedUser are ddbtest's: ids and users of tests that share the
// table.
var newID, seedUser = ddbtest.NewID, ddbtest.SeedUser

var fixedNow = time.Now().UTC().Truncate(time.Second)

func newStore(c *dynamodb.Client) *ddbtable.Table {
	return ddbtable.New(c, table, dynamo.Options{Now: func() time.Time { return fixedNow }})
}

func putAccount(t *testing.T, s *ddbtable.Table, a userinfo.Account) {
	t.Helper()
	if err := s.PutAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// assertGuardsMatchUsers checks that the guards of the account are exactly
// those of the values the given users hold, under the keys they hold them by.
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

func keySchema(ks []types.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return out
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	t.Run("ExistingTableOK", func(t *testing.T) {
		if err := ddbtable.Create(ctx, client, table); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SchemaMatchesDefinition", func(t *testing.T) {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		def := ddbtable.Definition(table)
		if got, want := fmt.Sprint(keySchema(out.Table.KeySchema)), fmt.Sprint(keySchema(def.KeySchema)); got != want {
			t.Errorf("key schema = %s, want %s", got, want)
		}
		if out.Table.BillingModeSummary == nil || out.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", out.Table.BillingModeSummary)
		}
	})
	t.Run("TTLOnExpiresAt", func(t *testing.T) {
		out, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("DescribeTimeToLive: %v", err)
		}
		d := out.TimeToLiveDescription
		if d == nil || aws.ToString(d.AttributeName) != dynamo.TTLAttribute || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Errorf("TTL = %+v, want ENABLED on %s", d, dynamo.TTLAttribute)
		}
	})
}

func TestUpsertUser(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	domain := newID("d-")
	t.Run("ReplacesAndMovesGuards", func(t *testing.T) {
		u := seedUser(t, s, domain, "one@example.com", "+86", "13100000001")
		next := *u
		next.Email, next.Phone = "two@example.com", "13100000002"
		next.CreatedAt, next.UpdatedAt = time.Time{}, time.Time{}
		if err := s.UpsertUser(ctx, next); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != u.Version+1 || !got.CreatedAt.Equal(u.CreatedAt) || got.Email != "two@example.com" {
			t.Errorf("after upsert = %+v (before %+v)", *got, *u)
		}
		assertGuardsMatchUsers(t, s, domain, u.ID)
	})
	// Seeding keys values as the API does: another spelling of a held
	// value is the same value.
	t.Run("ErrEmailTaken", func(t *testing.T) {
		seedUser(t, s, domain, "held@example.com", "", "")
		for _, look := range []string{"HELD@example.com", "ｈｅｌｄ@example.com", "held@EXAMPLE.com"} {
			err := s.UpsertUser(ctx, userinfo.User{ID: newID("u-"), DomainID: domain, Email: look, Enabled: true})
			if userinfo.ErrorCode(err) != userinfo.ECONFLICT || userinfo.ErrorField(err) != "email" {
				t.Fatalf("%s: err = %v, want ECONFLICT on email", look, err)
			}
		}
	})
	t.Run("ErrPhoneTaken", func(t *testing.T) {
		seedUser(t, s, domain, "", "+1", "2025550100")
		for _, look := range []string{"2025550100", "12025550100"} {
			err := s.UpsertUser(ctx, userinfo.User{ID: newID("u-"), DomainID: domain, AreaCode: "+1", Phone: look, Enabled: true})
			if userinfo.ErrorCode(err) != userinfo.ECONFLICT || userinfo.ErrorField(err) != "phone" {
				t.Fatalf("%s: err = %v, want ECONFLICT on phone", look, err)
			}
		}
	})
	t.Run("ErrValueTheRulesRefuse", func(t *testing.T) {
		err := s.UpsertUser(ctx, userinfo.User{ID: newID("u-"), DomainID: domain, Email: "zero\u200bwidth@example.com", Enabled: true})
		if userinfo.ErrorCode(err) != userinfo.EINVALID || userinfo.ErrorField(err) != "email" {
			t.Fatalf("err = %v, want EINVALID on email", err)
		}
	})
	t.Run("DeleteReleasesGuards", func(t *testing.T) {
		d := newID("d-")
		u := seedUser(t, s, d, "gone@example.com", "+86", "13100000009")
		if err := s.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, u.ID); err != nil {
			t.Fatalf("second DeleteUser: %v", err)
		}
		if g, err := s.Guards(ctx, d); err != nil || len(g) != 0 {
			t.Errorf("guards after delete = %+v, %v", g, err)
		}
	})
}

func TestAccount(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	t.Run("MissingMeansAllowed", func(t *testing.T) {
		a, err := s.GetAccount(ctx, newID("d-"))
		if err != nil || !a.ManageEmail || !a.ManageMobile {
			t.Fatalf("GetAccount = %+v, %v", a, err)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		want := userinfo.Account{DomainID: newID("d-"), ManageEmail: false, ManageMobile: true}
		putAccount(t, s, want)
		a, err := s.GetAccount(ctx, want.DomainID)
		if err != nil || *a != want {
			t.Fatalf("GetAccount = %+v, %v; want %+v", a, err, want)
		}
	})
}

// TestOperations checks that Operations is exactly what the tools call.
func TestOperations(t *testing.T) {
	ctx := context.Background()

	rc, seen := ddbtest.RecordingClient(t)
	name := newID("seed-table-")
	if err := ddbtable.Create(ctx, rc, name); err != nil {
		t.Fatal(err)
	}
	s := ddbtable.New(rc, name, dynamo.Options{})
	domain := newID("d-")
	u := userinfo.User{ID: newID("u-"), DomainID: domain, Email: "seed@example.com", Enabled: true}
	if err := s.UpsertUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccount(ctx, userinfo.Account{DomainID: domain}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccount(ctx, domain); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Guards(ctx, domain); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuditRecords(ctx, u.ID, fixedNow, fixedNow); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got := seen(); !reflect.DeepEqual(got, ddbtable.Operations()) {
		t.Errorf("seeding called %v, want SeedOperations() = %v", got, ddbtable.Operations())
	}
}
