// Package samtemplate reads a CloudFormation or SAM template written in YAML
// into plain Go values, turns a SAM template into the CloudFormation a
// deploy creates (Translate, with the SAM translator itself), and resolves
// that for given parameter values as CloudFormation does (Resolve,
// FailedRules), so that tests can hold template.yaml, and what AWS would
// make of it, to what the code does.
//
// Parse turns short-form intrinsic functions into their long JSON form, as
// CloudFormation itself reads them: !Ref X is {"Ref": "X"}, !GetAtt A.B is
// {"Fn::GetAtt": ["A", "B"]}, !Sub s is {"Fn::Sub": "s"}, and so on.
// Parse resolves nothing: a test compares what the template says.
//
// Schema validation is cfn-lint's job (make lint), which knows every
// resource type; goformation was tried and rejected because its SAM schema
// lacks properties this template needs (LoggingConfig).
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template.
type Template struct {
	root map[string]any
}

// Resource is one entry of the Resources section.
type Resource struct {
	ID         string
	Type       string
	Properties map[string]any
	// Attrs holds the resource's other members: DeletionPolicy,
	// UpdateReplacePolicy, Condition, Metadata, DependsOn.
	Attrs map[string]any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a YAML template. It returns an error for invalid YAML, a
// document that is not a mapping, or a mapping with a repeated key
// (CloudFormation rejects those; YAML parsers silently keep one).
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("samtemplate: not a single YAML document")
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("samtemplate: the template is not a mapping")
	}
	return &Template{root: root}, nil
}

// Section returns a top-level section (Parameters, Conditions, Resources,
// Outputs, Globals), or nil when there is none.
func (t *Template) Section(name string) map[string]any {
	m, _ := t.root[name].(map[string]any)
	return m
}

// Resources returns the resources of the given type, sorted by logical id.
func (t *Template) Resources(typ string) []Resource {
	var out []Resource
	for id, v := range t.Section("Resources") {
		m, _ := v.(map[string]any)
		if m["Type"] != typ {
			continue
		}
		r := Resource{ID: id, Type: typ, Attrs: map[string]any{}}
		r.Properties, _ = m["Properties"].(map[string]any)
		for k, v := range m {
			if k != "Type" && k != "Properties" {
				r.Attrs[k] = v
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup follows path through nested mappings from v and returns what it
// finds, or false when a step is missing or not a mapping.
func Lookup(v any, path ...string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Ref returns the logical id v refers to when v is {"Ref": id}.
func Ref(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	id, ok := m["Ref"].(string)
	return id, ok
}

// GetAtt returns the resource and attribute when v is {"Fn::GetAtt": [r, a]}.
func GetAtt(v any) (resource, attr string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", "", false
	}
	l, _ := m["Fn::GetAtt"].([]any)
	if len(l) != 2 {
		return "", "", false
	}
	resource, ok1 := l[0].(string)
	attr, ok2 := l[1].(string)
	return resource, attr, ok1 && ok2
}

// convert turns a YAML node into plain values with intrinsics in long form.
func convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias)
	}
	if fn, ok := intrinsic(n.Tag); ok {
		return convertIntrinsic(fn, n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a string", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q repeated", k.Line, k.Value)
			}
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// intrinsic returns the long name of a short-form tag: !Ref and !Condition
// keep their name, every other !X is Fn::X.
func intrinsic(tag string) (string, bool) {
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return "", false
	}
	name := tag[1:]
	if name == "Ref" || name == "Condition" {
		return name, true
	}
	return "Fn::" + name, true
}

func convertIntrinsic(fn string, n *yaml.Node) (any, error) {
	if n.Kind == yaml.ScalarNode {
		// !GetAtt takes "Resource.Attribute" in short form; the attribute
		// may itself hold dots (Endpoint.Address), the resource cannot.
		if fn == "Fn::GetAtt" {
			r, a, ok := strings.Cut(n.Value, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
			}
			return map[string]any{fn: []any{r, a}}, nil
		}
		return map[string]any{fn: n.Value}, nil
	}
	plain := *n
	plain.Tag = ""
	v, err := convert(&plain)
	if err != nil {
		return nil, err
	}
	return map[string]any{fn: v}, nil
}
