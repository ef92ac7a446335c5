package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// exchange is what the middleware and the handlers share about one
// request: where it came from, and what the log line must say about it.
type exchange struct {
	requestID string
	sourceIP  string

	// Set by routed for a path the API has.
	route  string
	userID string

	// Set by respondError and by panic recovery.
	err     error
	iamCode string
	stack   []byte
}

type exchangeKey struct{}

// exchangeFrom returns the request's exchange, or a fresh one outside
// observe.
func exchangeFrom(ctx context.Context) *exchange {
	if ex, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return ex
	}
	return &exchange{}
}

// statusRecorder remembers the status written, for the log and for knowing
// whether a response can still be written after a panic.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe wraps every request: it assigns the request id, bounds the
// request's time, sets the headers every response carries, turns a panic
// or a missing status into a 500 (the Lambda adapter would answer 504),
// and writes the one log line.
func observe(logger *slog.Logger, cfg Config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ex := newExchange(r)

		h := w.Header()
		// The response is about one user's account: no cache may keep it,
		// and no browser may guess its type.
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Request-Id", ex.requestID)

		parent := r.Context()
		ctx, cancel := context.WithDeadline(parent, cfg.requestDeadline(parent, start))
		defer cancel()
		r = r.WithContext(context.WithValue(ctx, exchangeKey{}, ex))
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			v := recover()
			switch {
			case v != nil:
				ex.stack = debug.Stack()
				err := fmt.Errorf("httpapi: panic: %v", v)
				if rec.status == 0 {
					respondError(rec, r, err)
				} else {
					ex.err, ex.iamCode = err, errorKinds[userinfo.EINTERNAL].iamCode
				}
			case rec.status == 0:
				respondError(rec, r, errors.New("httpapi: handler wrote no response"))
			}
			logRequest(parent, logger, r.Method, ex, rec.status, time.Since(start))
			if v == http.ErrAbortHandler {
				// The documented way to abort a response: let net/http do so.
				panic(v)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// newExchange returns the exchange of r. Under Lambda the request id and
// source IP are API Gateway's, so our log and audit trail match its; else
// the id is new and the IP the peer's. X-Forwarded-For is never read: the
// client writes it.
func newExchange(r *http.Request) *exchange {
	ex := &exchange{}
	if gw, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok {
		ex.requestID, ex.sourceIP = gw.RequestID, gw.Identity.SourceIP
	} else if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		ex.requestID, ex.sourceIP = gw.RequestID, gw.HTTP.SourceIP
	}
	if ex.requestID == "" {
		ex.requestID = newRequestID()
	}
	if ex.sourceIP == "" {
		ex.sourceIP = r.RemoteAddr
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ex.sourceIP = host
		}
	}
	return ex
}

// newRequestID returns 16 random hex characters. crypto/rand, because an id
// that can be predicted can be forged into someone else's support ticket.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 it crashes the program instead
	return hex.EncodeToString(b[:])
}
