package app_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestAuditTrail checks the audit records the API writes, as an operator
// reads them: by user id and time window, saying who changed which fields
// when and from where, with masked values only, and expiring after the
// retention configured through AUDIT_RETENTION_DAYS (7 days here, not the
// default 400, so the value is seen to travel from the environment
// through app.New into the store).
func TestAuditTrail(t *testing.T) {
	const retention = 7 * 24 * time.Hour
	e := newEnv(t, "", "AUDIT_RETENTION_DAYS=7")
	seedStandard(e)
	ctx := context.Background()
	alice, bob := e.token(aliceID, domainA), e.token(bobID, domainA)
	const newEmail, newPhone = "alice.audit@example.com", "7700900999"
	e.secret(newEmail, newPhone, "bob.audit@example.com")

	start := time.Now()
	// Spoofable headers: neither may become the audit's source or id.
	spoof := map[string]string{"Content-Type": "application/json", "X-Auth-Token": alice, "X-Forwarded-For": "198.51.100.7", "X-Request-Id": "forged"}
	sent := []struct {
		user, token, body string
		status            int
	}{
		{aliceID, alice, userBody(`"email":"` + newEmail + `"`), http.StatusNoContent},
		{aliceID, alice, userBody(`"areacode":"+44","phone":"` + newPhone + `"`), http.StatusNoContent},
		{bobID, bob, userBody(`"email":"bob.audit@example.com"`), http.StatusNoContent},
		{aliceID, alice, userBody(`"email":"bob.audit@example.com"`), http.StatusConflict}, // refused: no record
		{aliceID, alice, userBody(`"email":"` + newEmail + `"`), http.StatusNoContent},     // no change: no record
		{aliceID, bob, userBody(`"email":"x@example.com"`), http.StatusForbidden},          // not hers: no record
	}
	var ids []string
	for i, s := range sent {
		spoof["X-Auth-Token"] = s.token
		r := e.do(http.MethodPut, path(s.user), spoof, strings.NewReader(s.body))
		if r.status != s.status {
			t.Fatalf("request %d: got %d %s, want %d", i, r.status, r.body, s.status)
		}
		ids = append(ids, r.header.Get("X-Request-Id"))
	}
	end := time.Now()

	recs, err := e.store.AuditRecords(ctx, aliceID, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("alice has %d audit records, want 2 (the refused and the unchanged requests write none): %+v", len(recs), recs)
	}
	want := []ddbtable.AuditRecord{
		{UserID: aliceID, ActorUserID: aliceID, ActorDomainID: domainA, RequestID: ids[0], SourceIP: "127.0.0.1",
			Fields: []string{"email"}, Email: userinfo.MaskEmail(newEmail)},
		{UserID: aliceID, ActorUserID: aliceID, ActorDomainID: domainA, RequestID: ids[1], SourceIP: "127.0.0.1",
			Fields: []string{"areacode", "phone"}, AreaCode: "+44", Phone: userinfo.MaskPhone(newPhone)},
	}
	for i, rec := range recs {
		if rec.At.Before(start) || rec.At.After(end) {
			t.Errorf("record %d at %v, outside the requests' %v..%v", i, rec.At, start, end)
		}
		if want := time.Unix(rec.At.Add(retention).Unix(), 0).UTC(); !rec.ExpiresAt.Equal(want) {
			t.Errorf("record %d expires %v, want its time + 7 days, %v", i, rec.ExpiresAt, want)
		}
		got := rec
		got.At, got.ExpiresAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("record %d = %+v\nwant       %+v", i, got, want[i])
		}
	}
	if recs[0].Email != "a***@e***.com" || recs[1].Phone != "***0999" {
		t.Errorf("masked values %q, %q; want a***@e***.com and ***0999", recs[0].Email, recs[1].Phone)
	}

	t.Run("TimeWindows", func(t *testing.T) {
		first, second := recs[0].At, recs[1].At
		windows := []struct {
			name     string
			from, to time.Time
			want     []string // request ids
		}{
			{"BeforeAll", start.Add(-time.Hour), start.Add(-time.Nanosecond), nil},
			{"AfterAll", end.Add(time.Nanosecond), end.Add(time.Hour), nil},
			{"ExactlyFirst", first, first, ids[:1]},
			{"FromSecond", second, end, ids[1:2]},
			{"UpToJustBeforeSecond", start, second.Add(-time.Nanosecond), ids[:1]},
			{"Both", first, second, ids[:2]},
		}
		for _, w := range windows {
			got, err := e.store.AuditRecords(ctx, aliceID, w.from, w.to)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.RequestID)
			}
			if !reflect.DeepEqual(gotIDs, w.want) {
				t.Errorf("%s: request ids %v, want %v", w.name, gotIDs, w.want)
			}
		}
	})
	t.Run("ByUser", func(t *testing.T) {
		got, err := e.store.AuditRecords(ctx, bobID, start, end)
		if err != nil || len(got) != 1 || got[0].RequestID != ids[2] || got[0].UserID != bobID {
			t.Fatalf("bob's records %+v (%v), want only request %s", got, err, ids[2])
		}
		none, err := e.store.AuditRecords(ctx, carolID, start, end)
		if err != nil || len(none) != 0 {
			t.Errorf("carol's records %+v (%v), want none", none, err)
		}
	})
	t.Run("StoredMaskedWithNumericTTL", func(t *testing.T) {
		// Read the items raw: what an operator with table access sees.
		out, err := e.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(e.table),
			KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :audit)"),
			ExpressionAttributeNames:  map[string]string{"#pk": dynamo.AttrPK, "#sk": dynamo.AttrSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "USER#" + aliceID}, ":audit": &types.AttributeValueMemberS{Value: "AUDIT#"}},
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil || len(out.Items) != 2 {
			t.Fatalf("raw audit items: %d, %v", len(out.Items), err)
		}
		for _, it := range out.Items {
			// DynamoDB's TTL only acts on a Number of epoch seconds.
			if _, ok := it[dynamo.TTLAttribute].(*types.AttributeValueMemberN); !ok {
				t.Errorf("%s is %T, want a Number", dynamo.TTLAttribute, it[dynamo.TTLAttribute])
			}
			for name, av := range it {
				s, _ := av.(*types.AttributeValueMemberS)
				for _, plain := range []string{newEmail, newPhone, "alice@example.com", "18292010816"} {
					if s != nil && strings.Contains(s.Value, plain) {
						t.Errorf("attribute %s holds %q in clear", name, plain)
					}
				}
			}
		}
		ttl, err := e.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(e.table)})
		if err != nil {
			t.Fatal(err)
		}
		if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != dynamo.TTLAttribute || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Errorf("table TTL = %+v, want enabled on %s", d, dynamo.TTLAttribute)
		}
	})
}
