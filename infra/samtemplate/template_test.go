package samtemplate_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
	"github.com/iam-userinfo/userinfo/internal/notify"
)

// root is the repository, from this package's folder.
const root = "../.."

// templatePath is template.yaml, or $SAM_TEMPLATE: point it at a copy to
// see the test judge that copy (SAM_TEMPLATE=/tmp/broken.yaml go test ./infra/samtemplate).
func templatePath() string {
	if p := os.Getenv("SAM_TEMPLATE"); p != "" {
		return p
	}
	return filepath.Join(root, "template.yaml")
}

func load(t *testing.T) (*samtemplate.Template, string) {
	t.Helper()
	return loadFile(t, templatePath())
}

// loadFile parses the template at path, returning it and its text.
func loadFile(t *testing.T, path string) (*samtemplate.Template, string) {
	t.Helper()
	raw := mustRead(t, path)
	tpl, err := samtemplate.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tpl, string(raw)
}

// functionID is the logical id of the template's function of that kind.
func functionID(t *testing.T, tpl *samtemplate.Template, kind string) string {
	t.Helper()
	for _, fn := range tpl.Resources("AWS::Serverless::Function") {
		if functionKind(fn) == kind {
			return fn.ID
		}
	}
	t.Fatalf("no %s function", kind)
	return ""
}

// TestTemplateMatchesCode: the template deploys what the code expects.
func TestTemplateMatchesCode(t *testing.T) {
	tpl, _ := load(t)
	for _, p := range check(tpl) {
		t.Error(p)
	}
}

// TestBrokenTemplatesFail: each way the template can drift from the code
// is caught. A mutation that no longer applies fails too, so this list
// keeps up with the template. The mutations are of the repository's
// template.yaml, whatever $SAM_TEMPLATE names.
func TestBrokenTemplatesFail(t *testing.T) {
	_, good := loadFile(t, filepath.Join(root, "template.yaml"))
	tests := []mutation{
		{"VariableMissing", "          AUDIT_RETENTION_DAYS: !Ref AuditRetentionDays\n", "", "AUDIT_RETENTION_DAYS"},
		{"VariableUnused", "          AUDIT_RETENTION_DAYS: !Ref AuditRetentionDays\n", "          AUDIT_RETENTION_DAYS: !Ref AuditRetentionDays\n          DEBUG: \"1\"\n", "DEBUG"},
		{"NotifierVariableMissing", "          SMS_SENDER_ID: !Ref SmsSenderId\n", "", "SMS_SENDER_ID"},
		{"TableNameLiteral", "TABLE_NAME: !Ref UsersTable\n          AUTH_JWKS_URL", "TABLE_NAME: users\n          AUTH_JWKS_URL", "TABLE_NAME"},
		{"Runtime", "      Runtime: provided.al2023\n      Architectures: [arm64]\n      MemorySize: !Ref FunctionMemorySize", "      Runtime: provided.al2\n      Architectures: [arm64]\n      MemorySize: !Ref FunctionMemorySize", "Runtime"},
		{"Architecture", "      Architectures: [arm64]\n      MemorySize: 128", "      Architectures: [x86_64]\n      MemorySize: 128", "Architectures"},
		{"Handler", "      Handler: bootstrap\n      Runtime: provided.al2023\n      Architectures: [arm64]\n      MemorySize: !Ref FunctionMemorySize", "      Handler: main\n      Runtime: provided.al2023\n      Architectures: [arm64]\n      MemorySize: !Ref FunctionMemorySize", "Handler"},
		{"BuildMethod", "BuildMethod: makefile # runs `make build-NotifierFunction`", "BuildMethod: go1.x", "BuildMethod"},
		{"TextLogs", "LogFormat: JSON\n        LogGroup: !Ref UserInfoFunctionLogGroup", "LogFormat: Text\n        LogGroup: !Ref UserInfoFunctionLogGroup", "LogFormat"},
		{"OwnRole", "      MemorySize: !Ref FunctionMemorySize\n", "      MemorySize: !Ref FunctionMemorySize\n      Role: arn:aws:iam::123456789012:role/x\n", "Role"},
		{"NoNotifier", "          Type: DynamoDB\n", "          Type: SQS\n", "notifier"},
		{"EndpointUndeclared", "          AWS_ENDPOINT_URL_DYNAMODB: \"\"\n      # Releases", "      # Releases", "AWS_ENDPOINT_URL_DYNAMODB"},
		{"EndpointSet", "          AWS_ENDPOINT_URL_SESV2: \"\"", "          AWS_ENDPOINT_URL_SESV2: \"http://127.0.0.1:8005\"", "AWS_ENDPOINT_URL_SESV2"},
		{"KeySchema", "        - AttributeName: sk\n          KeyType: RANGE", "        - AttributeName: id\n          KeyType: RANGE", "keys"},
		{"AttributeType", "        - AttributeName: pk\n          AttributeType: S", "        - AttributeName: pk\n          AttributeType: N", "keys"},
		{"TimeoutTooLong", "    MinValue: 6\n    MaxValue: 28", "    MinValue: 6\n    MaxValue: 29", "Timeout"},
		{"TimeoutTooShort", "    MinValue: 6\n    MaxValue: 28", "    MinValue: 3\n    MaxValue: 28", "Timeout"},
		{"TTL", "AttributeName: expires_at", "AttributeName: ttl", "TimeToLive"},
		{"NoPITR", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", "PointInTime"},
		{"NoRetain", "    DeletionPolicy: !If [IsProd, Retain, Delete]", "    DeletionPolicy: Delete", "DeletionPolicy"},
		{"NoDeletionProtection", "DeletionProtectionEnabled: !If [IsProd, true, false]", "DeletionProtectionEnabled: false", "DeletionProtection"},
	}
	mustCatch(t, good, tests, check)
}

// mutation is a broken copy of template.yaml: old (which must occur once)
// replaced by new, which a check must catch with a problem about want.
type mutation struct{ name, old, new, want string }

// mustCatch runs check on each mutation of good, in a subtest of its name.
func mustCatch(t *testing.T, good string, tests []mutation, check func(*samtemplate.Template) []string) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(good, tt.old); n != 1 {
				t.Fatalf("the mutation's text occurs %d times in template.yaml, want once: update this test", n)
			}
			tpl, err := samtemplate.Parse([]byte(strings.Replace(good, tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			problems := check(tpl)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("the broken copy passed: problems %q, want one about %q", problems, tt.want)
			}
		})
	}
}

// TestEnvVarsFile: events/env.json (sam local invoke --env-vars) sets the
// function's variables, by its logical id, to values the code accepts.
func TestEnvVarsFile(t *testing.T) {
	tpl, _ := load(t)
	raw := mustRead(t, filepath.Join(root, "events", "env.json"))
	var byFunction map[string]map[string]string
	if err := json.Unmarshal(raw, &byFunction); err != nil {
		t.Fatal(err)
	}
	api, notifier := functionID(t, tpl, apiFunction), functionID(t, tpl, notifierFunction)
	for id := range byFunction {
		if id != api && id != notifier {
			t.Errorf("env.json sets the variables of %s, which is no function of the template", id)
		}
	}
	if _, ok := byFunction[api]; !ok {
		t.Fatalf("env.json has no variables for %s", api)
	}
	for id, fn := range map[string]struct {
		vars []string
		load func(func(string) string) error
	}{
		api:      {append(slices.Clone(app.Variables), sdkEndpoints[apiFunction]...), func(g func(string) string) error { _, err := app.LoadConfig(g); return err }},
		notifier: {append(slices.Clone(notify.Variables), sdkEndpoints[notifierFunction]...), func(g func(string) string) error { _, err := notify.LoadConfig(g); return err }},
	} {
		vars, ok := byFunction[id]
		if !ok {
			continue
		}
		if got, want := keys(vars), slices.Sorted(slices.Values(fn.vars)); !slices.Equal(got, want) {
			t.Errorf("env.json sets %v for %s, want the template's %v", got, id, want)
		}
		if err := fn.load(func(k string) string { return vars[k] }); err != nil {
			t.Errorf("env.json's values for %s are refused by the code: %v", id, err)
		}
	}
	// make run's defaults: its DynamoDB Local, its JWKS and its SES, on
	// loopback, which sam local invoke --docker-network host reaches.
	for id, defaults := range map[string]map[string]string{
		api: {
			dynamo.EndpointEnv: "http://127.0.0.1:8000",
			localenv.JWKSURL:   localenv.LocalJWKSURL("3000"),
			localenv.Table:     localenv.DefaultTable,
			localenv.Issuer:    devkeys.DefaultIssuer,
			localenv.Audience:  devkeys.DefaultAudience,
		},
		notifier: {
			dynamo.EndpointEnv:       "http://127.0.0.1:8000",
			"AWS_ENDPOINT_URL_SESV2": localenv.FromEnvironment(func(string) string { return "" }).SESEndpoint(),
			localenv.Table:           localenv.DefaultTable,
		},
	} {
		vars, ok := byFunction[id]
		if !ok {
			t.Errorf("env.json has no variables for %s", id)
		}
		for name, want := range defaults {
			if vars[name] != want {
				t.Errorf("env.json: %s's %s = %q, want make run's %q", id, name, vars[name], want)
			}
		}
	}
}

// TestEmptyEndpointIsRegional: the template declares the SDK's endpoint
// variable empty, so in AWS the client must then go to the regional
// endpoint, exactly as when the variable is unset; a value overrides it.
func TestEmptyEndpointIsRegional(t *testing.T) {
	nowhere := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", nowhere)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_CA_BUNDLE", "") // the recorder is no buildable client
	for _, tt := range []struct{ name, value, wantHost string }{
		{"Empty", "", "dynamodb.eu-west-1.amazonaws.com"},
		{"Set", "http://127.0.0.1:1", "127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(dynamo.EndpointEnv, tt.value)
			var hosts []string
			client, err := awsconfig.NewClient(t.Context(), config.WithHTTPClient(recordHost(func(h string) { hosts = append(hosts, h) })))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = client.ListTables(t.Context(), &dynamodb.ListTablesInput{})
			if len(hosts) == 0 || hosts[0] != tt.wantHost {
				t.Errorf("%s=%q: the client called %v, want %s", dynamo.EndpointEnv, tt.value, hosts, tt.wantHost)
			}
		})
	}
}

// recordHost is an HTTP client that records the host of each request and
// answers none of them.
type recordHost func(host string)

func (r recordHost) Do(req *http.Request) (*http.Response, error) {
	r(req.URL.Host)
	return nil, errors.New("recorded, not sent")
}

// TestMakefileBuildsForSAM: BuildMethod makefile runs build-<LogicalId>,
// which must put an arm64 bootstrap into $(ARTIFACTS_DIR).
func TestMakefileBuildsForSAM(t *testing.T) {
	tpl, _ := load(t)
	raw := mustRead(t, filepath.Join(root, "Makefile"))
	lines := strings.Split(string(raw), "\n")
	for kind, pkg := range map[string]string{apiFunction: "./functions/userinfo", notifierFunction: "./functions/notifier"} {
		target := "build-" + functionID(t, tpl, kind) + ":"
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, target) })
		if i < 0 {
			t.Errorf("the Makefile has no %s target", target)
			continue
		}
		var recipe strings.Builder
		for _, l := range lines[i:] {
			if l == "" {
				break
			}
			recipe.WriteString(l + "\n")
		}
		for _, want := range []string{"$(ARTIFACTS_DIR)", "bootstrap", "arm64", pkg} {
			if !strings.Contains(recipe.String(), want) {
				t.Errorf("the %s recipe lacks %q:\n%s", target, want, recipe.String())
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}
