// Package httpapi is the HTTP edge of the modify-user-info API
// (PUT /v3.0/OS-USER/users/{user_id}/info): it routes, authenticates the
// caller, decodes the body, calls the userinfo service and writes the
// answer. It is the only package that knows HTTP status codes; errors.go
// holds the one table from error code to status.
//
// NewServer returns one http.Handler with two front doors: a local net/http
// server serves it as is, and Lambda serves it through internal/lambdaproxy
// (REST API, HTTP API and function URL events) behind API Gateway.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// MaxBodyBytes is the largest request body accepted, in bytes: the
// contract's body is a few short strings, and the limit bounds what the
// handler decodes.
const MaxBodyBytes = 32 << 10

// Defaults for the fields of a zero Config.
const (
	// DefaultRequestTimeout is well under API Gateway's 29 s integration
	// timeout, so the caller gets our 503 rather than the gateway's 504.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultDeadlineMargin leaves time to answer and log after a store
	// call is cut off.
	DefaultDeadlineMargin = 300 * time.Millisecond
)

// Config holds the tunables of the HTTP edge. The zero value is ready to use.
type Config struct {
	// RequestTimeout bounds each request from the moment it reaches the
	// handler. Zero or negative means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// DeadlineMargin is taken off the incoming context's deadline (Lambda's),
	// and no store call starts with less than it left: a write cut off
	// after DynamoDB applied it would leave the caller unsure. Zero or
	// negative means DefaultDeadlineMargin.
	DeadlineMargin time.Duration
}

// withDefaults returns c with zero fields filled in. It panics when the
// margin is not shorter than the timeout: every request would answer 503.
func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DeadlineMargin <= 0 {
		c.DeadlineMargin = DefaultDeadlineMargin
	}
	if c.DeadlineMargin >= c.RequestTimeout {
		panic(fmt.Sprintf("httpapi: DeadlineMargin %v must be shorter than RequestTimeout %v", c.DeadlineMargin, c.RequestTimeout))
	}
	return c
}

// requestDeadline returns the earlier of now+RequestTimeout and parent's
// deadline less DeadlineMargin.
func (c Config) requestDeadline(parent context.Context, now time.Time) time.Time {
	d := now.Add(c.RequestTimeout)
	if pd, ok := parent.Deadline(); ok {
		if pd = pd.Add(-c.DeadlineMargin); pd.Before(d) {
			d = pd
		}
	}
	return d
}

// Authenticator verifies the X-Auth-Token of a request.
type Authenticator interface {
	// Verify returns the principal token names, an EUNAUTHORIZED
	// *userinfo.Error for a token it rejects (401), or an EUNAVAILABLE one
	// when it cannot decide, say for want of the key set (503).
	Verify(ctx context.Context, token string) (userinfo.Principal, error)
}

// NewServer returns the API's handler: routes.go's routes behind observe.
// A nil logger discards the log. It panics when cfg.DeadlineMargin is not
// shorter than cfg.RequestTimeout.
func NewServer(logger *slog.Logger, cfg Config, auth Authenticator, svc *userinfo.Service) http.Handler {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	addRoutes(mux, cfg, auth, svc)
	return observe(logger, cfg, canonicalPathsOnly(mux))
}
