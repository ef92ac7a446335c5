package app_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
)

// rawUser returns the user item as DynamoDB holds it, every attribute.
func (e *apiEnv) rawUser(t *testing.T, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.table),
		Key: map[string]types.AttributeValue{
			dynamo.AttrPK: &types.AttributeValueMemberS{Value: "USER#" + id},
			dynamo.AttrSK: &types.AttributeValueMemberS{Value: "#USER"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(out.Item) == 0 {
		t.Fatalf("GetItem user %s: %v (%d attributes)", id, err, len(out.Item))
	}
	return out.Item
}

// TestMassAssignment sends, next to a valid email, each field a caller
// might hope to set on its own user (or to move it to another account).
// Only email, areacode and phone exist in the body; anything else is a 400
// naming the field, and the stored item, every attribute of it, is as it
// was: the valid email next to it is not stored either.
func TestMassAssignment(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	e.secret("alice.mass@example.com")
	before := e.rawUser(t, aliceID)

	nested := []struct{ name, field, value string }{
		{"ErrEnabled", "enabled", `true`},
		{"ErrDomainID", "domain_id", `"` + domainB + `"`},
		{"ErrName", "name", `"admin"`},
		{"ErrPassword", "password", `"Hunter2!Hunter2!"`},
		{"ErrEmailVerified", "email_verified", `true`},
		{"ErrPhoneVerified", "phone_verified", `true`},
		{"ErrUserID", "user_id", `"` + bobID + `"`},
		{"ErrID", "id", `"` + bobID + `"`},
		{"ErrVersion", "version", `99`},
		{"ErrTokensRevokedAt", "tokens_revoked_at", `"1970-01-01T00:00:00Z"`},
		{"ErrPK", "pk", `"USER#` + bobID + `"`},
		{"ErrExpiresAt", "expires_at", `0`},
	}
	for _, tt := range nested {
		t.Run(tt.name, func(t *testing.T) {
			body := userBody(`"email":"alice.mass@example.com","` + tt.field + `":` + tt.value)
			b := wantError(t, e.put(path(aliceID), alice, body), http.StatusBadRequest, "IAM.0073")
			if want := "unknown field user." + tt.field; b.Message != want {
				t.Errorf("error_msg = %q, want %q", b.Message, want)
			}
		})
	}
	others := []struct{ name, body string }{
		{"ErrEnabledTopLevel", `{"user":{"email":"alice.mass@example.com"},"enabled":true}`},
		{"ErrDomainIDTopLevel", `{"domain_id":"` + domainB + `","user":{"email":"alice.mass@example.com"}}`},
		{"ErrEnabledCaseVariant", userBody(`"email":"alice.mass@example.com","Enabled":true`)},
		{"ErrEnabledEscapedName", userBody(`"email":"alice.mass@example.com","en\u0061bled":true`)},
		{"ErrEnabledAsString", userBody(`"email":"alice.mass@example.com","enabled":"true"`)},
		{"ErrPasswordOnly", userBody(`"password":"Hunter2!Hunter2!"`)},
		{"ErrUserNestedInUser", userBody(`"email":"alice.mass@example.com","user":{"enabled":true}`)},
	}
	for _, tt := range others {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.put(path(aliceID), alice, tt.body), http.StatusBadRequest, "IAM.0073")
		})
	}
	if after := e.rawUser(t, aliceID); !reflect.DeepEqual(before, after) {
		t.Errorf("a rejected body changed the stored item:\nbefore %v\nafter  %v", before, after)
	}
	if _, ok := e.rawUser(t, aliceID)["password"]; ok {
		t.Error("a password attribute was stored")
	}
}
