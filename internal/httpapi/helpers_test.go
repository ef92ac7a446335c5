package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/httpapi"
	"github.com/iam-userinfo/userinfo/internal/userinfo"

	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

// Fixed identities. The tokens are opaque strings the stub maps to
// principals; the log test checks none of them is ever logged.
const (
	domainID   = "d-0001"
	aliceID    = "0638848aa7801dbe1f01c01e92b95df7"
	bobID      = "9a1b2c3d4e5f60718293a4b5c6d7e8f9"
	carolID    = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0" // disabled
	daveID     = "da7eda7eda7eda7eda7eda7eda7eda7e" // tokens revoked
	ghostID    = "0000000000000000000000000000dead" // no such user
	erinID     = "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1" // account forbids self-management
	otherDomID = "d-0002"

	aliceToken        = "tok-alice-7f3a9c"
	bobToken          = "tok-bob-51d2e8"
	carolToken        = "tok-carol-0b4f66"
	daveToken         = "tok-dave-a8c1d0"
	ghostToken        = "tok-ghost-c3e7b2"
	erinToken         = "tok-erin-7d9e1a"
	aliceOtherDomain  = "tok-alice-elsewhere-93ad"
	unavailableToken  = "tok-jwks-down-4e2b"
	rejectedToken     = "tok-forged-6a1f0e"
	aliceEmail        = "alice@example.com"
	alicePhone        = "13800138000"
	alicePath         = "/v3.0/OS-USER/users/" + aliceID + "/info"
	jsonContentType   = "application/json;charset=utf8"
	validEmailBody    = `{"user":{"email":"alice.new@example.org"}}`
	validPhoneBody    = `{"user":{"areacode":"0086","phone":"18292010816"}}`
	newEmail          = "alice.new@example.org"
	genericInternal   = "An internal error occurred."
	issuedAt          = "2026-01-01T00:00:00Z"
	revokedAt         = "2026-02-01T00:00:00Z"
	requestIDPattern  = `^[0-9a-f]{16}$`
	limit             = httpapi.MaxBodyBytes
	iamUnauthorized   = "IAM.0001"
	iamForbidden      = "IAM.0002"
	iamNotFound       = "IAM.0004"
	iamConflict       = "IAM.0005"
	iamInternal       = "IAM.0006"
	iamUnavailable    = "IAM.0007"
	iamInvalidBody    = "IAM.0011"
	iamTooLarge       = "IAM.0012"
	iamMethodNotAllow = "IAM.0013"
	iamInvalidField   = "IAM.0073"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// memStore is an in-memory userinfo.Store with the store's contract:
// conditional writes on Version, uniqueness of email and phone within an
// account, the account's self-management policy, and an audit record per
// change. Fault fields make it fail the way DynamoDB can.
type memStore struct {
	mu       sync.Mutex
	users    map[string]userinfo.User
	accounts map[string]userinfo.Account
	audit    []userinfo.Change

	getErr      error // returned by GetUser
	applyErr    error // returned by ApplyChange
	alwaysStale bool  // ApplyChange always loses the race

	// onGet runs at the start of GetUser, outside the lock: to sleep, to
	// look at the context, or to panic.
	onGet func(ctx context.Context)
}

func newMemStore() *memStore {
	at := mustTime(issuedAt).Add(-24 * time.Hour)
	s := &memStore{users: map[string]userinfo.User{}, accounts: map[string]userinfo.Account{
		domainID: {DomainID: domainID, ManageEmail: true, ManageMobile: true},
	}}
	for _, u := range []userinfo.User{
		{ID: aliceID, Name: "alice", Email: aliceEmail, AreaCode: "+86", Phone: alicePhone},
		{ID: bobID, Name: "bob", Email: "bob@example.com"},
		{ID: carolID, Name: "carol"},
		{ID: daveID, Name: "dave", TokensRevokedAt: mustTime(revokedAt)},
		{ID: erinID, Name: "erin", DomainID: otherDomID},
	} {
		if u.DomainID == "" {
			u.DomainID = domainID
		}
		u.Enabled = u.ID != carolID
		u.Version, u.CreatedAt, u.UpdatedAt = 1, at, at
		if err := u.SetKeys(); err != nil {
			panic(err)
		}
		s.users[u.ID] = u
	}
	s.accounts[otherDomID] = userinfo.Account{DomainID: otherDomID}
	return s
}

func (s *memStore) GetUser(ctx context.Context, id string) (*userinfo.User, error) {
	if s.onGet != nil {
		s.onGet(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.getErr != nil {
		return nil, s.getErr
	}
	u, ok := s.users[id]
	if !ok {
		return nil, userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	return &u, nil
}

func (s *memStore) ApplyChange(ctx context.Context, c userinfo.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applyErr != nil {
		return s.applyErr
	}
	if s.alwaysStale {
		return &userinfo.StaleError{}
	}
	cur, ok := s.users[c.User.ID]
	if !ok {
		return userinfo.Errorf(userinfo.ENOTFOUND, "The user does not exist.")
	}
	if cur.Version != c.User.Version {
		return &userinfo.StaleError{Current: &cur}
	}
	acct := s.accounts[cur.DomainID]
	if c.Email != nil && !acct.ManageEmail || c.Mobile != nil && !acct.ManageMobile {
		return userinfo.Errorf(userinfo.EFORBIDDEN, "The account does not allow users to change their contact details.")
	}
	for id, other := range s.users {
		if id == cur.ID || other.DomainID != cur.DomainID {
			continue
		}
		if c.Email != nil && other.EmailKey == userinfo.CurrentKey(c.Email.Key) {
			return userinfo.Errorf(userinfo.ECONFLICT, "The email address is already in use.")
		}
		if c.Mobile != nil && other.PhoneKey == userinfo.CurrentKey(c.Mobile.Key) {
			return userinfo.Errorf(userinfo.ECONFLICT, "The mobile number is already in use.")
		}
	}
	if c.Email != nil {
		cur.Email, cur.EmailKey, cur.EmailVerified = c.Email.Address, userinfo.CurrentKey(c.Email.Key), false
	}
	if c.Mobile != nil {
		cur.AreaCode, cur.Phone, cur.PhoneKey, cur.PhoneVerified = c.Mobile.AreaCode, c.Mobile.Number, userinfo.CurrentKey(c.Mobile.Key), false
	}
	cur.Version++
	cur.UpdatedAt = c.At
	s.users[cur.ID] = cur
	s.audit = append(s.audit, c)
	return nil
}

func (s *memStore) user(id string) userinfo.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[id]
}

func (s *memStore) changes() []userinfo.Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]userinfo.Change(nil), s.audit...)
}

// stubAuth maps fixed tokens to principals, as a JWT verifier would.
type stubAuth struct{}

func (stubAuth) Verify(ctx context.Context, token string) (userinfo.Principal, error) {
	iat := mustTime(issuedAt)
	switch token {
	case aliceToken:
		return userinfo.Principal{UserID: aliceID, DomainID: domainID, IssuedAt: iat}, nil
	case bobToken:
		return userinfo.Principal{UserID: bobID, DomainID: domainID, IssuedAt: iat}, nil
	case carolToken:
		return userinfo.Principal{UserID: carolID, DomainID: domainID, IssuedAt: iat}, nil
	case daveToken:
		return userinfo.Principal{UserID: daveID, DomainID: domainID, IssuedAt: iat}, nil
	case ghostToken:
		return userinfo.Principal{UserID: ghostID, DomainID: domainID, IssuedAt: iat}, nil
	case erinToken:
		return userinfo.Principal{UserID: erinID, DomainID: otherDomID, IssuedAt: iat}, nil
	case aliceOtherDomain:
		return userinfo.Principal{UserID: aliceID, DomainID: otherDomID, IssuedAt: iat}, nil
	case unavailableToken:
		// A careless verifier that quotes the token: the log must not.
		return userinfo.Principal{}, userinfo.Unavailable(errors.New("jwks fetch failed while verifying "+token), "The key set is unreachable.")
	}
	return userinfo.Principal{}, errors.New("signature invalid for token " + token)
}

// fixture is a server over a fresh store, logging into a buffer.
type fixture struct {
	store   *memStore
	handler http.Handler
	logs    *tailbuf.Buffer
}

func newFixture(t testing.TB, cfg httpapi.Config) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), logs: &tailbuf.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.handler = httpapi.NewServer(logger, cfg, stubAuth{}, userinfo.NewService(f.store, nil))
	return f
}

// request describes one request; zero fields take the happy path's values.
type request struct {
	method      string
	path        string
	token       string // "-" for none
	contentType string // "-" for none
	body        string
	bodyReader  io.Reader // overrides body; length unknown (chunked)
	ctx         context.Context
}

func (f *fixture) do(t testing.TB, rq request) *httptest.ResponseRecorder {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPut
	}
	if rq.path == "" {
		rq.path = alicePath
	}
	var body io.Reader = strings.NewReader(rq.body)
	if rq.bodyReader != nil {
		body = rq.bodyReader
	}
	if rq.ctx == nil {
		rq.ctx = t.Context()
	}
	r := httptest.NewRequestWithContext(rq.ctx, rq.method, rq.path, body)
	if rq.bodyReader != nil {
		r.ContentLength = -1
	}
	switch rq.token {
	case "":
		r.Header.Set("X-Auth-Token", aliceToken)
	case "-":
	default:
		r.Header.Set("X-Auth-Token", rq.token)
	}
	switch rq.contentType {
	case "":
		r.Header.Set("Content-Type", jsonContentType)
	case "-":
	default:
		r.Header.Set("Content-Type", rq.contentType)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// errorResponse is the error body, decoded strictly.
type errorResponse struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

// checkError asserts w is an error response with the given status and IAM
// code, in the contract's shape, and returns its body.
func checkError(t *testing.T, w *httptest.ResponseRecorder, status int, iamCode string) errorResponse {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	var e errorResponse
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", w.Body, err)
	}
	if e.ErrorCode != iamCode {
		t.Errorf("error_code = %q, want %q (msg %q)", e.ErrorCode, iamCode, e.ErrorMsg)
	}
	if e.ErrorMsg == "" {
		t.Error("error_msg is empty")
	}
	if id := w.Header().Get("X-Request-Id"); e.RequestID == "" || e.RequestID != id {
		t.Errorf("request_id = %q, X-Request-Id = %q: want equal and non-empty", e.RequestID, id)
	}
	return e
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// oversized returns a chunked-style body: valid JSON followed by 64 times
// the limit in spaces. Bounded, so that a missing limit fails the test
// quickly instead of hanging it.
func oversized(prefix string) *countingReader {
	return &countingReader{r: io.MultiReader(strings.NewReader(prefix), io.LimitReader(endless{}, 64*limit))}
}

// endless yields spaces forever.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// logLines returns the JSON log lines written so far, decoded.
func logLines(t *testing.T, s *tailbuf.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// newPut returns alice's happy-path request with body, for tests that need
// to adjust the *http.Request itself.
func newPut(t testing.TB, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodPut, alicePath, strings.NewReader(body))
	r.Header.Set("X-Auth-Token", aliceToken)
	r.Header.Set("Content-Type", jsonContentType)
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The double's accounts never verify changes (ApplyChange never answers
// userinfo.ErrVerificationRequired), so these are never reached.

func (s *memStore) GetPending(context.Context, string, string) (*userinfo.Pending, error) {
	return nil, nil
}

func (s *memStore) RequestChange(context.Context, userinfo.ChangeRequest) error {
	return errors.New("no verification in this double")
}

func (s *memStore) WrongCode(context.Context, *userinfo.Pending) (int, error) {
	return 0, errors.New("no verification in this double")
}
