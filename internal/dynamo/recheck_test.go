package dynamo_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// interleaving is the store with a step run once, right after the first
// GetUser: another writer acting between the service's read and its write.
type interleaving struct {
	*ddbtable.Table
	between func()
}

func (s *interleaving) GetUser(ctx context.Context, id string) (*userinfo.User, error) {
	u, err := s.Table.GetUser(ctx, id)
	if s.between != nil {
		s.between()
		s.between = nil
	}
	return u, err
}

// TestWriteRechecksTheRead runs the service on DynamoDB Local while another
// writer changes the user between Authorize's read and UpdateContact's
// write, without bumping its version (as a revocation service or an
// operator's tool might): the transaction's own conditions must catch it,
// the service answer as the read would have, and nothing be written.
func TestWriteRechecksTheRead(t *testing.T) {
	issued := fixedNow.Add(-time.Hour)
	tests := []struct {
		name    string
		between func(t *testing.T, u *userinfo.User, other string)
		want    string
	}{
		{"ErrRevokedAfterTheTokenWasIssued", func(t *testing.T, u *userinfo.User, _ string) {
			setAttribute(t, u.ID, "tokens_revoked_at", avS(issued.Add(time.Second).Format("2006-01-02T15:04:05.000000000Z07:00")))
		}, userinfo.EUNAUTHORIZED},
		{"ErrDisabled", func(t *testing.T, u *userinfo.User, _ string) {
			setAttribute(t, u.ID, "enabled", &types.AttributeValueMemberBOOL{Value: false})
		}, userinfo.EFORBIDDEN},
		{"ErrMovedToAnotherAccount", func(t *testing.T, u *userinfo.User, other string) {
			setAttribute(t, u.ID, "domain_id", avS(other))
		}, userinfo.EFORBIDDEN},
		{"RevokedBeforeTheTokenWasIssued", func(t *testing.T, u *userinfo.User, _ string) {
			setAttribute(t, u.ID, "tokens_revoked_at", avS(issued.Add(-time.Second).Format("2006-01-02T15:04:05.000000000Z07:00")))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStore(client)
			domain, other := newID("d-"), newID("d-")
			u := seedUser(t, s, domain, "between@example.com", "", "")
			p := userinfo.Principal{UserID: u.ID, DomainID: domain, IssuedAt: issued}
			svc := userinfo.NewService(&interleaving{Table: s, between: func() { tt.between(t, u, other) }}, nil)

			read, err := svc.Authorize(ctx, p, u.ID)
			if err != nil {
				t.Fatalf("Authorize saw the user before the change: %v", err)
			}
			before, _ := s.GetUser(ctx, u.ID)
			_, err = svc.UpdateContact(ctx, p, read, userinfo.Update{Email: ptr("after@example.com")}, userinfo.RequestMeta{RequestID: newID("r-")})
			if code := userinfo.ErrorCode(err); code != tt.want {
				t.Fatalf("UpdateContact = %v, want code %q", err, tt.want)
			}
			after, _ := s.GetUser(ctx, u.ID)
			recs, _ := s.AuditRecords(ctx, u.ID, time.Time{}, fixedNow.Add(time.Hour))
			if tt.want != "" && (!reflect.DeepEqual(after, before) || len(recs) != 0) {
				t.Errorf("written anyway: user %+v, %d audit records", after, len(recs))
			}
			if tt.want == "" && (after.Email != "after@example.com" || len(recs) != 1) {
				t.Errorf("not written: user %+v, %d audit records", after, len(recs))
			}
		})
	}
}

func ptr(s string) *string { return &s }
