// Package load drives the API over HTTP with many concurrent clients whose
// requests fight over a few contested email addresses and mobile numbers,
// and checks afterwards that the table kept its invariants. The contention
// test of `make test` and the `make loadtest` command both use it; so can a
// performance comparison, which reads Report's throughput and latencies.
package load

import (
	"context"
	"fmt"

	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// User is one user of a Population, with the contact details it is seeded
// with. Its values are its own and contested by nobody.
type User struct {
	ID       string
	DomainID string
	Email    string
	AreaCode string // canonical, "+44"
	Phone    string
}

// Population is who sends the load and what they fight over. Every
// account contests the same values: uniqueness is per account, so a value
// may be held once in each.
type Population struct {
	Domains []string
	Users   []User // spread over Domains round-robin
	Emails  []string
	Phones  []string // contested numbers, all under ContestedAreaCode
}

// ContestedAreaCode is the country code of every contested mobile number.
// Requests write it as "0086", "+86" or "86" at random: the same number.
const ContestedAreaCode = "+86"

// NewPopulation returns users users spread over accounts accounts, and
// contested email addresses and mobile numbers of each kind. Ids are fixed
// by the numbers, so two populations of the same size are the same people:
// seed each into a fresh table. It panics when a count is not positive.
func NewPopulation(accounts, users, contested int) Population {
	if accounts < 1 || users < 1 || contested < 1 {
		panic(fmt.Sprintf("load: NewPopulation(%d, %d, %d): every count must be positive", accounts, users, contested))
	}
	var p Population
	for a := range accounts {
		p.Domains = append(p.Domains, fmt.Sprintf("d-load-%02d", a))
	}
	for i := range users {
		p.Users = append(p.Users, User{
			// 32 hex digits, the shape of an IAM user id.
			ID:       fmt.Sprintf("10ad%028x", i),
			DomainID: p.Domains[i%accounts],
			Email:    fmt.Sprintf("user%03d@own.load.example", i),
			AreaCode: "+44",
			Phone:    fmt.Sprintf("7700%06d", i),
		})
	}
	for k := range contested {
		p.Emails = append(p.Emails, fmt.Sprintf("hot%02d@contested.example", k))
		p.Phones = append(p.Phones, fmt.Sprintf("1990000%04d", k))
	}
	return p
}

// UserIDs returns the ids of p's users, in order.
func (p Population) UserIDs() []string {
	ids := make([]string, len(p.Users))
	for i, u := range p.Users {
		ids[i] = u.ID
	}
	return ids
}

// Seed writes p's users, enabled, with verified contact details and their
// guards, through store. It returns the first error UpsertUser returns
// (ECONFLICT when a user of the table already holds one of the values).
func (p Population) Seed(ctx context.Context, store *ddbtable.Table) error {
	for _, u := range p.Users {
		err := store.UpsertUser(ctx, userinfo.User{
			ID: u.ID, DomainID: u.DomainID, Name: "load-" + u.ID[len(u.ID)-4:],
			Email: u.Email, EmailVerified: true,
			AreaCode: u.AreaCode, Phone: u.Phone, PhoneVerified: true,
			Enabled: true,
		})
		if err != nil {
			return fmt.Errorf("load: seed user %s: %w", u.ID, err)
		}
	}
	return nil
}
