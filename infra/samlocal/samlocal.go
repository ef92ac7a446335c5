// Package samlocal computes the environment `sam local invoke` hands a
// function's container, so that a test can run the bootstrap under
// aws-lambda-rie (the program inside that container) exactly as SAM would,
// without Docker. SAM's rules, from its documentation and its
// samcli/local/lambdafn/env_vars.py:
//
//   - the AWS variables it always sets (AWS_SAM_LOCAL=true, the function's
//     name, memory, timeout and handler, a region and credentials: the
//     developer's, else the placeholders used here, us-east-1, defaultkey,
//     defaultsecret);
//   - then every variable the template declares for the function (Globals
//     first): a literal as written, a Ref to a parameter as its default,
//     a Ref to a resource as its logical id, any other intrinsic as "";
//   - where the --env-vars file gives a value for a declared variable (under
//     "Parameters" for every function, or under the function's logical id),
//     that value. A variable the template does not declare never reaches
//     the function, whatever the file says.
//
// The shell's own variables, which SAM also consults for declared names,
// are left out on purpose: a test must not depend on its shell.
package samlocal

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/iam-userinfo/userinfo/infra/samtemplate"
)

// Region is the region SAM hands a function when the developer has none
// configured.
const Region = "us-east-1"

// Env returns the environment of function functionID of tpl under `sam
// local invoke --env-vars`, envVars being that file's content (nil for
// none). It returns an error when tpl has no such function or envVars is
// not a JSON object of objects of strings.
func Env(tpl *samtemplate.Template, functionID string, envVars []byte) (map[string]string, error) {
	fn, ok := function(tpl, functionID)
	if !ok {
		return nil, fmt.Errorf("samlocal: no AWS::Serverless::Function %s in the template", functionID)
	}
	prop := func(name string) any {
		if v, ok := fn.Properties[name]; ok {
			return v
		}
		v, _ := samtemplate.Lookup(tpl.Section("Globals"), "Function", name)
		return v
	}
	env := map[string]string{
		"AWS_SAM_LOCAL":                   "true",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": valueOr(tpl, prop("MemorySize"), "128"),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     valueOr(tpl, prop("Timeout"), "3"),
		"AWS_LAMBDA_FUNCTION_HANDLER":     value(tpl, prop("Handler")),
		"AWS_LAMBDA_FUNCTION_NAME":        functionID,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "aws/lambda/" + functionID,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "$LATEST",
		"AWS_REGION":                      Region,
		"AWS_DEFAULT_REGION":              Region,
		"AWS_ACCESS_KEY_ID":               "defaultkey",
		"AWS_SECRET_ACCESS_KEY":           "defaultsecret",
		"AWS_ACCOUNT_ID":                  "123456789012",
	}

	declared := map[string]any{}
	if vars, ok := samtemplate.Lookup(tpl.Section("Globals"), "Function", "Environment", "Variables"); ok {
		m, _ := vars.(map[string]any)
		maps.Copy(declared, m)
	}
	if vars, ok := samtemplate.Lookup(fn.Properties, "Environment", "Variables"); ok {
		m, _ := vars.(map[string]any)
		maps.Copy(declared, m)
	}
	overrides := map[string]string{}
	if envVars != nil {
		var file map[string]map[string]string
		if err := json.Unmarshal(envVars, &file); err != nil {
			return nil, fmt.Errorf("samlocal: the env-vars file: %w", err)
		}
		maps.Copy(overrides, file["Parameters"])
		maps.Copy(overrides, file[functionID])
	}
	for name, v := range declared {
		if o, ok := overrides[name]; ok {
			env[name] = o
		} else {
			env[name] = value(tpl, v)
		}
	}
	return env, nil
}

func function(tpl *samtemplate.Template, id string) (samtemplate.Resource, bool) {
	for _, fn := range tpl.Resources("AWS::Serverless::Function") {
		if fn.ID == id {
			return fn, true
		}
	}
	return samtemplate.Resource{}, false
}

// value is a template value as SAM stringifies it.
func value(tpl *samtemplate.Template, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	if id, ok := samtemplate.Ref(v); ok {
		if p, ok := tpl.Section("Parameters")[id].(map[string]any); ok {
			return value(tpl, p["Default"])
		}
		return id // a resource: SAM cannot know the deployed name
	}
	return "" // an intrinsic SAM leaves unresolved
}

func valueOr(tpl *samtemplate.Template, v any, def string) string {
	if s := value(tpl, v); s != "" {
		return s
	}
	return def
}
