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
	svc := userinfo.NewService(store, nil)
	return httpapi.NewServer(logger, httpapi.Config{}, verifier, svc), nil
}
