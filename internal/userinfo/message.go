package userinfo

import "time"

// MessageKind says what a message tells its recipient.
type MessageKind string

const (
	// MsgVerifyEmail carries a one-time code to a new email address.
	MsgVerifyEmail MessageKind = "verify_email"
	// MsgVerifyMobile carries a one-time code, by SMS, to a new mobile number.
	MsgVerifyMobile MessageKind = "verify_mobile"
	// MsgEmailChangeRequested tells the old email address that a change
	// of it was requested.
	MsgEmailChangeRequested MessageKind = "email_change_requested"
	// MsgEmailChanged tells the old email address that it was replaced.
	MsgEmailChanged MessageKind = "email_changed"
)

// Channels a message is delivered through.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Message is a notice or a verification code to deliver, written in the
// transaction of its change (an outbox). It holds no code: the notifier
// makes one, stores its hash with the pending change, and sends it.
type Message struct {
	ID   string
	Kind MessageKind
	// To is an email address, or an E.164 mobile number for MsgVerifyMobile.
	To     string
	UserID string
	// PendingID names the pending change a code is for, and ExpiresAt when
	// it lapses (codes only): the notifier drops a code for a change since
	// replaced.
	PendingID string
	ExpiresAt time.Time
	// Field is FieldEmail or FieldMobile.
	Field string
	// NewValue is the new value, masked, for notices.
	NewValue  string
	SourceIP  string
	RequestID string
	At        time.Time
}

// Channel returns how the message is delivered.
func (m Message) Channel() string {
	if m.Kind == MsgVerifyMobile {
		return ChannelSMS
	}
	return ChannelEmail
}

// IsCode reports whether the message carries a verification code.
func (m Message) IsCode() bool { return m.Kind == MsgVerifyEmail || m.Kind == MsgVerifyMobile }
