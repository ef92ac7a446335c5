// Command barelambda is the second baseline of `make coldstart`: an
// aws-lambda-go function that does the same DynamoDB work as the real one
// (infra/bench/bare: GetItem, then the five-item TransactWriteItems) with the
// same DynamoDB client as the real one (awsconfig.NewClient: bounded retries,
// connection pool) and nothing else: no token check, no validation, no
// logging. Hello-world shows what the runtime costs; this shows what the
// runtime plus the SDK and DynamoDB cost, so the real function's cold start
// beyond this one's is its own.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iam-userinfo/userinfo/infra/bench/bare"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
)

func main() {
	client, err := awsconfig.NewClient(context.Background())
	if err != nil {
		panic(err)
	}
	w := &bare.Writer{Client: client, Table: os.Getenv("TABLE_NAME")}
	lambda.Start(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		raw := []byte(ev.Body)
		if ev.IsBase64Encoded {
			var derr error
			if raw, derr = base64.StdEncoding.DecodeString(ev.Body); derr != nil {
				return events.APIGatewayProxyResponse{StatusCode: 400}, nil
			}
		}
		var body struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
		}
		if json.Unmarshal(raw, &body) != nil {
			return events.APIGatewayProxyResponse{StatusCode: 400}, nil
		}
		if err := w.ChangeEmail(ctx, ev.PathParameters["user_id"], body.User.Email); err != nil {
			return events.APIGatewayProxyResponse{StatusCode: 500}, err
		}
		return events.APIGatewayProxyResponse{StatusCode: 204}, nil
	})
}
