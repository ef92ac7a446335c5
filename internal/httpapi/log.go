package httpapi

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// maxLoggedUserID bounds the path's user id in the log, in bytes: the
// caller chose it; a real one is 32 hex characters.
const maxLoggedUserID = 64

// logRequest writes the one log line of a request: ERROR for a 5xx, INFO
// otherwise. It never logs the token, the body, or an email address or
// mobile number: the error text, the one free-form field, is redacted.
func logRequest(ctx context.Context, logger *slog.Logger, method string, ex *exchange, status int, latency time.Duration) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	userID := userinfo.Truncate(ex.userID, maxLoggedUserID)
	attrs := []slog.Attr{
		slog.String("request_id", ex.requestID),
		slog.String("method", method),
		slog.String("route", ex.route),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(latency)/float64(time.Millisecond)),
		slog.String("user_id", userID),
	}
	if ex.iamCode != "" {
		attrs = append(attrs, slog.String("error_code", ex.iamCode))
	}
	if ex.err != nil {
		// For every error, not only 5xx: which check a token failed is
		// what an operator needs.
		attrs = append(attrs, slog.String("error", userinfo.Redact(ex.err.Error())))
	}
	if ex.stack != nil {
		// Not redacted: a stack trace prints arguments as hex words, never
		// the values they point to.
		attrs = append(attrs, slog.String("stack", string(ex.stack)))
	}
	logger.LogAttrs(ctx, level, "request", attrs...)
}

// withoutSecret returns err's text with every copy of secret cut out, for
// the log only: the result wraps nothing, so classify err first.
func withoutSecret(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return redactedError(strings.ReplaceAll(err.Error(), secret, "[token]"))
}

type redactedError string

func (e redactedError) Error() string { return string(e) }
