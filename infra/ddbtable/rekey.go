package ddbtable

import (
	"context"
	"reflect"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Re-keying moves the uniqueness guards of a table to the keys the current
// rules give its stored values (userinfo.KeyVersion): after an upgrade of
// the key rules (or of the numbering-plan data they use), a value must be
// guarded under the key the API now computes, or another spelling of it
// could be claimed by another user. infra/cmd/rekey runs it.

// RekeyOptions configures Rekey.
type RekeyOptions struct {
	// DryRun reports what would move without writing anything.
	DryRun bool
}

// RekeyValue names one value of one user: its account, kind
// (dynamo.GuardEmail or GuardPhone) and user id. Never the value itself: reports are printed.
type RekeyValue struct {
	DomainID string
	Kind     string
	UserID   string
}

// RekeyCollision is a set of values of one account and kind that have one
// key under the current rules: at most one of them can be guarded, and
// Rekey does not choose. Holder is the user whose guard already holds the
// key ("" when none does); Users are the others, left under their old keys
// for an operator to settle.
type RekeyCollision struct {
	DomainID string
	Kind     string
	Holder   string
	Users    []string
}

// RekeyReport is what Rekey found and did.
type RekeyReport struct {
	Users   int          // user items read
	Current int          // values already guarded under their current key
	Moved   []RekeyValue // values moved (or, in a dry run, to move) to their current key
	// Invalid are values the current rules refuse (a character they no
	// longer accept, a number no longer possible): left under their old
	// key, which the API still releases when the user changes them.
	Invalid    []RekeyValue
	Collisions []RekeyCollision
	// Changed are values whose user changed while Rekey moved them three
	// times in a row: run it again.
	Changed []RekeyValue
	// Orphans are guards that no user holds: left as they are (they only
	// keep their value from being claimed).
	Orphans []Guard
}

// Clean reports whether every value is guarded under its current key and
// nothing needs an operator.
func (r *RekeyReport) Clean() bool {
	return len(r.Invalid) == 0 && len(r.Collisions) == 0 && len(r.Changed) == 0 && len(r.Orphans) == 0
}

// rekeyMove is one value to move: the user as read, and the key of the value
// under the current rules.
type rekeyMove struct {
	user *userinfo.User
	kind string
	want userinfo.Key
}

func (m rekeyMove) held() userinfo.Key {
	if m.kind == dynamo.GuardEmail {
		return m.user.EmailKey
	}
	return m.user.PhoneKey
}

func (m rekeyMove) value() RekeyValue {
	return RekeyValue{DomainID: m.user.DomainID, Kind: m.kind, UserID: m.user.ID}
}

// Rekey moves every user's guards to the keys of the current rules, each
// value in its own transaction (the user item's key and version, the new
// guard claimed, the old one released), and reports values it cannot move
// instead of choosing between users. It is idempotent: a second run moves
// nothing and reports the same problems. It reads the whole table with
// consistent scans, so run it when the table is quiet enough to be scanned;
// requests may go on meanwhile (a user who changes under it is re-read).
// On an error it returns what it did until then.
func (t *Table) Rekey(ctx context.Context, opts RekeyOptions) (*RekeyReport, error) {
	users, guards, err := t.scanUsersAndGuards(ctx)
	if err != nil {
		return nil, err
	}
	r := &RekeyReport{Users: len(users)}

	// Group every value by its current key: a group of two or more users
	// is a collision, whether or not one already holds the key.
	type slot struct{ domain, kind, key string }
	groups := map[slot][]rekeyMove{}
	var order []slot
	for _, u := range users {
		for _, m := range currentKeys(u, r) {
			sl := slot{u.DomainID, m.kind, m.want.Value}
			if groups[sl] == nil {
				order = append(order, sl)
			}
			groups[sl] = append(groups[sl], m)
		}
	}
	var moves []rekeyMove
	for _, sl := range order {
		g := groups[sl]
		if len(g) == 1 {
			if g[0].held() == g[0].want {
				r.Current++
			} else {
				moves = append(moves, g[0])
			}
			continue
		}
		c := RekeyCollision{DomainID: sl.domain, Kind: g[0].value().Kind}
		for _, m := range g {
			if m.held() == m.want {
				c.Holder = m.user.ID
				r.Current++
			} else {
				c.Users = append(c.Users, m.user.ID)
			}
		}
		sort.Strings(c.Users)
		r.Collisions = append(r.Collisions, c)
	}

	for _, m := range moves {
		if opts.DryRun {
			r.Moved = append(r.Moved, m.value())
			continue
		}
		if err := t.rekeyOne(ctx, m, r); err != nil {
			return r, err
		}
	}
	if opts.DryRun {
		return r, nil
	}
	r.Orphans, err = t.orphans(ctx, guards)
	return r, err
}

// currentKeys returns the values of u whose current key can be computed,
// with that key, and adds the others to r.Invalid.
func currentKeys(u *userinfo.User, r *RekeyReport) []rekeyMove {
	var out []rekeyMove
	if u.Email != "" {
		m := rekeyMove{user: u, kind: dynamo.GuardEmail}
		if e, err := userinfo.ParseEmail(u.Email); err != nil {
			r.Invalid = append(r.Invalid, m.value())
		} else {
			m.want = userinfo.CurrentKey(e.Key)
			out = append(out, m)
		}
	}
	if u.Phone != "" {
		m := rekeyMove{user: u, kind: dynamo.GuardPhone}
		if mob, err := userinfo.ParseMobile(u.AreaCode, u.Phone); err != nil {
			r.Invalid = append(r.Invalid, m.value())
		} else {
			m.want = userinfo.CurrentKey(mob.Key)
			out = append(out, m)
		}
	}
	return out
}

// rekeyOne moves one value, re-reading its user when it changed meanwhile,
// and records the outcome in r.
func (t *Table) rekeyOne(ctx context.Context, m rekeyMove, r *RekeyReport) error {
	for attempt := 1; ; attempt++ {
		failed, err := t.rekeyWrite(m).send(ctx, t.client)
		if holder, ok := failed["claim"]; ok {
			// Claimed since the scan, by a request of another user.
			var g dynamo.GuardItem
			_ = dynamo.UnmarshalItem(holder.Item, &g)
			r.Collisions = append(r.Collisions, RekeyCollision{DomainID: m.user.DomainID, Kind: m.kind, Holder: g.UserID, Users: []string{m.user.ID}})
			return nil
		}
		switch _, raced := failed["user"]; {
		case err == nil:
			r.Moved = append(r.Moved, m.value())
			return nil
		case !raced:
			return err
		case attempt >= attempts:
			r.Changed = append(r.Changed, m.value())
			return nil
		}
		u, err := t.GetUser(ctx, m.user.ID)
		if userinfo.ErrorCode(err) == userinfo.ENOTFOUND {
			return nil // deleted: its guards went with it
		}
		if err != nil {
			return err
		}
		var again []rekeyMove
		for _, n := range currentKeys(u, &RekeyReport{}) {
			if n.kind == m.kind {
				again = append(again, n)
			}
		}
		if len(again) == 0 || again[0].held() == again[0].want {
			r.Current++ // changed through the API, which keys by the current rules
			return nil
		}
		m = again[0]
	}
}

// rekeyWrite is the transaction that moves m: the user item's key
// attribute set (conditional on the version read, which it bumps, so that
// a change computed from the old read is recomputed instead of releasing
// the old key), the new guard claimed, the old one released. It sets only
// that attribute: a revocation written meanwhile without a version bump
// stays.
func (t *Table) rekeyWrite(m rekeyMove) *write {
	u := *m.user
	var attr, held string // UserItem's attribute, and its new value
	if m.kind == dynamo.GuardEmail {
		u.EmailKey = m.want
		attr, held = "email_key", dynamo.NewUserItem(u).EmailKey
	} else {
		u.PhoneKey = m.want
		attr, held = "phone_key", dynamo.NewUserItem(u).PhoneKey
	}
	version := expression.Name("version")
	w := &write{table: t.name}
	w.update("user", dynamo.UserKey(u.ID), version.Equal(expression.Value(m.user.Version)),
		expression.Set(expression.Name(attr), expression.Value(held)).Set(version, version.Plus(expression.Value(1))))
	w.put("claim", dynamo.NewGuardItem(u.DomainID, m.kind, m.want, u.ID), dynamo.FreeOrHeldBy(u.ID))
	if old := m.held(); !old.IsZero() && old != m.want {
		w.delete("release", dynamo.GuardKey(u.DomainID, m.kind, old), dynamo.FreeOrHeldBy(u.ID))
	}
	return w
}

// scanUsersAndGuards reads every user item and every guard of the table.
func (t *Table) scanUsersAndGuards(ctx context.Context) ([]*userinfo.User, []Guard, error) {
	var users []*userinfo.User
	var guards []Guard
	err := t.scan(ctx, func(av dynamo.Item) error {
		if g, ok := decodeGuard(av); ok {
			guards = append(guards, g)
			return nil
		}
		var it struct {
			UserID string `dynamodbav:"user_id"`
		}
		_ = attributevalue.UnmarshalMap(av, &it)
		if k := dynamo.UserKey(it.UserID); it.UserID == "" || !reflect.DeepEqual(dynamo.Item{dynamo.AttrPK: av[dynamo.AttrPK], dynamo.AttrSK: av[dynamo.AttrSK]}, k) {
			return nil // not a user item
		}
		u, err := dynamo.DecodeUser(av)
		if err != nil {
			return wrap("Scan: user item "+it.UserID, err)
		}
		users = append(users, u)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(users, func(i, j int) bool { return users[i].ID < users[j].ID })
	return users, guards, nil
}

// orphans returns the guards, among those scanned, that their owner does
// not hold now (read again: the scan is older than the moves) and that are
// still in the table (this run's moves and requests since the scan release
// some).
func (t *Table) orphans(ctx context.Context, guards []Guard) ([]Guard, error) {
	var out []Guard
	for _, g := range guards {
		u, err := t.GetUser(ctx, g.UserID)
		switch {
		case userinfo.ErrorCode(err) == userinfo.ENOTFOUND:
		case err != nil:
			return nil, err
		case u.DomainID == g.DomainID && (g.Kind == dynamo.GuardEmail && u.EmailKey == g.Key() || g.Kind == dynamo.GuardPhone && u.PhoneKey == g.Key()):
			continue
		}
		res, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(t.name), Key: dynamo.GuardKey(g.DomainID, g.Kind, g.Key()), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, wrap("GetItem", err)
		}
		if len(res.Item) > 0 {
			out = append(out, g)
		}
	}
	return out, nil
}
