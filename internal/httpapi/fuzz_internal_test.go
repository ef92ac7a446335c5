package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// FuzzDecodeUpdate drives the body decoder and the validator with arbitrary
// bytes, Content-Type headers and declared lengths. It is in the internal
// test package because decodeUpdate is unexported; it exports nothing new.
//
// Properties: it never panics; every error is EINVALID or too-large, never
// anything that would answer 5xx; an accepted body is one JSON object that
// the standard library reads to exactly the same members and values; and
// what Validate accepts obeys every rule of the reference. The seed corpus
// is in testdata/fuzz/FuzzDecodeUpdate.
func FuzzDecodeUpdate(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, contentType string, lengthMode uint8) {
		r := httptest.NewRequest(http.MethodPut, "/v3.0/OS-USER/users/u/info", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		switch lengthMode % 4 {
		case 1: // chunked: no declared length
			r.ContentLength = -1
		case 2: // declares more than it sends
			r.ContentLength = int64(len(body)) + 100
		case 3: // declares less than it sends
			r.ContentLength = int64(len(body)) / 2
		}
		upd, err := decodeUpdate(httptest.NewRecorder(), r)
		if err != nil {
			checkDecodeError(t, err, body, r.ContentLength)
			return
		}
		checkAccepted(t, body, contentType, upd)
		verr := upd.Validate()
		if verr != nil {
			if code := userinfo.ErrorCode(verr); code != userinfo.EINVALID {
				t.Fatalf("Validate error code %q, want %q: %v", code, userinfo.EINVALID, verr)
			}
			switch f := userinfo.ErrorField(verr); f {
			case "user", "email", "phone", "areacode":
			default:
				t.Fatalf("Validate error names field %q: %v", f, verr)
			}
			return
		}
		checkValid(t, upd)
	})
}

// checkDecodeError asserts err is one the caller is to blame for, and that
// its message quotes nothing from the body but a short plain member name.
func checkDecodeError(t *testing.T, err error, body []byte, declared int64) {
	t.Helper()
	switch code := userinfo.ErrorCode(err); code {
	case userinfo.EINVALID, ETOOLARGE:
	default:
		t.Fatalf("decode error code %q (would answer %d): %v", code, errorKinds[errorCode(err)].status, err)
	}
	msg := userinfo.ErrorMessage(err)
	// The longest message names two plain members of maxNameLen each.
	if len(msg) > 2*maxNameLen+80 || strings.ContainsAny(msg, "@\"") {
		t.Fatalf("error message %q may quote the body", msg)
	}
	if len(body) <= MaxBodyBytes && declared <= MaxBodyBytes && userinfo.ErrorCode(err) == ETOOLARGE {
		t.Fatalf("a %d-byte body declared as %d was refused as too large", len(body), declared)
	}
}

// checkAccepted asserts an accepted request was what the contract allows:
// a JSON Content-Type, a body within the limit, valid UTF-8, one object
// with exactly the member "user" holding only string members that the
// standard library decodes to the same values. A second decoder that
// agrees is what rules out parser-differential tricks (duplicates, case
// folding, escapes, trailing data).
func checkAccepted(t *testing.T, body []byte, contentType string, upd userinfo.Update) {
	t.Helper()
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/json") {
		t.Fatalf("accepted Content-Type %q", contentType)
	}
	if len(body) > MaxBodyBytes || !utf8.Valid(body) {
		t.Fatalf("accepted a body of %d bytes, valid UTF-8 %v", len(body), utf8.Valid(body))
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		t.Fatalf("accepted a body encoding/json rejects: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("accepted a body with data after the object")
	}
	if len(top) != 1 || top["user"] == nil {
		t.Fatalf("accepted top-level members %v, want exactly user", keys(top))
	}
	var user map[string]*string
	if err := json.Unmarshal(top["user"], &user); err != nil || user == nil {
		t.Fatalf("accepted user %s, which is not an object of strings: %v", top["user"], err)
	}
	want := map[string]*string{}
	for name, v := range map[string]*string{"email": upd.Email, "areacode": upd.AreaCode, "phone": upd.Phone} {
		if v != nil {
			want[name] = v
		}
	}
	if len(user) != len(want) {
		t.Fatalf("encoding/json sees members %v, the decoder %v", keysOf(user), keysOf(want))
	}
	for name, v := range user {
		if w, ok := want[name]; !ok || v == nil || *v != *w {
			t.Fatalf("member %q: encoding/json reads %v, the decoder %v", name, v, w)
		}
	}
}

// checkValid asserts an Update that Validate accepted obeys the reference:
// email or phone, phone only with a known area code, the length limits,
// and a plain address. It also checks the masks reveal less than the value.
func checkValid(t *testing.T, u userinfo.Update) {
	t.Helper()
	if u.Email == nil && u.Phone == nil {
		t.Fatal("accepted an update with neither email nor phone")
	}
	if (u.Phone == nil) != (u.AreaCode == nil) {
		t.Fatal("accepted phone and areacode not given together")
	}
	if e := u.Email; e != nil {
		if n := utf8.RuneCountInString(*e); n == 0 || n > userinfo.MaxEmailLength || strings.Count(*e, "@") != 1 ||
			strings.ContainsAny(*e, " \t\r\n<>") {
			t.Fatalf("accepted email %q", *e)
		}
		if m := userinfo.MaskEmail(*e); m == *e && !strings.Contains(*e, "***") {
			t.Fatalf("MaskEmail(%q) reveals it whole", *e)
		}
	}
	if p := u.Phone; p != nil {
		if len(*p) == 0 || len(*p) > userinfo.MaxPhoneDigits || strings.Trim(*p, "0123456789") != "" {
			t.Fatalf("accepted phone %q", *p)
		}
		if _, ok := userinfo.CanonicalAreaCode(*u.AreaCode); !ok {
			t.Fatalf("accepted areacode %q", *u.AreaCode)
		}
		if len(*p) > 1 && strings.Contains(userinfo.MaskPhone(*p), *p) {
			t.Fatalf("MaskPhone(%q) reveals it whole", *p)
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keysOf(m map[string]*string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
