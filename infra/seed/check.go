package seed

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Problem is one thing wrong with a seed file: the entry, the field and the
// rule it breaks, and what to do about it.
type Problem struct {
	Entry string // "user #2 (u2, bob)", "account #1 (d-demo)", or the file
	Field string
	Rule  string
	Hint  string
}

func (p Problem) String() string {
	return p.Entry + ": " + p.Field + ": " + p.Rule + "; " + p.Hint
}

// Problems is every problem found in a seed file. Load writes nothing when
// there is one.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "  " + p.String()
	}
	n := "1 problem"
	if len(ps) != 1 {
		n = fmt.Sprintf("%d problems", len(ps))
	}
	return n + ", nothing written:\n" + strings.Join(lines, "\n")
}

// Table is what Check reads of the table.
type Table interface {
	// GetUser returns the user, or an ENOTFOUND *userinfo.Error.
	GetUser(ctx context.Context, id string) (*userinfo.User, error)
	// Guards returns the account's uniqueness guards: who holds which
	// email and mobile number.
	Guards(ctx context.Context, domainID string) ([]ddbtable.Guard, error)
}

// Store is a table that Load checks and writes.
type Store interface {
	Table
	Writer
}

// Load checks d against the table and, only when it found no problem,
// writes it: all or nothing, as far as the check can know (a concurrent
// writer can still take a value between the check and the write; Apply
// then says how far it got). It returns Problems, or an error reading or
// writing the table.
func Load(ctx context.Context, s Store, d Data) error {
	if err := Check(ctx, s, d); err != nil {
		return err
	}
	return Apply(ctx, s, d)
}

// Check returns every problem of d, or nil: each entry against the API's own
// rules, ids, emails and mobile numbers unique within the file, users in the
// accounts the file lists, and against table t, values held by other users
// and users moving between accounts. It returns Problems, or the error of a
// table read.
func Check(ctx context.Context, t Table, d Data) error {
	c := checker{accounts: map[string]int{}}
	c.file(d)
	if err := c.table(ctx, t, d); err != nil {
		return err
	}
	if len(c.problems) > 0 {
		return c.problems
	}
	return nil
}

type checker struct {
	problems Problems
	accounts map[string]int // domain id → account number, from the file
}

func (c *checker) add(entry, field, rule, hint string) {
	c.problems = append(c.problems, Problem{Entry: entry, Field: field, Rule: rule, Hint: hint})
}

func accountEntry(i int, a Account) string {
	if a.DomainID == "" {
		return fmt.Sprintf("account #%d", i+1)
	}
	return fmt.Sprintf("account #%d (%s)", i+1, a.DomainID)
}

func userEntry(i int, u User) string {
	switch {
	case u.ID == "":
		return fmt.Sprintf("user #%d", i+1)
	case u.Name == "":
		return fmt.Sprintf("user #%d (%s)", i+1, u.ID)
	}
	return fmt.Sprintf("user #%d (%s, %s)", i+1, u.ID, u.Name)
}

// file checks what needs no table.
func (c *checker) file(d Data) {
	for i, a := range d.Accounts {
		e := accountEntry(i, a)
		switch j, dup := c.accounts[a.DomainID]; {
		case a.DomainID == "":
			c.add(e, "domain_id", "required", "name the account (the tokens' domain_id)")
		case dup:
			c.add(e, "domain_id", fmt.Sprintf("account #%d has it too", j+1), "list each account once")
		default:
			c.accounts[a.DomainID] = i
		}
	}
	ids := map[string]int{}
	emails, phones := map[string]int{}, map[string]int{}
	for i, u := range d.Users {
		e := userEntry(i, u)
		switch j, dup := ids[u.ID]; {
		case u.ID == "":
			c.add(e, "id", "required", "give the user an id (the tokens' sub)")
		case dup:
			c.add(e, "id", fmt.Sprintf("user #%d has it too", j+1), "give each user its own id")
		default:
			ids[u.ID] = i
		}
		switch {
		case u.DomainID == "":
			c.add(e, "domain_id", "required", "name the user's account (the tokens' domain_id)")
		case len(d.Accounts) > 0 && !c.listed(u.DomainID):
			c.add(e, "domain_id", fmt.Sprintf("account %s is not among the file's accounts", u.DomainID),
				fmt.Sprintf(`add {"domain_id": %q} to accounts, or use one of %s`, u.DomainID, c.listedNames()))
		}
		if u.Email != "" {
			email := u.Email
			if c.rule(e, &userinfo.Update{Email: &email}) {
				c.unique(emails, u.DomainID, emailKey(u), i, e, "email",
					"an email address belongs to one user of an account (compared by its canonical form: case, width and spelling aside): give one of them another")
			}
		}
		if u.Phone != "" || u.AreaCode != "" {
			upd := userinfo.Update{}
			if u.Phone != "" {
				upd.Phone = &u.Phone
			}
			if u.AreaCode != "" {
				upd.AreaCode = &u.AreaCode
			}
			if c.rule(e, &upd) {
				c.unique(phones, u.DomainID, mobileKey(u), i, e, "phone",
					"a mobile number belongs to one user of an account (compared in E.164, trunk prefix aside): give one of them another")
			}
		}
	}
}

// rule checks upd with the API's own validation, reporting the field and
// rule it breaks; it reports whether upd passed.
func (c *checker) rule(entry string, upd *userinfo.Update) bool {
	err := upd.Validate()
	if err == nil {
		return true
	}
	field := userinfo.ErrorField(err)
	// The API's messages start with the field ("email must be …"): said
	// once, as the field.
	c.add(entry, field, strings.TrimPrefix(userinfo.ErrorMessage(err), field+" "),
		"the API would refuse this value; fix it, or leave the field out")
	return false
}

// unique records the value key of user i in account domainID, or reports
// the earlier user of the file holding it.
func (c *checker) unique(seen map[string]int, domainID, key string, i int, entry, field, hint string) {
	k := domainID + "\x00" + key
	if j, dup := seen[k]; dup {
		c.add(entry, field, fmt.Sprintf("the same as user #%d's, in account %s", j+1, domainID), hint)
		return
	}
	seen[k] = i
}

// emailKey and mobileKey return the key u's value is unique under, by the
// API's rules; "" for a value they refuse (reported by rule).
func emailKey(u User) string {
	e, err := userinfo.ParseEmail(u.Email)
	if err != nil {
		return ""
	}
	return e.Key
}

func mobileKey(u User) string {
	m, err := userinfo.ParseMobile(u.AreaCode, u.Phone)
	if err != nil {
		return ""
	}
	return m.Key
}

func (c *checker) listed(domainID string) bool {
	_, ok := c.accounts[domainID]
	return ok
}

func (c *checker) listedNames() string {
	names := make([]string, 0, len(c.accounts))
	for n := range c.accounts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// table checks the users against what the table holds: a user keeps its
// account, and a value held by another user stays theirs.
func (c *checker) table(ctx context.Context, t Table, d Data) error {
	guards := map[string][]ddbtable.Guard{}
	for i, u := range d.Users {
		if u.ID == "" || u.DomainID == "" {
			continue // reported above
		}
		e := userEntry(i, u)
		old, err := t.GetUser(ctx, u.ID)
		switch {
		case userinfo.ErrorCode(err) == userinfo.ENOTFOUND:
		case err != nil:
			return err
		case old.DomainID != u.DomainID:
			c.add(e, "domain_id", fmt.Sprintf("the table has this user in account %s", old.DomainID),
				fmt.Sprintf("a user cannot move between accounts: keep domain_id %s, or use another id", old.DomainID))
		}
		gs, ok := guards[u.DomainID]
		if !ok {
			if gs, err = t.Guards(ctx, u.DomainID); err != nil {
				return err
			}
			guards[u.DomainID] = gs
		}
		for _, g := range gs {
			if g.UserID == u.ID {
				continue
			}
			// A guard of an older key version (a table not yet re-keyed)
			// is compared by that version's key.
			switch {
			case u.Email != "" && g.Kind == dynamo.GuardEmail && (g.Key() == userinfo.CurrentKey(emailKey(u)) || g.Key() == userinfo.V1EmailKey(u.Email)):
				c.add(e, "email", fmt.Sprintf("user %s holds it in the table", g.UserID),
					"an email address belongs to one user of an account: choose another")
			case u.Phone != "" && g.Kind == dynamo.GuardPhone && g.Key() == userinfo.CurrentKey(mobileKey(u)):
				c.add(e, "phone", fmt.Sprintf("user %s holds it in the table", g.UserID),
					"a mobile number belongs to one user of an account: choose another")
			}
		}
	}
	return nil
}
