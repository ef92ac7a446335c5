package samtemplate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// Where the translated stacks are deployed, for the pseudo parameters.
const (
	region    = "eu-west-1"
	accountID = "123456789012"
)

// operatorValues are what an operator gives a deploy beyond samconfig.toml,
// which holds no issuer and no alarm address so that no placeholder can
// reach production.
var operatorValues = map[string]string{
	"AuthIssuer":   "https://idp.acme.internal",
	"AuthAudience": "userinfo-api",
	"AuthJwksUrl":  "https://idp.acme.internal/.well-known/jwks.json",
	"AlarmEmail":   "iam-oncall@acme.internal",
	"EmailFrom":    "no-reply@acme.internal",
	"SesIdentity":  "acme.internal",
}

// deploySet is one way the stack is deployed: a samconfig.toml environment
// plus the operator's values and any extra parameters.
type deploySet struct {
	name, env string
	extra     map[string]string
}

var deploySets = []deploySet{
	// dev as `sam deploy` makes it, without alarm e-mails.
	{"dev", "default", map[string]string{"AlarmEmail": ""}},
	{"prod", "prod", nil},
	{"prod-custom-domain", "prod", map[string]string{
		"DomainName":     "iam.acme.internal",
		"CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100",
		"HostedZoneId":   "Z0123456789ABCDEFGHIJ",
	}},
	{"dev-waf-traced", "default", map[string]string{"WafEnabled": "true", "TracingMode": "Active", "ManageApiGatewayAccount": "true"}},
}

// given returns the parameter values set's deploy passes, and its stack name.
func (s deploySet) given(cfg samconfig) (string, map[string]string) {
	deploy := cfg[s.env+".deploy.parameters"]
	p := overrides(deploy["parameter_overrides"])
	for k, v := range operatorValues {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	maps.Copy(p, s.extra)
	if p["AlarmEmail"] == "" {
		delete(p, "AlarmEmail")
	}
	return deploy["stack_name"], p
}

// allParams returns given with every other parameter's default.
func allParams(tpl *samtemplate.Template, given map[string]string) map[string]string {
	out := maps.Clone(given)
	for name, p := range tpl.Section("Parameters") {
		if _, ok := out[name]; !ok {
			if d, ok := asMap(p)["Default"]; ok {
				out[name] = fmt.Sprint(d)
			}
		}
	}
	return out
}

// standardDeploys are template.yaml's deploys, translated once for the
// package's tests.
var standardDeploys = sync.OnceValues(func() ([]deploy, error) {
	cfg, err := loadSamconfig()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(templatePath())
	if err != nil {
		return nil, err
	}
	texts := make([][]byte, len(deploySets))
	for i := range texts {
		texts[i] = raw
	}
	ds, err := translateEach(cfg, texts, deploySets)
	if err != nil {
		return nil, err
	}
	out := make([]deploy, len(ds))
	for i, d := range ds {
		if d.err != nil {
			return nil, fmt.Errorf("%s: %w", deploySets[i].name, d.err)
		}
		out[i] = d.deploy
	}
	return out, nil
})

func deploys(t *testing.T) []deploy {
	t.Helper()
	ds, err := standardDeploys()
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func deployNamed(t *testing.T, name string) deploy {
	t.Helper()
	for _, d := range deploys(t) {
		if d.name == name {
			return d
		}
	}
	t.Fatalf("no deploy %s", name)
	return deploy{}
}

// TestDeployedStack: what CloudFormation creates from template.yaml, for
// each way it is deployed, keeps the contract at API Gateway's edge and is
// ready for production (checkDeploy says how).
func TestDeployedStack(t *testing.T) {
	for _, d := range deploys(t) {
		t.Run(d.name, func(t *testing.T) {
			for _, p := range checkDeploy(d) {
				t.Error(p)
			}
		})
	}
}

// TestBrokenDeploysFail: each way the template could drift from the
// contract or the design is caught by checkDeploy. A mutation that no
// longer applies fails too, so the list keeps up with the template.
func TestBrokenDeploysFail(t *testing.T) {
	good := mustRead(t, filepath.Join(root, "template.yaml"))
	cfg := readSamconfig(t)
	all := []string{"dev", "prod"}
	tests := []struct {
		name, old, new string
		sets           []string
		want           string
	}{
		{"OnlyPUT", "            Path: /v3.0/OS-USER/users/{user_id}/info\n            Method: ANY", "            Path: /v3.0/OS-USER/users/{user_id}/info\n            Method: PUT", all, "no ANY method"},
		{"NoProxyRoute", "            Path: /{proxy+}\n            Method: ANY", "            Path: /{proxy+}\n            Method: GET", all, "POST /favicon.ico"},
		{"NoRootRoute", "            Path: /\n            Method: ANY", "            Path: /x\n            Method: ANY", all, "/ matches no resource"},
		{"ThrottledIs429", "        THROTTLED:\n          StatusCode: 503", "        THROTTLED:\n          StatusCode: 429", all, "THROTTLED answers 429"},
		{"NoDefault4xxStatus", "        DEFAULT_4XX:\n          StatusCode: 400\n", "        DEFAULT_4XX:\n", all, "UNSUPPORTED_MEDIA_TYPE answers 415"},
		{"NoRequestIdHeader", "            Headers: {Cache-Control: \"'no-store'\", X-Content-Type-Options: \"'nosniff'\", X-Request-Id: method.request.header.x-amzn-RequestId}\n          ResponseTemplates:\n            application/json: '{\"error_code\":\"IAM.0012\"", "            Headers: {Cache-Control: \"'no-store'\", X-Content-Type-Options: \"'nosniff'\"}\n          ResponseTemplates:\n            application/json: '{\"error_code\":\"IAM.0012\"", all, "REQUEST_TOO_LARGE: header X-Request-Id"},
		{"WrongCode", `'{"error_code":"IAM.0012","error_msg":"The request body is too large.","request_id":"$context.requestId"}'`, `'{"error_code":"IAM.0011","error_msg":"The request body is too large.","request_id":"$context.requestId"}'`, all, "REQUEST_TOO_LARGE: body"},
		{"NoRequestIdInBody", `'{"error_code":"IAM.0004","error_msg":"The requested resource was not found.","request_id":"$context.requestId"}'
        RESOURCE_NOT_FOUND`, `'{"error_code":"IAM.0004","error_msg":"The requested resource was not found."}'
        RESOURCE_NOT_FOUND`, all, "MISSING_AUTHENTICATION_TOKEN: body"},
		{"NoRetryAfter", "        INTEGRATION_TIMEOUT:\n          StatusCode: 503\n          ResponseParameters:\n            Headers: {Cache-Control: \"'no-store'\", X-Content-Type-Options: \"'nosniff'\", X-Request-Id: method.request.header.x-amzn-RequestId, Retry-After: \"'1'\"}", "        INTEGRATION_TIMEOUT:\n          StatusCode: 503\n          ResponseParameters:\n            Headers: {Cache-Control: \"'no-store'\", X-Content-Type-Options: \"'nosniff'\", X-Request-Id: method.request.header.x-amzn-RequestId}", all, "INTEGRATION_TIMEOUT: a 503 with Retry-After"},
		{"HeadersInAccessLog", `"userAgent":"$context.identity.userAgent",`, `"userAgent":"$context.identity.userAgent","token":"$method.request.header.X-Auth-Token",`, all, "access log logs"},
		{"NoResponseTypeInAccessLog", `"errorResponseType":"$context.error.responseType",`, ``, all, "lacks $context.error.responseType"},
		{"ProdAllAtOnce", "Type: !If [IsProd, Canary10Percent5Minutes, AllAtOnce]", "Type: AllAtOnce", []string{"prod"}, "LambdaAllAtOnce, want CodeDeployDefault.LambdaCanary10Percent5Minutes"},
		{"NoAliasRollback", "          - !Ref LiveAliasErrorsAlarm\n", "", all, "the live alias's errors"},
		{"NoLatencyRollback", "          - !Ref ApiLatencyAlarm\n", "", all, "no rollback alarm watches the API's p99 latency"},
		{"WafBodyLimit8K", "              Size: 32768", "              Size: 8192", []string{"prod"}, "size rule"},
		{"WafSees16K", "            DefaultSizeInspectionLimit: KB_32", "            DefaultSizeInspectionLimit: KB_16", []string{"prod"}, "size rule"},
		{"WafCommonSizeRule", "              RuleActionOverrides:\n                - Name: SizeRestrictions_BODY\n                  ActionToUse:\n                    Count: {}\n", "", []string{"prod"}, "SizeRestrictions_BODY"},
		{"WafRateIs429", "                ResponseCode: 503", "                ResponseCode: 429", []string{"prod"}, "RatePerIp answers 429"},
		{"WafNoRetryAfter", "                  - {Name: Retry-After, Value: \"60\"}\n", "", []string{"prod"}, "a 503 without Retry-After"},
		{"WafBodyShape", `Content: '{"error_code":"IAM.0012","error_msg":"The request body is too large.","request_id":""}'`, `Content: '{"message":"too large"}'`, []string{"prod"}, "BodyTooLarge: body"},
		{"WafOffInProd", "    - !And [!Equals [!Ref WafEnabled, default], !Condition IsProd]", "    - !And [!Equals [!Ref WafEnabled, default], !Condition HasDomain]", []string{"prod"}, "web ACLs"},
		{"WafOnInDev", "    - !And [!Equals [!Ref WafEnabled, default], !Condition IsProd]", "    - !Equals [!Ref WafEnabled, default]", []string{"dev"}, "a web ACL where"},
		{"WafNotOnStage", "      ResourceArn: !Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${UserInfoApi}/stages/${UserInfoApi.Stage}", "      ResourceArn: !Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${UserInfoApi}/stages/Prod", []string{"prod"}, "does not put"},
		{"ManagedSNSKey", "      KmsMasterKeyId: !Ref AlarmKey", "      KmsMasterKeyId: alias/aws/sns", []string{"prod"}, "CloudWatch alarms cannot use"},
		{"KeyWithoutCloudWatch", "              Service: cloudwatch.amazonaws.com\n            Action: [kms:Decrypt, kms:GenerateDataKey*]", "              Service: sns.amazonaws.com\n            Action: [kms:Decrypt, kms:GenerateDataKey*]", []string{"prod"}, "does not let CloudWatch"},
		{"AlarmNotifiesNobody", "      AlarmDescription: Lambda throttled the userinfo function.\n      Namespace: AWS/Lambda\n      MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref UserInfoFunction\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: 1\n      ComparisonOperator: GreaterThanOrEqualToThreshold\n      TreatMissingData: notBreaching\n      AlarmActions: !If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]\n", "      AlarmDescription: Lambda throttled the userinfo function.\n      Namespace: AWS/Lambda\n      MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref UserInfoFunction\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: 1\n      ComparisonOperator: GreaterThanOrEqualToThreshold\n      TreatMissingData: notBreaching\n", []string{"prod"}, "alarm FunctionThrottlesAlarm: AlarmActions"},
		{"No5xxRate", "          Expression: IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)", "          Expression: FILL(errors, 0)", all, "5xx rate"},
		{"P50NotP99", "      ExtendedStatistic: p99", "      ExtendedStatistic: p50", all, "p99 latency"},
		{"401FilterWrongField", "FilterPattern: '{ $.status = 401 }'", "FilterPattern: '{ $.statusCode = 401 }'", all, "no alarm on the 401 rate"},
		{"DashboardWithoutThrottles", `                [".", "Throttles", ".", ".", {"stat": "Sum", "label": "throttles"}]]}},`, `                [".", "Duration", ".", ".", {"stat": "Sum", "label": "throttles"}]]}},`, all, "AWS/Lambda Throttles"},
		{"DashboardWithoutAlarm", `, "${UnauthorizedRateAlarm.Arn}"`, ``, all, "dashboard shows"},
		{"LooseUserKeys", "                  dynamodb:LeadingKeys: [\"USER#*\"]\n            - Sid: Outbox", "                  dynamodb:LeadingKeys: [\"*\"]\n            - Sid: Outbox", all, "want exactly [dynamodb:ConditionCheckItem"},
		{"NoLeadingKeys", "              Action: [dynamodb:ConditionCheckItem]\n              Resource: !GetAtt UsersTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"DOMAIN#*\"]", "              Action: [dynamodb:ConditionCheckItem]\n              Resource: !GetAtt UsersTable.Arn", all, "not limited by dynamodb:LeadingKeys"},
		{"ExtraAction", "            - Sid: Users\n              Effect: Allow\n              Action: [dynamodb:ConditionCheckItem, dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem]", "            - Sid: Users\n              Effect: Allow\n              Action: [dynamodb:ConditionCheckItem, dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:Scan]", all, "want exactly [dynamodb:ConditionCheckItem"},
		{"NotifierSeesEverything", `                - Pattern: '{"eventName":["INSERT"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"OUTBOX#"}]}}}}'`, `                - Pattern: '{"eventName":["INSERT"]}'`, all, "dynamo.OutboxFilter"},
		{"NotifierFailsWholeBatches", "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "", all, "partial failures"},
		{"NotifierEndlessRetries", "            MaximumRecordAgeInSeconds: 3600\n", "", all, "bounded retries and age"},
		{"NotifierNoDLQ", "            DestinationConfig:\n              OnFailure:\n                Type: SQS\n                Destination: !GetAtt NotifierDeadLetterQueue.Arn\n", "", all, "not a queue"},
		{"NoDLQAlarm", "          Value: !GetAtt NotifierDeadLetterQueue.QueueName", "          Value: some-queue", all, "dead-letter queue"},
		{"NoIteratorAgeAlarm", "      MetricName: IteratorAge", "      MetricName: Duration", all, "iterator age"},
		{"StreamWithImages", "        StreamViewType: KEYS_ONLY", "        StreamViewType: NEW_IMAGE", all, "KEYS_ONLY"},
		{"SendAsAnyone", "      Resource: !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}", "      Resource: \"*\"", all, "sending rights"},
		{"PublishToTopics", "              NotResource: !Sub arn:${AWS::Partition}:sns:*:*:*", "              Resource: \"*\"", all, "sending rights"},
		{"NotifierReadsUsers", "              Action: [dynamodb:GetItem, dynamodb:UpdateItem]\n              Resource: !GetAtt UsersTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"OUTBOX#*\"]", "              Action: [dynamodb:GetItem, dynamodb:UpdateItem]\n              Resource: !GetAtt UsersTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"OUTBOX#*\", \"USER#*\"]", all, "want exactly"},
		{"AnyResource", "              Action: [dynamodb:ConditionCheckItem]\n              Resource: !GetAtt UsersTable.Arn", "              Action: [dynamodb:ConditionCheckItem]\n              Resource: \"*\"", all, "not on the table"},
		{"ManagedPolicy", "      Policies:\n        # Least privilege", "      Policies:\n        - AmazonDynamoDBFullAccess\n        # Least privilege", all, "FullAccess"},
		{"XRayAlways", "      Tracing: !Ref TracingMode", "      Tracing: !If [TracingOn, Active, PassThrough]", []string{"dev"}, "X-Ray policy: true"},
		{"ManagesAccountByDefault", "  ManageApiGatewayAccount:\n    Type: String\n    Default: \"false\"", "  ManageApiGatewayAccount:\n    Type: String\n    Default: \"true\"", []string{"prod"}, "ManageApiGatewayAccount defaults to"},
		{"OldTLS", "      SecurityPolicy: TLS_1_2", "      SecurityPolicy: TLS_1_0", []string{"prod-custom-domain"}, "TLS_1_2"},
		{"ExecuteAPIStaysOn", "      DisableExecuteApiEndpoint: !If [HasDomain, true, false]", "      DisableExecuteApiEndpoint: false", []string{"prod-custom-domain"}, "execute-api endpoint stays on"},
		{"BasePathV3", "      Stage: !Ref UserInfoApi.Stage\n", "      Stage: !Ref UserInfoApi.Stage\n      BasePath: v3.0\n", []string{"prod-custom-domain"}, "no base path"},
		{"DomainURLWithStage", "      - !Sub https://${DomainName}/v3.0/OS-USER/users/{user_id}/info", "      - !Sub https://${DomainName}/${Environment}/v3.0/OS-USER/users/{user_id}/info", []string{"prod-custom-domain"}, "reference's path"},
		{"NoDNSRecord", "      Name: !Ref DomainName\n      Type: A", "      Name: !Sub www.${DomainName}\n      Type: A", []string{"prod-custom-domain"}, "no alias record"},
	}
	byName := map[string]deploySet{}
	for _, s := range deploySets {
		byName[s.name] = s
	}
	var (
		templates [][]byte
		sets      [][]deploySet
	)
	for _, tt := range tests {
		if n := bytes.Count(good, []byte(tt.old)); n != 1 {
			t.Fatalf("%s: the mutation's text occurs %d times in template.yaml, want once: update this test", tt.name, n)
		}
		templates = append(templates, bytes.Replace(good, []byte(tt.old), []byte(tt.new), 1))
		var ss []deploySet
		for _, n := range tt.sets {
			ss = append(ss, byName[n])
		}
		sets = append(sets, ss)
	}
	// One translator run for every mutation and set.
	var (
		jobs  []deploySet
		texts [][]byte
	)
	for i := range tests {
		for _, s := range sets[i] {
			jobs = append(jobs, s)
			texts = append(texts, templates[i])
		}
	}
	results := make([][]string, len(tests))
	ds, err := translateEach(cfg, texts, jobs)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for i := range tests {
		for range sets[i] {
			if ds[k].err != nil {
				results[i] = append(results[i], "translation failed: "+ds[k].err.Error())
			} else {
				results[i] = append(results[i], checkDeploy(ds[k].deploy)...)
			}
			k++
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.ContainsFunc(results[i], func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("the broken copy passed: problems %q, want one about %q", results[i], tt.want)
			}
		})
	}
}

type deployOrError struct {
	deploy deploy
	err    error
}

// translateEach translates texts[i] for sets[i], all in one translator run.
func translateEach(cfg samconfig, texts [][]byte, sets []deploySet) ([]deployOrError, error) {
	jobs := make([]samtemplate.Job, len(sets))
	stacks := make([]string, len(sets))
	for i, s := range sets {
		stacks[i], jobs[i].Parameters = s.given(cfg)
		jobs[i].Template = texts[i]
	}
	results, err := samtemplate.Translate(context.Background(), region, jobs)
	if err != nil {
		return nil, err
	}
	out := make([]deployOrError, len(results))
	for i, r := range results {
		if r.Err != nil {
			out[i].err = r.Err
			continue
		}
		stack := samtemplate.Stack{Name: stacks[i], Region: region, AccountID: accountID}
		resolved, err := r.Template.Resolve(stack, jobs[i].Parameters)
		if err != nil {
			out[i].err = err
			continue
		}
		out[i].deploy = deploy{name: sets[i].name, params: allParams(r.Template, jobs[i].Parameters), tpl: resolved, translated: r.Template}
	}
	return out, nil
}

// placeholders returns every issuer, JWKS URL and alarm address the
// repository uses for local runs and examples, by parameter: none of them
// may deploy to production.
func placeholders(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{
		// Values samconfig.toml once held: an old checkout's file may
		// still have them.
		"AuthIssuer":  {"https://iam.example.com", devkeys.DefaultIssuer},
		"AuthJwksUrl": {"https://iam.example.com/.well-known/jwks.json"},
		"AlarmEmail":  {"iam-oncall@example.com"},
		"EmailFrom":   {"no-reply@iam.example.com", "no-reply@iam.local.test"},
	}
	cfg := readSamconfig(t)
	for table, kv := range cfg {
		if !strings.HasSuffix(table, ".deploy.parameters") || strings.HasPrefix(table, "prod.") {
			continue
		}
		for k, v := range overrides(kv["parameter_overrides"]) {
			if _, ok := out[k]; ok {
				out[k] = append(out[k], v)
			}
		}
	}
	raw := mustRead(t, filepath.Join(root, "events", "env.json"))
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	for _, vars := range env {
		for param, name := range map[string]string{"AuthIssuer": "AUTH_ISSUER", "AuthJwksUrl": "AUTH_JWKS_URL"} {
			// Only values a production deploy could be given at all.
			if v := vars[name]; strings.HasPrefix(v, "https://") {
				out[param] = append(out[param], v)
			}
		}
	}
	for k, vs := range out {
		slices.Sort(vs)
		out[k] = slices.Compact(vs)
	}
	return out
}

// checkRules returns the ways tpl's Rules let a production deploy through
// with one of the placeholders or no alarm address, refuse an operator's
// real values, or let an incomplete custom domain through.
func checkRules(tpl *samtemplate.Template, placeholders map[string][]string) []string {
	stack := samtemplate.Stack{Name: "iam-userinfo-prod", Region: region, AccountID: accountID}
	with := func(base map[string]string, kv ...string) map[string]string {
		p := maps.Clone(base)
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	prod := with(operatorValues, "Environment", "prod")
	dev := with(operatorValues, "Environment", "dev")
	type tc struct {
		name   string
		params map[string]string
		fails  bool
	}
	tests := []tc{
		{"prod as an operator deploys it", prod, false},
		{"prod without AlarmEmail", with(prod, "AlarmEmail", ""), true},
		{"dev without AlarmEmail", with(dev, "AlarmEmail", ""), false},
		{"DomainName without CertificateArn", with(dev, "DomainName", "iam.acme.internal"), true},
		{"CertificateArn without DomainName", with(dev, "CertificateArn", "arn:aws:acm:eu-west-1:1:certificate/x"), true},
		{"HostedZoneId without DomainName", with(dev, "HostedZoneId", "Z1"), true},
		{"a complete custom domain", with(dev, "DomainName", "iam.acme.internal", "CertificateArn", "arn:aws:acm:eu-west-1:1:certificate/x", "HostedZoneId", "Z1"), false},
	}
	for _, param := range slices.Sorted(maps.Keys(placeholders)) {
		for _, v := range placeholders[param] {
			tests = append(tests,
				tc{"prod with " + param + "=" + v, with(prod, param, v), true},
				tc{"dev with " + param + "=" + v, with(dev, param, v), false})
		}
	}
	var problems []string
	for _, tt := range tests {
		failed, err := tpl.FailedRules(stack, tt.params)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", tt.name, err))
		case (len(failed) > 0) != tt.fails:
			problems = append(problems, fmt.Sprintf("%s: failed rules %q, want a failure: %v", tt.name, failed, tt.fails))
		}
	}
	return problems
}

// TestRules: a production deploy with any of the repository's placeholders,
// or no alarm address, fails before anything changes; an incomplete custom
// domain fails anywhere; the values an operator gives pass.
func TestRules(t *testing.T) {
	for _, p := range checkRules(deployNamed(t, "prod").translated, placeholders(t)) {
		t.Error(p)
	}
}

// TestBrokenRulesFail: checkRules catches rules that were loosened.
func TestBrokenRulesFail(t *testing.T) {
	good := string(mustRead(t, filepath.Join(root, "template.yaml")))
	tests := []mutation{
		{"NoAlarmEmailRule", `      - Assert: !Not [!Contains [["", iam-oncall@example.com], !Ref AlarmEmail]]`, `      - Assert: !Not [!Contains [[iam-oncall@example.com], !Ref AlarmEmail]]`, "prod without AlarmEmail"},
		{"LocalIssuerAllowed", "[[https://iam.example.com, https://iam.local.test], !Ref AuthIssuer]", "[[https://iam.example.com], !Ref AuthIssuer]", "AuthIssuer=https://iam.local.test"},
		{"RulesForDevToo", "    RuleCondition: !Equals [!Ref Environment, prod]\n", "", "dev with AuthIssuer"},
		{"DomainRuleGone", "          - !And [!Not [!Equals [!Ref DomainName, \"\"]], !Not [!Equals [!Ref CertificateArn, \"\"]]]", "          - !Not [!Equals [!Ref DomainName, \"\"]]", "DomainName without CertificateArn"},
	}
	ph := placeholders(t)
	mustCatch(t, good, tests, func(tpl *samtemplate.Template) []string { return checkRules(tpl, ph) })
}

// functionParams returns the parameters the function's own properties read
// (its configuration), from the template's text.
func functionParams(t *testing.T) []string {
	t.Helper()
	tpl, _ := load(t)
	params := tpl.Section("Parameters")
	var fn samtemplate.Resource
	for _, f := range tpl.Resources("AWS::Serverless::Function") {
		if functionKind(f) == apiFunction {
			fn = f
		}
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := samtemplate.Ref(x); ok && params[ref] != nil {
				seen[ref] = true
			}
			for k, e := range x {
				if k == "Fn::Sub" {
					s, _ := e.(string)
					for _, m := range regexp.MustCompile(`\$\{([^}]+)\}`).FindAllStringSubmatch(s, -1) {
						if params[m[1]] != nil {
							seen[m[1]] = true
						}
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for k, v := range fn.Properties {
		// Reserved concurrency is the function's, not a version's: it
		// applies at once, whatever the alias points at.
		if k != "VersionDescription" && k != "ReservedConcurrentExecutions" {
			walk(v)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// otherValue returns a value of parameter p other than v that
// CloudFormation would accept.
func otherValue(p map[string]any, v string) string {
	if allowed, ok := p["AllowedValues"].([]any); ok {
		for _, a := range allowed {
			if s := fmt.Sprint(a); s != v {
				return s
			}
		}
	}
	if p["Type"] == "Number" {
		n, _ := strconv.Atoi(v)
		if hi, ok := p["MaxValue"].(int); ok && n+1 > hi {
			return strconv.Itoa(n - 1)
		}
		return strconv.Itoa(n + 1)
	}
	if hi, ok := p["MaxLength"].(int); ok && utf8.RuneCountInString(v) >= hi {
		return "z" + v[1:]
	}
	return v + "z"
}

// TestConfigurationReachesTheAlias: SAM names a new version after a hash of
// the template, which does not see parameter values. Every parameter the
// function reads must still give a new version (a changed version
// description) when it alone changes, or the alias would keep serving the
// old configuration.
func TestConfigurationReachesTheAlias(t *testing.T) {
	prod := deployNamed(t, "prod")
	tpl, _ := load(t)
	params := tpl.Section("Parameters")
	stack := samtemplate.Stack{Name: "iam-userinfo-prod", Region: region, AccountID: accountID}
	version := func(p map[string]string) (string, string) {
		t.Helper()
		d, err := prod.translated.Resolve(stack, p)
		if err != nil {
			t.Fatal(err)
		}
		for id, r := range d.Section("Resources") {
			if asMap(r)["Type"] == "AWS::Lambda::Version" {
				desc, _ := get(r, "Properties", "Description").(string)
				return id, desc
			}
		}
		t.Fatal("no Lambda version")
		return "", ""
	}
	id, desc := version(prod.params)
	read := functionParams(t)
	for _, want := range []string{"AuthIssuer", "AuthAudience", "AuthJwksUrl", "LogLevel", "AuditRetentionDays", "FunctionMemorySize", "FunctionTimeout"} {
		if !slices.Contains(read, want) {
			t.Errorf("the function does not read %s: functionParams is broken (%v)", want, read)
		}
	}
	for _, name := range read {
		p := maps.Clone(prod.params)
		p[name] = otherValue(asMap(params[name]), p[name])
		gotID, gotDesc := version(p)
		if gotID == id && gotDesc == desc {
			t.Errorf("changing %s alone (%q → %q) publishes no new version", name, prod.params[name], p[name])
		}
	}
	// Lambda refuses a version description over 256 characters.
	longest := 0
	var sub string
	for _, f := range tpl.Resources("AWS::Serverless::Function") {
		if functionKind(f) == apiFunction {
			sub, _ = get(f.Properties, "VersionDescription", "Fn::Sub").(string)
		}
	}
	for _, part := range regexp.MustCompile(`\$\{([^}]+)\}|[^$]+`).FindAllStringSubmatch(sub, -1) {
		if part[1] == "" {
			longest += len(part[0])
			continue
		}
		longest += longestValue(asMap(params[part[1]]))
	}
	if longest > 256 {
		t.Errorf("the version description may be %d characters; Lambda takes 256", longest)
	}
}

// longestValue is the most characters a value of parameter p can have.
func longestValue(p map[string]any) int {
	if n, ok := p["MaxLength"].(int); ok {
		return n
	}
	if allowed, ok := p["AllowedValues"].([]any); ok {
		n := 0
		for _, a := range allowed {
			n = max(n, len(fmt.Sprint(a)))
		}
		return n
	}
	if hi, ok := p["MaxValue"].(int); ok {
		return len(strconv.Itoa(hi))
	}
	return 1 << 20
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGatewayAnswersInREADME: the README's table says which status and IAM
// code each of API Gateway's answers uses, as the template configures it.
func TestGatewayAnswersInREADME(t *testing.T) {
	readme := string(mustRead(t, filepath.Join(root, "README.md")))
	_, body := (&stackChecker{d: deployNamed(t, "prod")}).restAPI()
	configured := asMap(body["x-amazon-apigateway-gateway-responses"])
	effective := effectiveGatewayResponses(configured)
	answers := httpapi.ErrorAnswers()
	for typ := range configured {
		a, ok := effective[typ]
		if !ok { // DEFAULT_4XX, DEFAULT_5XX
			s, _ := strconv.Atoi(fmt.Sprint(asMap(configured[typ])["statusCode"]))
			a = gatewayAnswer{status: s}
		}
		row := regexp.MustCompile("(?m)^\\|[^\\n]*`" + typ + "`[^\\n]*\\| " + strconv.Itoa(a.status) + " \\| `" + regexp.QuoteMeta(answers[a.status].IAMCode) + "` \\|")
		if !row.MatchString(readme) {
			t.Errorf("README lacks a row | … `%s` … | %d | `%s` |", typ, a.status, answers[a.status].IAMCode)
		}
	}
}

// TestUnauthorizedPatternMatchesTheLog: the metric filter behind the 401
// alarm matches the function's own log line of a 401 answer.
func TestUnauthorizedPatternMatchesTheLog(t *testing.T) {
	m := regexp.MustCompile(`^\{ \$\.(\w+) = (\d+) \}$`).FindStringSubmatch(unauthorizedPattern)
	if m == nil {
		t.Fatalf("pattern %q is not { $.field = number }", unauthorizedPattern)
	}
	var logs bytes.Buffer
	h := httpapi.NewServer(slog.New(slog.NewJSONHandler(&logs, nil)), httpapi.Config{}, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v3.0/OS-USER/users/u1/info", strings.NewReader(`{}`)))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if got := fmt.Sprint(line[m[1]]); got != m[2] {
		t.Errorf("the 401 log line's %s is %q, want %s: %s", m[1], got, m[2], logs.String())
	}
}
