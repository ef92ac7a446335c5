// Package smssink is the local stand-in for sending SMS: a notify.SMSSender
// that appends each message to a JSON-lines file, which `make outbox`
// prints. No SNS emulator exists to run locally; the notifier's SNS sender
// is the one thing `make run` does not exercise.
package smssink

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
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
	line, err := json.Marshal(Message{To: to, Text: text, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("smssink: %w", err)
	}
	f, err := os.OpenFile(s.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("smssink: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Read returns the messages in the file at path, oldest first; none when
// there is no file yet.
func Read(path string) ([]Message, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Message
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("smssink: %s: %w", path, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}
