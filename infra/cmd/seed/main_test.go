package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/localenv"
	"github.com/iam-userinfo/userinfo/infra/once"
	"github.com/iam-userinfo/userinfo/infra/proc"
	"github.com/iam-userinfo/userinfo/infra/seed"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

// example is the seed file of README.md ("Seed your own users"): an account
// of its own, so that it works as printed right after make run.
const example = `{
  "accounts": [{"domain_id": "d-example", "manage_email": true, "manage_mobile": false}],
  "users": [
    {"id": "5d1c0e7a9b3f4a2c8e6d1f0b7a9c3e51", "domain_id": "d-example", "name": "erin",
     "email": "erin@example.com", "phone": "13800138000", "areacode": "0086", "enabled": true}
  ]
}`

// TestSeed runs make seed's command against DynamoDB Local seeded as make
// run seeds it, finding both through the settings file make run writes.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	in, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	client := ddblocal.Client(in.Endpoint())
	store := ddbtable.New(client, localenv.DefaultTable, dynamo.Options{})
	if err := ddbtable.Create(ctx, client, localenv.DefaultTable); err != nil {
		t.Fatal(err)
	}
	demo, err := seed.Demo()
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Load(ctx, store, demo); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	settings := localenv.FromEnvironment(func(k string) string {
		if k == localenv.DDBPort {
			return strconv.Itoa(in.Port())
		}
		return ""
	})
	if err := localenv.Write(settings.Values()); err != nil {
		t.Fatal(err)
	}
	seedFile := func(t *testing.T, content string) (string, error) {
		t.Helper()
		path := filepath.Join(dir, "users.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		err := run(ctx, []string{"-file", "users.json"}, func(string) string { return "" }, &out)
		return out.String(), err
	}

	t.Run("ErrAnyProblemWritesNothing", func(t *testing.T) {
		// The file: erin gets alice's mobile number, and the demo
		// account's policy changes. Before, the policy was written and the
		// user refused.
		bad := strings.NewReplacer(`"d-example"`, `"d-demo"`, "13800138000", "18292010816").Replace(example)
		before := scan(t, client)
		_, err := seedFile(t, bad)
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		for _, want := range []string{
			"users.json: 1 problem, nothing written:",
			"user #1 (5d1c0e7a9b3f4a2c8e6d1f0b7a9c3e51, erin): phone: user 0638848aa7801dbe1f01c01e92b95df7 holds it in the table; a mobile number belongs to one user of an account: choose another",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if rep := once.Repeated("seed: " + msg); rep != nil || strings.Contains(msg, "make run") {
			t.Errorf("error %q says %q twice, or hints at make run, which is running", msg, rep)
		}
		if after := scan(t, client); !reflect.DeepEqual(before, after) {
			t.Errorf("the table changed: %d items before, %d after", len(before), len(after))
		}
	})

	t.Run("ReadmeExample", func(t *testing.T) {
		out, err := seedFile(t, example)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "seeded 1 accounts and 1 users from users.json into "+localenv.DefaultTable) {
			t.Errorf("output %q", out)
		}
		u, err := store.GetUser(ctx, "5d1c0e7a9b3f4a2c8e6d1f0b7a9c3e51")
		if err != nil || u.Name != "erin" || u.AreaCode != "+86" {
			t.Errorf("erin = %+v, %v", u, err)
		}
		// Seeding the same file again changes nothing it should not.
		if _, err := seedFile(t, example); err != nil {
			t.Errorf("seeding again: %v", err)
		}
	})

	t.Run("ErrNoDynamoDBWhereTheSettingsSay", func(t *testing.T) {
		port, err := proc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		settings := localenv.FromEnvironment(func(k string) string {
			if k == localenv.DDBPort {
				return strconv.Itoa(port)
			}
			return ""
		})
		if err := localenv.Write(settings.Values()); err != nil {
			t.Fatal(err)
		}
		_, err = seedFile(t, example)
		want := "no DynamoDB Local answers on 127.0.0.1:" + strconv.Itoa(port) + " (DDB_PORT from .local/settings.env): start make run in another terminal first"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}

func TestUsage(t *testing.T) {
	err := run(context.Background(), nil, func(string) string { return "" }, &strings.Builder{})
	if err == nil || err.Error() != "usage: make seed FILE=users.json" {
		t.Errorf("err = %v", err)
	}
}

// scan returns every item of the local table.
func scan(t *testing.T, client *dynamodb.Client) []map[string]types.AttributeValue {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(localenv.DefaultTable), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}
