package app_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Header and path tricks through the real server. The aim of each row is a
// write to someone else's user, or a request the handler judges on other
// bytes than the client meant; every row must end in a 4xx and no write.

// doHeader sends one request with h as its headers exactly (repeated
// values, any spelling of a name), which e.do cannot.
func (e *apiEnv) doHeader(t *testing.T, method, p string, h http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+p, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// rawExchange writes raw to a new connection to the API, half-closes it
// when halfClose is set, and returns every response read until the server
// closes the connection or says it will. Raw bytes are the only way to
// send a Content-Length that lies: net/http's client always sends the true
// one. Half-closing only suits requests whose body is cut short: net/http
// takes the EOF for a client gone and cancels the request's context, which
// the handler answers 503 if it has not judged the request yet.
func (e *apiEnv) rawExchange(t *testing.T, raw string, halfClose bool) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	return readResponses(t, conn)
}

// readResponses reads responses from conn until it is closed.
func readResponses(t *testing.T, conn net.Conn) []*http.Response {
	t.Helper()
	br := bufio.NewReader(conn)
	var out []*http.Response
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("the server neither answered nor closed the connection: %v", err)
			}
			return out
		}
		b, _ := io.ReadAll(res.Body)
		res.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, res)
		if res.Close {
			// The server said it closes; it may first drain what the
			// client sent, which a stalled client never finishes.
			return out
		}
	}
}

// rawPut returns a raw HTTP/1.1 PUT with the reference's headers, extra
// header lines (each ending in CRLF) and body as is.
func rawPut(p, token, extra, body string) string {
	return fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/json;charset=utf8\r\nX-Auth-Token: %s\r\n%s\r\n%s", p, token, extra, body)
}

// asResponse reads a raw exchange's response like e.do's, for wantError.
func asResponse(t *testing.T, res *http.Response) response {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func TestHeaderTricks(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice, bob := e.token(aliceID, domainA), e.token(bobID, domainA)
	body := userBody(`"email":"mallory@example.com"`)
	e.secret("mallory@example.com")
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = append(out[kv[i]], kv[i+1]) // as spelt, not canonicalised
		}
		return out
	}
	const ct = "application/json;charset=utf8"
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"ErrTwoTokenHeadersSame", h("Content-Type", ct, "X-Auth-Token", alice, "X-Auth-Token", alice), 401},
		{"ErrTwoTokenHeadersOtherUserFirst", h("Content-Type", ct, "X-Auth-Token", bob, "X-Auth-Token", alice), 401},
		{"ErrTwoTokenHeadersOtherUserLast", h("Content-Type", ct, "X-Auth-Token", alice, "X-Auth-Token", bob), 401},
		{"ErrEmptyTokenHeaderThenToken", h("Content-Type", ct, "X-Auth-Token", "", "X-Auth-Token", alice), 401},
		{"ErrTokensCommaJoined", h("Content-Type", ct, "X-Auth-Token", bob+", "+alice), 401},
		{"ErrTokenNameLowerAndCanonical", h("Content-Type", ct, "x-auth-token", bob, "X-Auth-Token", alice), 401},
		{"ErrUnderscoreName", h("Content-Type", ct, "X_Auth_Token", alice), 401},
		{"ErrTwoContentTypes", h("Content-Type", ct, "Content-Type", "text/plain", "X-Auth-Token", alice), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.doHeader(t, http.MethodPut, path(aliceID), tt.header, body), tt.status, "")
		})
	}
	t.Run("OKTokenNameAnyCase", func(t *testing.T) {
		// Header names are case-insensitive (RFC 9110): the same header.
		noop := userBody(`"email":"alice@example.com"`)
		if r := e.doHeader(t, http.MethodPut, path(aliceID), h("content-type", ct, "x-AUTH-token", alice), noop); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s, want 204", r.status, r.body)
		}
	})
	for _, id := range []string{aliceID, bobID} {
		if u := e.user(id); u.Version != 1 {
			t.Errorf("a header trick changed %s: %+v", id, u)
		}
	}
}

func TestPathTricks(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice, bob := e.token(aliceID, domainA), e.token(bobID, domainA)
	body := userBody(`"email":"mallory@example.com"`)
	e.secret("mallory@example.com")
	users := "/v3.0/OS-USER/users/"
	tests := []struct {
		name   string
		token  string
		path   string
		status int
	}{
		{"ErrLowerCasePrefix", alice, "/v3.0/os-user/users/" + aliceID + "/info", 404},
		{"ErrUpperCaseSegments", alice, "/V3.0/OS-USER/USERS/" + aliceID + "/INFO", 404},
		{"ErrUpperCaseUserID", alice, path(strings.ToUpper(aliceID)), 403},
		{"ErrEncodedSlashInsteadOfSegment", alice, users + aliceID + "%2Finfo", 404},
		{"ErrEncodedSlashTraversalToOwnID", alice, path(bobID + "%2F..%2F" + aliceID), 403},
		{"ErrEncodedSlashTraversalToOtherID", alice, path(aliceID + "%2F..%2F" + bobID), 403},
		{"ErrEncodedSlashAfterOwnID", alice, path(aliceID + "%2F"), 403},
		{"ErrWhollyEncodedPath", alice, "/v3.0%2FOS-USER%2Fusers%2F" + aliceID + "%2Finfo", 404},
		{"ErrDotSegments", alice, users + bobID + "/../" + aliceID + "/info", 404},
		{"ErrEncodedDotSegments", alice, users + aliceID + "/%2e%2e/" + bobID + "/info", 404},
		{"ErrDoubleSlash", alice, "/v3.0/OS-USER/users//" + aliceID + "/info", 404},
		{"ErrEmptyUserID", alice, path(""), 404},
		{"ErrOtherUserIDWithLetter", alice, path(bobID + "x"), 403},
		{"ErrOtherUserIDWithNUL", alice, path(bobID + "%00"), 403},
		{"ErrOtherUserIDWithSpace", alice, path(bobID + "%20"), 403},
		{"ErrOtherUserIDWithNewline", alice, path(bobID + "%0A"), 403},
		{"ErrOtherUserIDWithSemicolon", alice, path(bobID + ";"), 403},
		{"ErrOtherUserIDWithExtension", alice, path(bobID + ".json"), 403},
		{"ErrOwnIDWithNUL", alice, path(aliceID + "%00"), 403},
		{"ErrOwnIDWithTrailingSpace", alice, path(aliceID + "%20"), 403},
		{"ErrOwnerWithTrailingCharacters", bob, path(bobID + "%00"), 403},
		{"ErrVeryLongUserID", alice, path(strings.Repeat(aliceID, 128)), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.put(tt.path, tt.token, body), tt.status, "")
		})
	}
	for _, id := range []string{aliceID, bobID} {
		if u := e.user(id); u.Version != 1 {
			t.Errorf("a path trick changed %s: %+v", id, u)
		}
	}
	t.Run("OKPercentEncodedOwnIDIsTheSameResource", func(t *testing.T) {
		// %30 is "0" (RFC 3986 §6.2.2.2): the same path, the same user.
		e.secret("alice.pct@example.com")
		r := e.put(users+"%30"+aliceID[1:]+"/info", alice, userBody(`"email":"alice.pct@example.com"`))
		if r.status != http.StatusNoContent {
			t.Fatalf("got %d %s, want 204", r.status, r.body)
		}
		if u := e.user(aliceID); u.Email != "alice.pct@example.com" {
			t.Errorf("alice = %+v", u)
		}
	})
}

func TestContentLengthLies(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	e.secret("mallory@example.com")
	body := userBody(`"email":"mallory@example.com"`)
	noop := userBody(`"email":"alice@example.com"`)

	t.Run("ErrDeclaredLongerThanSent", func(t *testing.T) {
		res := e.rawExchange(t, rawPut(path(aliceID), alice, fmt.Sprintf("Content-Length: %d\r\n", len(body)+100), body), true)
		if len(res) != 1 {
			t.Fatalf("got %d responses, want 1", len(res))
		}
		wantError(t, asResponse(t, res[0]), http.StatusBadRequest, "IAM.0011")
	})
	t.Run("ErrDeclaredShorterThanSent", func(t *testing.T) {
		// The first len-6 bytes are judged (truncated JSON); the rest is
		// not a request, and net/http answers it 400 and closes.
		res := e.rawExchange(t, rawPut(path(aliceID), alice, fmt.Sprintf("Content-Length: %d\r\n", len(body)-6), body+"\r\n\r\n"), false)
		if len(res) == 0 {
			t.Fatal("no response")
		}
		wantError(t, asResponse(t, res[0]), http.StatusBadRequest, "IAM.0011")
		for _, r := range res[1:] {
			if r.StatusCode < 400 {
				t.Errorf("the leftover bytes were answered %d", r.StatusCode)
			}
		}
	})
	t.Run("ErrSmuggledRequestJudgedOnItsOwn", func(t *testing.T) {
		// A true length followed by a second request for bob's user: it is
		// a request of its own, with its own (alice's) token, so 403.
		second := rawPut(path(bobID), alice, fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n", len(body)), body)
		res := e.rawExchange(t, rawPut(path(aliceID), alice, fmt.Sprintf("Content-Length: %d\r\n", len(noop)), noop)+second, false)
		if len(res) != 2 || res[0].StatusCode != http.StatusNoContent {
			t.Fatalf("got %d responses (first %v), want 204 then 403", len(res), statusOf(res))
		}
		wantError(t, asResponse(t, res[1]), http.StatusForbidden, "IAM.0002")
	})
	t.Run("ErrLengthAndChunkedChunkedWins", func(t *testing.T) {
		// RFC 9112 §6.3: Transfer-Encoding overrides Content-Length. Were
		// the 5 bytes taken as the body, the rest would become a request.
		chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(noop), noop)
		second := rawPut(path(bobID), alice, fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n", len(body)), body)
		res := e.rawExchange(t, rawPut(path(aliceID), alice, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked)+second, false)
		if len(res) != 2 || res[0].StatusCode != http.StatusNoContent || res[1].StatusCode != http.StatusForbidden {
			t.Fatalf("got %v, want 204 then 403", statusOf(res))
		}
	})
	for _, tt := range []struct{ name, header string }{
		{"ErrTwoDifferentLengths", fmt.Sprintf("Content-Length: %d\r\nContent-Length: %d\r\n", len(body), len(body)-6)},
		{"ErrNegativeLength", "Content-Length: -1\r\n"},
		{"ErrSignedLength", fmt.Sprintf("Content-Length: +%d\r\n", len(body))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Refused by net/http before the handler, in plain text.
			res := e.rawExchange(t, rawPut(path(aliceID), alice, tt.header, body), true)
			if len(res) != 1 || res[0].StatusCode != http.StatusBadRequest {
				t.Fatalf("got %v, want one 400", statusOf(res))
			}
		})
	}
	if u := e.user(aliceID); u.Version != 1 || u.Email != "alice@example.com" {
		t.Errorf("a lying length changed alice: %+v", u)
	}
	if u := e.user(bobID); u.Version != 1 {
		t.Errorf("a smuggled request changed bob: %+v", u)
	}
}

func TestChunkedPastLimit(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	alice := e.token(aliceID, domainA)
	const limit = 32 << 10
	valid := userBody(`"email":"alice@example.com"`)

	t.Run("ErrManyChunksPastLimitThenStall", func(t *testing.T) {
		// The client sends twice the limit and then nothing, without the
		// last chunk: the answer must not wait for the rest of the body.
		var b strings.Builder
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(valid), valid)
		chunk := strings.Repeat(" ", 4096)
		for range 2 * limit / len(chunk) {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		res := e.rawExchange(t, rawPut(path(aliceID), alice, "Transfer-Encoding: chunked\r\n", b.String()), false)
		if len(res) != 1 || !res[0].Close {
			t.Fatalf("got %v, want one 413 announcing Connection: close", statusOf(res))
		}
		wantError(t, asResponse(t, res[0]), http.StatusRequestEntityTooLarge, "IAM.0012")
	})
	t.Run("ErrOneChunkDeclaredHuge", func(t *testing.T) {
		// A 4 GiB chunk is never buffered: reading stops at the limit.
		raw := rawPut(path(aliceID), alice, "Transfer-Encoding: chunked\r\n", "100000000\r\n"+valid+strings.Repeat(" ", 2*limit))
		res := e.rawExchange(t, raw, false)
		if len(res) != 1 {
			t.Fatalf("got %v, want one 413 and the connection closed", statusOf(res))
		}
		wantError(t, asResponse(t, res[0]), http.StatusRequestEntityTooLarge, "IAM.0012")
	})
	t.Run("ErrChunkSizeOverflow", func(t *testing.T) {
		raw := rawPut(path(aliceID), alice, "Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFFFFFFFF\r\n"+valid+"\r\n0\r\n\r\n")
		res := e.rawExchange(t, raw, true)
		if len(res) != 1 {
			t.Fatalf("got %v, want one 400", statusOf(res))
		}
		wantError(t, asResponse(t, res[0]), http.StatusBadRequest, "IAM.0011")
	})
	t.Run("NetHTTPRefusesOtherTransferEncodings", func(t *testing.T) {
		// net/http answers 501 in plain text before any handler runs: the
		// local server's behaviour only (API Gateway fronts Lambda). The
		// handler never sees the request, so it logs and writes nothing.
		before := strings.Count(e.logs.String(), "\n")
		res := e.rawExchange(t, rawPut(path(aliceID), alice, "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), true)
		if len(res) != 1 || res[0].StatusCode != http.StatusNotImplemented {
			t.Fatalf("got %v, want net/http's 501", statusOf(res))
		}
		if after := strings.Count(e.logs.String(), "\n"); after != before {
			t.Errorf("the handler ran: %d log lines, want %d", after, before)
		}
	})
	if u := e.user(aliceID); u.Version != 1 {
		t.Errorf("an oversized body changed alice: %+v", u)
	}
}

func statusOf(res []*http.Response) []int {
	out := make([]int, len(res))
	for i, r := range res {
		out[i] = r.StatusCode
	}
	return out
}
