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

// encode writes e as the JSON body of a response with the given status.
func encode(w http.ResponseWriter, status int, e any) {
	body, err := json.Marshal(e)
	if err != nil {
		// A bug (only invalid UTF-8 fails): a fixed body beats none.
		status, body = http.StatusInternalServerError, []byte(`{"error_code":"IAM.0006","error_msg":"`+msgInternal+`"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the caller left; nobody is left to tell
}

// decodeOptions make decoding strict. The defaults are spelt out because
// the API depends on them: with duplicate names, a validator and a writer
// could each see another value.
var decodeOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// decode decodes body, which must hold exactly one JSON object, into v. It
// returns an EINVALID *userinfo.Error naming the member at fault (in Field
// too) when there is one; it never quotes a value from the body.
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

// jsonString is a member that must be a JSON string: anything else, null
// included, is rejected. A *string would take null as absent, but a caller
// sending "email": null may mean "clear it", which this API does not do.
type jsonString struct {
	value string
	set   bool
}

// UnmarshalJSONFrom decodes a JSON string, or returns errNotString.
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

// memberName returns the dotted path p points to (user.email) and true,
// or its longest plain prefix and false. Only short ASCII names are quoted
// back: the caller chose them, and could send an email address.
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
