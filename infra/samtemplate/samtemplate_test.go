package samtemplate_test

import (
	"reflect"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/samtemplate"
)

// TestParseShortForms: short-form intrinsics read as CloudFormation's long
// form, so a test compares the same values whichever form a template uses.
func TestParseShortForms(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Conditions:
  IsProd: !Equals [!Ref Environment, prod]
Resources:
  T:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: !If [IsProd, Retain, Delete]
    Properties:
      Name: !Sub "${AWS::StackName}-t"
      Arn: !GetAtt Cluster.Endpoint.Address
      Join: !Join ["", [a, !Ref B]]
      Long: {"Fn::GetAtt": [X, Arn]}
      Number: 3
      Flag: true
      Anchor: &a {k: v}
      Alias: *a
`))
	if err != nil {
		t.Fatal(err)
	}
	cond, _ := samtemplate.Lookup(tpl.Section("Conditions"), "IsProd")
	if want := map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Environment"}, "prod"}}; !reflect.DeepEqual(cond, want) {
		t.Errorf("!Equals = %#v, want %#v", cond, want)
	}
	rs := tpl.Resources("AWS::DynamoDB::Table")
	if len(rs) != 1 || rs[0].ID != "T" {
		t.Fatalf("resources %+v", rs)
	}
	p := rs[0].Properties
	for name, want := range map[string]any{
		"Name":   map[string]any{"Fn::Sub": "${AWS::StackName}-t"},
		"Arn":    map[string]any{"Fn::GetAtt": []any{"Cluster", "Endpoint.Address"}},
		"Join":   map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "B"}}}},
		"Long":   map[string]any{"Fn::GetAtt": []any{"X", "Arn"}},
		"Number": 3,
		"Flag":   true,
		"Alias":  map[string]any{"k": "v"},
	} {
		if !reflect.DeepEqual(p[name], want) {
			t.Errorf("%s = %#v, want %#v", name, p[name], want)
		}
	}
	if want := map[string]any{"Fn::If": []any{"IsProd", "Retain", "Delete"}}; !reflect.DeepEqual(rs[0].Attrs["DeletionPolicy"], want) {
		t.Errorf("DeletionPolicy = %#v", rs[0].Attrs["DeletionPolicy"])
	}
	if r, a, ok := samtemplate.GetAtt(p["Long"]); !ok || r != "X" || a != "Arn" {
		t.Errorf("GetAtt(Long) = %q %q %v", r, a, ok)
	}
	if id, ok := samtemplate.Ref(map[string]any{"Ref": "B"}); !ok || id != "B" {
		t.Errorf("Ref = %q %v", id, ok)
	}
}

func TestParseErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"ErrDuplicateKey": "Resources:\n  A: {Type: X}\n  A: {Type: Y}\n",
		"ErrNotMapping":   "- a\n- b\n",
		"ErrBadGetAtt":    "Outputs:\n  O:\n    Value: !GetAtt NoDot\n",
		"ErrNotYAML":      "a: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := samtemplate.Parse([]byte(doc)); err == nil {
				t.Error("want an error")
			}
		})
	}
}

// TestResolve: parameters, conditions and the intrinsics CloudFormation
// evaluates before it creates anything.
func TestResolve(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Name: {Type: String, MaxLength: 5, AllowedPattern: "[a-z]+"}
  Size: {Type: Number, Default: 2, MinValue: 1, MaxValue: 3}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Big: !Or [!Condition IsProd, !Equals [!Ref Size, 3]]
Resources:
  Always:
    Type: X
    Properties:
      Mode: !If [IsProd, strict, loose]
      Gone: !If [Big, !Ref AWS::NoValue, here]
      List: [a, !Ref AWS::NoValue, !Ref Name]
      Text: !Sub "${Name}-${AWS::Region}-${Other.Arn}"
      Mixed: !Sub ["${A}/${B}", {A: !Ref Env, B: !Ref Other}]
      Other: !Ref Other
  OnlyInProd:
    Type: X
    Condition: IsProd
Outputs:
  Size: {Value: !Ref Size}
`))
	if err != nil {
		t.Fatal(err)
	}
	stack := samtemplate.Stack{Name: "s", Region: "eu-west-1", AccountID: "1"}
	d, err := tpl.Resolve(stack, map[string]string{"Name": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Section("Resources")["OnlyInProd"]; ok {
		t.Error("a resource whose condition is false was kept")
	}
	got, _ := samtemplate.Lookup(d.Section("Resources"), "Always", "Properties")
	want := map[string]any{
		"Mode":  "loose",
		"Gone":  "here",
		"List":  []any{"a", "abc"},
		"Text":  map[string]any{"Fn::Sub": "abc-eu-west-1-${Other.Arn}"},
		"Mixed": map[string]any{"Fn::Sub": []any{"dev/${B}", map[string]any{"B": map[string]any{"Ref": "Other"}}}},
		"Other": map[string]any{"Ref": "Other"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolved %#v\nwant %#v", got, want)
	}
	if v, _ := samtemplate.Lookup(d.Section("Outputs"), "Size", "Value"); v != "2" {
		t.Errorf("a Number parameter's default resolves to %#v, want \"2\"", v)
	}
	d, err = tpl.Resolve(stack, map[string]string{"Name": "abc", "Env": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = samtemplate.Lookup(d.Section("Resources"), "Always", "Properties")
	if _, ok := got.(map[string]any)["Gone"]; ok {
		t.Error("AWS::NoValue left its member in place")
	}
	if _, ok := d.Section("Resources")["OnlyInProd"]; !ok {
		t.Error("a resource whose condition is true was left out")
	}

	for name, params := range map[string]map[string]string{
		"ErrMissing":    {},
		"ErrNotAllowed": {"Name": "abc", "Env": "test"},
		"ErrPattern":    {"Name": "ABC"},
		"ErrTooLong":    {"Name": "abcdef"},
		"ErrTooBig":     {"Name": "abc", "Size": "4"},
		"ErrNotNumber":  {"Name": "abc", "Size": "x"},
		"ErrUndeclared": {"Name": "abc", "Extra": "1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tpl.Resolve(stack, params); err == nil {
				t.Error("want an error")
			}
		})
	}
}

// TestFailedRules: assertions are checked when their rule's condition
// holds, and name the ones that fail.
func TestFailedRules(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Env: {Type: String}
  Mail: {Type: String, Default: ""}
Rules:
  Prod:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !Not [!Contains [["", a@example.com], !Ref Mail]]
        AssertDescription: a real Mail
  Always:
    Assertions:
      - Assert: !Or [!Equals [!Ref Env, prod], !Equals [!Ref Env, dev]]
        AssertDescription: a known Env
`))
	if err != nil {
		t.Fatal(err)
	}
	stack := samtemplate.Stack{Name: "s", Region: "r", AccountID: "1"}
	for _, tt := range []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{"Env": "dev"}, nil},
		{map[string]string{"Env": "prod"}, []string{"Prod: a real Mail"}},
		{map[string]string{"Env": "prod", "Mail": "a@example.com"}, []string{"Prod: a real Mail"}},
		{map[string]string{"Env": "prod", "Mail": "ops@acme.internal"}, nil},
		{map[string]string{"Env": "test"}, []string{"Always: a known Env"}},
	} {
		got, err := tpl.FailedRules(stack, tt.params)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: failed %q, want %q", tt.params, got, tt.want)
		}
	}
}
