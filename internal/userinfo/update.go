package userinfo

import "strings"

// Update is the "user" object of a request; a nil field was not sent.
//
// A mobile number comes in three published forms, stored alike:
//   - phone + areacode: the API reference;
//   - mobile "<areacode>-<digits>": Huawei's current page, its SDKs and its
//     Terraform provider ("0086-12345678910");
//   - mobile + areacode: another region's page.
type Update struct {
	Email    *string
	AreaCode *string
	Phone    *string
	Mobile   *string

	// The values in canonical form, set by Validate.
	email  *Email
	mobile *Mobile
}

// Validate checks u against the API reference and returns an EINVALID *Error
// naming the first field at fault. On success it keeps the canonical values
// for the change, so they are computed once per request.
func (u *Update) Validate() error {
	u.email, u.mobile = nil, nil
	if u.Email == nil && u.Phone == nil && u.AreaCode == nil && u.Mobile == nil {
		return FieldError("user", "user must contain email, or a mobile number (phone with areacode, or mobile)")
	}
	var email *Email
	if u.Email != nil {
		e, err := ParseEmail(*u.Email)
		if err != nil {
			return err
		}
		email = &e
	}
	mobile, err := u.parseMobile()
	if err != nil {
		return err
	}
	u.email, u.mobile = email, mobile
	return nil
}

// parseMobile returns the mobile number in whichever form u carries it (nil
// for none), or the EINVALID error of an incomplete, ambiguous or invalid
// form.
func (u *Update) parseMobile() (*Mobile, error) {
	var m Mobile
	var err error
	switch {
	case u.Phone != nil && u.Mobile != nil:
		return nil, FieldError("mobile", "phone and mobile are two forms of the mobile number: send only one of them")
	case u.Phone != nil:
		// The reference: "To change the mobile number, you must specify
		// the country code".
		if u.AreaCode == nil {
			return nil, FieldError("areacode", "areacode is required when phone is given")
		}
		m, err = parseMobile(*u.AreaCode, *u.Phone, "areacode", "phone")
	case u.Mobile != nil:
		code, number, joined := strings.Cut(*u.Mobile, "-")
		switch {
		case joined && u.AreaCode != nil:
			return nil, FieldError("mobile", "mobile carries its country code (<areacode>-<number>) and areacode gives one too: send only one of them")
		case joined:
			m, err = parseMobile(code, number, "mobile", "mobile")
		case u.AreaCode == nil:
			return nil, FieldError("mobile", "mobile must be <areacode>-<number>, such as 0086-12345678910, or come with areacode")
		default:
			m, err = parseMobile(*u.AreaCode, *u.Mobile, "areacode", "mobile")
		}
	case u.AreaCode != nil:
		// The country code alone changes nothing.
		return nil, FieldError("phone", "phone (or mobile) is required when areacode is given")
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}
