package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/iam-userinfo/userinfo/infra/samtemplate"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/httpapi"
)

// deploy is one translated and resolved stack: what CloudFormation would
// create for one set of parameter values.
type deploy struct {
	name       string
	params     map[string]string     // every parameter's value, defaults included
	tpl        *samtemplate.Template // resolved
	translated *samtemplate.Template // before resolving
}

func (d deploy) prod() bool      { return d.params["Environment"] == "prod" }
func (d deploy) hasDomain() bool { return d.params["DomainName"] != "" }
func (d deploy) hasAlarms() bool { return d.params["AlarmEmail"] != "" }
func (d deploy) tracing() bool   { return d.params["TracingMode"] == "Active" }
func (d deploy) wantsWAF() bool {
	w := d.params["WafEnabled"]
	return w == "true" || w == "default" && d.prod()
}
func (d deploy) stageName() string { return d.params["Environment"] }

// stackChecker collects the ways one deploy departs from what the code and
// the issue of record expect.
type stackChecker struct {
	d        deploy
	problems []string
}

func (c *stackChecker) failf(format string, args ...any) {
	c.problems = append(c.problems, c.d.name+": "+fmt.Sprintf(format, args...))
}

// resources returns the deploy's resources of type typ by logical id.
func (c *stackChecker) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range c.d.tpl.Section("Resources") {
		if m, _ := r.(map[string]any); m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

// one returns the only resource of type typ, or fails.
func (c *stackChecker) one(typ string) (string, map[string]any) {
	rs := c.resources(typ)
	if len(rs) != 1 {
		c.failf("%d resources of type %s, want 1", len(rs), typ)
		return "", nil
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

func props(r map[string]any) map[string]any { return asMap(r["Properties"]) }

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// get follows path from v through mappings (by key) and lists (by index),
// and returns nil when a step is missing.
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// checkDeploy returns every problem of d: it is the tests' core, kept apart
// so that broken copies of template.yaml can be shown to fail it.
func checkDeploy(d deploy) []string {
	c := &stackChecker{d: d}
	c.routes()
	c.gatewayResponses()
	c.accessLog()
	c.releases()
	c.firewall()
	c.alarms()
	c.dashboard()
	c.grants()
	c.customDomain()
	c.apiGatewayAccount()
	c.notifier()
	return c.problems
}

// --- 1. Every method on every path reaches the function ------------------

// probeMethods and probePaths are requests a caller might send; API
// Gateway must hand each to the function (which answers 204/4xx as `make
// run` does), never answer it on its own.
var (
	probeMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
	probePaths   = []string{
		"/v3.0/OS-USER/users/0638848aa7801dbe1f01c01e92b95df7/info",
		"/",
		"/v3.0",
		"/v3.0/OS-USER/users/0638848aa7801dbe1f01c01e92b95df7",
		"/v3.0/OS-USER/users/0638848aa7801dbe1f01c01e92b95df7/info/more",
		"/v3/OS-USER/users/x/info",
		"/favicon.ico",
	}
)

func routePath() string {
	_, p, _ := strings.Cut(httpapi.Route, " ")
	return p
}

// matchResource returns the path of the REST API resource API Gateway
// would route path to: literal segments before {param} before {proxy+}.
func matchResource(paths []string, path string) (string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if path == "/" {
		segs = nil
	}
	best, bestRank := "", ""
	for _, p := range paths {
		rank, ok := resourceRank(p, segs)
		if ok && rank > bestRank {
			best, bestRank = p, rank
		}
	}
	return best, bestRank != ""
}

// resourceRank says whether resource path p matches the request segments
// and how specifically: one letter per segment, L(iteral) > P(aram) >
// G(reedy), compared as strings.
func resourceRank(p string, segs []string) (string, bool) {
	var res []string
	if p != "/" {
		res = strings.Split(strings.Trim(p, "/"), "/")
	}
	var rank strings.Builder
	rank.WriteString("R") // any match outranks none
	for i, r := range res {
		switch {
		case strings.HasPrefix(r, "{") && strings.HasSuffix(r, "+}"):
			if i != len(res)-1 || len(segs) <= i {
				return "", false
			}
			rank.WriteString("G")
			return rank.String(), true
		case i >= len(segs):
			return "", false
		case strings.HasPrefix(r, "{") && strings.HasSuffix(r, "}"):
			if segs[i] == "" {
				return "", false
			}
			rank.WriteString("P")
		case r == segs[i]:
			rank.WriteString("Z") // literal: highest
		default:
			return "", false
		}
	}
	if len(res) != len(segs) {
		return "", false
	}
	return rank.String(), true
}

// restAPI returns the REST API's logical id and OpenAPI body.
func (c *stackChecker) restAPI() (string, map[string]any) {
	id, api := c.one("AWS::ApiGateway::RestApi")
	return id, asMap(props(api)["Body"])
}

// apiFunction returns the logical id and resource of the function API
// Gateway invokes (through its alias "live").
func (c *stackChecker) apiFunction() (string, map[string]any) {
	if alias := c.resources("AWS::Lambda::Alias")[c.alias()]; alias != nil {
		id, _ := samtemplate.Ref(props(alias)["FunctionName"])
		if fn := c.resources("AWS::Lambda::Function")[id]; fn != nil {
			return id, fn
		}
	}
	c.failf("no function behind the alias live")
	return "", nil
}

// alias returns the logical id of the function's alias "live".
func (c *stackChecker) alias() string {
	for id, a := range c.resources("AWS::Lambda::Alias") {
		if props(a)["Name"] == "live" {
			return id
		}
	}
	c.failf("no Lambda alias named live")
	return ""
}

func (c *stackChecker) routes() {
	apiID, body := c.restAPI()
	alias := c.alias()
	if body == nil || alias == "" {
		return
	}
	paths := asMap(body["paths"])
	if _, ok := asMap(paths[routePath()])["x-amazon-apigateway-any-method"]; !ok {
		c.failf("the route %s has no ANY method of its own (its metrics and access log lines would be lumped with other paths)", routePath())
	}
	names := slices.Collect(maps.Keys(paths))
	for _, path := range probePaths {
		res, ok := matchResource(names, path)
		if !ok {
			c.failf("%s matches no resource: API Gateway answers it itself", path)
			continue
		}
		for _, m := range probeMethods {
			op := asMap(paths[res])[strings.ToLower(m)]
			if op == nil {
				op = asMap(paths[res])["x-amazon-apigateway-any-method"]
			}
			in := asMap(get(op, "x-amazon-apigateway-integration"))
			uri, _ := get(in, "uri", "Fn::Sub").(string)
			if in["type"] != "aws_proxy" || in["httpMethod"] != "POST" || !strings.Contains(uri, "${"+alias+"}") {
				c.failf("%s %s (resource %s) reaches no Lambda proxy integration of the alias %s: %v", m, path, res, alias, in)
				continue
			}
			c.invokePermission(apiID, alias, m, path)
		}
	}
}

// invokePermission checks that a Lambda permission lets API Gateway invoke
// the alias for method and path.
func (c *stackChecker) invokePermission(apiID, alias, method, path string) {
	arn := "arn:aws:execute-api:" + region + ":" + accountID + ":" + apiID + "/" + c.d.stageName() + "/" + method + path
	for _, p := range c.resources("AWS::Lambda::Permission") {
		pp := props(p)
		if ref, _ := samtemplate.Ref(pp["FunctionName"]); ref != alias || pp["Principal"] != "apigateway.amazonaws.com" {
			continue
		}
		sub, _ := get(pp, "SourceArn", "Fn::Sub").([]any)
		if len(sub) != 2 {
			continue
		}
		pattern, _ := sub[0].(string)
		pattern = strings.NewReplacer("${AWS::Region}", region, "${AWS::AccountId}", accountID, "${__ApiId__}", apiID).Replace(pattern)
		if stage, _ := asMap(sub[1])["__Stage__"].(string); stage != "" {
			pattern = strings.ReplaceAll(pattern, "${__Stage__}", stage)
		}
		if stringLike(pattern, arn) {
			return
		}
	}
	c.failf("no Lambda permission lets API Gateway invoke %s for %s %s", alias, method, path)
}

// stringLike reports whether s matches the IAM/ARN pattern p (* is any run
// of characters, ? one).
func stringLike(p, s string) bool {
	re := regexp.QuoteMeta(p)
	re = strings.ReplaceAll(re, `\*`, ".*")
	re = strings.ReplaceAll(re, `\?`, ".")
	return regexp.MustCompile("^" + re + "$").MatchString(s)
}

// --- 1. API Gateway's own answers in the contract's shape ----------------

// gatewayResponseTypes are every REST API gateway response type, with the
// status API Gateway gives it when nothing is configured.
var gatewayResponseTypes = map[string]int{
	"ACCESS_DENIED": 403, "API_CONFIGURATION_ERROR": 500, "AUTHORIZER_CONFIGURATION_ERROR": 500,
	"AUTHORIZER_FAILURE": 500, "BAD_REQUEST_PARAMETERS": 400, "BAD_REQUEST_BODY": 400,
	"EXPIRED_TOKEN": 403, "INTEGRATION_FAILURE": 504, "INTEGRATION_TIMEOUT": 504,
	"INVALID_API_KEY": 403, "INVALID_SIGNATURE": 403, "MISSING_AUTHENTICATION_TOKEN": 403,
	"QUOTA_EXCEEDED": 429, "REQUEST_TOO_LARGE": 413, "RESOURCE_NOT_FOUND": 404,
	"THROTTLED": 429, "UNAUTHORIZED": 401, "UNSUPPORTED_MEDIA_TYPE": 415, "WAF_FILTERED": 403,
}

// gatewayDesign is what the design asks of some answers: throttling at the
// edge answers like throttling inside (503), a path without a route like
// any unknown path (404), a body over API Gateway's limit like one over
// ours (413).
var gatewayDesign = map[string]int{
	"THROTTLED": 503, "QUOTA_EXCEEDED": 503, "INTEGRATION_TIMEOUT": 503, "INTEGRATION_FAILURE": 503,
	"MISSING_AUTHENTICATION_TOKEN": 404, "RESOURCE_NOT_FOUND": 404, "REQUEST_TOO_LARGE": 413,
	"UNAUTHORIZED": 401, "WAF_FILTERED": 403,
}

// gatewayAnswer is a gateway response as API Gateway applies it.
type gatewayAnswer struct {
	status    int
	params    map[string]any
	templates map[string]any
}

// effectiveGatewayResponses returns, for every response type, the answer
// API Gateway gives: the type's own entry, else DEFAULT_4XX's or
// DEFAULT_5XX's (whose status, when set, replaces the type's own).
func effectiveGatewayResponses(configured map[string]any) map[string]gatewayAnswer {
	read := func(v any, fallbackStatus int) gatewayAnswer {
		m := asMap(v)
		a := gatewayAnswer{status: fallbackStatus, params: asMap(m["responseParameters"]), templates: asMap(m["responseTemplates"])}
		if s, err := strconv.Atoi(fmt.Sprint(m["statusCode"])); err == nil {
			a.status = s
		}
		return a
	}
	out := map[string]gatewayAnswer{}
	for typ, status := range gatewayResponseTypes {
		if v, ok := configured[typ]; ok {
			out[typ] = read(v, status)
			continue
		}
		def := "DEFAULT_4XX"
		if status >= 500 {
			def = "DEFAULT_5XX"
		}
		out[typ] = read(configured[def], status)
	}
	return out
}

func (c *stackChecker) gatewayResponses() {
	_, body := c.restAPI()
	configured := asMap(body["x-amazon-apigateway-gateway-responses"])
	for typ := range configured {
		if _, ok := gatewayResponseTypes[typ]; !ok && typ != "DEFAULT_4XX" && typ != "DEFAULT_5XX" {
			c.failf("gateway response %s is no response type API Gateway has", typ)
		}
	}
	answers := httpapi.ErrorAnswers()
	for _, typ := range slices.Sorted(maps.Keys(gatewayResponseTypes)) {
		a := effectiveGatewayResponses(configured)[typ]
		want, ok := answers[a.status]
		if !ok {
			c.failf("gateway response %s answers %d, a status the API never gives", typ, a.status)
			continue
		}
		if s, ok := gatewayDesign[typ]; ok && a.status != s {
			c.failf("gateway response %s answers %d, want %d", typ, a.status, s)
		}
		if len(a.templates) != 1 || a.templates["application/json"] == nil {
			c.failf("gateway response %s: templates %v, want one, application/json (the answer's Content-Type)", typ, slices.Collect(maps.Keys(a.templates)))
		}
		tpl, _ := a.templates["application/json"].(string)
		c.errorBody("gateway response "+typ, strings.ReplaceAll(tpl, "$context.requestId", "req-1"), want, "req-1")
		for name, v := range map[string]string{
			"Cache-Control":          "'no-store'",
			"X-Content-Type-Options": "'nosniff'",
			// API Gateway's request id, which the body holds as
			// $context.requestId, arrives as this request header.
			"X-Request-Id": "method.request.header.x-amzn-RequestId",
		} {
			if got := a.params["gatewayresponse.header."+name]; got != v {
				c.failf("gateway response %s: header %s is %v, want %s", typ, name, got, v)
			}
		}
		retry := a.params["gatewayresponse.header.Retry-After"]
		if want := fmt.Sprintf("'%d'", httpapi.RetryAfterSeconds); a.status == http.StatusServiceUnavailable && retry != want {
			c.failf("gateway response %s: a 503 with Retry-After %v, want %s like the function's", typ, retry, want)
		}
	}
}

// errorBody checks that body is the API's error body for want, with the
// given request id.
func (c *stackChecker) errorBody(what, body string, want httpapi.ErrorAnswer, requestID string) {
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		c.failf("%s: body %q is not JSON: %v", what, body, err)
		return
	}
	exp := map[string]any{"error_code": want.IAMCode, "error_msg": want.Message, "request_id": requestID}
	if !reflect.DeepEqual(got, exp) {
		c.failf("%s: body %v, want %v (the function's answer for %d)", what, got, exp, want.Status)
	}
}

// --- 7. Access logs ------------------------------------------------------

func (c *stackChecker) accessLog() {
	_, stage := c.one("AWS::ApiGateway::Stage")
	format, _ := get(props(stage), "AccessLogSetting", "Format").(string)
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		c.failf("access log format is not a JSON object of strings: %v", err)
		return
	}
	values := slices.Collect(maps.Values(fields))
	for _, want := range []string{
		"$context.requestId", "$context.status", "$context.error.responseType", "$context.integration.requestId",
		"$context.integrationLatency", "$context.responseLatency", "$context.identity.userAgent", "$context.identity.sourceIp",
	} {
		if !slices.Contains(values, want) {
			c.failf("the access log lacks %s", want)
		}
	}
	for _, v := range values {
		// Headers and bodies hold tokens, emails and numbers.
		if strings.Contains(v, "$input") || strings.Contains(strings.ToLower(v), "header") || strings.Contains(v, "authorizer") {
			c.failf("the access log logs %s", v)
		}
	}
}

// --- 5. Releases that can be taken back ----------------------------------

func (c *stackChecker) releases() {
	fnID, _ := c.apiFunction()
	aliasID := c.alias()
	if aliasID == "" {
		return
	}
	alias := c.resources("AWS::Lambda::Alias")[aliasID]
	versionID, attr, _ := samtemplate.GetAtt(props(alias)["FunctionVersion"])
	version := c.resources("AWS::Lambda::Version")[versionID]
	if ref, _ := samtemplate.Ref(props(version)["FunctionName"]); version == nil || attr != "Version" || ref != fnID {
		c.failf("alias %s does not point at a version of %s", aliasID, fnID)
	}
	groupRef, _ := samtemplate.Ref(get(alias, "UpdatePolicy", "CodeDeployLambdaAliasUpdate", "DeploymentGroupName"))
	group := c.resources("AWS::CodeDeploy::DeploymentGroup")[groupRef]
	if group == nil {
		c.failf("alias %s is not shifted by a CodeDeploy deployment group", aliasID)
		return
	}
	gp := props(group)
	want := "CodeDeployDefault.LambdaAllAtOnce"
	if c.d.prod() {
		want = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
	}
	if got := gp["DeploymentConfigName"]; got != want {
		c.failf("deployment config %v, want %s", got, want)
	}
	events, _ := get(gp, "AutoRollbackConfiguration", "Events").([]any)
	if get(gp, "AutoRollbackConfiguration", "Enabled") != true || !slices.Contains(events, any("DEPLOYMENT_STOP_ON_ALARM")) || !slices.Contains(events, any("DEPLOYMENT_FAILURE")) {
		c.failf("deployments do not roll back on alarm and failure: %v", gp["AutoRollbackConfiguration"])
	}
	if get(gp, "AlarmConfiguration", "Enabled") != true {
		c.failf("the deployment group watches no alarms")
	}
	alarms, _ := get(gp, "AlarmConfiguration", "Alarms").([]any)
	var watched []map[string]any
	for _, a := range alarms {
		ref, _ := samtemplate.Ref(get(a, "Name"))
		if al := c.resources("AWS::CloudWatch::Alarm")[ref]; al != nil {
			watched = append(watched, props(al))
		}
	}
	for what, match := range map[string]func(map[string]any) bool{
		"the API's 5xx rate":      isRateOf("5XXError"),
		"the API's p99 latency":   isP99Latency,
		"the live alias's errors": c.isAliasErrors,
	} {
		if !slices.ContainsFunc(watched, match) {
			c.failf("no rollback alarm watches %s", what)
		}
	}
}

// --- 3. The firewall -----------------------------------------------------

func (c *stackChecker) firewall() {
	acls := c.resources("AWS::WAFv2::WebACL")
	assocs := c.resources("AWS::WAFv2::WebACLAssociation")
	if !c.d.wantsWAF() {
		if len(acls)+len(assocs) > 0 {
			c.failf("a web ACL where WafEnabled=%s in %s", c.d.params["WafEnabled"], c.d.stageName())
		}
		return
	}
	if len(acls) != 1 || len(assocs) != 1 {
		c.failf("%d web ACLs and %d associations, want the stage's one", len(acls), len(assocs))
		return
	}
	var aclID string
	var acl map[string]any
	for id, a := range acls {
		aclID, acl = id, props(a)
	}
	for _, a := range assocs {
		ap := props(a)
		apiID, _ := c.restAPI()
		stageID, _ := c.one("AWS::ApiGateway::Stage")
		arn, _ := get(ap, "ResourceArn", "Fn::Sub").(string)
		if r, attr, _ := samtemplate.GetAtt(ap["WebACLArn"]); r != aclID || attr != "Arn" ||
			!strings.HasSuffix(arn, "/restapis/${"+apiID+"}/stages/${"+stageID+"}") {
			c.failf("the web ACL association %v does not put %s on the API's stage", ap, aclID)
		}
	}
	if acl["Scope"] != "REGIONAL" || get(acl, "DefaultAction", "Allow") == nil {
		c.failf("web ACL: scope %v, default action %v: want REGIONAL, Allow", acl["Scope"], acl["DefaultAction"])
	}
	limit, _ := get(acl, "AssociationConfig", "RequestBody", "API_GATEWAY", "DefaultSizeInspectionLimit").(string)
	kb, _ := strconv.Atoi(strings.TrimPrefix(limit, "KB_"))
	rules, _ := acl["Rules"].([]any)
	var sizeRule, rateRule bool
	groups := map[string]map[string]any{}
	for _, r := range rules {
		rm := asMap(r)
		name, _ := rm["Name"].(string)
		if g := asMap(get(rm, "Statement", "ManagedRuleGroupStatement")); g != nil {
			if get(rm, "OverrideAction", "None") == nil {
				c.failf("web ACL rule %s only counts: want its group's actions (OverrideAction None)", name)
			}
			groups[fmt.Sprint(g["Name"])] = g
			continue
		}
		if s := asMap(get(rm, "Statement", "SizeConstraintStatement")); s != nil {
			size, _ := strconv.Atoi(fmt.Sprint(s["Size"]))
			sizeRule = get(s, "FieldToMatch", "Body", "OversizeHandling") == "MATCH" && s["ComparisonOperator"] == "GT" &&
				size == httpapi.MaxBodyBytes && kb*1024 >= httpapi.MaxBodyBytes
			if !sizeRule {
				c.failf("web ACL size rule %s: %v with a %s inspection limit; want bodies over httpapi.MaxBodyBytes (%d) blocked and no smaller one", name, s, limit, httpapi.MaxBodyBytes)
			}
			c.blockAnswer(acl, rm, http.StatusRequestEntityTooLarge)
		}
		if s := asMap(get(rm, "Statement", "RateBasedStatement")); s != nil {
			rateRule = s["AggregateKeyType"] == "IP"
			c.blockAnswer(acl, rm, http.StatusServiceUnavailable)
		}
	}
	if !sizeRule || !rateRule {
		c.failf("web ACL: body size rule %v, per-IP rate rule %v: want both", sizeRule, rateRule)
	}
	for _, name := range []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"} {
		if groups[name] == nil {
			c.failf("web ACL lacks the managed rule group %s", name)
		}
	}
	// The common rule set blocks bodies over 8 KB, which the API takes.
	overrides, _ := groups["AWSManagedRulesCommonRuleSet"]["RuleActionOverrides"].([]any)
	if !slices.ContainsFunc(overrides, func(o any) bool {
		return get(o, "Name") == "SizeRestrictions_BODY" && get(o, "ActionToUse", "Count") != nil
	}) {
		c.failf("web ACL: AWSManagedRulesCommonRuleSet's SizeRestrictions_BODY would block bodies the API takes: count it instead")
	}
}

// blockAnswer checks that rule blocks with the API's answer for status.
func (c *stackChecker) blockAnswer(acl, rule map[string]any, status int) {
	cr := asMap(get(rule, "Action", "Block", "CustomResponse"))
	code, _ := strconv.Atoi(fmt.Sprint(cr["ResponseCode"]))
	if code != status {
		c.failf("web ACL rule %v answers %v, want %d", rule["Name"], cr["ResponseCode"], status)
		return
	}
	key, _ := cr["CustomResponseBodyKey"].(string)
	body := asMap(get(acl, "CustomResponseBodies", key))
	if body["ContentType"] != "APPLICATION_JSON" {
		c.failf("web ACL rule %v: body %s is not APPLICATION_JSON", rule["Name"], key)
	}
	content, _ := body["Content"].(string)
	// WAF has no variables: its own answers cannot carry API Gateway's id.
	c.errorBody(fmt.Sprintf("web ACL rule %v", rule["Name"]), content, httpapi.ErrorAnswers()[status], "")
	headers := map[string]any{}
	hl, _ := cr["ResponseHeaders"].([]any)
	for _, h := range hl {
		headers[fmt.Sprint(get(h, "Name"))] = get(h, "Value")
	}
	if headers["Cache-Control"] != "no-store" {
		c.failf("web ACL rule %v: answer without Cache-Control: no-store", rule["Name"])
	}
	if _, ok := headers["Retry-After"]; status == http.StatusServiceUnavailable && !ok {
		c.failf("web ACL rule %v: a 503 without Retry-After", rule["Name"])
	}
}

// --- 4. Alarms that reach people, and the ones that matter ---------------

func isRateOf(metric string) func(map[string]any) bool {
	return func(a map[string]any) bool {
		ms, _ := a["Metrics"].([]any)
		var hasMetric, hasCount, divides bool
		for _, m := range ms {
			switch get(m, "MetricStat", "Metric", "MetricName") {
			case metric:
				hasMetric = true
			case "Count":
				hasCount = get(m, "MetricStat", "Metric", "Namespace") == "AWS/ApiGateway"
			}
			if e, _ := get(m, "Expression").(string); strings.Contains(e, "/") && get(m, "ReturnData") == true {
				divides = true
			}
		}
		return hasMetric && hasCount && divides
	}
}

func isP99Latency(a map[string]any) bool {
	return a["Namespace"] == "AWS/ApiGateway" && a["MetricName"] == "Latency" && a["ExtendedStatistic"] == "p99"
}

func (c *stackChecker) isAliasErrors(a map[string]any) bool {
	if a["Namespace"] != "AWS/Lambda" || a["MetricName"] != "Errors" {
		return false
	}
	ds, _ := a["Dimensions"].([]any)
	return slices.ContainsFunc(ds, func(d any) bool {
		v, _ := get(d, "Value", "Fn::Sub").(string)
		return get(d, "Name") == "Resource" && strings.HasSuffix(v, ":live")
	})
}

func (c *stackChecker) alarms() {
	alarms := c.resources("AWS::CloudWatch::Alarm")
	list := slices.Collect(maps.Values(alarms))
	fnID, _ := c.apiFunction()
	for what, match := range map[string]func(map[string]any) bool{
		"the API's p99 latency": func(a map[string]any) bool { return isP99Latency(props(a)) },
		"the API's 5xx rate":    func(a map[string]any) bool { return isRateOf("5XXError")(props(a)) },
		"Lambda throttles": func(a map[string]any) bool {
			ref, _ := samtemplate.Ref(get(props(a), "Dimensions", "0", "Value"))
			return props(a)["Namespace"] == "AWS/Lambda" && props(a)["MetricName"] == "Throttles" && ref == fnID
		},
		"the 401 rate": func(a map[string]any) bool { return isRateOf(unauthorizedMetric(c))(props(a)) },
	} {
		if !slices.ContainsFunc(list, match) {
			c.failf("no alarm on %s", what)
		}
	}
	topics := c.resources("AWS::SNS::Topic")
	if !c.d.hasAlarms() {
		if len(topics) > 0 {
			c.failf("an alarm topic without AlarmEmail")
		}
		return
	}
	if len(topics) != 1 {
		c.failf("%d SNS topics, want the alarms' one", len(topics))
		return
	}
	for topicID, topic := range topics {
		tp := props(topic)
		subs, _ := tp["Subscription"].([]any)
		if len(subs) != 1 || get(subs[0], "Protocol") != "email" || get(subs[0], "Endpoint") != c.d.params["AlarmEmail"] {
			c.failf("topic %s: subscriptions %v, want AlarmEmail's", topicID, subs)
		}
		c.topicKey(topicID, tp["KmsMasterKeyId"])
		for id, a := range alarms {
			for _, list := range []string{"AlarmActions", "OKActions"} {
				acts, _ := props(a)[list].([]any)
				if len(acts) != 1 || !reflect.DeepEqual(acts[0], map[string]any{"Ref": topicID}) {
					c.failf("alarm %s: %s %v, want the topic %s", id, list, acts, topicID)
				}
			}
		}
	}
}

// topicKey checks that the topic's key lets CloudWatch alarms publish: a
// key of the stack's own, whose policy allows CloudWatch. The AWS managed
// key alias/aws/sns does not, and its policy cannot be changed.
func (c *stackChecker) topicKey(topicID string, key any) {
	if key == nil {
		return // unencrypted: CloudWatch can publish
	}
	keyID, ok := samtemplate.Ref(key)
	k := c.resources("AWS::KMS::Key")[keyID]
	if !ok || k == nil {
		c.failf("topic %s is encrypted with %v, which CloudWatch alarms cannot use: want a KMS key of the stack's own", topicID, key)
		return
	}
	stmts, _ := get(props(k), "KeyPolicy", "Statement").([]any)
	allowed := map[string]bool{}
	for _, s := range stmts {
		if get(s, "Effect") != "Allow" || get(s, "Principal", "Service") != "cloudwatch.amazonaws.com" {
			continue
		}
		acts := get(s, "Action")
		list, ok := acts.([]any)
		if !ok {
			list = []any{acts}
		}
		for _, a := range list {
			allowed[fmt.Sprint(a)] = true
		}
	}
	if !allowed["kms:Decrypt"] || !allowed["kms:GenerateDataKey*"] && !allowed["kms:GenerateDataKey"] {
		c.failf("the alarm key %s does not let CloudWatch encrypt (kms:GenerateDataKey*, kms:Decrypt): %v", keyID, allowed)
	}
}

// unauthorizedMetric returns the name of the metric the 401 metric filter
// counts, checking that the filter reads the function's log line.
func unauthorizedMetric(c *stackChecker) string {
	for id, f := range c.resources("AWS::Logs::MetricFilter") {
		fp := props(f)
		if fp["FilterPattern"] != unauthorizedPattern {
			continue
		}
		if ref, _ := samtemplate.Ref(fp["LogGroupName"]); !strings.Contains(ref, "Function") {
			c.failf("metric filter %s reads %v, not the function's log", id, fp["LogGroupName"])
		}
		name, _ := get(fp, "MetricTransformations", "0", "MetricName").(string)
		return name
	}
	return "(no metric filter counting the log's 401 lines)"
}

// unauthorizedPattern matches the function's log line of a 401 answer;
// TestUnauthorizedPatternMatchesTheLog holds it to the handler's log.
const unauthorizedPattern = "{ $.status = 401 }"

// --- 4. The dashboard ----------------------------------------------------

func (c *stackChecker) dashboard() {
	_, d := c.one("AWS::CloudWatch::Dashboard")
	raw, _ := get(props(d), "DashboardBody", "Fn::Sub").(string)
	// What is left to substitute names resources; any string will do.
	raw = regexp.MustCompile(`\$\{[^}]+\}`).ReplaceAllString(raw, "x")
	var body struct {
		Widgets []struct {
			Type       string
			Properties struct {
				Metrics [][]any
				Alarms  []string
			}
		}
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		c.failf("dashboard body is not JSON: %v", err)
		return
	}
	seen := map[string]bool{}
	alarms := 0
	for _, w := range body.Widgets {
		alarms += len(w.Properties.Alarms)
		var prev []any
		for _, row := range w.Properties.Metrics {
			row = expandMetricRow(row, prev)
			prev = row
			if len(row) >= 2 {
				ns, _ := row[0].(string)
				name, _ := row[1].(string)
				seen[ns+" "+name] = true
				if stat, _ := asMap(row[len(row)-1])["stat"].(string); stat != "" {
					seen[ns+" "+name+" "+stat] = true
				}
			}
		}
	}
	for _, want := range []string{
		"AWS/ApiGateway Count", "AWS/ApiGateway 4XXError", "AWS/ApiGateway 5XXError",
		"AWS/ApiGateway Latency p50", "AWS/ApiGateway Latency p99",
		"AWS/Lambda ConcurrentExecutions", "AWS/Lambda Errors", "AWS/Lambda Throttles",
		"AWS/DynamoDB ReadThrottleEvents", "AWS/DynamoDB WriteThrottleEvents",
		"AWS/DynamoDB ConsumedReadCapacityUnits", "AWS/DynamoDB ConsumedWriteCapacityUnits",
	} {
		if !seen[want] {
			c.failf("the dashboard does not show %s", want)
		}
	}
	if n := len(c.resources("AWS::CloudWatch::Alarm")); alarms != n {
		c.failf("the dashboard shows %d alarms of %d", alarms, n)
	}
}

// expandMetricRow spells out CloudWatch's shorthand: "." repeats the entry
// of the row before at that place, "..." all the entries of the row before
// that come before the options.
func expandMetricRow(row, prev []any) []any {
	var out []any
	for i, e := range row {
		switch e {
		case "...":
			for _, p := range prev {
				if _, isOpt := p.(map[string]any); !isOpt {
					out = append(out, p)
				}
			}
		case ".":
			if i < len(prev) {
				out = append(out, prev[i])
			}
		default:
			out = append(out, e)
		}
	}
	return out
}

// --- 6. Least privilege per item kind ------------------------------------

func (c *stackChecker) grants() {
	fnID, fn := c.apiFunction()
	role := c.role(fnID, fn)
	if role == nil {
		return
	}
	pols, _ := props(role)["Policies"].([]any)
	var stmts []any
	for _, p := range pols {
		s, _ := get(p, "PolicyDocument", "Statement").([]any)
		stmts = append(stmts, s...)
	}
	c.tableGrants("function "+fnID, stmts, dynamo.Grants())
	managed, _ := props(role)["ManagedPolicyArns"].([]any)
	xray := slices.ContainsFunc(managed, func(a any) bool { return strings.HasSuffix(fmt.Sprint(a), "/AWSXrayWriteOnlyAccess") })
	if xray != c.d.tracing() {
		c.failf("the role has the X-Ray policy: %v, with TracingMode %s", xray, c.d.params["TracingMode"])
	}
	for _, a := range managed {
		if s := fmt.Sprint(a); !strings.HasSuffix(s, "/AWSXrayWriteOnlyAccess") && !strings.HasSuffix(s, "/AWSLambdaBasicExecutionRole") {
			c.failf("the role has the managed policy %s", s)
		}
	}
}

// role returns the IAM role of function fnID, or fails.
func (c *stackChecker) role(fnID string, fn map[string]any) map[string]any {
	roleID, _, _ := samtemplate.GetAtt(props(fn)["Role"])
	role := c.resources("AWS::IAM::Role")[roleID]
	if role == nil {
		c.failf("function %s has no role of the stack's own", fnID)
	}
	return role
}

// tableGrants checks that stmts allow exactly grants on the table: each a
// plain Allow on the table, limited by dynamodb:LeadingKeys.
func (c *stackChecker) tableGrants(who string, stmts []any, grants []dynamo.Grant) {
	tableID, _ := c.one("AWS::DynamoDB::Table")
	got := map[string]bool{}
	for _, s := range stmts {
		sm := asMap(s)
		if sm["Effect"] != "Allow" || sm["NotAction"] != nil || sm["NotResource"] != nil {
			c.failf("%s: statement %v: want a plain Allow of Action on Resource", who, s)
		}
		if r, attr, _ := samtemplate.GetAtt(sm["Resource"]); r != tableID || attr != "Arn" {
			c.failf("%s: statement %v is not on the table %s alone", who, sm["Sid"], tableID)
		}
		keys, _ := get(sm, "Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys").([]any)
		if len(keys) == 0 || len(asMap(sm["Condition"])) != 1 {
			c.failf("%s: statement %v is not limited by dynamodb:LeadingKeys alone: %v", who, sm["Sid"], sm["Condition"])
		}
		acts, _ := sm["Action"].([]any)
		for _, a := range acts {
			for _, k := range keys {
				got[fmt.Sprint(a, " ", k)] = true
			}
		}
	}
	want := map[string]bool{}
	for _, g := range grants {
		for _, a := range g.Actions {
			for _, k := range g.LeadingKeys {
				want[a+" "+k] = true
			}
		}
	}
	if !maps.Equal(got, want) {
		c.failf("%s: the role allows %v on the table, want exactly %v", who, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

// --- Issue 12: the notifier ----------------------------------------------

// notifier: fed the table's new outbox items only, keys only, retried in
// bounded batches with partial failures, what it cannot deliver to a
// dead-letter queue that has an alarm; allowed to send as the one SES
// identity, SMS to numbers, and to touch only outbox and pending items.
func (c *stackChecker) notifier() {
	esms := c.resources("AWS::Lambda::EventSourceMapping")
	if len(esms) != 1 {
		c.failf("%d event source mappings, want the notifier's one", len(esms))
		return
	}
	tableID, table := c.one("AWS::DynamoDB::Table")
	if v := get(props(table), "StreamSpecification", "StreamViewType"); v != "KEYS_ONLY" {
		c.failf("the table's stream view is %v, want KEYS_ONLY (no address in the stream)", v)
	}
	var fnID string
	for _, m := range esms {
		mp := props(m)
		fnID, _ = samtemplate.Ref(mp["FunctionName"])
		if r, attr, _ := samtemplate.GetAtt(mp["EventSourceArn"]); r != tableID || attr != "StreamArn" {
			c.failf("the notifier reads %v, not the table's stream", mp["EventSourceArn"])
		}
		pattern, _ := get(mp, "FilterCriteria", "Filters", "0", "Pattern").(string)
		if filters, _ := get(mp, "FilterCriteria", "Filters").([]any); len(filters) != 1 || pattern != dynamo.OutboxFilter {
			c.failf("the notifier's filter is %v, want dynamo.OutboxFilter %s", get(mp, "FilterCriteria"), dynamo.OutboxFilter)
		}
		types, _ := mp["FunctionResponseTypes"].([]any)
		retries, _ := strconv.Atoi(fmt.Sprint(mp["MaximumRetryAttempts"]))
		age, _ := strconv.Atoi(fmt.Sprint(mp["MaximumRecordAgeInSeconds"]))
		if !slices.Contains(types, any("ReportBatchItemFailures")) || mp["BisectBatchOnFunctionError"] != true ||
			retries < 1 || retries > 10 || age < 60 || age > 86400 {
			c.failf("the notifier's batches: response types %v, bisect %v, retries %v, record age %v: want partial failures, bisection, bounded retries and age", types, mp["BisectBatchOnFunctionError"], mp["MaximumRetryAttempts"], mp["MaximumRecordAgeInSeconds"])
		}
		dlq, attr, _ := samtemplate.GetAtt(get(mp, "DestinationConfig", "OnFailure", "Destination"))
		if c.resources("AWS::SQS::Queue")[dlq] == nil || attr != "Arn" {
			c.failf("the notifier's failures go to %v, not a queue of the stack's", get(mp, "DestinationConfig"))
		} else if !slices.ContainsFunc(slices.Collect(maps.Values(c.resources("AWS::CloudWatch::Alarm"))), func(a map[string]any) bool {
			q, attr, _ := samtemplate.GetAtt(get(props(a), "Dimensions", "0", "Value"))
			return props(a)["MetricName"] == "ApproximateNumberOfMessagesVisible" && q == dlq && attr == "QueueName"
		}) {
			c.failf("no alarm on the dead-letter queue %s's depth", dlq)
		}
	}
	if !slices.ContainsFunc(slices.Collect(maps.Values(c.resources("AWS::CloudWatch::Alarm"))), func(a map[string]any) bool {
		ref, _ := samtemplate.Ref(get(props(a), "Dimensions", "0", "Value"))
		return props(a)["MetricName"] == "IteratorAge" && ref == fnID
	}) {
		c.failf("no alarm on the notifier's iterator age")
	}
	fn := c.resources("AWS::Lambda::Function")[fnID]
	if fn == nil {
		c.failf("no notifier function %s", fnID)
		return
	}
	role := c.role(fnID, fn)
	if role == nil {
		return
	}
	var tableStmts []any
	var ses, sms bool
	pols, _ := props(role)["Policies"].([]any)
	for _, p := range pols {
		stmts, _ := get(p, "PolicyDocument", "Statement").([]any)
		for _, s := range stmts {
			sm := asMap(s)
			acts := fmt.Sprint(sm["Action"])
			switch {
			case strings.Contains(acts, "dynamodb:"):
				tableStmts = append(tableStmts, s)
			case acts == "[ses:SendEmail]":
				ses = strings.HasSuffix(fmt.Sprint(sm["Resource"]), ":identity/"+c.d.params["SesIdentity"]) &&
					get(sm, "Condition", "StringEquals", "ses:FromAddress") == c.d.params["EmailFrom"]
			case acts == "[sns:Publish]":
				sms = sm["Resource"] == nil && sm["NotResource"] == "arn:aws:sns:*:*:*"
			case acts == "sqs:SendMessage":
				if q, _, _ := samtemplate.GetAtt(sm["Resource"]); c.resources("AWS::SQS::Queue")[q] == nil {
					c.failf("the notifier may send to %v, not only its dead-letter queue", sm["Resource"])
				}
			default:
				c.failf("the notifier may also %v on %v", sm["Action"], sm["Resource"])
			}
		}
	}
	c.tableGrants("notifier "+fnID, tableStmts, dynamo.NotifierGrants())
	if !ses || !sms {
		c.failf("the notifier's sending rights: SES as SesIdentity from EmailFrom only %v, SMS to numbers and no topic %v", ses, sms)
	}
}

// --- 2. The reference's path, exactly ------------------------------------

func (c *stackChecker) customDomain() {
	domains := c.resources("AWS::ApiGateway::DomainName")
	mappings := c.resources("AWS::ApiGateway::BasePathMapping")
	_, body := c.restAPI()
	disabled := get(body, "servers", "0", "x-amazon-apigateway-endpoint-configuration", "disableExecuteApiEndpoint")
	url, _ := get(c.d.tpl.Section("Outputs"), "ModifyUserInfoUrl", "Value").(string)
	if url == "" {
		sub, _ := get(c.d.tpl.Section("Outputs"), "ModifyUserInfoUrl", "Value", "Fn::Sub").(string)
		url = sub
	}
	if !c.d.hasDomain() {
		if len(domains)+len(mappings) > 0 || disabled != false {
			c.failf("without DomainName: %d domains, %d mappings, execute-api disabled %v", len(domains), len(mappings), disabled)
		}
		if want := "https://${" + apiIDOf(c) + "}.execute-api." + region + ".amazonaws.com/" + c.d.stageName() + routePath(); url != want {
			c.failf("ModifyUserInfoUrl %q, want %q", url, want)
		}
		return
	}
	if len(domains) != 1 || len(mappings) != 1 {
		c.failf("%d domains and %d base path mappings, want one each", len(domains), len(mappings))
		return
	}
	for id, d := range domains {
		dp := props(d)
		types, _ := get(dp, "EndpointConfiguration", "Types").([]any)
		if dp["DomainName"] != c.d.params["DomainName"] || dp["RegionalCertificateArn"] != c.d.params["CertificateArn"] ||
			dp["SecurityPolicy"] != "TLS_1_2" || !reflect.DeepEqual(types, []any{"REGIONAL"}) {
			c.failf("domain %s: %v, want DomainName and CertificateArn, REGIONAL, TLS_1_2", id, dp)
		}
		for _, m := range mappings {
			mp := props(m)
			dref, _ := samtemplate.Ref(mp["DomainName"])
			aref, _ := samtemplate.Ref(mp["RestApiId"])
			sref, _ := samtemplate.Ref(mp["Stage"])
			stageID, _ := c.one("AWS::ApiGateway::Stage")
			if bp, _ := mp["BasePath"].(string); bp != "" || dref != id || aref != apiIDOf(c) || sref != stageID {
				c.failf("base path mapping %v: want the whole domain (no base path) on the API's stage", mp)
			}
		}
		records := c.resources("AWS::Route53::RecordSet")
		if zone := c.d.params["HostedZoneId"]; zone != "" {
			ok := false
			for _, r := range records {
				rp := props(r)
				target, attr, _ := samtemplate.GetAtt(get(rp, "AliasTarget", "DNSName"))
				ok = ok || rp["HostedZoneId"] == zone && rp["Name"] == c.d.params["DomainName"] && target == id && attr == "RegionalDomainName"
			}
			if !ok {
				c.failf("no alias record for %s in zone %s", c.d.params["DomainName"], zone)
			}
		} else if len(records) > 0 {
			c.failf("a DNS record without HostedZoneId")
		}
	}
	if disabled != true {
		c.failf("with a custom domain the execute-api endpoint stays on (%v): a second URL, with the stage in its path", disabled)
	}
	if want := "https://" + c.d.params["DomainName"] + routePath(); url != want {
		c.failf("ModifyUserInfoUrl %q, want the reference's path %q", url, want)
	}
}

func apiIDOf(c *stackChecker) string {
	id, _ := c.restAPI()
	return id
}

// --- 7. Safe defaults ----------------------------------------------------

// apiGatewayAccount: the account-wide API Gateway logging role is left
// alone unless asked for, so that one stack does not overwrite another's.
func (c *stackChecker) apiGatewayAccount() {
	if def := fmt.Sprint(get(c.d.tpl.Section("Parameters"), "ManageApiGatewayAccount", "Default")); def != "false" {
		c.failf("ManageApiGatewayAccount defaults to %s, want false", def)
	}
	n := len(c.resources("AWS::ApiGateway::Account"))
	if want := c.d.params["ManageApiGatewayAccount"] == "true"; (n == 1) != want {
		c.failf("%d API Gateway account settings with ManageApiGatewayAccount=%s", n, c.d.params["ManageApiGatewayAccount"])
	}
}
