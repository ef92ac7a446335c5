package httpapi

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// putUserInfoRequest is the body of the PUT request. A nil User means the
// member was missing or null; both are rejected.
type putUserInfoRequest struct {
	User *userMembers `json:"user"`
}

// userMembers is the "user" object. Only these four members exist (mobile
// is the form Huawei's SDKs send; userinfo.Update lists the forms); decoding
// rejects any other, and any value but a string.
type userMembers struct {
	Email    jsonString `json:"email"`
	AreaCode jsonString `json:"areacode"`
	Phone    jsonString `json:"phone"`
	Mobile   jsonString `json:"mobile"`
}

// decodeUpdate reads, checks and decodes the request body into an Update.
// It returns eTooLarge for a body over MaxBodyBytes, and EINVALID for a
// wrong Content-Type or a body that is not exactly the contract's shape.
// It does not validate the values: Update.Validate does, in the domain.
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

// decodeCodes reads and decodes the verification body as decodeUpdate
// does the PUT body. It does not check the codes: Codes.Validate does.
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
	// A declared length over the limit is refused before reading a byte.
	// A lying or absent one (chunked) is caught by MaxBytesReader below.
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
	// A *bytes.Buffer lets the JSON decoder parse in place, without a copy.
	// MaxBytesReader gets net/http's own writer, not the middleware's
	// wrapper: only through it can it make the server answer at once and
	// close the connection, rather than first read up to 256 KiB more of
	// the body to keep the connection (never answering a client that
	// stalls). The Lambda adapter's writer has no such hook either way.
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
	return userinfo.Errorf(eTooLarge, "The request body must not exceed %d bytes.", MaxBodyBytes)
}

// checkContentType returns EINVALID unless h has exactly one Content-Type,
// application/json with at most a charset parameter naming UTF-8. The
// reference asks for "application/json;charset=utf8", which names no
// registered charset, so both spellings are accepted, in any case. Any other
// charset is refused rather than ignored: the body would be misread.
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
