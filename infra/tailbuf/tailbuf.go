// Package tailbuf collects output written from several goroutines: the last
// bytes of a child process's output, so that an error about a process that
// failed to start can quote what it said, or (with no limit) a whole log that
// a test reads back.
package tailbuf

import "sync"

// Buffer keeps the last Max bytes written to it, or all of them when Max is
// zero. It is safe for concurrent use, since a process's stdout and stderr
// are copied by separate goroutines, and a logger writes from every request.
type Buffer struct {
	Max int

	mu  sync.Mutex
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond a positive Max. It never
// fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if b.Max > 0 && len(b.buf) > b.Max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.Max:]...)
	}
	return len(p), nil
}

// String returns the bytes kept.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
