package seed_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/once"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// table is a Table and Writer in memory, recording writes; the real store
// is tested against DynamoDB Local (infra/cmd/seed).
type table struct {
	users    map[string]userinfo.User
	guards   []ddbtable.Guard
	accounts []userinfo.Account
	written  []string
}

func (t *table) GetUser(_ context.Context, id string) (*userinfo.User, error) {
	if u, ok := t.users[id]; ok {
		return &u, nil
	}
	return nil, userinfo.Errorf(userinfo.ENOTFOUND, "no user")
}

func (t *table) Guards(_ context.Context, domainID string) ([]ddbtable.Guard, error) {
	var out []ddbtable.Guard
	for _, g := range t.guards {
		if g.DomainID == domainID {
			out = append(out, g)
		}
	}
	return out, nil
}

func (t *table) UpsertUser(_ context.Context, u userinfo.User) error {
	t.written = append(t.written, "user "+u.ID)
	if t.users == nil {
		t.users = map[string]userinfo.User{}
	}
	t.users[u.ID] = u
	return nil
}

func (t *table) PutAccount(_ context.Context, a userinfo.Account) error {
	t.written = append(t.written, "account "+a.DomainID)
	t.accounts = append(t.accounts, a)
	return nil
}

// demoTable holds alice of the demo account, as make run seeds her.
func demoTable() *table {
	return &table{
		users: map[string]userinfo.User{"0638848aa7801dbe1f01c01e92b95df7": {ID: "0638848aa7801dbe1f01c01e92b95df7", DomainID: "d-demo", Name: "alice"}},
		guards: []ddbtable.Guard{
			{Kind: dynamo.GuardEmail, Value: "alice@example.com", Version: userinfo.KeyVersion, UserID: "0638848aa7801dbe1f01c01e92b95df7", DomainID: "d-demo"},
			{Kind: dynamo.GuardPhone, Value: "+8618292010816", Version: userinfo.KeyVersion, UserID: "0638848aa7801dbe1f01c01e92b95df7", DomainID: "d-demo"},
		},
	}
}

func TestParseAndLoad(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		users    int
		accounts int
	}{
		{"Array", `[{"id":"u1","domain_id":"d1","name":"a","email":"a@example.com","phone":"18292010816","areacode":"0086","enabled":true}]`, 1, 0},
		{"Object", `{"accounts":[{"domain_id":"d1","manage_email":false}],"users":[{"id":"u1","domain_id":"d1"}]}`, 1, 1},
		{"LeadingSpace", "\n  [ ]", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := seed.Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var tb table
			if err := seed.Load(context.Background(), &tb, d); err != nil {
				t.Fatal(err)
			}
			if len(tb.users) != tt.users || len(tb.accounts) != tt.accounts {
				t.Fatalf("wrote %d users, %d accounts", len(tb.users), len(tb.accounts))
			}
		})
	}
	t.Run("Defaults", func(t *testing.T) {
		d, _ := seed.Parse(strings.NewReader(`{"accounts":[{"domain_id":"d1","manage_email":false}],"users":[{"id":"u1","domain_id":"d1","phone":"13800000055","areacode":"0086","email":"ｂｏｂ@example.com"}]}`))
		var tb table
		if err := seed.Load(context.Background(), &tb, d); err != nil {
			t.Fatal(err)
		}
		// The stored forms the API writes: country code "+86", the email as
		// typed in NFC (its key is the store's business, by the same rules).
		if u := tb.users["u1"]; !u.Enabled || u.AreaCode != "+86" || u.Phone != "13800000055" || u.Email != "ｂｏｂ@example.com" {
			t.Errorf("user = %+v, want enabled with areacode +86", u)
		}
		if a := tb.accounts[0]; a.ManageEmail || !a.ManageMobile || a.VerifyChanges {
			t.Errorf("account = %+v, want email off, mobile on, changes applied at once", a)
		}
	})
	t.Run("VerifyChanges", func(t *testing.T) {
		d, err := seed.Parse(strings.NewReader(`{"accounts":[{"domain_id":"d1","verify_changes":true}],"users":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		var tb table
		if err := seed.Load(context.Background(), &tb, d); err != nil {
			t.Fatal(err)
		}
		if a := tb.accounts[0]; !a.VerifyChanges || !a.ManageEmail {
			t.Errorf("account = %+v, want changes verified", a)
		}
	})
}

// TestParseErrors: a file that is not a seed file says where.
func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ name, file, want string }{
		{"ErrNotJSON", "\n\n  users", "line 3, column 3"},
		{"ErrTrailingData", `[] []`, "unexpected data after the first JSON value"},
		{"ErrUnknownField", `[{"id":"u1","domain_id":"d1"},{"id":"u2","domain_id":"d1","password":"x"}]`, "user #2: password: not a field of a seed entry; the fields are id, domain_id, name, email, phone, areacode, enabled"},
		{"ErrUnknownAccountField", `{"accounts":[{"domain_id":"d1","manage":true}]}`, "account #1: manage: not a field of a seed entry"},
		{"ErrUnknownAccountFieldNamesAll", `{"accounts":[{"domain_id":"d1","verify":true}]}`, "the fields are domain_id, manage_email, manage_mobile, verify_changes"},
		{"ErrWrongType", `[{"id":"u1","domain_id":"d1","enabled":"yes"}]`, "user #1: enabled: must be a JSON boolean, not string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seed.Parse(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one holding %q", err, tt.want)
			}
			if rep := once.Repeated(err.Error()); rep != nil {
				t.Errorf("%q says %q twice", err, rep)
			}
		})
	}
}

// TestCheck: every problem of a file is found before anything is written,
// each naming the entry, the field and the rule once, with a hint for that
// cause.
func TestCheck(t *testing.T) {
	const alice = "0638848aa7801dbe1f01c01e92b95df7"
	tests := []struct {
		name string
		file string
		want []string // one per problem, in order
	}{
		{"ErrNoID", `[{"domain_id":"d1"}]`, []string{"user #1: id: required; give the user an id"}},
		{"ErrNoDomain", `[{"id":"u1"}]`, []string{"user #1 (u1): domain_id: required; name the user's account"}},
		{"ErrDuplicateID", `[{"id":"u1","domain_id":"d1"},{"id":"u1","domain_id":"d1"}]`, []string{"user #2 (u1): id: user #1 has it too; give each user its own id"}},
		{"ErrBadEmail", `[{"id":"u1","domain_id":"d1","email":"nope"}]`, []string{"user #1 (u1): email: must be a plain address such as name@example.com; the API would refuse"}},
		{"ErrPhoneNoArea", `[{"id":"u1","domain_id":"d1","phone":"123"}]`, []string{"user #1 (u1): areacode: is required when phone is given;"}},
		{"ErrBadAreaCode", `[{"id":"u1","domain_id":"d1","phone":"123","areacode":"0089"}]`, []string{"user #1 (u1): areacode: must be a country calling code"}},
		{"ErrPhoneNotPossible", `[{"id":"u1","domain_id":"d1","phone":"8613800000055","areacode":"0086"}]`, []string{"user #1 (u1): phone: is not a possible number for country code +86"}},
		{"ErrEmailZeroWidth", `[{"id":"u1","domain_id":"d1","email":"bob\u200b@example.com"}]`, []string{"user #1 (u1): email:"}},
		{"ErrEmailLookAlikeInFile", `[{"id":"u1","domain_id":"d1","email":"bob@example.com"},{"id":"u2","domain_id":"d1","email":"ｂｏｂ@example.com"}]`,
			[]string{"user #2 (u2): email: the same as user #1's, in account d1"}},
		{"ErrPhoneTrunkPrefixInFile", `[{"id":"u1","domain_id":"d1","phone":"7911123456","areacode":"44"},{"id":"u2","domain_id":"d1","phone":"07911123456","areacode":"0044"}]`,
			[]string{"user #2 (u2): phone: the same as user #1's, in account d1"}},
		{"ErrEmailTwiceInFile", `[{"id":"u1","domain_id":"d1","email":"a@example.com"},{"id":"u2","domain_id":"d1","email":"A@example.com"}]`,
			[]string{"user #2 (u2): email: the same as user #1's, in account d1; an email address belongs to one user of an account (compared by its canonical form"}},
		{"SameEmailInTwoAccounts", `[{"id":"u1","domain_id":"d1","email":"a@example.com"},{"id":"u2","domain_id":"d2","email":"a@example.com"}]`, nil},
		{"ErrPhoneTwiceInFile", `[{"id":"u1","domain_id":"d1","phone":"18292010816","areacode":"0086"},{"id":"u2","domain_id":"d1","phone":"18292010816","areacode":"+86"}]`,
			[]string{"user #2 (u2): phone: the same as user #1's, in account d1; a mobile number belongs to one user of an account"}},
		{"ErrAccountTwice", `{"accounts":[{"domain_id":"d1"},{"domain_id":"d1"}]}`, []string{"account #2 (d1): domain_id: account #1 has it too; list each account once"}},
		{"ErrAccountNoID", `{"accounts":[{"manage_email":true}]}`, []string{"account #1: domain_id: required"}},
		{"ErrUserOutsideListedAccounts", `{"accounts":[{"domain_id":"d-example"}],"users":[{"id":"u1","domain_id":"d-exampel"}]}`,
			[]string{`user #1 (u1): domain_id: account d-exampel is not among the file's accounts; add {"domain_id": "d-exampel"} to accounts, or use one of d-example`}},
		{"ErrEmailHeldInTable", `[{"id":"u1","domain_id":"d-demo","name":"erin","email":"Alice@example.com"}]`,
			[]string{"user #1 (u1, erin): email: user " + alice + " holds it in the table; an email address belongs to one user of an account: choose another"}},
		{"ErrPhoneHeldInTable", `[{"id":"u1","domain_id":"d-demo","name":"erin","phone":"18292010816","areacode":"0086"}]`,
			[]string{"user #1 (u1, erin): phone: user " + alice + " holds it in the table; a mobile number belongs to one user of an account: choose another"}},
		{"OwnValuesAgain", `[{"id":"` + alice + `","domain_id":"d-demo","email":"alice@example.com","phone":"18292010816","areacode":"0086"}]`, nil},
		{"ErrUserMovesAccount", `[{"id":"` + alice + `","domain_id":"d-other"}]`,
			[]string{"user #1 (" + alice + "): domain_id: the table has this user in account d-demo; a user cannot move between accounts"}},
		{"EveryProblemOnce", `[{"id":"u1","domain_id":"d1","email":"nope","phone":"x","areacode":"0086"},{"id":"u1"}]`, []string{
			"user #1 (u1): email: must be a plain address",
			"user #1 (u1): phone: must be 1 to 32 digits",
			"user #2 (u1): id: user #1 has it too",
			"user #2 (u1): domain_id: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := seed.Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			tb := demoTable()
			err = seed.Load(context.Background(), tb, d)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			var ps seed.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			if len(tb.written) != 0 {
				t.Errorf("wrote %v despite the problems", tb.written)
			}
			if len(ps) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(ps), len(tt.want), err)
			}
			for i, p := range ps {
				if !strings.Contains(p.String(), tt.want[i]) {
					t.Errorf("problem %d = %q, want one holding %q", i+1, p, tt.want[i])
				}
				if rep := once.Repeated(p.String()); rep != nil {
					t.Errorf("problem %q says %q twice", p, rep)
				}
			}
		})
	}
}

// TestDemo: the demo data make run seeds passes the checks: an account as
// the reference has it (two enabled users, one disabled) and one that
// verifies changes (one user).
func TestDemo(t *testing.T) {
	d, err := seed.Demo()
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Check(context.Background(), &table{}, d); err != nil {
		t.Fatal(err)
	}
	verifies := map[string]bool{}
	for _, a := range d.Accounts {
		verifies[a.DomainID] = a.VerifyChanges != nil && *a.VerifyChanges
	}
	type count struct{ enabled, disabled int }
	got := map[bool]count{}
	for _, u := range d.Users {
		c := got[verifies[u.DomainID]]
		if u.Enabled == nil || *u.Enabled {
			c.enabled++
		} else {
			c.disabled++
		}
		got[verifies[u.DomainID]] = c
	}
	if want := map[bool]count{false: {2, 1}, true: {1, 0}}; len(d.Accounts) != 2 || !maps.Equal(got, want) {
		t.Errorf("demo: %d accounts, users by verify_changes %v; want 2, %v", len(d.Accounts), got, want)
	}
}
