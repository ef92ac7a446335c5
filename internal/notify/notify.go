// Package notify delivers the messages of the outbox: verification codes to
// a new email address or mobile number, and notices to the old email
// address. The notifier function runs it on the table's stream; the local
// server runs it on DynamoDB Local's stream. It never logs an address or a
// code, and delivers each message at most once per successful send: a
// message marked delivered is skipped when a batch is retried.
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
	// Message returns the outbox message id and whether it was delivered
	// already. It returns an ENOTFOUND *userinfo.Error when there is none.
	Message(ctx context.Context, id string) (m *userinfo.Message, delivered bool, err error)
	// SetCode stores the salted hash of a new code with the pending change
	// m is for, and reports false when that change is no longer pending
	// (replaced, verified or expired at now): its code must not be sent.
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

// Deliver sends the outbox message id, unless it was delivered already,
// and marks it delivered. A verification message gets its code here, and
// is dropped when its change is no longer pending. It returns the error of
// a failed send or store call: the message is then still to deliver.
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
			// A provider's error text may quote the address (SES names
			// identities it refused).
			level, attrs = slog.LevelError, append(attrs, slog.String("error", userinfo.Redact(err.Error())))
		}
		n.logger.LogAttrs(ctx, level, "outbox", attrs...)
	}()
	m, delivered, err := n.store.Message(ctx, id)
	switch {
	case userinfo.ErrorCode(err) == userinfo.ENOTFOUND:
		outcome = "gone" // expired from the table before it could be sent
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
		pending, err := n.store.SetCode(ctx, m, salt, userinfo.HashCode(salt, code), n.now())
		if err != nil {
			outcome = "failed"
			return err
		}
		if !pending {
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
		// Never the text, which may hold the code.
		return fmt.Errorf("notify: send %s: %w", m.Channel(), err)
	}
	if err := n.store.MarkDelivered(ctx, id, n.now()); err != nil {
		outcome = "sent, not marked"
		return err
	}
	return nil
}

// HandleStream delivers the outbox messages of a DynamoDB stream batch, in
// order. idOf returns the outbox message id of a record, or false for a
// record that is not one (the event source's filter lets only new outbox
// items through; anything else is skipped). On the first failure it stops
// and reports that record, so that Lambda retries the batch from there;
// messages delivered before it are skipped on the retry.
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
