package dynamo

import (
	"strconv"
	"strings"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// The table is a single table keyed by pk (string, HASH) and sk (string,
// RANGE). Every item kind below lives in it; the key formats are the only
// schema there is, so they are all here.
const (
	// AttrPK and AttrSK are the table's partition and sort key attributes.
	AttrPK = "pk"
	AttrSK = "sk"

	// TTLAttribute is the table's time-to-live attribute (number, epoch
	// seconds). Only audit items carry it.
	TTLAttribute = "expires_at"
)

// Key prefixes and fixed sort keys.
const (
	userPrefix   = "USER#"   // pk of a user and of its audit records: USER#<user_id>
	userSK       = "#USER"   // sk of the user item
	domainPrefix = "DOMAIN#" // pk of an account: DOMAIN#<domain_id>
	domainSK     = "#DOMAIN" // sk of the account (protect policy) item
	guardSK      = "#GUARD"  // sk of every uniqueness guard; its pk is guardPK's
	auditPrefix  = "AUDIT#"  // audit sk: AUDIT#<time>#<request_id>
)

// User item attributes (pk USER#<id>, sk #USER).
const (
	attrUserID          = "user_id"
	attrDomainID        = "domain_id"
	attrName            = "name"
	attrEmail           = "email"
	attrEmailVerified   = "email_verified" // BOOL
	attrAreaCode        = "areacode"
	attrPhone           = "phone"
	attrPhoneVerified   = "phone_verified"    // BOOL
	attrEnabled         = "enabled"           // BOOL
	attrVersion         = "version"           // N ≥ 1; +1 on every write, the optimistic lock
	attrTokensRevokedAt = "tokens_revoked_at" // timeLayout: the write compares it with a token's iat as a string
	// The keys the user's guards are held under, "<version>#<key>"
	// (userinfo.Key). Absent on items written before version 2: their
	// guards are of version 1, made from the values (userinfo.V1EmailKey).
	attrEmailKey  = "email_key"
	attrPhoneKey  = "phone_key"
	attrCreatedAt = "created_at"
	attrUpdatedAt = "updated_at"
)

// Account item attributes (pk DOMAIN#<domain_id>, sk #DOMAIN). A missing
// item or attribute means the users may manage that value themselves, and
// changes apply at once.
const (
	attrManageEmail   = "manage_email"   // BOOL
	attrManageMobile  = "manage_mobile"  // BOOL
	attrVerifyChanges = "verify_changes" // BOOL: changed values need a code first
)

// Guard items carry user_id (the owner), domain_id and key_version: they
// exist so that a conditional Put fails when another user of the same
// account already holds the value.
const attrKeyVersion = "key_version" // N: the userinfo.Key version of the guard's key

// Audit item attributes (pk USER#<user_id>, sk AUDIT#<time>#<request_id>).
// Values are masked: the audit trail is read by operators and must not be
// a second copy of the contact data.
const (
	attrActorUserID   = "actor_user_id"
	attrActorDomainID = "actor_domain_id"
	attrRequestID     = "request_id"
	attrSourceIP      = "source_ip"
	attrAt            = "at"
	attrFields        = "fields" // L of S: the names of the changed fields
	// email, phone and areacode reuse the user item's names; they hold
	// MaskEmail/MaskPhone output (areacode is a country code, not masked).
)

// timeLayout is RFC 3339 with exactly nine fractional digits. Go's
// RFC3339Nano drops trailing zeros, which breaks the lexicographic order
// DynamoDB sorts sort keys by ("…:05Z" would sort after "…:05.5Z"); a fixed
// width keeps string order equal to time order. time.RFC3339Nano parses it.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func userPK(id string) string { return userPrefix + id }

func accountPK(domainID string) string { return domainPrefix + domainID }

// Guard kinds, as they appear in a guard's key.
const (
	kindEmail = "EMAIL"
	kindPhone = "PHONE"
)

// guardPK returns the key of the guard of a value of kind held under k in
// the account domainID, or "" for the zero Key (no value, no guard):
//
//	version 1:  DOMAIN#<domain_id>#EMAIL#<key>
//	version n:  DOMAIN#<domain_id>#v<n>#EMAIL#<key>
//
// The version takes the place where version 1 has the kind, so keys of two
// versions never coincide, whatever the values.
func guardPK(domainID, kind string, k userinfo.Key) string {
	switch {
	case k.IsZero():
		return ""
	case k.Version == 1:
		return domainPrefix + domainID + "#" + kind + "#" + k.Value
	}
	return domainPrefix + domainID + "#v" + strconv.Itoa(k.Version) + "#" + kind + "#" + k.Value
}

// parseGuardPK is guardPK's inverse for a guard of the account domainID: it
// returns the kind and key, and false for any other key.
func parseGuardPK(domainID, pk string) (kind string, k userinfo.Key, ok bool) {
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
	if !ok || (kind != kindEmail && kind != kindPhone) {
		return "", userinfo.Key{}, false
	}
	return kind, k, true
}

// encodeKey and decodeKey write and read a userinfo.Key as a user item
// holds it: "<version>#<key>".
func encodeKey(k userinfo.Key) string { return strconv.Itoa(k.Version) + "#" + k.Value }

func decodeKey(s string) (userinfo.Key, bool) {
	v, value, ok := strings.Cut(s, "#")
	n, err := strconv.Atoi(v)
	if !ok || err != nil || n < 1 {
		return userinfo.Key{}, false
	}
	return userinfo.Key{Version: n, Value: value}, true
}

// auditSK orders a user's audit records by time; the request id keeps two
// changes in the same nanosecond apart.
func auditSK(at time.Time, requestID string) string {
	return auditPrefix + formatTime(at) + "#" + requestID
}

// auditRange returns the inclusive sort-key bounds of the audit records
// written between from and to. The upper bound ends in '$', the byte after
// '#', so records at exactly to (whatever their request id) are inside it.
func auditRange(from, to time.Time) (lo, hi string) {
	return auditPrefix + formatTime(from), auditPrefix + formatTime(to) + "$"
}
