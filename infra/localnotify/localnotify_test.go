package localnotify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/ddbtable"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/localnotify"
	"github.com/iam-userinfo/userinfo/infra/seslocal"
	"github.com/iam-userinfo/userinfo/infra/smssink"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

var ddbEndpoint, sesEndpoint string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	ddb, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "localnotify tests need DynamoDB Local:", err)
		return 1
	}
	defer ddb.Stop()
	ses, err := seslocal.Start(ctx, seslocal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "localnotify tests need the local SES:", err)
		return 1
	}
	defer ses.Stop()
	ddbEndpoint, sesEndpoint = ddb.Endpoint(), ses.Endpoint()
	for k, v := range ddblocal.ClientEnv(ddbEndpoint) {
		os.Setenv(k, v)
	}
	return m.Run()
}

const (
	domain = "d-verify"
	from   = "no-reply@iam.local.test"
)

// world is the API on a fresh table in an account that verifies changes,
// with the notifier running on the table's stream.
type world struct {
	t        *testing.T
	url      string
	store    *ddbtable.Table
	client   *dynamodb.Client
	table    string
	key      *devkeys.Key
	dir      string
	sesProxy *faultySES
	tag      string // in every address of this world, to tell its emails apart
}

func newWorld(t *testing.T, env ...string) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, dir: t.TempDir(), tag: fmt.Sprintf("%d", time.Now().UnixNano())}
	w.client = ddblocal.Client(ddbEndpoint)
	w.table = "verify-" + w.tag
	if err := ddbtable.Create(ctx, w.client, w.table); err != nil {
		t.Fatal(err)
	}
	w.store = ddbtable.New(w.client, w.table, dynamo.Options{})
	var err error
	if w.key, err = devkeys.LoadOrCreate(filepath.Join(w.dir, "keys")); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"TABLE_NAME": w.table, "AUTH_JWKS_URL": w.key.JWKSURL(),
		"AUTH_ISSUER": devkeys.DefaultIssuer, "AUTH_AUDIENCE": devkeys.DefaultAudience,
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg, err := app.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.New(ctx, cfg, nil, w.client)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w.url = srv.URL

	if err := w.store.PutAccount(ctx, userinfo.Account{DomainID: domain, ManageEmail: true, ManageMobile: true, VerifyChanges: true}); err != nil {
		t.Fatal(err)
	}
	w.sesProxy = newFaultySES(t, sesEndpoint)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- localnotify.Run(runCtx, localnotify.Options{
			DynamoEndpoint: ddbEndpoint, Table: w.table, SESEndpoint: w.sesProxy.URL, From: from,
			SMSFile: w.smsFile(), DeadLetterFile: w.deadLetterFile(), Retries: 2, SESAttempts: 1,
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("notifier: %v", err)
		}
	})
	return w
}

func (w *world) smsFile() string        { return filepath.Join(w.dir, "sms.jsonl") }
func (w *world) deadLetterFile() string { return filepath.Join(w.dir, "dead-letters.jsonl") }

// addr returns an address unique to this world.
func (w *world) addr(name string) string { return name + "." + w.tag + "@example.com" }

func (w *world) seedUser(id, email, areaCode, phone string) {
	w.t.Helper()
	u := userinfo.User{ID: id, DomainID: domain, Name: id, Email: email, AreaCode: areaCode, Phone: phone, Enabled: true}
	if err := w.store.UpsertUser(context.Background(), u); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) token(id string) string {
	w.t.Helper()
	tok, err := w.key.Sign(devkeys.Claims{Subject: id, DomainID: domain})
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (w *world) call(method, path, id, body string) answer {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("X-Auth-Token", w.token(id))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}
}

func (w *world) put(id, fields string) answer {
	return w.call(http.MethodPut, "/v3.0/OS-USER/users/"+id+"/info", id, `{"user":{`+fields+`}}`)
}

func (w *world) verify(id, field, code string) answer {
	return w.call(http.MethodPost, "/v3.0/OS-USER/users/"+id+"/info/verification", id, `{"verification":{"`+field+`_code":"`+code+`"}}`)
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// emails returns the emails sent to to so far.
func (w *world) emails(to string) []seslocal.Email {
	w.t.Helper()
	all, err := seslocal.Emails(context.Background(), sesEndpoint)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []seslocal.Email
	for _, e := range all {
		if len(e.To) == 1 && e.To[0] == to {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls cond for 20 s.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	w.t.Fatalf("gave up waiting for %s", what)
}

// code waits for the n-th email to to and returns the code in it.
func (w *world) code(to string, n int) string {
	w.t.Helper()
	w.waitFor("email "+fmt.Sprint(n)+" to the new address", func() bool { return len(w.emails(to)) >= n })
	c := sixDigits.FindString(w.emails(to)[n-1].Text)
	if c == "" {
		w.t.Fatalf("no code in %q", w.emails(to)[n-1].Text)
	}
	return c
}

// TestVerifiedChangeEndToEnd: a change in an account that verifies
// changes, through the API, DynamoDB Local's stream, the notifier and the
// local SES: 202 with where the code went, the code at the new address and
// a notice at the old, a wrong code refused, the right one applied with its
// guard and audit record, and the old address told; the same for a mobile
// number by SMS.
func TestVerifiedChangeEndToEnd(t *testing.T) {
	w := newWorld(t)
	old, nw := w.addr("alice"), w.addr("alice.new")
	w.seedUser("alice", old, "+86", "13800000001")

	a := w.put("alice", `"email":"`+nw+`"`)
	if a.status != http.StatusAccepted {
		t.Fatalf("PUT: %d %s, want 202", a.status, a.body)
	}
	var pending struct {
		Pending map[string]struct {
			To        string `json:"to"`
			ExpiresAt string `json:"expires_at"`
		} `json:"pending"`
	}
	if err := json.Unmarshal([]byte(a.body), &pending); err != nil {
		t.Fatal(err)
	}
	p := pending.Pending["email"]
	if exp, err := time.Parse(time.RFC3339, p.ExpiresAt); err != nil || p.To != userinfo.MaskEmail(nw) || time.Until(exp) > 16*time.Minute || time.Until(exp) < 13*time.Minute {
		t.Errorf("202 body %s: want the masked address and an expiry 15 minutes ahead", a.body)
	}
	if u, _ := w.store.GetUser(context.Background(), "alice"); u.Email != old {
		t.Errorf("the request changed the email to %q", u.Email)
	}
	code := w.code(nw, 1)
	w.waitFor("the notice to the old address", func() bool { return len(w.emails(old)) == 1 })
	notice := w.emails(old)[0]
	if sixDigits.MatchString(notice.Text) || !strings.Contains(notice.Text, userinfo.MaskEmail(nw)) || !strings.Contains(notice.Subject, "requested") {
		t.Errorf("notice %+v: want the masked new address, no code", notice)
	}

	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if a := w.verify("alice", "email", wrong); a.status != http.StatusBadRequest || !strings.Contains(a.body, "4 tries left") {
		t.Errorf("wrong code: %d %s", a.status, a.body)
	}
	if a := w.verify("alice", "email", code); a.status != http.StatusNoContent {
		t.Fatalf("right code: %d %s", a.status, a.body)
	}
	u, _ := w.store.GetUser(context.Background(), "alice")
	if u.Email != nw || !u.EmailVerified {
		t.Errorf("user %+v: want the new address, verified", u)
	}
	guards, _ := w.store.Guards(context.Background(), domain)
	held := map[string]bool{}
	for _, g := range guards {
		held[g.Value] = g.UserID == "alice"
	}
	if e, _ := userinfo.ParseEmail(nw); !held[e.Key] {
		t.Errorf("no guard of the new address for alice: %+v", guards)
	}
	if e, _ := userinfo.ParseEmail(old); held[e.Key] {
		t.Errorf("the old address is still guarded for alice")
	}
	recs, _ := w.store.AuditRecords(context.Background(), "alice", time.Time{}, time.Now().Add(time.Hour))
	if len(recs) != 1 || recs[0].Email != userinfo.MaskEmail(nw) {
		t.Errorf("audit %+v", recs)
	}
	w.waitFor("the notice of the change", func() bool { return len(w.emails(old)) == 2 })
	if n := w.emails(old)[1]; !strings.Contains(n.Subject, "was changed") {
		t.Errorf("second notice %+v", n)
	}

	// The mobile number, by SMS.
	if a := w.put("alice", `"mobile":"0086-13800000099"`); a.status != http.StatusAccepted || !strings.Contains(a.body, `"to":"***0099"`) {
		t.Fatalf("PUT mobile: %d %s", a.status, a.body)
	}
	var sms []smssink.Message
	w.waitFor("the SMS", func() bool { sms, _ = smssink.Read(w.smsFile()); return len(sms) == 1 })
	if sms[0].To != "+8613800000099" {
		t.Errorf("SMS to %s, want +8613800000099", sms[0].To)
	}
	if a := w.verify("alice", "mobile", sixDigits.FindString(sms[0].Text)); a.status != http.StatusNoContent {
		t.Fatalf("mobile code: %d %s", a.status, a.body)
	}
	if u, _ := w.store.GetUser(context.Background(), "alice"); u.Phone != "13800000099" || !u.PhoneVerified {
		t.Errorf("user %+v: want the new number, verified", u)
	}
}

// TestFirstVerifierWinsEndToEnd: two users of the account request the same
// address; both get a code, the first to send it back gets the address,
// the second is refused with 409.
func TestFirstVerifierWinsEndToEnd(t *testing.T) {
	w := newWorld(t)
	wanted := w.addr("wanted")
	w.seedUser("alice", w.addr("alice"), "", "")
	w.seedUser("bob", w.addr("bob"), "", "")
	for _, id := range []string{"alice", "bob"} {
		if a := w.put(id, `"email":"`+wanted+`"`); a.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", id, a.status, a.body)
		}
	}
	w.waitFor("both codes", func() bool { return len(w.emails(wanted)) == 2 })
	codes := map[string]string{}
	for _, e := range w.emails(wanted) {
		codes[e.Text] = sixDigits.FindString(e.Text)
	}
	// Which code is whose is not in the email: try both for bob first.
	var bobs string
	for _, c := range codes {
		if a := w.verify("bob", "email", c); a.status == http.StatusNoContent {
			bobs = c
			break
		}
	}
	if bobs == "" {
		t.Fatal("neither code worked for bob")
	}
	for _, c := range codes {
		if c == bobs {
			continue
		}
		if a := w.verify("alice", "email", c); a.status != http.StatusConflict {
			t.Errorf("alice, second: %d %s, want 409", a.status, a.body)
		}
	}
}

// TestVerificationLimitsEndToEnd: an expired change, a replaced request and
// the send limit, as a caller meets them.
func TestVerificationLimitsEndToEnd(t *testing.T) {
	t.Run("Expired", func(t *testing.T) {
		w := newWorld(t)
		w.seedUser("alice", w.addr("alice"), "", "")
		nw := w.addr("later")
		if a := w.put("alice", `"email":"`+nw+`"`); a.status != http.StatusAccepted {
			t.Fatal(a.status, a.body)
		}
		code := w.code(nw, 1)
		// Time passes: the change's validity ends.
		pk, sk := "USER#alice", "PENDING#EMAIL"
		_, err := w.client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
			TableName: aws.String(w.table), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
			UpdateExpression:          aws.String("SET valid_until = :past"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Add(-time.Second).Unix())}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if a := w.verify("alice", "email", code); a.status != http.StatusBadRequest || !strings.Contains(a.body, "expired") {
			t.Errorf("expired: %d %s, want 400 saying so", a.status, a.body)
		}
	})
	t.Run("Replaced", func(t *testing.T) {
		w := newWorld(t)
		w.seedUser("alice", w.addr("alice"), "", "")
		first, second := w.addr("first"), w.addr("second")
		w.put("alice", `"email":"`+first+`"`)
		firstCode := w.code(first, 1)
		w.put("alice", `"email":"`+second+`"`)
		secondCode := w.code(second, 1)
		if firstCode != secondCode {
			if a := w.verify("alice", "email", firstCode); a.status != http.StatusBadRequest {
				t.Errorf("the replaced request's code: %d %s, want 400", a.status, a.body)
			}
		}
		if a := w.verify("alice", "email", secondCode); a.status != http.StatusNoContent {
			t.Fatalf("the newest code: %d %s", a.status, a.body)
		}
		if u, _ := w.store.GetUser(context.Background(), "alice"); u.Email != second {
			t.Errorf("email %q, want the newest request's", u.Email)
		}
	})
	t.Run("SendLimit", func(t *testing.T) {
		w := newWorld(t, "VERIFY_SENDS_PER_HOUR=2")
		w.seedUser("alice", w.addr("alice"), "", "")
		for i := range 2 {
			if a := w.put("alice", `"email":"`+w.addr(fmt.Sprint("n", i))+`"`); a.status != http.StatusAccepted {
				t.Fatal(a.status, a.body)
			}
		}
		a := w.put("alice", `"email":"`+w.addr("n2")+`"`)
		retry := a.header.Get("Retry-After")
		if a.status != http.StatusTooManyRequests || retry == "" || retry == "0" || !strings.Contains(a.body, "IAM.0014") {
			t.Errorf("third request: %d %s (Retry-After %q), want 429 with Retry-After", a.status, a.body, retry)
		}
	})
}

// TestDeliveryRetries: a message whose sending fails is tried again with
// its batch and sent once; one that keeps failing goes to the dead letters
// after the retries, and what follows it is still delivered.
func TestDeliveryRetries(t *testing.T) {
	t.Run("FailsThenSucceeds", func(t *testing.T) {
		w := newWorld(t)
		w.seedUser("alice", w.addr("alice"), "", "")
		nw := w.addr("flaky")
		w.sesProxy.failNext(1)
		if a := w.put("alice", `"email":"`+nw+`"`); a.status != http.StatusAccepted {
			t.Fatal(a.status, a.body)
		}
		w.code(nw, 1)
		time.Sleep(500 * time.Millisecond) // a second copy would have come by now
		if n := len(w.emails(nw)); n != 1 || w.sesProxy.failed() != 1 {
			t.Errorf("%d emails after %d failed sends, want 1 after 1", n, w.sesProxy.failed())
		}
	})
	t.Run("KeepsFailing", func(t *testing.T) {
		w := newWorld(t)
		w.seedUser("alice", "", "", "")
		doomed, later := w.addr("doomed"), w.addr("later")
		w.sesProxy.failTo(doomed)
		if a := w.put("alice", `"email":"`+doomed+`"`); a.status != http.StatusAccepted {
			t.Fatal(a.status, a.body)
		}
		var dead []string
		w.waitFor("a dead letter", func() bool {
			fs, _ := localnotify.DeadLetters(w.deadLetterFile())
			dead = nil
			for _, f := range fs {
				dead = append(dead, f.SequenceNumber)
			}
			return len(dead) == 1
		})
		if w.sesProxy.failed() != 3 || len(w.emails(doomed)) != 0 {
			t.Errorf("%d failed sends and %d emails, want 3 (1 + 2 retries) and none", w.sesProxy.failed(), len(w.emails(doomed)))
		}
		if a := w.put("alice", `"email":"`+later+`"`); a.status != http.StatusAccepted {
			t.Fatal(a.status, a.body)
		}
		w.code(later, 1)
	})
}

// faultySES stands between the notifier and the local SES and fails sends
// as told: the next n, or every one to an address.
type faultySES struct {
	*httptest.Server
	next   atomic.Int32
	count  atomic.Int32
	mu     sync.Mutex
	doomTo string
}

func newFaultySES(t *testing.T, target string) *faultySES {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &faultySES{}
	rp := httputil.NewSingleHostReverseProxy(u)
	f.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		doomed := f.doomTo != "" && strings.Contains(string(body), f.doomTo)
		f.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/outbound-emails") && (doomed || f.next.Add(-1) >= 0) {
			f.count.Add(1)
			rw.Header().Set("Content-Type", "application/json")
			rw.Header().Set("X-Amzn-Errortype", "InternalFailure")
			rw.WriteHeader(http.StatusInternalServerError)
			_, _ = rw.Write([]byte(`{"message":"injected failure"}`))
			return
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *faultySES) failNext(n int) { f.next.Store(int32(n)) }

func (f *faultySES) failTo(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doomTo = addr
}

func (f *faultySES) failed() int { return int(f.count.Load()) }
