package samtemplate_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// apiGatewayTimeout is API Gateway's integration timeout: a function
// allowed to run longer would have its answers replaced by a 504.
const apiGatewayTimeout = 29 * time.Second

// check returns every way t disagrees with the code; none means it
// deploys what the code expects. It is the test's core, kept apart so that
// broken copies of the template can be shown to fail it.
func check(t *samtemplate.Template) []string {
	var c checker
	c.tpl = t
	fns := t.Resources("AWS::Serverless::Function")
	tables := t.Resources("AWS::DynamoDB::Table")
	if len(fns) != 1 || len(tables) != 1 {
		c.failf("want one AWS::Serverless::Function and one AWS::DynamoDB::Table, got %d and %d", len(fns), len(tables))
		return c.problems
	}
	c.table(tables[0])
	c.function(fns[0], tables[0].ID)
	c.outputs(tables[0].ID)
	return c.problems
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

func (c *checker) function(fn samtemplate.Resource, tableID string) {
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
	c.timeout(fn)
	c.route(fn)
	c.environment(fn, tableID)
	c.policies(fn, tableID)
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
	if n, isNum := number(v); isNum {
		return n, n, true
	}
	name, isRef := samtemplate.Ref(v)
	p, _ := c.tpl.Section("Parameters")[name].(map[string]any)
	if !isRef || p == nil || p["Type"] != "Number" {
		return 0, 0, false
	}
	lo, ok1 := number(p["MinValue"])
	hi, ok2 := number(p["MaxValue"])
	def, ok3 := number(p["Default"])
	return lo, hi, ok1 && ok2 && (!ok3 || def >= lo && def <= hi)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// route: the one Api event is the router's route.
func (c *checker) route(fn samtemplate.Resource) {
	method, path, _ := strings.Cut(httpapi.Route, " ")
	events, _ := fn.Properties["Events"].(map[string]any)
	if len(events) != 1 {
		c.failf("function %s: %d events, want exactly one, %s", fn.ID, len(events), httpapi.Route)
		return
	}
	for name, ev := range events {
		typ, _ := samtemplate.Lookup(ev, "Type")
		p, _ := samtemplate.Lookup(ev, "Properties", "Path")
		m, _ := samtemplate.Lookup(ev, "Properties", "Method")
		ms, _ := m.(string)
		// SAM takes the method in any case; API Gateway's is upper case.
		if typ != "Api" || p != path || !strings.EqualFold(ms, method) {
			c.failf("function %s: event %s is %v %v %v, want Api %s", fn.ID, name, typ, m, p, httpapi.Route)
		}
	}
}

// templateVariables are the variables the template declares: those the code
// reads, and the SDK's DynamoDB endpoint, empty in AWS, declared so that sam
// local invoke --env-vars can set it (SAM passes only declared variables).
var templateVariables = append(slices.Clone(app.Variables), dynamo.EndpointEnv)

// environment: exactly templateVariables, TABLE_NAME the table, the
// endpoint empty.
func (c *checker) environment(fn samtemplate.Resource, tableID string) {
	vars, _ := samtemplate.Lookup(c.prop(fn, "Environment"), "Variables")
	m, _ := vars.(map[string]any)
	for _, name := range templateVariables {
		if _, ok := m[name]; !ok {
			c.failf("function %s: environment variable %s, which the code reads, is not set", fn.ID, name)
		}
	}
	for name := range m {
		if !slices.Contains(templateVariables, name) {
			c.failf("function %s: environment variable %s is set but the code never reads it", fn.ID, name)
		}
	}
	if ref, ok := samtemplate.Ref(m["TABLE_NAME"]); !ok || ref != tableID {
		c.failf("function %s: TABLE_NAME is %v, want !Ref %s", fn.ID, m["TABLE_NAME"], tableID)
	}
	if v, ok := m[dynamo.EndpointEnv]; ok && v != "" {
		c.failf("function %s: %s is %v, want \"\": in AWS the SDK must use the regional endpoint", fn.ID, dynamo.EndpointEnv, v)
	}
}

// policies: inline statements only, allowing exactly the store's actions,
// on the table only.
func (c *checker) policies(fn samtemplate.Resource, tableID string) {
	list, _ := fn.Properties["Policies"].([]any)
	var actions []string
	for _, p := range list {
		stmts, ok := samtemplate.Lookup(p, "Statement")
		if !ok {
			c.failf("function %s: policy %v is not an inline document: a managed policy or SAM policy template grants more than the code needs", fn.ID, p)
			continue
		}
		sl, _ := stmts.([]any)
		for _, s := range sl {
			sm, _ := s.(map[string]any)
			if sm["Effect"] != "Allow" || sm["NotAction"] != nil || sm["NotResource"] != nil {
				c.failf("function %s: statement %v: want a plain Allow of Action on Resource", fn.ID, s)
			}
			actions = append(actions, strings1(sm["Action"])...)
			res := sm["Resource"]
			if l, ok := res.([]any); ok && len(l) == 1 {
				res = l[0]
			}
			if r, attr, ok := samtemplate.GetAtt(res); !ok || r != tableID || attr != "Arn" {
				c.failf("function %s: statement allows %v on %v, want only !GetAtt %s.Arn", fn.ID, sm["Action"], sm["Resource"], tableID)
			}
		}
	}
	sort.Strings(actions)
	if want := dynamo.IAMActions(); !slices.Equal(actions, want) {
		c.failf("function %s: IAM actions %v, want exactly the store's %v", fn.ID, actions, want)
	}
	// Every operation the store calls is authorised: by its own action,
	// or (TransactWriteItems) by the item actions of its parts.
	for _, op := range dynamo.Operations() {
		if op != "TransactWriteItems" && !slices.Contains(actions, "dynamodb:"+op) {
			c.failf("function %s: the store calls %s, which no action allows", fn.ID, op)
		}
	}
}

func strings1(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// table: the store's schema, with the protections production needs.
func (c *checker) table(tb samtemplate.Resource) {
	def := dynamo.TableDefinition("x")
	var wantKeys, gotKeys, wantAttrs, gotAttrs []string
	for _, k := range def.KeySchema {
		wantKeys = append(wantKeys, *k.AttributeName+" "+string(k.KeyType))
	}
	for _, a := range def.AttributeDefinitions {
		wantAttrs = append(wantAttrs, *a.AttributeName+" "+string(a.AttributeType))
	}
	ks, _ := tb.Properties["KeySchema"].([]any)
	for _, k := range ks {
		gotKeys = append(gotKeys, fmt.Sprint(mapGet(k, "AttributeName"), " ", mapGet(k, "KeyType")))
	}
	ad, _ := tb.Properties["AttributeDefinitions"].([]any)
	for _, a := range ad {
		gotAttrs = append(gotAttrs, fmt.Sprint(mapGet(a, "AttributeName"), " ", mapGet(a, "AttributeType")))
	}
	sort.Strings(wantAttrs)
	sort.Strings(gotAttrs)
	if !slices.Equal(gotKeys, wantKeys) || !slices.Equal(gotAttrs, wantAttrs) {
		c.failf("table %s: keys %v attributes %v, want the store's %v and %v", tb.ID, gotKeys, gotAttrs, wantKeys, wantAttrs)
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
	l, _ := mapGet(v, "Fn::If").([]any)
	return len(l) == 3 && l[1] == want
}

func mapGet(v any, key string) any {
	m, _ := v.(map[string]any)
	return m[key]
}

// outputs: the base URL, the full route URL and the table name.
func (c *checker) outputs(tableID string) {
	_, path, _ := strings.Cut(httpapi.Route, " ")
	var base, route, table bool
	for _, o := range c.tpl.Section("Outputs") {
		v, _ := samtemplate.Lookup(o, "Value")
		sub, _ := mapGet(v, "Fn::Sub").(string)
		base = base || strings.Contains(sub, ".execute-api.") && !strings.Contains(sub, "/v3.0")
		route = route || strings.Contains(sub, ".execute-api.") && strings.HasSuffix(sub, path)
		if ref, ok := samtemplate.Ref(v); ok && ref == tableID {
			table = true
		}
	}
	if !base || !route || !table {
		c.failf("outputs: API base URL %v, route URL ending %s %v, table name %v: want all three", base, path, route, table)
	}
}
