// Package smssink is the local stand-in for sending SMS: a notify.SMSSender
// that appends each message to a JSON-lines file, which `make outbox`
// prints. No SNS emulator exists to run locally; the notifier's SNS sender
// is the one thing `make run` does not exercise.
package smssink

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iam-userinfo/userinfo/infra/jsonl"
)

// Message is one SMS, as the file holds it.
type Message struct {
	To   string    `json:"to"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// Sink appends messages to the file at Path (created 0600, with its
// folder: the messages hold codes). It is safe for concurrent use.
type Sink struct {
	Path string
	mu   sync.Mutex
}

// SendSMS appends one message.
func (s *Sink) SendSMS(_ context.Context, to, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := jsonl.Append(s.Path, Message{To: to, Text: text, At: time.Now().UTC()}); err != nil {
		return fmt.Errorf("smssink: %w", err)
	}
	return nil
}

// Read returns the messages in the file at path, oldest first; none when
// there is no file yet.
func Read(path string) ([]Message, error) { return jsonl.Read[Message](path) }
