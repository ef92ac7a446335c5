package dynamo

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Item encoding is written out by hand rather than with attributevalue's
// struct tags so that the attribute names in keys.go are the only ones.

type item = map[string]types.AttributeValue

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func avBool(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func avList(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = avS(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func key(pk, sk string) item { return item{AttrPK: avS(pk), AttrSK: avS(sk)} }

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// getBool returns the attribute's value, or def when it is absent.
func getBool(it item, name string, def bool) bool {
	if v, ok := it[name].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return def
}

func getN(it item, name string) (int64, error) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: not an integer", name)
	}
	return n, nil
}

func getTime(it item, name string) (time.Time, error) {
	s := getS(it, name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: not an RFC 3339 time", name)
	}
	return t.UTC(), nil
}

func getList(it item, name string) []string {
	v, ok := it[name].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(v.Value))
	for _, e := range v.Value {
		if s, ok := e.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

// encodeUser returns the full user item for u. Empty optional strings are
// left out rather than stored as "", so "no phone" has one representation.
func encodeUser(u userinfo.User) item {
	it := key(userPK(u.ID), userSK)
	it[attrUserID] = avS(u.ID)
	it[attrDomainID] = avS(u.DomainID)
	it[attrEmailVerified] = avBool(u.EmailVerified)
	it[attrPhoneVerified] = avBool(u.PhoneVerified)
	it[attrEnabled] = avBool(u.Enabled)
	it[attrVersion] = avN(u.Version)
	it[attrCreatedAt] = avS(formatTime(u.CreatedAt))
	it[attrUpdatedAt] = avS(formatTime(u.UpdatedAt))
	for name, v := range map[string]string{
		attrName: u.Name, attrEmail: u.Email, attrAreaCode: u.AreaCode, attrPhone: u.Phone,
	} {
		if v != "" {
			it[name] = avS(v)
		}
	}
	if !u.TokensRevokedAt.IsZero() {
		it[attrTokensRevokedAt] = avS(formatTime(u.TokensRevokedAt))
	}
	if !u.EmailKey.IsZero() {
		it[attrEmailKey] = avS(encodeKey(u.EmailKey))
	}
	if !u.PhoneKey.IsZero() {
		it[attrPhoneKey] = avS(encodeKey(u.PhoneKey))
	}
	return it
}

// decodeUser returns the user held by it. Its error names the attribute at
// fault, never a value.
func decodeUser(it item) (*userinfo.User, error) {
	u := &userinfo.User{
		ID:            getS(it, attrUserID),
		DomainID:      getS(it, attrDomainID),
		Name:          getS(it, attrName),
		Email:         getS(it, attrEmail),
		EmailVerified: getBool(it, attrEmailVerified, false),
		AreaCode:      getS(it, attrAreaCode),
		Phone:         getS(it, attrPhone),
		PhoneVerified: getBool(it, attrPhoneVerified, false),
		Enabled:       getBool(it, attrEnabled, false),
	}
	if u.ID == "" {
		return nil, fmt.Errorf("attribute %s missing", attrUserID)
	}
	var err error
	// Every write is conditional on the version: without a valid one, no
	// write could ever succeed, and each would look like a lost race.
	if u.Version, err = getN(it, attrVersion); err != nil || u.Version < 1 {
		return nil, fmt.Errorf("attribute %s missing or not a positive integer", attrVersion)
	}
	if u.TokensRevokedAt, err = getTime(it, attrTokensRevokedAt); err != nil {
		return nil, err
	}
	// The write compares the revocation time with a token's iat as strings,
	// which holds only in the table's own layout.
	if raw := getS(it, attrTokensRevokedAt); raw != "" && raw != formatTime(u.TokensRevokedAt) {
		return nil, fmt.Errorf("attribute %s not in the layout %s", attrTokensRevokedAt, timeLayout)
	}
	if u.EmailKey, err = heldKey(it, attrEmailKey, u.Email, userinfo.V1EmailKey(u.Email)); err != nil {
		return nil, err
	}
	if u.PhoneKey, err = heldKey(it, attrPhoneKey, u.Phone, userinfo.V1MobileKey(u.AreaCode, u.Phone)); err != nil {
		return nil, err
	}
	if u.CreatedAt, err = getTime(it, attrCreatedAt); err != nil {
		return nil, err
	}
	if u.UpdatedAt, err = getTime(it, attrUpdatedAt); err != nil {
		return nil, err
	}
	return u, nil
}

// heldKey returns the key attribute name of it holds for value: none for no
// value, v1 (the key version 1 made from the value) on an item written
// before keys were stored.
func heldKey(it item, name, value string, v1 userinfo.Key) (userinfo.Key, error) {
	if value == "" {
		return userinfo.Key{}, nil
	}
	raw := getS(it, name)
	if raw == "" {
		return v1, nil
	}
	k, ok := decodeKey(raw)
	if !ok {
		return userinfo.Key{}, fmt.Errorf("attribute %s not <version>#<key>", name)
	}
	return k, nil
}

func encodeAccount(a userinfo.Account) item {
	it := key(accountPK(a.DomainID), domainSK)
	it[attrDomainID] = avS(a.DomainID)
	it[attrManageEmail] = avBool(a.ManageEmail)
	it[attrManageMobile] = avBool(a.ManageMobile)
	it[attrVerifyChanges] = avBool(a.VerifyChanges)
	return it
}

func encodeGuard(pk string, version int, userID, domainID string) item {
	it := key(pk, guardSK)
	it[attrUserID] = avS(userID)
	it[attrDomainID] = avS(domainID)
	it[attrKeyVersion] = avN(int64(version))
	return it
}
