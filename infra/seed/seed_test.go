package seed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// recorder is the Writer seeding needs, recording what it was given; the
// real store's UpsertUser and PutAccount are tested against DynamoDB Local.
type recorder struct {
	users    []userinfo.User
	accounts []userinfo.Account
}

func (r *recorder) UpsertUser(_ context.Context, u userinfo.User) error {
	r.users = append(r.users, u)
	return nil
}

func (r *recorder) PutAccount(_ context.Context, a userinfo.Account) error {
	r.accounts = append(r.accounts, a)
	return nil
}

func TestParseAndApply(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		users    int
		accounts int
	}{
		{"Array", `[{"id":"u1","domain_id":"d1","name":"a","email":"a@example.com","phone":"18292010816","areacode":"0086","enabled":true}]`, 1, 0},
		{"Object", `{"accounts":[{"domain_id":"d1","manage_email":false}],"users":[{"id":"u1","domain_id":"d1"}]}`, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := seed.Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var r recorder
			if err := seed.Apply(context.Background(), &r, d); err != nil {
				t.Fatal(err)
			}
			if len(r.users) != tt.users || len(r.accounts) != tt.accounts {
				t.Fatalf("wrote %d users, %d accounts", len(r.users), len(r.accounts))
			}
		})
	}
	t.Run("Defaults", func(t *testing.T) {
		d, _ := seed.Parse(strings.NewReader(`{"accounts":[{"domain_id":"d1","manage_email":false}],"users":[{"id":"u1","domain_id":"d1","phone":"13800000055","areacode":"0086","email":"ｂｏｂ@example.com"}]}`))
		var r recorder
		if err := seed.Apply(context.Background(), &r, d); err != nil {
			t.Fatal(err)
		}
		// The stored forms the API writes: country code "+86", the email as
		// typed in NFC (its key is the store's business, by the same rules).
		if u := r.users[0]; !u.Enabled || u.AreaCode != "+86" || u.Phone != "13800000055" || u.Email != "ｂｏｂ@example.com" {
			t.Errorf("user = %+v, want enabled with areacode +86", u)
		}
		if a := r.accounts[0]; a.ManageEmail || !a.ManageMobile {
			t.Errorf("account = %+v, want email off, mobile on", a)
		}
	})
	bad := map[string]string{
		"ErrNotJSON":          `users`,
		"ErrUnknownField":     `[{"id":"u1","domain_id":"d1","password":"x"}]`,
		"ErrNoID":             `[{"domain_id":"d1"}]`,
		"ErrBadEmail":         `[{"id":"u1","domain_id":"d1","email":"nope"}]`,
		"ErrPhoneNoArea":      `[{"id":"u1","domain_id":"d1","phone":"123"}]`,
		"ErrAccountNoID":      `{"accounts":[{"manage_email":true}]}`,
		"ErrBadAreaCode":      `[{"id":"u1","domain_id":"d1","phone":"13800000055","areacode":"0089"}]`,
		"ErrPhoneNotPossible": `[{"id":"u1","domain_id":"d1","phone":"8613800000055","areacode":"0086"}]`,
		"ErrEmailZeroWidth":   `[{"id":"u1","domain_id":"d1","email":"bob\u200b@example.com"}]`,
		"ErrTrailingGarbo":    `[] []`,
	}
	for name, file := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := seed.Parse(strings.NewReader(file)); err == nil {
				t.Errorf("Parse(%s) succeeded", file)
			}
		})
	}
}

func TestDemo(t *testing.T) {
	d, err := seed.Demo()
	if err != nil {
		t.Fatal(err)
	}
	enabled, disabled := 0, 0
	for _, u := range d.Users {
		if u.Enabled == nil || *u.Enabled {
			enabled++
		} else {
			disabled++
		}
	}
	if len(d.Accounts) != 1 || enabled != 2 || disabled != 1 {
		t.Errorf("demo: %d accounts, %d enabled, %d disabled; want 1, 2, 1", len(d.Accounts), enabled, disabled)
	}
}
