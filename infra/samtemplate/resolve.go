package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Stack is where a template is deployed: the values of AWS's pseudo
// parameters.
type Stack struct {
	Name, Region, AccountID string
}

func (s Stack) pseudo() map[string]string {
	return map[string]string{
		"AWS::StackName": s.Name,
		"AWS::Region":    s.Region,
		"AWS::AccountId": s.AccountID,
		"AWS::Partition": "aws",
		"AWS::URLSuffix": "amazonaws.com",
	}
}

// noValue stands for a resolved !Ref AWS::NoValue: the member holding it
// is dropped.
type noValue struct{}

// Resolve returns the template as CloudFormation would create it in stack
// with the given parameter values: parameters checked as CloudFormation
// checks them (defaults filled in), conditions evaluated, resources and
// outputs whose condition is false left out, and Fn::If, Ref to parameters
// and pseudo parameters, AWS::NoValue and Fn::Sub of those replaced by
// their values. Refs, Fn::GetAtt and Fn::Sub variables naming resources
// stay as they are. It returns an error for a missing or disallowed
// parameter value, or an intrinsic it cannot evaluate.
func (t *Template) Resolve(stack Stack, params map[string]string) (*Template, error) {
	r, err := t.resolver(stack, params)
	if err != nil {
		return nil, err
	}
	root := map[string]any{}
	for k, v := range t.root {
		switch k {
		case "Parameters", "Conditions", "Rules":
			root[k] = v
		case "Resources", "Outputs":
			kept := map[string]any{}
			for id, entry := range asMap(v) {
				if c, ok := asMap(entry)["Condition"].(string); ok {
					on, err := r.condition(c)
					if err != nil {
						return nil, fmt.Errorf("%s %s: %w", k, id, err)
					}
					if !on {
						continue
					}
				}
				rv, err := r.value(entry)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", k, id, err)
				}
				kept[id] = rv
			}
			root[k] = kept
		default:
			rv, err := r.value(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			root[k] = rv
		}
	}
	return &Template{root: root}, nil
}

// FailedRules returns the AssertDescription of every assertion of the
// template's Rules that fails with the given parameter values, as
// CloudFormation checks them before it changes anything. It returns an
// error as Resolve does.
func (t *Template) FailedRules(stack Stack, params map[string]string) ([]string, error) {
	r, err := t.resolver(stack, params)
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, name := range slices.Sorted(maps.Keys(t.Section("Rules"))) {
		rule := asMap(t.Section("Rules")[name])
		if c, ok := rule["RuleCondition"]; ok {
			on, err := r.boolean(c)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", name, err)
			}
			if !on {
				continue
			}
		}
		list, _ := rule["Assertions"].([]any)
		for _, a := range list {
			ok, err := r.boolean(asMap(a)["Assert"])
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", name, err)
			}
			if !ok {
				desc, _ := asMap(a)["AssertDescription"].(string)
				failed = append(failed, name+": "+desc)
			}
		}
	}
	return failed, nil
}

type resolver struct {
	conditions map[string]any
	values     map[string]string // parameters and pseudo parameters
	done       map[string]bool
	busy       map[string]bool
}

func (t *Template) resolver(stack Stack, given map[string]string) (*resolver, error) {
	values := stack.pseudo()
	params := t.Section("Parameters")
	for name := range given {
		if _, ok := params[name]; !ok {
			return nil, fmt.Errorf("parameter %s is not declared", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		p := asMap(params[name])
		v, ok := given[name]
		if !ok {
			def, hasDefault := p["Default"]
			if !hasDefault {
				return nil, fmt.Errorf("parameter %s needs a value", name)
			}
			v = scalar(def)
		}
		if err := checkParameter(p, v); err != nil {
			return nil, fmt.Errorf("parameter %s=%q: %w", name, v, err)
		}
		values[name] = v
	}
	return &resolver{
		conditions: t.Section("Conditions"),
		values:     values,
		done:       map[string]bool{},
		busy:       map[string]bool{},
	}, nil
}

// checkParameter checks v against the constraints CloudFormation enforces.
func checkParameter(p map[string]any, v string) error {
	if allowed, ok := p["AllowedValues"].([]any); ok {
		if !slices.ContainsFunc(allowed, func(a any) bool { return scalar(a) == v }) {
			return fmt.Errorf("not one of %v", allowed)
		}
	}
	if pat, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile("^(?:"+pat+")$").MatchString(v) {
		return fmt.Errorf("does not match %s", pat)
	}
	n := utf8.RuneCountInString(v)
	if lo, ok := number(p["MinLength"]); ok && float64(n) < lo {
		return fmt.Errorf("shorter than %v", lo)
	}
	if hi, ok := number(p["MaxLength"]); ok && float64(n) > hi {
		return fmt.Errorf("longer than %v", hi)
	}
	if p["Type"] == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number")
		}
		if lo, ok := number(p["MinValue"]); ok && f < lo {
			return fmt.Errorf("below %v", lo)
		}
		if hi, ok := number(p["MaxValue"]); ok && f > hi {
			return fmt.Errorf("above %v", hi)
		}
	}
	return nil
}

func (r *resolver) condition(name string) (bool, error) {
	if v, ok := r.done[name]; ok {
		return v, nil
	}
	def, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	if r.busy[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	r.busy[name] = true
	v, err := r.boolean(def)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.done[name] = v
	return v, nil
}

// boolean evaluates a condition or rule function.
func (r *resolver) boolean(v any) (bool, error) {
	fn, arg, ok := intrinsicOf(v)
	if !ok {
		return false, fmt.Errorf("%v is not a condition", v)
	}
	args, _ := arg.([]any)
	switch fn {
	case "Condition":
		name, _ := arg.(string)
		return r.condition(name)
	case "Fn::Equals":
		if len(args) != 2 {
			return false, errors.New("Fn::Equals takes two values")
		}
		a, err := r.str(args[0])
		if err != nil {
			return false, err
		}
		b, err := r.str(args[1])
		return a == b, err
	case "Fn::Contains":
		if len(args) != 2 {
			return false, errors.New("Fn::Contains takes a list and a value")
		}
		list, _ := args[0].([]any)
		x, err := r.str(args[1])
		if err != nil {
			return false, err
		}
		for _, e := range list {
			s, err := r.str(e)
			if err != nil {
				return false, err
			}
			if s == x {
				return true, nil
			}
		}
		return false, nil
	case "Fn::Not":
		if len(args) != 1 {
			return false, errors.New("Fn::Not takes one condition")
		}
		b, err := r.boolean(args[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 || len(args) > 10 {
			return false, fmt.Errorf("%s takes 2 to 10 conditions", fn)
		}
		for _, a := range args {
			b, err := r.boolean(a)
			if err != nil {
				return false, err
			}
			if b == (fn == "Fn::Or") {
				return b, nil
			}
		}
		return fn == "Fn::And", nil
	}
	return false, fmt.Errorf("%s is not a condition function", fn)
}

// str resolves v to a string, or fails.
func (r *resolver) str(v any) (string, error) {
	rv, err := r.value(v)
	if err != nil {
		return "", err
	}
	switch s := rv.(type) {
	case string:
		return s, nil
	case int, float64, bool:
		return scalar(s), nil
	}
	return "", fmt.Errorf("%v does not resolve to a string", v)
}

// value resolves v as Resolve describes.
func (r *resolver) value(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if fn, arg, ok := intrinsicOf(x); ok {
			return r.intrinsic(x, fn, arg)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rv, err := r.value(e)
			if err != nil {
				return nil, err
			}
			if _, drop := rv.(noValue); !drop {
				out[k] = rv
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			rv, err := r.value(e)
			if err != nil {
				return nil, err
			}
			if _, drop := rv.(noValue); !drop {
				out = append(out, rv)
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *resolver) intrinsic(whole map[string]any, fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return noValue{}, nil
		}
		if s, ok := r.values[name]; ok {
			return s, nil
		}
		return whole, nil // a resource
	case "Fn::If":
		args, _ := arg.([]any)
		name, _ := firstOf(args).(string)
		if len(args) != 3 || name == "" {
			return nil, errors.New("Fn::If takes a condition name and two values")
		}
		on, err := r.condition(name)
		if err != nil {
			return nil, err
		}
		if on {
			return r.value(args[1])
		}
		return r.value(args[2])
	case "Fn::Sub":
		return r.sub(arg)
	}
	// Fn::GetAtt, Fn::Join and the rest: resolve inside, keep the function.
	rv, err := r.value(arg)
	if err != nil {
		return nil, err
	}
	return map[string]any{fn: rv}, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// sub replaces the variables of an Fn::Sub that name parameters, pseudo
// parameters or its own variable map. It returns a string when none is left,
// and the Fn::Sub with what is left otherwise.
func (r *resolver) sub(arg any) (any, error) {
	var (
		text string
		vars = map[string]any{}
	)
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return nil, errors.New("Fn::Sub takes a string and a variable map")
		}
		text, _ = a[0].(string)
		for k, v := range asMap(a[1]) {
			rv, err := r.value(v)
			if err != nil {
				return nil, err
			}
			vars[k] = rv
		}
	default:
		return nil, errors.New("Fn::Sub takes a string")
	}
	left := map[string]any{}
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			if s, ok := v.(string); ok {
				return s
			}
			left[name] = v
			return m
		}
		if s, ok := r.values[name]; ok {
			return s
		}
		return m
	})
	if len(left) > 0 {
		return map[string]any{"Fn::Sub": []any{out, left}}, nil
	}
	if subVar.MatchString(out) {
		return map[string]any{"Fn::Sub": out}, nil
	}
	return out, nil
}

// intrinsicOf returns the function and argument of v when v is a
// one-member mapping naming an intrinsic function, Ref or Condition.
func intrinsicOf(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func firstOf(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// scalar writes a YAML or JSON scalar as CloudFormation passes it on.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// number returns v as a float64 when it is a number, from YAML (int) or
// JSON (float64).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
