package userinfo

// The rules a change must meet: the authorisation step of the check order
// and the account's policy. Authorize checks the user rules on the user as
// read; the store checks every rule again as a condition of its write
// (internal/dynamo/conditions.go, held equal by TestRulesAreConditions), so
// a revocation, a disabling or any write in between stops the change.

// Rule names, shared with the store's conditions.
const (
	RuleNotRevoked    = "token issued after the user's tokens were last revoked"
	RuleSameAccount   = "user in the token's account"
	RuleEnabled       = "user enabled"
	RuleVersionRead   = "user at the version the change was computed from"
	RuleManageEmail   = "account lets users change their own email"
	RuleManageMobile  = "account lets users change their own mobile number"
	RuleVerifyChanges = "change verified if and only if the account verifies changes"
)

// UserRule is a rule on the user a change is for. Check returns its error
// when u, as stored, breaks it for a change by p computed from read.
type UserRule struct {
	Name  string
	Check func(p Principal, read, u *User) error
}

// UserRules are the rules on the user, in the order they are checked.
var UserRules = []UserRule{
	{RuleNotRevoked, func(p Principal, _, u *User) error {
		if !u.TokensRevokedAt.IsZero() && p.IssuedAt.Before(u.TokensRevokedAt) {
			return Errorf(EUNAUTHORIZED, "The token has been revoked.")
		}
		return nil
	}},
	{RuleSameAccount, func(p Principal, _, u *User) error {
		if u.DomainID != p.DomainID {
			return Errorf(EFORBIDDEN, "You may only modify your own information.")
		}
		return nil
	}},
	{RuleEnabled, func(_ Principal, _, u *User) error {
		if !u.Enabled {
			return Errorf(EFORBIDDEN, "The user is disabled.")
		}
		return nil
	}},
	{RuleVersionRead, func(_ Principal, read, u *User) error {
		if u.Version != read.Version {
			return &StaleError{Current: u}
		}
		return nil
	}},
}

// CheckUser returns the error of the first of UserRules that u breaks for
// a change by p computed from read, or nil.
func CheckUser(p Principal, read, u *User) error {
	for _, r := range UserRules {
		if err := r.Check(p, read, u); err != nil {
			return err
		}
	}
	return nil
}

// Account is an account's (domain's) policy. A missing policy or setting
// is DefaultAccount's: the reference's behaviour.
type Account struct {
	DomainID string
	// ManageEmail and ManageMobile (the protect policy) let users change
	// their own email address and mobile number.
	ManageEmail  bool
	ManageMobile bool
	// VerifyChanges holds a changed value until a code verifies it.
	VerifyChanges bool
}

// DefaultAccount is the policy of an account that has none.
func DefaultAccount(domainID string) Account {
	return Account{DomainID: domainID, ManageEmail: true, ManageMobile: true}
}

// AccountRule is a rule of the account's policy. Check returns its error
// when a forbids c: a request for codes when requesting, else a change to
// apply.
type AccountRule struct {
	Name  string
	Check func(a Account, c Change, requesting bool) error
}

// AccountRules are the account's rules, in order: a forbidden change is
// refused before anything says whether it needs a code.
var AccountRules = []AccountRule{
	{RuleManageEmail, func(a Account, c Change, _ bool) error {
		if c.Email != nil && !a.ManageEmail {
			return Errorf(EFORBIDDEN, "The account does not allow users to change their own email address.")
		}
		return nil
	}},
	{RuleManageMobile, func(a Account, c Change, _ bool) error {
		if c.Mobile != nil && !a.ManageMobile {
			return Errorf(EFORBIDDEN, "The account does not allow users to change their own mobile number.")
		}
		return nil
	}},
	{RuleVerifyChanges, func(a Account, c Change, requesting bool) error {
		switch {
		case requesting && !a.VerifyChanges:
			return &StaleError{} // the account stopped verifying changes: apply it instead
		case !requesting && len(c.Verified) == 0 && a.VerifyChanges:
			return ErrVerificationRequired
		}
		return nil
	}},
}

// Check returns the error of the first of AccountRules that a breaks for
// c, or nil.
func (a Account) Check(c Change, requesting bool) error {
	for _, r := range AccountRules {
		if err := r.Check(a, c, requesting); err != nil {
			return err
		}
	}
	return nil
}
