package tablecheck

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// guardKey is a guard's identity: one key of one kind in one account.
type guardKey struct {
	domain, kind string
	key          userinfo.Key
}

// held returns the guard keys of the values u holds, under the keys it
// holds them by.
func held(u userinfo.User) []guardKey {
	var ks []guardKey
	if u.Email != "" {
		ks = append(ks, guardKey{u.DomainID, dynamo.GuardEmail, u.EmailKey})
	}
	if u.Phone != "" {
		ks = append(ks, guardKey{u.DomainID, dynamo.GuardPhone, u.PhoneKey})
	}
	return ks
}

// currentKeys reports whether u's keys of the current version are the keys
// its values have under the current rules.
func currentKeys(u userinfo.User) bool {
	want := u
	if want.SetKeys() != nil {
		return false
	}
	return (u.EmailKey.Version != userinfo.KeyVersion || u.EmailKey == want.EmailKey) &&
		(u.PhoneKey.Version != userinfo.KeyVersion || u.PhoneKey == want.PhoneKey)
}

// Check returns every broken uniqueness invariant of st, joined, or nil:
// a value held by two users of one account, a key that is not its value's,
// a guard that points at a user who does not hold its value (or at no user
// read), a held value without its guard, and two guards for one value. The
// messages name users and kinds, never values.
func (st *State) Check() error {
	var errs []error
	holder := map[guardKey]string{}
	for _, id := range slices.Sorted(maps.Keys(st.Users)) {
		if !currentKeys(st.Users[id]) {
			errs = append(errs, fmt.Errorf("user %s holds a value under a key that is not its value's", id))
		}
		for _, k := range held(st.Users[id]) {
			if other, ok := holder[k]; ok {
				errs = append(errs, fmt.Errorf("account %s: users %s and %s hold the same %s", k.domain, other, id, k.kind))
				continue
			}
			holder[k] = id
		}
	}
	guarded := map[guardKey]bool{}
	for _, g := range st.Guards {
		k := guardKey{g.DomainID, g.Kind, g.Key()}
		if guarded[k] {
			errs = append(errs, fmt.Errorf("account %s: two guards for one %s", k.domain, k.kind))
		}
		guarded[k] = true
		if holder[k] != g.UserID {
			errs = append(errs, fmt.Errorf("account %s: a %s guard points at %q, but the value is held by %q", k.domain, k.kind, g.UserID, holder[k]))
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(holder), compareKeys) {
		if !guarded[k] {
			errs = append(errs, fmt.Errorf("account %s: user %s has no guard for its %s", k.domain, holder[k], k.kind))
		}
	}
	return errors.Join(errs...)
}

func compareKeys(a, b guardKey) int {
	return cmp.Or(cmp.Compare(a.domain, b.domain), cmp.Compare(a.kind, b.kind), cmp.Compare(a.key.Version, b.key.Version), cmp.Compare(a.key.Value, b.key.Value))
}

// NewAudits returns, by user id, the audit records in after that are not
// in st: what was written in between.
func (st *State) NewAudits(after *State) map[string][]ddbtable.AuditRecord {
	out := map[string][]ddbtable.AuditRecord{}
	for id, recs := range after.Audits {
		old := map[string]bool{}
		for _, r := range st.Audits[id] {
			old[r.RequestID+"@"+r.At.String()] = true
		}
		for _, r := range recs {
			if !old[r.RequestID+"@"+r.At.String()] {
				out[id] = append(out[id], r)
			}
		}
	}
	return out
}

// Contact is the new contact details of a change; a nil field is left as
// it was. AreaCode is canonical ("+86").
type Contact struct {
	Email, AreaCode, Phone *string
}

// Apply returns the state st becomes when the change c of user id is
// applied with the audit record rec: the user's values replaced (in their
// stored forms, with their current keys) and marked unverified, its version
// one higher and UpdatedAt rec.At, the guards of the old keys released and
// those of the new ones claimed, and rec appended. It is the "after" that a
// successful request must leave, exactly. It panics on a value the rules
// refuse: a successful request has none.
func (st *State) Apply(id string, c Contact, rec ddbtable.AuditRecord) *State {
	out := st.Clone()
	u := out.Users[id]
	oldKeys := held(u)
	if c.Email != nil && u.Email != "" {
		// The old address is told (userinfo.MsgEmailChanged).
		out.Notices[id] = append(out.Notices[id], Notice{userinfo.MsgEmailChanged, u.Email, userinfo.MaskEmail(*c.Email), rec.RequestID})
		out.Items++
	}
	if c.Email != nil {
		e, err := userinfo.ParseEmail(*c.Email)
		if err != nil {
			panic(err)
		}
		u.Email, u.EmailKey, u.EmailVerified = e.Address, userinfo.CurrentKey(e.Key), false
	}
	if c.Phone != nil {
		m, err := userinfo.ParseMobile(*c.AreaCode, *c.Phone)
		if err != nil {
			panic(err)
		}
		u.AreaCode, u.Phone, u.PhoneKey, u.PhoneVerified = m.AreaCode, m.Number, userinfo.CurrentKey(m.Key), false
	}
	u.Version++
	u.UpdatedAt = rec.At
	out.Users[id] = u

	newKeys := held(u)
	keep := out.Guards[:0]
	for _, g := range out.Guards {
		if k := (guardKey{g.DomainID, g.Kind, g.Key()}); g.UserID == id && contains(oldKeys, k) && !contains(newKeys, k) {
			out.Items--
			continue
		}
		keep = append(keep, g)
	}
	out.Guards = keep
	for _, k := range newKeys {
		if !contains(oldKeys, k) {
			out.Guards = append(out.Guards, ddbtable.Guard{Kind: k.kind, Value: k.key.Value, Version: k.key.Version, UserID: id, DomainID: k.domain})
			out.Items++
		}
	}
	slices.SortFunc(out.Guards, ddbtable.CompareGuards)
	out.Audits[id] = append(out.Audits[id], rec)
	out.Items++
	return out
}

func contains(ks []guardKey, k guardKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}
