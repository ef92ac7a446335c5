package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

func message(kind userinfo.MessageKind) userinfo.Message {
	return userinfo.Message{
		ID: newID("m-"), Kind: kind, To: "new@example.com", UserID: newID("u-"), Field: "email",
		PendingID: newID("p-"), At: fixedNow, ExpiresAt: fixedNow.Add(15 * time.Minute),
		SourceIP: "192.0.2.1", RequestID: "req-1",
	}
}

// TestOutbox: the notifier's view of the table: a message reads back as
// written, is marked delivered once, and a code's hash lands only on the
// pending change it is for while that change lasts.
func TestOutbox(t *testing.T) {
	ctx := context.Background()
	s := newStore(client)
	t.Run("MessageRoundTrip", func(t *testing.T) {
		m := message(userinfo.MsgVerifyEmail)
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, delivered, err := s.Message(ctx, m.ID)
		if err != nil || delivered {
			t.Fatalf("Message: %v, delivered %v", err, delivered)
		}
		if !got.At.Equal(m.At) || !got.ExpiresAt.Equal(m.ExpiresAt) {
			t.Errorf("times %v %v, want %v %v", got.At, got.ExpiresAt, m.At, m.ExpiresAt)
		}
		got.At, got.ExpiresAt = m.At, m.ExpiresAt
		if *got != m {
			t.Errorf("message %+v, want %+v", *got, m)
		}
		pk, sk := dynamo.OutboxKey(m.ID)
		raw, err := s.RawItem(ctx, pk, sk)
		if err != nil {
			t.Fatal(err)
		}
		if ttl, ok := raw[dynamo.TTLAttribute].(*types.AttributeValueMemberN); !ok || ttl.Value == "" {
			t.Errorf("no TTL on the outbox item: %v", raw)
		}
		if err := s.PutMessage(ctx, m); err == nil {
			t.Error("a message written twice under one id: want the transaction refused")
		}
	})
	t.Run("MarkDeliveredOnce", func(t *testing.T) {
		m := message(userinfo.MsgEmailChanged)
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := s.MarkDelivered(ctx, m.ID, fixedNow.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatalf("MarkDelivered #%d: %v", i+1, err)
			}
		}
		if _, delivered, err := s.Message(ctx, m.ID); err != nil || !delivered {
			t.Errorf("delivered %v, err %v", delivered, err)
		}
		if err := s.MarkDelivered(ctx, "no-such-message", fixedNow); err != nil {
			t.Errorf("marking a message gone: %v", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		if _, _, err := s.Message(ctx, "no-such-message"); userinfo.ErrorCode(err) != userinfo.ENOTFOUND {
			t.Errorf("err %v, want ENOTFOUND", err)
		}
	})
	t.Run("SetCode", func(t *testing.T) {
		m := message(userinfo.MsgVerifyEmail)
		if err := s.PutPending(ctx, m.UserID, m.Field, m.PendingID, fixedNow.Add(15*time.Minute)); err != nil {
			t.Fatal(err)
		}
		other := m
		other.PendingID = "replaced"
		for _, tt := range []struct {
			name string
			m    userinfo.Message
			now  time.Time
			want bool
		}{
			{"Replaced", other, fixedNow, false},
			{"Expired", m, fixedNow.Add(16 * time.Minute), false},
			{"Current", m, fixedNow, true},
		} {
			ok, err := s.SetCode(ctx, &tt.m, "salt", "hash-"+tt.name, tt.now)
			if err != nil || ok != tt.want {
				t.Errorf("%s: SetCode = %v, %v; want %v", tt.name, ok, err, tt.want)
			}
		}
		pk, sk := dynamo.PendingKey(m.UserID, m.Field)
		raw, err := s.RawItem(ctx, pk, sk)
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := raw["code_hash"].(*types.AttributeValueMemberS); h == nil || h.Value != "hash-Current" {
			t.Errorf("stored hash %v, want the current request's", raw["code_hash"])
		}
		if ok, err := s.SetCode(ctx, &userinfo.Message{UserID: newID("u-"), Field: "email", PendingID: "p"}, "s", "h", fixedNow); err != nil || ok {
			t.Errorf("no pending change: SetCode = %v, %v; want false", ok, err)
		}
	})
}

// TestNotifierStaysInGrants: what the notifier reads and writes is allowed
// by NotifierGrants, and every grant is used.
func TestNotifierStaysInGrants(t *testing.T) {
	ctx := context.Background()
	rc, seen := accessRecordingClient(t)
	seed, s := newStore(client), newStore(rc)
	m := message(userinfo.MsgVerifyEmail)
	if err := seed.PutMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := seed.PutPending(ctx, m.UserID, m.Field, m.PendingID, fixedNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Message(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetCode(ctx, &m, "salt", "hash", fixedNow); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, m.ID, fixedNow); err != nil {
		t.Fatal(err)
	}
	checkGrants(t, seen(), dynamo.NotifierGrants())
}

// TestOutboxID: only outbox items' stream records are messages.
func TestOutboxID(t *testing.T) {
	pk, _ := dynamo.OutboxKey("abc")
	rec := func(pk string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{dynamo.AttrPK: events.NewStringAttribute(pk)}}}
	}
	if id, ok := dynamo.OutboxID(rec(pk)); !ok || id != "abc" {
		t.Errorf("OutboxID = %q, %v", id, ok)
	}
	for _, other := range []string{"USER#abc", "DOMAIN#d"} {
		if _, ok := dynamo.OutboxID(rec(other)); ok {
			t.Errorf("%s taken for a message", other)
		}
	}
}
