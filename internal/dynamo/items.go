package dynamo

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// One struct per kind of item, and the conversions to and from the domain.

// UserItem is a user (pk USER#<id>, sk #USER).
type UserItem struct {
	PK              string    `dynamodbav:"pk"`
	SK              string    `dynamodbav:"sk"`
	UserID          string    `dynamodbav:"user_id"`
	DomainID        string    `dynamodbav:"domain_id"`
	Name            string    `dynamodbav:"name,omitempty"`
	Email           string    `dynamodbav:"email,omitempty"`
	EmailVerified   bool      `dynamodbav:"email_verified"`
	AreaCode        string    `dynamodbav:"areacode,omitempty"`
	Phone           string    `dynamodbav:"phone,omitempty"`
	PhoneVerified   bool      `dynamodbav:"phone_verified"`
	Enabled         bool      `dynamodbav:"enabled"`
	Version         int64     `dynamodbav:"version"`
	TokensRevokedAt time.Time `dynamodbav:"tokens_revoked_at,omitempty"`
	// The keys of the user's guards, "<version>#<key>"; absent before key
	// version 2, whose guards are version 1's.
	EmailKey  string    `dynamodbav:"email_key,omitempty"`
	PhoneKey  string    `dynamodbav:"phone_key,omitempty"`
	CreatedAt time.Time `dynamodbav:"created_at"`
	UpdatedAt time.Time `dynamodbav:"updated_at"`
}

// NewUserItem returns the item of u.
func NewUserItem(u userinfo.User) UserItem {
	it := UserItem{
		PK: userPK(u.ID), SK: userSK, UserID: u.ID, DomainID: u.DomainID, Name: u.Name,
		Email: u.Email, EmailVerified: u.EmailVerified, AreaCode: u.AreaCode, Phone: u.Phone, PhoneVerified: u.PhoneVerified,
		Enabled: u.Enabled, Version: u.Version, TokensRevokedAt: u.TokensRevokedAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if !u.EmailKey.IsZero() {
		it.EmailKey = encodeKey(u.EmailKey)
	}
	if !u.PhoneKey.IsZero() {
		it.PhoneKey = encodeKey(u.PhoneKey)
	}
	return it
}

// DecodeUser returns the user av holds. Its error names the attribute at
// fault, never a value.
func DecodeUser(av Item) (*userinfo.User, error) {
	// Without a valid version every conditional write would fail as a lost
	// race.
	var version int64
	if attributevalue.Unmarshal(av[attrVersion], &version) != nil || version < 1 {
		return nil, errors.New("attribute version missing or not a positive integer")
	}
	var it UserItem
	if err := UnmarshalItem(av, &it); err != nil {
		return nil, err
	}
	u := &userinfo.User{
		ID: it.UserID, DomainID: it.DomainID, Name: it.Name,
		Email: it.Email, EmailVerified: it.EmailVerified, AreaCode: it.AreaCode, Phone: it.Phone, PhoneVerified: it.PhoneVerified,
		Enabled: it.Enabled, Version: it.Version, TokensRevokedAt: it.TokensRevokedAt, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
	var err error
	if u.EmailKey, err = heldKey(it.EmailKey, "email_key", u.Email, userinfo.V1EmailKey(u.Email)); err != nil {
		return nil, err
	}
	if u.PhoneKey, err = heldKey(it.PhoneKey, "phone_key", u.Phone, userinfo.V1MobileKey(u.AreaCode, u.Phone)); err != nil {
		return nil, err
	}
	return u, nil
}

// heldKey returns the key the attribute name (raw) holds for value: none
// without a value, v1 on items written before keys were stored.
func heldKey(raw, name, value string, v1 userinfo.Key) (userinfo.Key, error) {
	switch {
	case value == "":
		return userinfo.Key{}, nil
	case raw == "":
		return v1, nil
	}
	k, ok := decodeKey(raw)
	if !ok {
		return userinfo.Key{}, fmt.Errorf("attribute %s not <version>#<key>", name)
	}
	return k, nil
}

// AccountItem is an account's policy (pk DOMAIN#<domain_id>, sk #DOMAIN).
// An absent item or setting is userinfo.DefaultAccount's.
type AccountItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	DomainID      string `dynamodbav:"domain_id"`
	ManageEmail   *bool  `dynamodbav:"manage_email,omitempty"`
	ManageMobile  *bool  `dynamodbav:"manage_mobile,omitempty"`
	VerifyChanges *bool  `dynamodbav:"verify_changes,omitempty"`
}

// NewAccountItem returns the item of a.
func NewAccountItem(a userinfo.Account) AccountItem {
	return AccountItem{PK: accountPK(a.DomainID), SK: domainSK, DomainID: a.DomainID,
		ManageEmail: &a.ManageEmail, ManageMobile: &a.ManageMobile, VerifyChanges: &a.VerifyChanges}
}

// DecodeAccount returns the policy of the account domainID in av, its item
// or an empty one.
func DecodeAccount(domainID string, av Item) (userinfo.Account, error) {
	a := userinfo.DefaultAccount(domainID)
	if len(av) == 0 {
		return a, nil
	}
	var it AccountItem
	if err := UnmarshalItem(av, &it); err != nil {
		return a, err
	}
	a.ManageEmail = orDefault(it.ManageEmail, a.ManageEmail)
	a.ManageMobile = orDefault(it.ManageMobile, a.ManageMobile)
	a.VerifyChanges = orDefault(it.VerifyChanges, a.VerifyChanges)
	return a, nil
}

func orDefault(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// GuardItem is a uniqueness guard (pk guardPK's, sk #GUARD): claiming a
// value another user of the account holds fails on it.
type GuardItem struct {
	PK       string `dynamodbav:"pk"`
	SK       string `dynamodbav:"sk"`
	UserID   string `dynamodbav:"user_id"` // the holder
	DomainID string `dynamodbav:"domain_id"`
	// KeyVersion is absent on older guards; the pk holds it anyway.
	KeyVersion int `dynamodbav:"key_version,omitempty"`
}

// NewGuardItem returns userID's guard of kind on k in the account domainID.
func NewGuardItem(domainID, kind string, k userinfo.Key, userID string) GuardItem {
	return GuardItem{PK: guardPK(domainID, kind, k), SK: guardSK, UserID: userID, DomainID: domainID, KeyVersion: k.Version}
}

// FreeOrHeldBy is the condition on claiming or releasing a guard: absent,
// or already userID's (a retry, or a leftover).
func FreeOrHeldBy(userID string) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(AttrPK)).Or(expression.Name(attrUserID).Equal(expression.Value(userID)))
}

// AuditItem is the record of one change (pk USER#<user_id>, sk
// AUDIT#<time>#<request_id>). Its values are masked: operators read it.
type AuditItem struct {
	PK            string    `dynamodbav:"pk"`
	SK            string    `dynamodbav:"sk"`
	UserID        string    `dynamodbav:"user_id"`
	ActorUserID   string    `dynamodbav:"actor_user_id"`
	ActorDomainID string    `dynamodbav:"actor_domain_id"`
	RequestID     string    `dynamodbav:"request_id"`
	SourceIP      string    `dynamodbav:"source_ip"`
	At            time.Time `dynamodbav:"at"`
	Fields        []string  `dynamodbav:"fields"`             // the names of the changed fields
	Email         string    `dynamodbav:"email,omitempty"`    // userinfo.MaskEmail of the new value
	AreaCode      string    `dynamodbav:"areacode,omitempty"` // the new country code
	Phone         string    `dynamodbav:"phone,omitempty"`    // userinfo.MaskPhone of the new number
	TTL           int64     `dynamodbav:"expires_at"`
}

// pendingItem is a userinfo.Pending (pk USER#<id>, sk PENDING#<FIELD>),
// the new value in clear as the user holds the current one. TTL removes it
// at Pending.Keep.
type pendingItem struct {
	PK          string    `dynamodbav:"pk"`
	SK          string    `dynamodbav:"sk"`
	PendingID   string    `dynamodbav:"pending_id"`
	Field       string    `dynamodbav:"field"`
	Email       string    `dynamodbav:"email,omitempty"`
	EmailKey    string    `dynamodbav:"email_key,omitempty"`
	AreaCode    string    `dynamodbav:"areacode,omitempty"`
	Phone       string    `dynamodbav:"phone,omitempty"`
	PhoneKey    string    `dynamodbav:"phone_key,omitempty"`
	ValidUntil  int64     `dynamodbav:"valid_until"` // epoch seconds: SetCode compares it
	TriesLeft   int       `dynamodbav:"tries_left"`
	CodeHash    string    `dynamodbav:"code_hash,omitempty"`
	CodeSalt    string    `dynamodbav:"code_salt,omitempty"`
	Sends       int       `dynamodbav:"sends"`
	WindowStart time.Time `dynamodbav:"window_start"`
	RequestID   string    `dynamodbav:"request_id"`
	RequestedAt time.Time `dynamodbav:"requested_at"`
	TTL         int64     `dynamodbav:"expires_at"`
}

// OutboxItem is a message to send (pk OUTBOX#<id>, sk #OUTBOX).
type OutboxItem struct {
	PK          string    `dynamodbav:"pk"`
	SK          string    `dynamodbav:"sk"`
	Kind        string    `dynamodbav:"kind"`
	To          string    `dynamodbav:"to"`
	UserID      string    `dynamodbav:"user_id"`
	Field       string    `dynamodbav:"field"`
	PendingID   string    `dynamodbav:"pending_id,omitempty"`
	CodeExpires time.Time `dynamodbav:"code_expires_at,omitempty"`
	NewValue    string    `dynamodbav:"new_value,omitempty"`
	SourceIP    string    `dynamodbav:"source_ip"`
	RequestID   string    `dynamodbav:"request_id"`
	At          time.Time `dynamodbav:"at"`
	Delivered   time.Time `dynamodbav:"delivered_at,omitempty"`
	TTL         int64     `dynamodbav:"expires_at"`
}

// Message returns the message it holds, or an error naming a bad
// attribute.
func (it OutboxItem) Message() (*userinfo.Message, error) {
	m := &userinfo.Message{
		ID: strings.TrimPrefix(it.PK, OutboxPrefix), Kind: userinfo.MessageKind(it.Kind), To: it.To, UserID: it.UserID, Field: it.Field,
		PendingID: it.PendingID, ExpiresAt: it.CodeExpires, NewValue: it.NewValue, SourceIP: it.SourceIP, RequestID: it.RequestID, At: it.At,
	}
	switch m.Kind {
	case userinfo.MsgVerifyEmail, userinfo.MsgVerifyMobile, userinfo.MsgEmailChanged, userinfo.MsgEmailChangeRequested:
	default:
		return nil, fmt.Errorf("attribute kind: %q is no message kind", it.Kind)
	}
	if m.IsCode() && m.PendingID == "" {
		return nil, errors.New("attribute pending_id missing from a code")
	}
	return m, nil
}

// Times are written and read in timeLayout only: the revocation condition
// compares them as strings.
var (
	encodeOptions = func(o *attributevalue.EncoderOptions) {
		o.EncodeTime = func(t time.Time) (types.AttributeValue, error) {
			return &types.AttributeValueMemberS{Value: formatTime(t)}, nil
		}
		o.OmitEmptyTime = true
	}
	decodeOptions = func(o *attributevalue.DecoderOptions) {
		o.DecodeTime.S = func(s string) (time.Time, error) {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || formatTime(t) != s {
				return time.Time{}, errors.New("not in the table's time layout")
			}
			return t.UTC(), nil
		}
	}
)

// MarshalItem returns the item of in, one of the item structs.
func MarshalItem(in any) (Item, error) {
	return attributevalue.MarshalMapWithOptions(in, encodeOptions)
}

// UnmarshalItem decodes av into out, a pointer to an item struct. An
// attribute of a field without omitempty must be present, and each must
// have its field's type. The error names the attribute, never a value, as
// attributevalue's errors may.
func UnmarshalItem(av Item, out any) error {
	for _, f := range reflect.VisibleFields(reflect.TypeOf(out).Elem()) {
		name, opts, _ := strings.Cut(f.Tag.Get("dynamodbav"), ",")
		v, ok := av[name]
		switch {
		case name == "":
		case !ok && opts != "omitempty":
			return fmt.Errorf("attribute %s missing", name)
		case ok && !storedAs(v, f.Type):
			return fmt.Errorf("attribute %s of the wrong type", name)
		}
	}
	if attributevalue.UnmarshalMapWithOptions(av, out, decodeOptions) == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(av)) {
		if attributevalue.UnmarshalMapWithOptions(Item{name: av[name]}, out, decodeOptions) != nil {
			return fmt.Errorf("attribute %s of the wrong type or form", name)
		}
	}
	return errors.New("item of the wrong form")
}

// storedAs reports whether v has the DynamoDB type fields of type t are
// written as: attributevalue would read a number into a string.
func storedAs(v types.AttributeValue, t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String, reflect.Struct: // time.Time is the only struct
		_, ok := v.(*types.AttributeValueMemberS)
		return ok
	case reflect.Bool:
		_, ok := v.(*types.AttributeValueMemberBOOL)
		return ok
	case reflect.Int, reflect.Int64:
		_, ok := v.(*types.AttributeValueMemberN)
		return ok
	}
	return true // lists: attributevalue checks their elements
}
