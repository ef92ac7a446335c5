package notify_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iam-userinfo/userinfo/internal/notify"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// scriptedStore is a unit-test double for the notifier's control flow: an
// outbox in memory and a pending change per message. The real store is
// tested against DynamoDB Local, end to end.
type scriptedStore struct {
	mu        sync.Mutex
	messages  map[string]*userinfo.Message
	delivered map[string]bool
	pending   map[string]bool // pending id → still pending
	codes     map[string][2]string
	failGet   error
}

func (s *scriptedStore) Message(_ context.Context, id string) (*userinfo.Message, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGet != nil {
		return nil, false, s.failGet
	}
	m, ok := s.messages[id]
	if !ok {
		return nil, false, userinfo.Errorf(userinfo.ENOTFOUND, "No such message.")
	}
	c := *m
	return &c, s.delivered[id], nil
}

func (s *scriptedStore) SetCode(_ context.Context, m *userinfo.Message, salt, hash string, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pending[m.PendingID] {
		return false, nil
	}
	s.codes[m.PendingID] = [2]string{salt, hash}
	return true, nil
}

func (s *scriptedStore) MarkDelivered(_ context.Context, id string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered[id] = true
	return nil
}

type sent struct{ channel, to, subject, text string }

// recorder sends into a slice, failing the first fail calls.
type recorder struct {
	mu   sync.Mutex
	sent []sent
	fail int
}

func (r *recorder) SendEmail(_ context.Context, to, subject, text string) error {
	return r.record(sent{"email", to, subject, text})
}

func (r *recorder) SendSMS(_ context.Context, to, text string) error {
	return r.record(sent{"sms", to, "", text})
}

func (r *recorder) record(s sent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		// As SES words a refusal: the address in the text.
		return errors.New("provider: MessageRejected: identities failed the check: " + s.to)
	}
	r.sent = append(r.sent, s)
	return nil
}

var at = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func newStore() *scriptedStore {
	return &scriptedStore{
		messages: map[string]*userinfo.Message{
			"code-email": {ID: "code-email", Kind: userinfo.MsgVerifyEmail, To: "new@example.com", UserID: "u1", Field: "email",
				PendingID: "p1", At: at, ExpiresAt: at.Add(15 * time.Minute), SourceIP: "192.0.2.1", RequestID: "req-1"},
			"code-sms": {ID: "code-sms", Kind: userinfo.MsgVerifyMobile, To: "+8613800000055", UserID: "u1", Field: "mobile",
				PendingID: "p2", At: at, ExpiresAt: at.Add(15 * time.Minute), SourceIP: "192.0.2.1", RequestID: "req-2"},
			"notice": {ID: "notice", Kind: userinfo.MsgEmailChanged, To: "old@example.com", UserID: "u1", Field: "email",
				NewValue: "n***@e***.com", At: at, SourceIP: "192.0.2.1", RequestID: "req-3"},
			"stale-code": {ID: "stale-code", Kind: userinfo.MsgVerifyEmail, To: "new@example.com", UserID: "u1", Field: "email",
				PendingID: "p0", At: at, ExpiresAt: at.Add(15 * time.Minute)},
		},
		delivered: map[string]bool{},
		pending:   map[string]bool{"p1": true, "p2": true},
		codes:     map[string][2]string{},
	}
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

func TestDeliver(t *testing.T) {
	ctx := context.Background()
	t.Run("CodeToNewEmailHashStored", func(t *testing.T) {
		st, out := newStore(), &recorder{}
		n := notify.New(st, out, out, nil, func() time.Time { return at })
		if err := n.Deliver(ctx, "code-email"); err != nil {
			t.Fatal(err)
		}
		if len(out.sent) != 1 || out.sent[0].channel != "email" || out.sent[0].to != "new@example.com" {
			t.Fatalf("sent %+v", out.sent)
		}
		code := sixDigits.FindString(out.sent[0].text)
		saltHash := st.codes["p1"]
		if code == "" || !userinfo.CodeMatches(code, saltHash[0], saltHash[1]) {
			t.Errorf("the code in %q does not match the stored hash", out.sent[0].text)
		}
		if strings.Contains(saltHash[1], code) || !st.delivered["code-email"] {
			t.Errorf("hash %q holds the code, or the message is not marked", saltHash[1])
		}
		if !strings.Contains(out.sent[0].text, "valid for 15 minutes") {
			t.Errorf("%q: want the lifetime in words", out.sent[0].text)
		}
	})
	t.Run("CodeBySMS", func(t *testing.T) {
		st, out := newStore(), &recorder{}
		if err := notify.New(st, out, out, nil, nil).Deliver(ctx, "code-sms"); err != nil {
			t.Fatal(err)
		}
		if len(out.sent) != 1 || out.sent[0].channel != "sms" || out.sent[0].to != "+8613800000055" || sixDigits.FindString(out.sent[0].text) == "" ||
			!strings.Contains(out.sent[0].text, "(valid 15 minutes)") {
			t.Errorf("sent %+v", out.sent)
		}
	})
	t.Run("NoticeHasNoCode", func(t *testing.T) {
		st, out := newStore(), &recorder{}
		if err := notify.New(st, out, out, nil, nil).Deliver(ctx, "notice"); err != nil {
			t.Fatal(err)
		}
		s := out.sent[0]
		if s.to != "old@example.com" || sixDigits.MatchString(s.text) || !strings.Contains(s.text, "n***@e***.com") ||
			!strings.Contains(s.text, "192.0.2.1") || !strings.Contains(s.text, "req-3") {
			t.Errorf("notice %+v: want the masked new value, source IP and request id, and no code", s)
		}
	})
	t.Run("DeliveredIsSkipped", func(t *testing.T) {
		st, out := newStore(), &recorder{}
		st.delivered["notice"] = true
		if err := notify.New(st, out, out, nil, nil).Deliver(ctx, "notice"); err != nil || len(out.sent) != 0 {
			t.Errorf("err %v, sent %d; want nothing sent again", err, len(out.sent))
		}
	})
	t.Run("SupersededIsDropped", func(t *testing.T) {
		st, out := newStore(), &recorder{}
		if err := notify.New(st, out, out, nil, nil).Deliver(ctx, "stale-code"); err != nil || len(out.sent) != 0 || !st.delivered["stale-code"] {
			t.Errorf("err %v, sent %d, marked %v; want nothing sent and the message closed", err, len(out.sent), st.delivered["stale-code"])
		}
	})
	t.Run("GoneIsNotAnError", func(t *testing.T) {
		st, out := newStore(), &recorder{}
		if err := notify.New(st, out, out, nil, nil).Deliver(ctx, "no-such"); err != nil {
			t.Error(err)
		}
	})
	t.Run("FailedSendStaysUndelivered", func(t *testing.T) {
		st, out := newStore(), &recorder{fail: 1}
		n := notify.New(st, out, out, nil, nil)
		if err := n.Deliver(ctx, "notice"); err == nil || st.delivered["notice"] {
			t.Fatalf("err %v, marked %v: want an error and the message still to deliver", err, st.delivered["notice"])
		}
		if err := n.Deliver(ctx, "notice"); err != nil || len(out.sent) != 1 {
			t.Errorf("retry: err %v, sent %d; want it sent once", err, len(out.sent))
		}
	})
}

// TestHandleStream: a batch stops at its first failure and reports that
// record, so Lambda retries from it; records that are not outbox items are
// skipped.
func TestHandleStream(t *testing.T) {
	st, out := newStore(), &recorder{}
	st.failGet = nil
	var logs bytes.Buffer
	n := notify.New(st, out, out, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
	rec := func(seq, id string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{SequenceNumber: seq, Keys: map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(id)}}}
	}
	idOf := func(r events.DynamoDBEventRecord) (string, bool) {
		id := r.Change.Keys["id"].String()
		return id, id != "not-outbox"
	}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec("1", "notice"), rec("2", "not-outbox"), rec("3", "code-email"), rec("4", "code-sms")}}
	out.fail = 0
	if resp := n.HandleStream(context.Background(), ev, idOf); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v", resp.BatchItemFailures)
	}
	if len(out.sent) != 3 {
		t.Fatalf("sent %d, want 3", len(out.sent))
	}

	st2, out2 := newStore(), &recorder{}
	n2 := notify.New(st2, out2, out2, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
	st2.delivered["notice"] = true
	out2.fail = 1 // code-email fails
	resp := n2.HandleStream(context.Background(), ev, idOf)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "3" || len(out2.sent) != 0 {
		t.Errorf("failures %+v, sent %d: want record 3 reported and nothing after it sent", resp.BatchItemFailures, len(out2.sent))
	}
	// Neither an address nor a code in the log.
	for _, secret := range []string{"new@example.com", "old@example.com", "+8613800000055"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %s:\n%s", secret, logs.String())
		}
	}
	if sixDigits.MatchString(logs.String()) {
		t.Errorf("the log holds six digits in a row:\n%s", logs.String())
	}
}
