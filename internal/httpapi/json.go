package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// encode writes e as the JSON body of a response with the given status. It
// is the one place a response body is serialised.
func encode(w http.ResponseWriter, status int, e any) {
	body, err := json.Marshal(e)
	if err != nil {
		// Only invalid UTF-8 in a string could get here, which none of
		// ours holds: a bug, and a fixed body beats a half-written one.
		status, body = http.StatusInternalServerError, []byte(`{"error_code":"IAM.0006","error_msg":"`+msgInternal+`"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the caller left; nobody is left to tell
}

// decodeOptions make decoding strict. Duplicate names and invalid UTF-8 are
// rejected by default; they are spelt out because this API depends on it:
// with duplicates, a validator and a writer could each see another value.
var decodeOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// decode decodes body, which must hold exactly one JSON object, into v. It
// returns an EINVALID *userinfo.Error whose message names the member at
// fault (and whose Field is set) when there is one, and never quotes a
// value from the body.
func decode(body *bytes.Buffer, v any) error {
	// Checked up front for a clear message; the decoder would reject it too.
	if !utf8.Valid(body.Bytes()) {
		return bodyError("The request body must be UTF-8.")
	}
	dec := jsontext.NewDecoder(body)
	if dec.PeekKind() != '{' {
		return bodyError("The request body must be a JSON object.")
	}
	if err := json.UnmarshalDecode(dec, v, decodeOptions); err != nil {
		return decodeError(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return bodyError("The request body must hold one JSON object and nothing after it.")
	}
	return nil
}

// errNotString is returned by jsonString for any JSON value but a string.
var errNotString = errors.New("not a JSON string")

// jsonString is a string member that must be present as a JSON string to
// count: null, numbers, booleans, arrays and objects are all rejected. A
// plain *string would take null as absent, and a caller sending
// "email": null may well mean "clear it", which this API does not do.
type jsonString struct {
	value string
	set   bool
}

// UnmarshalJSONFrom decodes a JSON string, and returns errNotString without
// consuming anything for any other value (decoding then stops).
func (s *jsonString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() != '"' {
		return errNotString
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	s.value, s.set = tok.String(), true
	return nil
}

// ptr returns the value, or nil when the member was absent.
func (s *jsonString) ptr() *string {
	if !s.set {
		return nil
	}
	return &s.value
}

// decodeError turns an error of the JSON decoder into an EINVALID error.
func decodeError(err error) error {
	if syn, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
		if errors.Is(err, jsontext.ErrDuplicateName) {
			return memberError(syn.JSONPointer, "duplicate field %s", "duplicate field in %s")
		}
		return bodyError("The request body is not valid JSON.")
	}
	if sem, ok := errors.AsType[*json.SemanticError](err); ok {
		switch {
		case errors.Is(err, json.ErrUnknownName):
			return memberError(sem.JSONPointer, "unknown field %s", "unknown field in %s")
		case errors.Is(err, errNotString):
			return memberError(sem.JSONPointer, "%s must be a string", "%s must be a string")
		case sem.JSONPointer != "":
			// The only other member with a type is "user", a struct.
			return memberError(sem.JSONPointer, "%s must be an object", "%s must be an object")
		}
	}
	return bodyError("The request body is not valid JSON.")
}

// memberError returns an EINVALID error naming the member p points to,
// formatted with exact when every name on the path is plain, and with
// within and the plain prefix otherwise.
func memberError(p jsontext.Pointer, exact, within string) error {
	name, plain := memberName(p)
	switch {
	case plain:
		return userinfo.FieldError(name, exact, name)
	case name != "":
		return userinfo.FieldError(name, within, name)
	default:
		return userinfo.FieldError("body", within, "the request body")
	}
}

// maxNameLen bounds a member name quoted back in an error message.
const maxNameLen = 32

// memberName returns the dotted path of the member p points to (such as
// user.email) and true, or the longest plain prefix and false when a name
// on the way is not plain. Names are chosen by the caller, who could put
// anything there (an email address, a megabyte): only short ASCII
// identifiers are quoted back.
func memberName(p jsontext.Pointer) (string, bool) {
	var b strings.Builder
	for tok := range p.Tokens() {
		if !isPlainName(tok) {
			return b.String(), false
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String(), b.Len() > 0
}

func isPlainName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// bodyError returns an EINVALID error about the body as a whole.
func bodyError(msg string) error {
	return &userinfo.Error{Code: userinfo.EINVALID, Message: msg}
}
