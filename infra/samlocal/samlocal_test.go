package samlocal_test

import (
	"maps"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/samlocal"
	"github.com/iam-userinfo/userinfo/infra/samtemplate"
)

const template = `
Parameters:
  Level: {Type: String, Default: info}
  Memory: {Type: Number, Default: 256}
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        FROM_GLOBALS: g
        OVERRIDDEN_IN_FUNCTION: global
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: bootstrap
      MemorySize: !Ref Memory
      Environment:
        Variables:
          OVERRIDDEN_IN_FUNCTION: function
          LITERAL: "x"
          EMPTY: ""
          NUMBER: 400
          FLAG: true
          LEVEL: !Ref Level
          TABLE: !Ref Table
          ARN: !GetAtt Table.Arn
          FROM_FILE: default
          FROM_FILE_PARAMETERS: default
`

// TestEnv: SAM's rules, each once.
func TestEnv(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	envVars := []byte(`{
	  "Parameters": {"FROM_FILE_PARAMETERS": "p", "FROM_FILE": "p"},
	  "Fn": {"FROM_FILE": "f", "NOT_DECLARED": "ignored"},
	  "Other": {"LITERAL": "ignored"}
	}`)
	got, err := samlocal.Env(tpl, "Fn", envVars)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"AWS_SAM_LOCAL": "true", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
		"AWS_LAMBDA_FUNCTION_HANDLER": "bootstrap", "AWS_LAMBDA_FUNCTION_NAME": "Fn", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME": "aws/lambda/Fn", "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "defaultkey",
		"AWS_SECRET_ACCESS_KEY": "defaultsecret", "AWS_ACCOUNT_ID": "123456789012",
		"FROM_GLOBALS": "g", "OVERRIDDEN_IN_FUNCTION": "function", "LITERAL": "x", "EMPTY": "", "NUMBER": "400",
		"FLAG": "true", "LEVEL": "info", "TABLE": "Table", "ARN": "", "FROM_FILE": "f", "FROM_FILE_PARAMETERS": "p",
	}
	if !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s = %q, want it unset", k, got[k])
			}
		}
	}
	if _, err := samlocal.Env(tpl, "Nope", nil); err == nil {
		t.Error("no error for a function the template lacks")
	}
	if _, err := samlocal.Env(tpl, "Fn", []byte(`{"Fn": {"A": 1}}`)); err == nil {
		t.Error("no error for a non-string value in the env-vars file")
	}
}
