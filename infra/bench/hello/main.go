// Command hello is the baseline of `make coldstart`: the smallest
// aws-lambda-go function answering an API Gateway proxy event with 204,
// built with the same flags as the real bootstrap. Whatever the real
// function's cold start costs beyond this one's is ours.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 204}, nil
	})
}
