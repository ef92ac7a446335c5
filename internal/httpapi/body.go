package httpapi

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// putUserInfoRequest is the body of the PUT request. A nil User (missing
// or null) is rejected.
type putUserInfoRequest struct {
	User *userMembers `json:"user"`
}

// userMembers is the "user" object (mobile is the form Huawei's SDKs send).
// Decoding rejects any other member, and any value but a string.
type userMembers struct {
	Email    jsonString `json:"email"`
	AreaCode jsonString `json:"areacode"`
	Phone    jsonString `json:"phone"`
	Mobile   jsonString `json:"mobile"`
}

// decodeUpdate reads and decodes the request body into an Update. It
// returns ETOOLARGE for a body over MaxBodyBytes, and EINVALID for a wrong
// Content-Type or a body not of the contract's shape. Update.Validate
// judges the values.
func decodeUpdate(w http.ResponseWriter, r *http.Request) (userinfo.Update, error) {
	body, err := readBody(w, r)
	if err != nil {
		return userinfo.Update{}, err
	}
	var req putUserInfoRequest
	if err := decode(body, &req); err != nil {
		return userinfo.Update{}, err
	}
	if req.User == nil {
		return userinfo.Update{}, userinfo.FieldError("user", "user is required and must be an object")
	}
	return userinfo.Update{
		Email:    req.User.Email.ptr(),
		AreaCode: req.User.AreaCode.ptr(),
		Phone:    req.User.Phone.ptr(),
		Mobile:   req.User.Mobile.ptr(),
	}, nil
}

// verificationRequest is the body of the verification request.
type verificationRequest struct {
	Verification *codeMembers `json:"verification"`
}

// codeMembers is the "verification" object: a code per field.
type codeMembers struct {
	EmailCode  jsonString `json:"email_code"`
	MobileCode jsonString `json:"mobile_code"`
}

// decodeCodes is decodeUpdate for the verification body; Codes.Validate
// judges the codes.
func decodeCodes(w http.ResponseWriter, r *http.Request) (userinfo.Codes, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	var req verificationRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Verification == nil {
		return nil, userinfo.FieldError("verification", "verification is required and must be an object")
	}
	codes := userinfo.Codes{}
	if v := req.Verification.EmailCode; v.set {
		codes[userinfo.FieldEmail] = v.value
	}
	if v := req.Verification.MobileCode; v.set {
		codes[userinfo.FieldMobile] = v.value
	}
	return codes, nil
}

// readBody returns the request body after checking its declared length
// and Content-Type. It never reads more than MaxBodyBytes+1 bytes.
func readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	// The declared length; a lying or absent one (chunked) is caught below.
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	if err := checkContentType(r.Header); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return new(bytes.Buffer), nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	// MaxBytesReader gets net/http's own writer, not the middleware's
	// wrapper: only through it can it make the server close the connection
	// at once instead of reading up to 256 KiB more of the body.
	_, err := buf.ReadFrom(http.MaxBytesReader(innermost(w), r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		// The client sent less than it declared, or went away.
		return nil, &userinfo.Error{Code: userinfo.EINVALID, Message: "The request body could not be read in full.", Err: err}
	}
	return &buf, nil
}

// innermost returns the writer at the end of w's Unwrap chain.
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

func tooLarge() error {
	return userinfo.Errorf(ETOOLARGE, "The request body must not exceed %d bytes.", MaxBodyBytes)
}

// checkContentType returns EINVALID unless h has exactly one Content-Type,
// application/json with at most a charset naming UTF-8, as utf-8 or as the
// reference's unregistered utf8, in any case. Another charset is refused:
// the body would be misread.
func checkContentType(h http.Header) error {
	values := h.Values("Content-Type")
	if len(values) != 1 {
		return userinfo.Errorf(userinfo.EINVALID, msgNotJSON)
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != "application/json" {
		return userinfo.Errorf(userinfo.EINVALID, msgNotJSON)
	}
	for name, value := range params {
		if name != "charset" || !(strings.EqualFold(value, "utf-8") || strings.EqualFold(value, "utf8")) {
			return userinfo.Errorf(userinfo.EINVALID, "The Content-Type header may only carry charset=utf-8.")
		}
	}
	return nil
}
