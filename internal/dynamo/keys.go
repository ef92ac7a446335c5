package dynamo

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// The table's layout: keys pk (HASH) and sk (RANGE), both strings, made
// below; one item struct per kind in items.go (README, "One table").
// infra/ddbtable uses these too.

// Item is one DynamoDB item.
type Item = map[string]types.AttributeValue

const (
	// AttrPK and AttrSK are the partition and sort key attributes.
	AttrPK = "pk"
	AttrSK = "sk"
	// TTLAttribute is the time-to-live attribute (epoch seconds).
	TTLAttribute = "expires_at"
	// OutboxPrefix starts the partition key of every outbox message.
	OutboxPrefix = "OUTBOX#"
)

// Key prefixes and fixed sort keys.
const (
	userPrefix    = "USER#"   // a user's partition: USER#<user_id>
	userSK        = "#USER"   // the user item
	domainPrefix  = "DOMAIN#" // an account: DOMAIN#<domain_id>
	domainSK      = "#DOMAIN" // the account's policy item
	guardSK       = "#GUARD"  // every uniqueness guard; its pk is guardPK's
	auditPrefix   = "AUDIT#"  // audit record: AUDIT#<time>#<request_id>
	pendingPrefix = "PENDING#"
	outboxSK      = "#OUTBOX"
)

// Attributes that expressions name; the item structs' tags name the same.
const (
	attrUserID          = "user_id"
	attrDomainID        = "domain_id"
	attrEnabled         = "enabled"
	attrVersion         = "version"
	attrTokensRevokedAt = "tokens_revoked_at"
	attrUpdatedAt       = "updated_at"
	attrManageEmail     = "manage_email"
	attrManageMobile    = "manage_mobile"
	attrVerifyChanges   = "verify_changes"
	attrPendingID       = "pending_id"
	attrTriesLeft       = "tries_left"
	attrValidUntil      = "valid_until"
	attrCodeHash        = "code_hash"
	attrCodeSalt        = "code_salt"
	attrCodeSentAt      = "code_sent_at"
	attrDeliveredAt     = "delivered_at"
)

// Guard kinds; guard keys spell them in capitals.
const (
	GuardEmail = "email"
	GuardPhone = "phone"
)

// timeLayout is RFC 3339 with exactly nine fractional digits (RFC3339Nano
// drops trailing zeros): string order is time order, which sort keys and
// the revocation condition rely on.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func key(pk, sk string) Item {
	return Item{AttrPK: &types.AttributeValueMemberS{Value: pk}, AttrSK: &types.AttributeValueMemberS{Value: sk}}
}

func userPK(id string) string { return userPrefix + id }

func accountPK(domainID string) string { return domainPrefix + domainID }

func pendingSK(field string) string { return pendingPrefix + strings.ToUpper(field) }

// UserKey returns the key of the user id.
func UserKey(id string) Item { return key(userPK(id), userSK) }

// AccountKey returns the key of the policy of the account domainID.
func AccountKey(domainID string) Item { return key(accountPK(domainID), domainSK) }

// GuardKey returns the key of the guard of kind on k in the account
// domainID, or nil for the zero Key.
func GuardKey(domainID, kind string, k userinfo.Key) Item {
	if k.IsZero() {
		return nil
	}
	return key(guardPK(domainID, kind, k), guardSK)
}

// guardPK is a guard's partition key. The version stands where version 1
// has the kind, so keys of two versions differ:
//
//	version 1:  DOMAIN#<domain_id>#EMAIL#<key>
//	version n:  DOMAIN#<domain_id>#v<n>#EMAIL#<key>
func guardPK(domainID, kind string, k userinfo.Key) string {
	kind = strings.ToUpper(kind)
	if k.Version == 1 {
		return domainPrefix + domainID + "#" + kind + "#" + k.Value
	}
	return domainPrefix + domainID + "#v" + strconv.Itoa(k.Version) + "#" + kind + "#" + k.Value
}

// ParseGuardPK is guardPK's inverse for the account domainID; false for
// any other key.
func ParseGuardPK(domainID, pk string) (kind string, k userinfo.Key, ok bool) {
	rest, ok := strings.CutPrefix(pk, domainPrefix+domainID+"#")
	if !ok {
		return "", userinfo.Key{}, false
	}
	k.Version = 1
	if v, after, found := strings.Cut(rest, "#"); found && strings.HasPrefix(v, "v") {
		if k.Version, _ = strconv.Atoi(v[1:]); k.Version < 2 {
			return "", userinfo.Key{}, false
		}
		rest = after
	}
	kind, k.Value, ok = strings.Cut(rest, "#")
	if !ok || (kind != "EMAIL" && kind != "PHONE") {
		return "", userinfo.Key{}, false
	}
	return strings.ToLower(kind), k, true
}

// AuditKeys returns the key condition of userID's audit records from from
// to to, inclusive: the upper bound ends in '$', the byte after '#', so it
// takes every request id at exactly to.
func AuditKeys(userID string, from, to time.Time) expression.KeyConditionBuilder {
	return expression.Key(AttrPK).Equal(expression.Value(userPK(userID))).
		And(expression.Key(AttrSK).Between(expression.Value(auditPrefix+formatTime(from)), expression.Value(auditPrefix+formatTime(to)+"$")))
}

// encodeKey and decodeKey write and read a userinfo.Key as items hold it:
// "<version>#<key>".
func encodeKey(k userinfo.Key) string { return strconv.Itoa(k.Version) + "#" + k.Value }

func decodeKey(s string) (userinfo.Key, bool) {
	v, value, ok := strings.Cut(s, "#")
	n, err := strconv.Atoi(v)
	if !ok || err != nil || n < 1 {
		return userinfo.Key{}, false
	}
	return userinfo.Key{Version: n, Value: value}, true
}
