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
