// Package localapi serves the API on 127.0.0.1 for the local measuring
// tools (load test, end-to-end benchmark): the handler app.New builds, as
// the Lambda function builds it, verifying tokens of the local dev key.
package localapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/internal/app"
)

// Serve starts the API over table, through client (the caller's, which made
// the table), on a free port of 127.0.0.1, logging to logw at logLevel (""
// means info), and returns its base URL and a function that stops it. It
// returns an error when the configuration is invalid or the port cannot be
// opened.
func Serve(ctx context.Context, client *dynamodb.Client, table string, key *devkeys.Key, logLevel string, logw io.Writer) (string, func(), error) {
	cfg, err := app.LoadConfig(func(name string) string {
		return map[string]string{
			"TABLE_NAME":    table,
			"AUTH_JWKS_URL": key.JWKSURL(),
			"AUTH_ISSUER":   devkeys.DefaultIssuer,
			"AUTH_AUDIENCE": devkeys.DefaultAudience,
			"LOG_LEVEL":     logLevel,
		}[name]
	})
	if err != nil {
		return "", nil, err
	}
	h, err := app.New(ctx, cfg, app.NewLogger(logw, cfg.LogLevel), client)
	if err != nil {
		return "", nil, err
	}
	return ServeHandler(h)
}

// ServeHandler serves h on a free port of 127.0.0.1 with the server
// settings Serve gives the API, so that a baseline served with it differs
// from the API only in its handler. It returns the base URL and a function
// that stops the server, or an error when the port cannot be opened.
func ServeHandler(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
