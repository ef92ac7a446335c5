package ddblocal

// ClientEnv returns the environment a DynamoDB client needs to reach a local
// endpoint: the SDK's own AWS_ENDPOINT_URL_DYNAMODB, a region, and dummy
// credentials (DynamoDB Local accepts any; without them the SDK would look
// for real ones, and reach for the EC2 metadata endpoint).
func ClientEnv(endpoint string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": endpoint,
		"AWS_REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":         "local",
		"AWS_SECRET_ACCESS_KEY":     "local",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}
