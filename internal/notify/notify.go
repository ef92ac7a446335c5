// Package notify delivers the outbox: verification codes to a new email
// address or mobile number, notices to the old email address. It runs on
// the table's stream (DynamoDB Local's, locally). A message marked
// delivered is skipped when a batch is retried; one sent but not marked is
// sent again.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Store is what the notifier needs of the table.
type Store interface {
	// Message returns the outbox message id and whether it was delivered,
	// or an ENOTFOUND *userinfo.Error.
	Message(ctx context.Context, id string) (m *userinfo.Message, delivered bool, err error)
	// SetCode stores a code's salted hash on m's pending change, and
	// reports false when that change is no longer pending at now.
	SetCode(ctx context.Context, m *userinfo.Message, salt, hash string, now time.Time) (bool, error)
	// MarkDelivered records that message id was delivered at at.
	MarkDelivered(ctx context.Context, id string, at time.Time) error
}

// EmailSender sends a plain-text email.
type EmailSender interface {
	SendEmail(ctx context.Context, to, subject, text string) error
}

// SMSSender sends a text message to an E.164 number.
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// Notifier delivers outbox messages. It is safe for concurrent use.
type Notifier struct {
	store  Store
	email  EmailSender
	sms    SMSSender
	logger *slog.Logger
	now    func() time.Time
}

// New returns a Notifier; a nil logger discards, a nil now means time.Now.
func New(store Store, email EmailSender, sms SMSSender, logger *slog.Logger, now func() time.Time) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Notifier{store: store, email: email, sms: sms, logger: logger, now: now}
}

// Deliver sends the outbox message id, unless delivered, and marks it
// delivered. A code is made here; a code for a change no longer pending is
// dropped. On error the message is still to deliver.
func (n *Notifier) Deliver(ctx context.Context, id string) (err error) {
	outcome := "delivered"
	var m *userinfo.Message
	defer func() {
		attrs := []slog.Attr{slog.String("message_id", id), slog.String("outcome", outcome)}
		if m != nil {
			attrs = append(attrs, slog.String("kind", string(m.Kind)), slog.String("channel", m.Channel()),
				slog.String("user_id", m.UserID), slog.String("request_id", m.RequestID))
		}
		level := slog.LevelInfo
		if err != nil {
			// A provider's error may quote the address.
			level, attrs = slog.LevelError, append(attrs, slog.String("error", userinfo.Redact(err.Error())))
		}
		n.logger.LogAttrs(ctx, level, "outbox", attrs...)
	}()
	m, delivered, err := n.store.Message(ctx, id)
	switch {
	case userinfo.ErrorCode(err) == userinfo.ENOTFOUND:
		outcome = "gone" // expired before it could be sent
		return nil
	case err != nil:
		outcome = "failed"
		return err
	case delivered:
		outcome = "already delivered"
		return nil
	}
	code := ""
	if m.IsCode() {
		code = userinfo.NewCode()
		salt := userinfo.NewSalt()
		stillPending, err := n.store.SetCode(ctx, m, salt, userinfo.HashCode(salt, code), n.now())
		if err != nil {
			outcome = "failed"
			return err
		}
		if !stillPending {
			outcome = "superseded"
			return n.store.MarkDelivered(ctx, id, n.now())
		}
	}
	subject, text := render(m, code)
	switch m.Channel() {
	case userinfo.ChannelSMS:
		err = n.sms.SendSMS(ctx, m.To, text)
	default:
		err = n.email.SendEmail(ctx, m.To, subject, text)
	}
	if err != nil {
		outcome = "failed"
		// Not the text: it may hold the code.
		return fmt.Errorf("notify: send %s: %w", m.Channel(), err)
	}
	if err := n.store.MarkDelivered(ctx, id, n.now()); err != nil {
		outcome = "sent, not marked"
		return err
	}
	return nil
}

// HandleStream delivers the outbox messages of a stream batch in order,
// skipping records for which idOf reports false. On the first failure it
// stops and reports that record, so that Lambda retries from there.
func (n *Notifier) HandleStream(ctx context.Context, ev events.DynamoDBEvent, idOf func(events.DynamoDBEventRecord) (string, bool)) events.DynamoDBEventResponse {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		id, ok := idOf(r)
		if !ok {
			continue
		}
		if err := n.Deliver(ctx, id); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			return resp
		}
	}
	return resp
}
