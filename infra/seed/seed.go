// Package seed loads users and accounts from JSON files into the table, for
// local development and tests: all or nothing, every entry checked before
// anything is written (Load). The format is documented in the README.
package seed

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

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
	// VerifyChanges asks for changed values to be verified with a code
	// first; absent means not (the reference's behaviour).
	VerifyChanges *bool `json:"verify_changes,omitempty"`
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

// Parse reads a seed file: a JSON array of users, or an object with
// "accounts" and "users". It returns an error saying where when the file
// is not such JSON, and Problems naming each entry with an unknown or
// wrongly typed field. The API's rules and the rest are Check's.
func Parse(r io.Reader) (Data, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Data{}, err
	}
	trimmed := bytes.TrimSpace(raw)
	// Entries are decoded one by one, so a problem can name its entry.
	var top struct {
		Accounts []json.RawMessage `json:"accounts"`
		Users    []json.RawMessage `json:"users"`
	}
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = strict(trimmed, &top.Users)
	} else {
		err = strict(trimmed, &top)
	}
	if err != nil {
		return Data{}, fileError(raw, len(raw)-len(bytes.TrimLeft(raw, " \t\r\n")), err)
	}
	var d Data
	var ps Problems
	d.Accounts = make([]Account, len(top.Accounts))
	for i, m := range top.Accounts {
		if err := strict(m, &d.Accounts[i]); err != nil {
			ps = append(ps, entryProblem(fmt.Sprintf("account #%d", i+1), err, Account{}))
		}
	}
	d.Users = make([]User, len(top.Users))
	for i, m := range top.Users {
		if err := strict(m, &d.Users[i]); err != nil {
			ps = append(ps, entryProblem(fmt.Sprintf("user #%d", i+1), err, User{}))
		}
	}
	if len(ps) > 0 {
		return Data{}, ps
	}
	return d, nil
}

// strict decodes one JSON value into v, refusing unknown fields and
// anything after the value.
func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the first JSON value")
	}
	return nil
}

// fileError says where in raw a JSON syntax error is: its offset counts
// from raw[skipped], where decoding started.
func fileError(raw []byte, skipped int, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		before := raw[:min(skipped+int(syn.Offset), len(raw))]
		line := bytes.Count(before, []byte("\n")) + 1
		// Offset is just past the offending byte.
		col := max(len(before)-bytes.LastIndexByte(before, '\n')-1, 1)
		return fmt.Errorf("line %d, column %d: %v; want a JSON array of users or {\"accounts\": [...], \"users\": [...]}", line, col, err)
	}
	return fmt.Errorf("%v; want a JSON array of users or {\"accounts\": [...], \"users\": [...]}", err)
}

// entryProblem turns the decoding error of one entry into a Problem.
func entryProblem(entry string, err error, entryType any) Problem {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return Problem{Entry: entry, Field: typ.Field, Rule: "must be a JSON " + jsonKind(typ.Type.Kind().String()) + ", not " + typ.Value, Hint: "see the format in README.md"}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return Problem{Entry: entry, Field: strings.Trim(name, `"`), Rule: "not a field of a seed entry", Hint: "the fields are " + fieldNames(entryType)}
	}
	return Problem{Entry: entry, Field: "(entry)", Rule: err.Error(), Hint: "each entry is a JSON object"}
}

// fieldNames lists the JSON names of v's fields, in order.
func fieldNames(v any) string {
	var names []string
	for f := range reflect.TypeOf(v).Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool", "ptr":
		return "boolean"
	}
	return goKind
}

// Apply writes every account and user in d through w, in that order; call
// Check first (Load does both). When a write fails it returns an error
// saying how many entries were written before it.
func Apply(ctx context.Context, w Writer, d Data) error {
	written := 0
	failed := func(entry string, err error) error {
		if written == 0 {
			return fmt.Errorf("%s: %w", entry, err)
		}
		return fmt.Errorf("%s: %w (the %d entries before it were written)", entry, err, written)
	}
	for i, a := range d.Accounts {
		acc := userinfo.Account{
			DomainID: a.DomainID, ManageEmail: a.ManageEmail == nil || *a.ManageEmail, ManageMobile: a.ManageMobile == nil || *a.ManageMobile,
			VerifyChanges: a.VerifyChanges != nil && *a.VerifyChanges,
		}
		if err := w.PutAccount(ctx, acc); err != nil {
			return failed(accountEntry(i, a), err)
		}
		written++
	}
	for i, u := range d.Users {
		// In the forms the API stores (the email in NFC, the country code
		// as "+86"); the store adds the keys by the API's rules. Check has
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
			return failed(userEntry(i, u), err)
		}
		written++
	}
	return nil
}
