package dynamo_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/internal/notify"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// TestRequestPathOnly: internal/dynamo is the request path and nothing
// else. The Lambda functions link no infra package; the Store's methods are
// exactly those the API's and the notifier's stores ask for; and the
// package exports only the request path's own names and the table's
// layout, which infra's tools share. Seeding, table creation and readers
// for checks live in infra/ddbtable.
func TestRequestPathOnly(t *testing.T) {
	t.Run("FunctionsLinkNoInfra", func(t *testing.T) {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "list", "-deps", "./functions/...")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.Contains(pkg, "/userinfo/infra/") {
				t.Errorf("the functions link %s", pkg)
			}
		}
	})

	methods, exports := exported(t)
	t.Run("StoreIsTheInterfaces", func(t *testing.T) {
		var want []string
		for _, iface := range []reflect.Type{reflect.TypeFor[userinfo.Store](), reflect.TypeFor[notify.Store]()} {
			for i := range iface.NumMethod() {
				want = append(want, iface.Method(i).Name)
			}
		}
		slices.Sort(want)
		if !reflect.DeepEqual(methods, want) {
			t.Errorf("Store's methods are %v; the API's and the notifier's stores ask for %v", methods, want)
		}
	})
	t.Run("Exports", func(t *testing.T) {
		// A name added here must be the request path's, or a part of the
		// layout that infra needs; tools' code goes to infra/ddbtable.
		want := []string{
			// The request path.
			"DefaultAuditRetention", "EndpointEnv", "Grant", "Grants", "HTTPClient",
			"MaxAttemptsPerCall", "MaxBackoff", "New", "NewRetryer", "NotifierGrants", "Operations", "Options",
			"OutboxFilter", "OutboxID", "OutboxRetention", "Store",
			// The table's layout.
			"AccountItem", "AccountKey", "AttrPK", "AttrSK", "AuditItem", "AuditKeys", "DecodeAccount", "DecodeUser",
			"FreeOrHeldBy", "GuardEmail", "GuardItem", "GuardKey", "GuardPhone", "Item", "MarshalItem",
			"NewAccountItem", "NewGuardItem", "NewUserItem", "OutboxItem", "OutboxPrefix", "ParseGuardPK",
			"TTLAttribute", "UnmarshalItem", "UserItem", "UserKey",
		}
		slices.Sort(want)
		if !reflect.DeepEqual(exports, want) {
			t.Errorf("internal/dynamo exports %v\nwant %v", exports, want)
		}
	})
}

// exported returns the exported methods of Store and the other exported
// names of the package, each sorted, from its non-test files.
func exported(t *testing.T) (methods, names []string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				switch {
				case !d.Name.IsExported():
				case d.Recv == nil:
					names = append(names, d.Name.Name)
				case recvName(d.Recv) == "Store":
					methods = append(methods, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(methods)
	slices.Sort(names)
	return methods, names
}

func recvName(r *ast.FieldList) string {
	typ := r.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
