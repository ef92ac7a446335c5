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

// MaxTransactWritesPerRequest bounds the TransactWriteItems requests that
// one API request can send to DynamoDB: the service writes a change at most
// userinfo.MaxWriteAttempts times (recomputing it after each lost race),
// and the SDK sends each of those calls at most dynamo.MaxAttemptsPerCall
// times (retrying throttles, 5xx and lost connections).
const MaxTransactWritesPerRequest = userinfo.MaxWriteAttempts * dynamo.MaxAttemptsPerCall

// New builds the API's handler on client: one JWKS cache and one service
// for the life of the process (a Lambda execution environment serves many
// requests; nothing here is per request). The Lambda function passes the
// client awsconfig.NewClient builds; the local server one for DynamoDB
// Local. ctx bounds background work such as JWKS refreshes. It returns an
// error when a dependency cannot be set up, naming the variable at fault
// where there is one.
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
