// Package seed loads users and accounts from JSON files into the table, for
// local development and tests. The format is documented in the README.
package seed

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// DefaultTable is the table the local tools (make run, make seed, make
// invoke) use when TABLE_NAME is unset, so that all of them find the same
// data.
const DefaultTable = "iam-userinfo-local"

// User is one user in a seed file.
type User struct {
	ID       string `json:"id"`
	DomainID string `json:"domain_id"`
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	AreaCode string `json:"areacode,omitempty"`
	Enabled  *bool  `json:"enabled,omitempty"` // absent means enabled
}

// Account is one account (domain) protect policy in a seed file.
type Account struct {
	DomainID     string `json:"domain_id"`
	ManageEmail  *bool  `json:"manage_email,omitempty"`  // absent means allowed
	ManageMobile *bool  `json:"manage_mobile,omitempty"` // absent means allowed
}

// Data is a whole seed file: either a JSON array of users, or an object with
// "users" and "accounts" arrays.
type Data struct {
	Accounts []Account `json:"accounts"`
	Users    []User    `json:"users"`
}

// Writer is the part of the store seeding needs.
type Writer interface {
	UpsertUser(ctx context.Context, u userinfo.User) error
	PutAccount(ctx context.Context, a userinfo.Account) error
}

//go:embed demo.json
var demo []byte

// Demo returns the demo data that `make run` seeds: one account, two enabled
// users and one disabled user. It fails only if the embedded file is broken.
func Demo() (Data, error) {
	return Parse(bytes.NewReader(demo))
}

// Parse reads a seed file. It returns an error naming the entry at fault when
// the JSON is malformed or an entry breaks the API's own validation rules.
func Parse(r io.Reader) (Data, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Data{}, err
	}
	var d Data
	trimmed := bytes.TrimSpace(raw)
	dec := func(v any) error {
		dj := json.NewDecoder(bytes.NewReader(trimmed))
		dj.DisallowUnknownFields()
		if err := dj.Decode(v); err != nil {
			return err
		}
		if dj.More() {
			return errors.New("unexpected data after the first JSON value")
		}
		return nil
	}
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = dec(&d.Users)
	} else {
		err = dec(&d)
	}
	if err != nil {
		return Data{}, fmt.Errorf("seed: %w", err)
	}
	for i, u := range d.Users {
		if err := u.validate(); err != nil {
			return Data{}, fmt.Errorf("seed: user %d (%q): %w", i, u.ID, err)
		}
	}
	for i, a := range d.Accounts {
		if a.DomainID == "" {
			return Data{}, fmt.Errorf("seed: account %d: domain_id is required", i)
		}
	}
	return d, nil
}

func (u User) validate() error {
	if u.ID == "" || u.DomainID == "" {
		return fmt.Errorf("id and domain_id are required")
	}
	upd := userinfo.Update{}
	if u.Email != "" {
		upd.Email = &u.Email
	}
	if u.Phone != "" || u.AreaCode != "" {
		upd.Phone, upd.AreaCode = &u.Phone, &u.AreaCode
	}
	if upd.Email == nil && upd.Phone == nil {
		return nil // a user without contact details is fine
	}
	return upd.Validate()
}

// Apply writes every account and user in d through w.
func Apply(ctx context.Context, w Writer, d Data) error {
	for _, a := range d.Accounts {
		acc := userinfo.Account{DomainID: a.DomainID, ManageEmail: a.ManageEmail == nil || *a.ManageEmail, ManageMobile: a.ManageMobile == nil || *a.ManageMobile}
		if err := w.PutAccount(ctx, acc); err != nil {
			return fmt.Errorf("seed: account %q: %w", a.DomainID, err)
		}
	}
	for _, u := range d.Users {
		// In the forms the API stores (the email in NFC, the country code
		// as "+86"); the store adds the keys by the API's rules. Parse has
		// validated both values.
		usr := userinfo.User{ID: u.ID, DomainID: u.DomainID, Name: u.Name, Enabled: u.Enabled == nil || *u.Enabled}
		if u.Email != "" {
			e, _ := userinfo.ParseEmail(u.Email)
			usr.Email = e.Address
		}
		if u.Phone != "" {
			m, _ := userinfo.ParseMobile(u.AreaCode, u.Phone)
			usr.AreaCode, usr.Phone = m.AreaCode, m.Number
		}
		if err := w.UpsertUser(ctx, usr); err != nil {
			return fmt.Errorf("seed: user %q: %w", u.ID, err)
		}
	}
	return nil
}
