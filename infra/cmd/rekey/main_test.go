package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal/ddbtest"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/tablecheck"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

var client *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(ddbtest.Run(m, "rekey", func(_ context.Context, _ string, c *dynamodb.Client) error {
		client = c
		return nil
	}))
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// putLegacyUser writes a user as the code before key versions did: the
// item without email_key and phone_key, and version 1 guards keyed by the
// lower-cased email and by the country code followed by the digits as
// sent. The layouts are spelt out here on purpose: they are what old
// tables hold, whatever the code now writes.
func putLegacyUser(t *testing.T, table, id, domain, email, areaCode, phone string) {
	t.Helper()
	ctx := context.Background()
	it := map[string]types.AttributeValue{
		"pk": s("USER#" + id), "sk": s("#USER"), "user_id": s(id), "domain_id": s(domain),
		"enabled": &types.AttributeValueMemberBOOL{Value: true}, "version": &types.AttributeValueMemberN{Value: "4"},
		"email_verified": &types.AttributeValueMemberBOOL{Value: true}, "phone_verified": &types.AttributeValueMemberBOOL{Value: true},
		"created_at": s("2025-01-01T00:00:00.000000000Z"), "updated_at": s("2025-01-01T00:00:00.000000000Z"),
	}
	guards := map[string]string{}
	if email != "" {
		it["email"] = s(email)
		guards["DOMAIN#"+domain+"#EMAIL#"+strings.ToLower(email)] = id
	}
	if phone != "" {
		it["areacode"], it["phone"] = s(areaCode), s(phone)
		guards["DOMAIN#"+domain+"#PHONE#"+areaCode+phone] = id
	}
	put := func(item map[string]types.AttributeValue) {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	put(it)
	for pk, owner := range guards {
		put(map[string]types.AttributeValue{"pk": s(pk), "sk": s("#GUARD"), "user_id": s(owner), "domain_id": s(domain)})
	}
}

// TestRekey re-keys a table written by the code before key versions, with
// every kind of value the report knows: values that move, look-alikes that
// now share a key (between two legacy users, and between a legacy user and
// one already keyed), a value the rules now refuse, a stray guard.
func TestRekey(t *testing.T) {
	ctx := context.Background()
	table := ddbtest.NewID("rekey-")
	if err := ddbtable.Create(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	store := ddbtable.New(client, table, dynamo.Options{})
	d1, d2 := ddbtest.NewID("d-"), ddbtest.NewID("d-")
	putLegacyUser(t, table, "u1", d1, "Alice@Example.com", "+44", "07911123456") // both move
	putLegacyUser(t, table, "u2", d1, "bob@example.com", "", "")                 // u2 and u3: one key
	putLegacyUser(t, table, "u3", d1, "ｂｏｂ@example.com", "", "")
	putLegacyUser(t, table, "u4", d2, "bob@example.com", "", "")                      // another account: moves
	putLegacyUser(t, table, "u5", d1, "zw\u200bsp@example.com", "+86", "13800000001") // email refused, phone moves
	putLegacyUser(t, table, "u6", d1, "", "+86", "13800000055")                       // u6 and u7: one E.164
	putLegacyUser(t, table, "u7", d1, "", "+86", "013800000055")
	// u8 was keyed by the current code; u9's legacy address has its key.
	if err := store.UpsertUser(ctx, userinfo.User{ID: "u8", DomainID: d1, Email: "carol@example.com", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	putLegacyUser(t, table, "u9", d1, "Carol@example.com", "", "")
	// A guard whose owner does not hold its value.
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": s("DOMAIN#" + d1 + "#EMAIL#stray@example.com"), "sk": s("#GUARD"), "user_id": s("u1"), "domain_id": s(d1),
	}}); err != nil {
		t.Fatal(err)
	}
	ids := []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"}
	read := func() *tablecheck.State {
		st, err := tablecheck.Read(ctx, client, table, []string{d1, d2}, ids)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	t.Run("DryRunWritesNothing", func(t *testing.T) {
		before := read()
		var out bytes.Buffer
		err := run(ctx, []string{"-table", table, "-dry-run"}, os.Getenv, &out)
		if !errors.Is(err, errAttention) || !strings.Contains(out.String(), "4 to move (dry run)") {
			t.Fatalf("run = %v\n%s", err, out.String())
		}
		if after := read(); !before.Equal(after) {
			t.Errorf("a dry run wrote: %s", before.Diff(after))
		}
	})

	var first bytes.Buffer
	t.Run("MovesAndReports", func(t *testing.T) {
		err := run(ctx, []string{"-table", table}, os.Getenv, &first)
		if !errors.Is(err, errAttention) {
			t.Fatalf("run = %v, want the operator's attention\n%s", err, first.String())
		}
		out := first.String()
		for _, want := range []string{
			"9 users read", "1 values already under their current key, 4 moved",
			"collision: account " + d1 + ", email: one key for users [u2 u3] (no user holds it yet)",
			"collision: account " + d1 + ", phone: one key for users [u6 u7] (no user holds it yet)",
			"collision: account " + d1 + ", email: one key for users [u9] (held by user u8)",
			"invalid: account " + d1 + ", email of user u5",
			"orphan: account " + d1 + ", email guard (key version 1) of user u1",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the report lacks %q:\n%s", want, out)
			}
		}
		for _, secret := range []string{"alice", "bob", "carol", "7911123456", "13800000055", "stray"} {
			if strings.Contains(strings.ToLower(out), secret) {
				t.Errorf("the report names a value (%s):\n%s", secret, out)
			}
		}
		st := read()
		u1 := st.Users["u1"]
		if u1.EmailKey != userinfo.CurrentKey("alice@example.com") || u1.PhoneKey != userinfo.CurrentKey("+447911123456") || u1.Version != 6 {
			t.Errorf("u1 = %+v, want both keys current and the version bumped twice", u1)
		}
		for _, id := range []string{"u2", "u3", "u6", "u7", "u9"} {
			if u := st.Users[id]; u.EmailKey.Version > 1 || u.PhoneKey.Version > 1 || u.Version != 4 {
				t.Errorf("%s of a collision was moved: %+v", id, u)
			}
		}
		if u5 := st.Users["u5"]; u5.EmailKey.Version != 1 || u5.PhoneKey != userinfo.CurrentKey("+8613800000001") {
			t.Errorf("u5 = %+v, want its refused email left, its phone moved", u5)
		}
		// Every user's guards are where its item says, and nothing else
		// but the stray guard is left.
		want := map[ddbtable.Guard]bool{{Kind: dynamo.GuardEmail, Value: "stray@example.com", Version: 1, UserID: "u1", DomainID: d1}: true}
		for _, u := range st.Users {
			if u.Email != "" {
				want[ddbtable.Guard{Kind: dynamo.GuardEmail, Value: u.EmailKey.Value, Version: u.EmailKey.Version, UserID: u.ID, DomainID: u.DomainID}] = true
			}
			if u.Phone != "" {
				want[ddbtable.Guard{Kind: dynamo.GuardPhone, Value: u.PhoneKey.Value, Version: u.PhoneKey.Version, UserID: u.ID, DomainID: u.DomainID}] = true
			}
		}
		for _, g := range st.Guards {
			if !want[g] {
				t.Errorf("guard %+v is not a user's", g)
			}
			delete(want, g)
		}
		if len(want) != 0 {
			t.Errorf("missing guards: %v", want)
		}
	})

	t.Run("IdempotentSecondRun", func(t *testing.T) {
		before := read()
		var out bytes.Buffer
		err := run(ctx, []string{"-table", table}, os.Getenv, &out)
		if !errors.Is(err, errAttention) {
			t.Fatalf("run = %v", err)
		}
		if after := read(); !before.Equal(after) {
			t.Errorf("the second run wrote: %s", before.Diff(after))
		}
		// The same report, but nothing moved.
		want := strings.Replace(first.String(), "4 moved", "0 moved", 1)
		want = strings.Replace(want, "1 values already", "5 values already", 1)
		if out.String() != want {
			t.Errorf("second report:\n%s\nwant:\n%s", out.String(), want)
		}
	})

	t.Run("LegacyValuesStillReleased", func(t *testing.T) {
		// u3 was left under its version 1 key; changing its email through
		// the store releases that guard and claims the current one.
		u3, err := store.GetUser(ctx, "u3")
		if err != nil {
			t.Fatal(err)
		}
		e, _ := userinfo.ParseEmail("dave@example.com")
		if err := store.ApplyChange(ctx, userinfo.Change{User: u3, Email: &e, Actor: userinfo.Principal{UserID: "u3", DomainID: d1}}); err != nil {
			t.Fatal(err)
		}
		gs, err := store.Guards(ctx, d1)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.UserID == "u3" && (g.Version != userinfo.KeyVersion || g.Value != "dave@example.com") {
				t.Errorf("u3 still holds %+v", g)
			}
		}
	})

	t.Run("CleanTableExitsZero", func(t *testing.T) {
		clean := ddbtest.NewID("rekey-clean-")
		if err := ddbtable.Create(ctx, client, clean); err != nil {
			t.Fatal(err)
		}
		putLegacyUser(t, clean, "u1", d1, "Erin@Example.com", "+7", "89123456789")
		var out bytes.Buffer
		if err := run(ctx, []string{"-table", clean}, os.Getenv, &out); err != nil {
			t.Fatalf("run = %v\n%s", err, out.String())
		}
		if err := run(ctx, []string{"-table", clean}, os.Getenv, &out); err != nil || !strings.Contains(out.String(), "2 values already under their current key, 0 moved") {
			t.Fatalf("second run = %v\n%s", err, out.String())
		}
	})
}
