// Package bare is the baseline of `make e2ebench`: the DynamoDB work of one
// email change written directly against the SDK, with nothing around it: no
// HTTP, no token, no validation, no error classification. It mirrors the
// keys of internal/dynamo/keys.go and the items of internal/dynamo's
// change transaction by hand, so that what the API spends beyond it is the
// API's own overhead. It is a benchmark, not a second store: it assumes the
// user exists, is enabled and is not being changed by anyone else.
package bare

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Key formats and attribute names, as internal/dynamo/keys.go has them.
const (
	userPrefix, userSK     = "USER#", "#USER"
	domainPrefix, domainSK = "DOMAIN#", "#DOMAIN"
	emailInfix, guardSK    = "#EMAIL#", "#GUARD"
	auditPrefix            = "AUDIT#"
	timeLayout             = "2006-01-02T15:04:05.000000000Z07:00"
	auditRetention         = 180 * 24 * time.Hour
)

// Writer changes emails in table through client.
type Writer struct {
	Client *dynamodb.Client
	Table  string
}

// ChangeEmail reads user id (one strongly consistent GetItem) and sets its
// email to email in one TransactWriteItems: the user update conditional on
// the version read, the new email's guard, the release of the old one, the
// account's policy check and a masked audit record, the same five items
// the API's store writes. It returns the SDK's error as it is.
func (w *Writer) ChangeEmail(ctx context.Context, id, email string) error {
	out, err := w.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(w.Table),
		Key:            key(userPrefix+id, userSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return err
	}
	version, _ := out.Item["version"].(*types.AttributeValueMemberN)
	domain, _ := out.Item["domain_id"].(*types.AttributeValueMemberS)
	old, _ := out.Item["email"].(*types.AttributeValueMemberS)
	if version == nil || domain == nil {
		return errors.New("bare: no such user, or one without version or domain_id")
	}
	now := time.Now().UTC()
	at := now.Format(timeLayout)
	reqID := randomHex(8)
	names := map[string]string{"#pk": "pk", "#uid": "user_id"}
	yes := &types.AttributeValueMemberBOOL{Value: true}
	ownedOrFree := "attribute_not_exists(#pk) OR #uid = :uid"

	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName:           aws.String(w.Table),
		Key:                 key(userPrefix+id, userSK),
		UpdateExpression:    aws.String("SET #email = :email, #ev = :false, #version = #version + :one, #updated = :now"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #version = :v AND #enabled = :true AND #domain = :d"),
		ExpressionAttributeNames: map[string]string{
			"#email": "email", "#ev": "email_verified", "#version": "version", "#updated": "updated_at",
			"#pk": "pk", "#enabled": "enabled", "#domain": "domain_id",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":email": s(email), ":false": &types.AttributeValueMemberBOOL{Value: false},
			":one": &types.AttributeValueMemberN{Value: "1"}, ":now": s(at),
			":v": version, ":true": yes, ":d": domain,
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	guard := func(addr string) string {
		return domainPrefix + domain.Value + emailInfix + strings.ToLower(addr)
	}
	if old == nil || guard(old.Value) != guard(email) {
		it := key(guard(email), guardSK)
		it["user_id"], it["domain_id"] = s(id), domain
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(w.Table), Item: it, ConditionExpression: aws.String(ownedOrFree),
			ExpressionAttributeNames: names, ExpressionAttributeValues: map[string]types.AttributeValue{":uid": s(id)},
		}})
		if old != nil && old.Value != "" {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName: aws.String(w.Table), Key: key(guard(old.Value), guardSK), ConditionExpression: aws.String(ownedOrFree),
				ExpressionAttributeNames: names, ExpressionAttributeValues: map[string]types.AttributeValue{":uid": s(id)},
			}})
		}
	}
	items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                           aws.String(w.Table),
		Key:                                 key(domainPrefix+domain.Value, domainSK),
		ConditionExpression:                 aws.String("(attribute_not_exists(#me) OR #me = :true)"),
		ExpressionAttributeNames:            map[string]string{"#me": "manage_email"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":true": yes},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})
	audit := key(userPrefix+id, auditPrefix+at+"#"+reqID)
	audit["user_id"], audit["actor_user_id"], audit["actor_domain_id"] = s(id), s(id), domain
	audit["request_id"], audit["source_ip"], audit["at"] = s(reqID), s("127.0.0.1"), s(at)
	audit["fields"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{s("email")}}
	audit["expires_at"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(auditRetention).Unix(), 10)}
	audit["email"] = s(mask(email))
	items = append(items, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(w.Table), Item: audit, ConditionExpression: aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": "pk"},
	}})
	_, err = w.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func s(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

// mask keeps the first character of the local part and of the domain, and
// the top-level domain, as the audit trail does.
func mask(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	tld := ""
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		domain, tld = domain[:i], domain[i:]
	}
	return local[:min(1, len(local))] + "***@" + domain[:min(1, len(domain))] + "***" + tld
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
