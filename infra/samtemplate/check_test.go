package samtemplate_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/notify"
)

// apiGatewayTimeout is API Gateway's integration timeout: a function
// allowed to run longer would have its answers replaced by a 504.
const apiGatewayTimeout = 29 * time.Second

// check returns every way the template's own text disagrees with the code
// (the function's build, runtime, timeout and environment, the table);
// what CloudFormation makes of it is checkDeploy's. It is the test's core,
// kept apart so that broken copies of the template can be shown to fail it.
func check(t *samtemplate.Template) []string {
	var c checker
	c.tpl = t
	tables := t.Resources("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		c.failf("want one AWS::DynamoDB::Table, got %d", len(tables))
		return c.problems
	}
	c.table(tables[0])
	kinds := map[string]int{}
	for _, fn := range t.Resources("AWS::Serverless::Function") {
		kind := functionKind(fn)
		kinds[kind]++
		c.function(fn, kind, tables[0].ID)
	}
	if kinds[apiFunction] != 1 || kinds[notifierFunction] != 1 || len(kinds) != 2 {
		c.failf("functions by kind %v: want one API function (Api events) and one notifier (a DynamoDB stream event)", kinds)
	}
	return c.problems
}

// The template's two functions, told apart by what invokes them.
const (
	apiFunction      = "api"
	notifierFunction = "notifier"
)

// functionKind says which of the two fn is: the one API Gateway invokes,
// or the one the table's stream does.
func functionKind(fn samtemplate.Resource) string {
	events, _ := fn.Properties["Events"].(map[string]any)
	kinds := map[any]bool{}
	for _, ev := range events {
		typ, _ := samtemplate.Lookup(ev, "Type")
		kinds[typ] = true
	}
	switch {
	case len(kinds) == 1 && kinds["Api"]:
		return apiFunction
	case len(kinds) == 1 && kinds["DynamoDB"]:
		return notifierFunction
	}
	return fmt.Sprint("invoked by ", slices.Collect(maps.Keys(kinds)))
}

type checker struct {
	tpl      *samtemplate.Template
	problems []string
}

func (c *checker) failf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// prop returns a function property, falling back on Globals.Function as
// SAM does.
func (c *checker) prop(fn samtemplate.Resource, name string) any {
	if v, ok := fn.Properties[name]; ok {
		return v
	}
	v, _ := samtemplate.Lookup(c.tpl.Section("Globals"), "Function", name)
	return v
}

func (c *checker) function(fn samtemplate.Resource, kind, tableID string) {
	for name, want := range map[string]any{
		"Handler":       "bootstrap",
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
	} {
		if got := c.prop(fn, name); !reflect.DeepEqual(got, want) {
			c.failf("function %s: %s is %v, want %v", fn.ID, name, got, want)
		}
	}
	if v, _ := samtemplate.Lookup(fn.Attrs, "Metadata", "BuildMethod"); v != "makefile" {
		c.failf("function %s: Metadata.BuildMethod is %v, want makefile (the Makefile's build-%s target)", fn.ID, v, fn.ID)
	}
	if v, _ := samtemplate.Lookup(c.prop(fn, "LoggingConfig"), "LogFormat"); v != "JSON" {
		c.failf("function %s: LoggingConfig.LogFormat is %v, want JSON", fn.ID, v)
	}
	if _, ok := fn.Properties["Role"]; ok {
		c.failf("function %s: Role is set, so SAM ignores Policies: the least-privilege policy would not apply", fn.ID)
	}
	if kind == apiFunction {
		c.timeout(fn)
	}
	vars := app.Variables
	if kind == notifierFunction {
		vars = notify.Variables
	}
	c.environment(fn, append(slices.Clone(vars), sdkEndpoints[kind]...), tableID)
}

// timeout: under API Gateway's limit, over the handler's own deadline.
func (c *checker) timeout(fn samtemplate.Resource) {
	lo, hi, ok := c.numberRange(c.prop(fn, "Timeout"))
	if !ok {
		c.failf("function %s: Timeout must be a number or a Ref to a Number parameter with MinValue and MaxValue", fn.ID)
		return
	}
	if time.Duration(hi)*time.Second >= apiGatewayTimeout {
		c.failf("function %s: Timeout may be %v s, not below API Gateway's %v", fn.ID, hi, apiGatewayTimeout)
	}
	if time.Duration(lo)*time.Second <= httpapi.DefaultRequestTimeout {
		c.failf("function %s: Timeout may be %v s, not above the handler's %v deadline", fn.ID, lo, httpapi.DefaultRequestTimeout)
	}
}

// numberRange returns the values v can take: a literal, or a Number
// parameter's MinValue..MaxValue (whose Default must lie between).
func (c *checker) numberRange(v any) (lo, hi float64, ok bool) {
	if n, isNum := samtemplate.Number(v); isNum {
		return n, n, true
	}
	name, isRef := samtemplate.Ref(v)
	p, _ := c.tpl.Section("Parameters")[name].(map[string]any)
	if !isRef || p == nil || p["Type"] != "Number" {
		return 0, 0, false
	}
	lo, ok1 := samtemplate.Number(p["MinValue"])
	hi, ok2 := samtemplate.Number(p["MaxValue"])
	def, ok3 := samtemplate.Number(p["Default"])
	return lo, hi, ok1 && ok2 && (!ok3 || def >= lo && def <= hi)
}

// sdkEndpoints are the SDK's own endpoint variables of each function,
// declared empty (in AWS the SDK then uses the regional endpoints) so that
// sam local invoke --env-vars can point them at make run's local services:
// SAM passes a function only the variables the template declares.
var sdkEndpoints = map[string][]string{
	apiFunction:      {dynamo.EndpointEnv},
	notifierFunction: {dynamo.EndpointEnv, "AWS_ENDPOINT_URL_SESV2"},
}

// environment: exactly the variables the code reads and its SDK endpoints,
// TABLE_NAME the table, the endpoints empty.
func (c *checker) environment(fn samtemplate.Resource, variables []string, tableID string) {
	vars, _ := samtemplate.Lookup(c.prop(fn, "Environment"), "Variables")
	m, _ := vars.(map[string]any)
	for _, name := range variables {
		if _, ok := m[name]; !ok {
			c.failf("function %s: environment variable %s, which the code reads, is not set", fn.ID, name)
		}
	}
	for name := range m {
		if !slices.Contains(variables, name) {
			c.failf("function %s: environment variable %s is set but the code never reads it", fn.ID, name)
		}
	}
	if ref, ok := samtemplate.Ref(m["TABLE_NAME"]); !ok || ref != tableID {
		c.failf("function %s: TABLE_NAME is %v, want !Ref %s", fn.ID, m["TABLE_NAME"], tableID)
	}
	for _, name := range sdkEndpoints[functionKind(fn)] {
		if v, ok := m[name]; ok && v != "" {
			c.failf("function %s: %s is %v, want \"\": in AWS the SDK must use the regional endpoint", fn.ID, name, v)
		}
	}
}

// table: the store's schema, with the protections production needs.
func (c *checker) table(tb samtemplate.Resource) {
	def := ddbtable.Definition("x")
	var wantKeys, gotKeys, wantAttrs, gotAttrs []string
	for _, k := range def.KeySchema {
		wantKeys = append(wantKeys, *k.AttributeName+" "+string(k.KeyType))
	}
	for _, a := range def.AttributeDefinitions {
		wantAttrs = append(wantAttrs, *a.AttributeName+" "+string(a.AttributeType))
	}
	ks, _ := tb.Properties["KeySchema"].([]any)
	for _, k := range ks {
		gotKeys = append(gotKeys, fmt.Sprint(get(k, "AttributeName"), " ", get(k, "KeyType")))
	}
	ad, _ := tb.Properties["AttributeDefinitions"].([]any)
	for _, a := range ad {
		gotAttrs = append(gotAttrs, fmt.Sprint(get(a, "AttributeName"), " ", get(a, "AttributeType")))
	}
	sort.Strings(wantAttrs)
	sort.Strings(gotAttrs)
	if !slices.Equal(gotKeys, wantKeys) || !slices.Equal(gotAttrs, wantAttrs) {
		c.failf("table %s: keys %v attributes %v, want the store's %v and %v", tb.ID, gotKeys, gotAttrs, wantKeys, wantAttrs)
	}
	if v, _ := samtemplate.Lookup(tb.Properties, "StreamSpecification", "StreamViewType"); v != string(def.StreamSpecification.StreamViewType) {
		c.failf("table %s: StreamSpecification.StreamViewType %v, want %s", tb.ID, v, def.StreamSpecification.StreamViewType)
	}
	if tb.Properties["BillingMode"] != string(def.BillingMode) {
		c.failf("table %s: BillingMode %v, want %s", tb.ID, tb.Properties["BillingMode"], def.BillingMode)
	}
	for path, want := range map[string]any{
		"TimeToLiveSpecification.AttributeName":                       dynamo.TTLAttribute,
		"TimeToLiveSpecification.Enabled":                             true,
		"PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled": true,
		"SSESpecification.SSEEnabled":                                 true,
	} {
		if got, _ := samtemplate.Lookup(tb.Properties, strings.Split(path, ".")...); got != want {
			c.failf("table %s: %s is %v, want %v", tb.ID, path, got, want)
		}
	}
	// In production (literally, or in the true branch of a condition).
	if !prodValue(tb.Properties["DeletionProtectionEnabled"], true) {
		c.failf("table %s: DeletionProtectionEnabled must be true in production", tb.ID)
	}
	for _, attr := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if !prodValue(tb.Attrs[attr], "Retain") {
			c.failf("table %s: %s must be Retain in production", tb.ID, attr)
		}
	}
}

// prodValue reports whether v is want, or !If [cond, want, …].
func prodValue(v, want any) bool {
	if v == want {
		return true
	}
	l, _ := get(v, "Fn::If").([]any)
	return len(l) == 3 && l[1] == want
}
