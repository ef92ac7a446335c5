package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// MaxTransactWritesPerRequest bounds the TransactWriteItems calls of one
// request: userinfo.MaxWriteAttempts writes, each sent at most
// dynamo.MaxAttemptsPerCall times.
const MaxTransactWritesPerRequest = userinfo.MaxWriteAttempts * dynamo.MaxAttemptsPerCall

// New builds the API's handler on client, once per process: the Lambda
// function passes awsconfig.NewClient's client, the local server one for
// DynamoDB Local. ctx bounds background work such as JWKS refreshes. Its
// error names the variable at fault where there is one.
func New(ctx context.Context, cfg Config, logger *slog.Logger, client *dynamodb.Client) (http.Handler, error) {
	verifier, err := auth.NewVerifier(ctx, auth.Config{
		JWKSURL:  cfg.JWKSURL,
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	store := dynamo.New(client, cfg.TableName, dynamo.Options{AuditRetention: cfg.AuditRetention})
	svc := userinfo.NewService(store, nil).WithVerifyPolicy(cfg.Verify)
	return httpapi.NewServer(logger, httpapi.Config{}, verifier, svc), nil
}
