package app_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/iam-userinfo/userinfo/infra/devkeys"
	"github.com/iam-userinfo/userinfo/infra/faultproxy"
	"github.com/iam-userinfo/userinfo/infra/tablecheck"
	"github.com/iam-userinfo/userinfo/infra/tailbuf"
	"github.com/iam-userinfo/userinfo/internal/app"
	"github.com/iam-userinfo/userinfo/internal/dynamo"
	"github.com/iam-userinfo/userinfo/internal/dynamo/awsconfig"
)

const (
	get      = "GetItem"
	transact = "TransactWriteItems"
)

// lambdaDeadline is the invocation deadline of the slow-answer cases: long
// enough for a healthy request, far shorter than the 5 s request timeout,
// so the deadline that decides is Lambda's.
const lambdaDeadline = time.Second

// newFaultEnv returns the API with its DynamoDB client behind a fault
// proxy (the test's own client talks to DynamoDB Local directly), the
// standard users seeded, and the proxy unarmed.
func newFaultEnv(t *testing.T) (*apiEnv, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.New(ddbEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := newEnv(t, p.URL())
	seedStandard(e)
	return e, p
}

// state reads every user, guard and audit record of the standard cast.
func (e *apiEnv) state() *tablecheck.State {
	e.t.Helper()
	st, err := tablecheck.Read(context.Background(), e.client, e.table,
		[]string{domainA, domainB}, []string{aliceID, bobID, carolID, daveID})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// outcome reads the table after a request that asked for contact on
// userID, and returns "before" when it is exactly as before, "after" when
// the user, its guards and one audit record (carrying requestID) all moved
// exactly as the change says. Anything else, a table between the two,
// fails the test.
func (e *apiEnv) outcome(before *tablecheck.State, userID string, contact tablecheck.Contact, requestID string) string {
	e.t.Helper()
	after := e.state()
	if err := after.Check(); err != nil {
		e.t.Errorf("invariants broken: %v", err)
	}
	if before.Equal(after) {
		return "before"
	}
	recs := before.NewAudits(after)[userID]
	if len(recs) != 1 {
		e.t.Fatalf("the table changed with %d new audit records, want 1: %s", len(recs), before.Diff(after))
	}
	rec := recs[0]
	if rec.RequestID != requestID || rec.ActorUserID != userID || !slices.Equal(rec.Fields, []string{"email", "areacode", "phone"}) {
		e.t.Errorf("audit record %+v: want request %s, actor %s, all three fields", rec, requestID, userID)
	}
	if want := before.Apply(userID, contact, rec); !want.Equal(after) {
		e.t.Fatalf("the table is neither as before nor as after: %s", want.Diff(after))
	}
	return "after"
}

// invoke sends a PUT through the Lambda front door, httpadapter as
// functions/userinfo uses it, with an invocation deadline and an API
// Gateway request id, and returns the answer as the gateway would send it.
func (e *apiEnv) invoke(deadline time.Duration, p, token, body string) response {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	res, err := httpadapter.New(e.handler).ProxyWithContext(ctx, events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPut,
		Path:       p,
		Headers:    map[string]string{"X-Auth-Token": token, "Content-Type": "application/json;charset=utf8"},
		Body:       body,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "gw-" + randomID(),
			Identity:  events.APIGatewayRequestIdentity{SourceIP: "203.0.113.7"},
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	h := http.Header{}
	for k, vs := range res.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	return response{status: res.StatusCode, header: h, body: res.Body}
}

// TestStoreFaults answers alice's request to change all her contact details
// with every failure DynamoDB has, through the fault proxy. For each: the
// status she gets (503 with Retry-After for throttling and unavailability),
// how many attempts the SDK made (counted at the proxy, never over its 3),
// how long it took (never past the deadline), and the table afterwards:
// exactly as before or exactly as after, never between.
func TestStoreFaults(t *testing.T) {
	const body = `{"user":{"email":"alice.fault@example.com","areacode":"0086","phone":"13900000001"}}`
	contact := tablecheck.Contact{Email: ptr("alice.fault@example.com"), AreaCode: ptr("+86"), Phone: ptr("13900000001")}
	on := func(op string, f faultproxy.Fault, first int) []faultproxy.Rule {
		return []faultproxy.Rule{{Op: op, Fault: f, First: first}}
	}
	tce := faultproxy.TransactionCanceled
	slow := faultproxy.Delay(3 * lambdaDeadline)
	const always = 0

	tests := []struct {
		name           string
		rules          []faultproxy.Rule
		lambda         bool // through the Lambda door with lambdaDeadline
		status         int
		gets, transact int
		outcome        string
	}{
		// Persistent faults: the SDK gives up after its 3 attempts.
		{"ErrReadThrottledProvisioned", on(get, faultproxy.ProvisionedThroughputExceeded, always), false, 503, 3, 0, "before"},
		{"ErrReadThrottled", on(get, faultproxy.Throttling, always), false, 503, 3, 0, "before"},
		{"ErrReadRequestLimitExceeded", on(get, faultproxy.RequestLimitExceeded, always), false, 503, 3, 0, "before"},
		{"ErrReadInternalServerError", on(get, faultproxy.InternalServerError, always), false, 503, 3, 0, "before"},
		{"ErrReadConnectionReset", on(get, faultproxy.ConnectionReset, always), false, 503, 3, 0, "before"},
		{"ErrWriteThrottledProvisioned", on(transact, faultproxy.ProvisionedThroughputExceeded, always), false, 503, 1, 3, "before"},
		{"ErrWriteThrottled", on(transact, faultproxy.Throttling, always), false, 503, 1, 3, "before"},
		{"ErrWriteRequestLimitExceeded", on(transact, faultproxy.RequestLimitExceeded, always), false, 503, 1, 3, "before"},
		{"ErrWriteInternalServerError", on(transact, faultproxy.InternalServerError, always), false, 503, 1, 3, "before"},
		{"ErrWriteConnectionReset", on(transact, faultproxy.ConnectionReset, always), false, 503, 1, 3, "before"},
		// The first attempt was applied, every answer lost: the retries
		// reuse its ClientRequestToken and change nothing more. The caller
		// is told to retry a change that is already made; a retry is a
		// no-op 204.
		{"ErrWriteAnswersLostAfterApplied", on(transact, faultproxy.InternalServerError.AfterForward(), always), false, 503, 1, 3, "after"},
		{"ErrWriteResetAfterApplied", on(transact, faultproxy.ConnectionReset.AfterForward(), always), false, 503, 1, 3, "after"},
		// A cancelled transaction is an answer, not an error: the SDK
		// never retries it. A throttled one is not retried by the service
		// either (503, the caller retries); a conflicting one is
		// recomputed from a fresh read, 3 times, then 409.
		{"ErrTransactionThrottled", on(transact, tce(faultproxy.ReasonThrottling), always), false, 503, 1, 1, "before"},
		{"ErrTransactionThrottledOnce", on(transact, tce(faultproxy.ReasonThrottling), 1), false, 503, 1, 1, "before"},
		{"ErrTransactionConflictPersists", on(transact, tce(faultproxy.ReasonTransactionConflict), always), false, 409, 3, 3, "before"},
		{"TransactionConflictOnce", on(transact, tce(faultproxy.ReasonTransactionConflict), 1), false, 204, 2, 2, "after"},
		// Transient faults the SDK's retries outlast.
		{"ReadThrottledOnce", on(get, faultproxy.ProvisionedThroughputExceeded, 1), false, 204, 2, 1, "after"},
		{"ReadResetTwice", on(get, faultproxy.ConnectionReset, 2), false, 204, 3, 1, "after"},
		{"WriteThrottledTwice", on(transact, faultproxy.Throttling, 2), false, 204, 1, 3, "after"},
		{"WriteRequestLimitExceededOnce", on(transact, faultproxy.RequestLimitExceeded, 1), false, 204, 1, 2, "after"},
		{"WriteInternalServerErrorTwice", on(transact, faultproxy.InternalServerError, 2), false, 204, 1, 3, "after"},
		{"WriteResetTwice", on(transact, faultproxy.ConnectionReset, 2), false, 204, 1, 3, "after"},
		{"WriteAnswerLostOnce", on(transact, faultproxy.InternalServerError.AfterForward(), 1), false, 204, 1, 2, "after"},
		{"WriteResetAfterAppliedOnce", on(transact, faultproxy.ConnectionReset.AfterForward(), 1), false, 204, 1, 2, "after"},
		// Answers slower than the deadline: Lambda's deadline less the
		// margin cuts the call, and the gateway gets a 503 in time.
		{"ErrReadSlow", on(get, slow, always), true, 503, 1, 0, "before"},
		{"ErrWriteSlow", on(transact, slow, always), true, 503, 1, 1, "before"},
		{"ErrWriteSlowAnswerAfterApplied", on(transact, slow.AfterForward(), always), true, 503, 1, 1, "after"},
		// The read answers, but late: less than DeadlineMargin is left, so
		// the handler does not start a write it could not finish.
		{"ErrDeadlineNearAfterSlowRead", on(get, faultproxy.Delay(lambdaDeadline/2), always), true, 503, 1, 0, "before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, p := newFaultEnv(t)
			e.secret(*contact.Email, *contact.Phone)
			before := e.state()
			if err := p.SetRules(tt.rules...); err != nil {
				t.Fatal(err)
			}

			begin := time.Now()
			var r response
			limit := 2 * time.Second // 3 attempts, 100 ms back-off at most, a loaded CI runner
			if tt.lambda {
				r = e.invoke(lambdaDeadline, path(aliceID), e.token(aliceID, domainA), body)
				limit = lambdaDeadline
			} else {
				r = e.put(path(aliceID), e.token(aliceID, domainA), body)
			}
			elapsed := time.Since(begin)

			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status != http.StatusNoContent {
				wantError(t, r, tt.status, "")
			}
			if tt.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if elapsed > limit {
				t.Errorf("answered after %v, want within %v", elapsed, limit)
			}
			if g, w := p.Requests(get), p.Requests(transact); g != tt.gets || w != tt.transact {
				t.Errorf("attempts: %d GetItem, %d TransactWriteItems; want %d, %d", g, w, tt.gets, tt.transact)
			}
			got := e.outcome(before, aliceID, contact, r.header.Get("X-Request-Id"))
			if got != tt.outcome {
				t.Errorf("table is as %s the request, want as %s", got, tt.outcome)
			}
			t.Logf("%d after %v, Retry-After %q; attempts: %d GetItem, %d TransactWriteItems; table as %s",
				r.status, elapsed.Round(time.Millisecond), r.header.Get("Retry-After"), p.Requests(get), p.Requests(transact), got)
		})
	}
	t.Run("ErrUnreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		e := newEnv(t, closed)
		wantError(t, e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"x@example.com"`)), http.StatusServiceUnavailable, "")
	})
}

// TestFaultsAtRate sends alice's requests one after another while both
// operations fail at random (seeded) with throttles, lost answers and
// resets: every answer is 204 or 503, no operation is tried more than 3
// times for one request, and after each request the table is exactly as
// before or as after it, a 204 always after.
func TestFaultsAtRate(t *testing.T) {
	const requests = 30
	e, p := newFaultEnv(t)
	if err := p.SetRules(
		faultproxy.Rule{Op: get, Fault: faultproxy.Throttling, Rate: 0.3, Seed: 1},
		faultproxy.Rule{Op: transact, Fault: faultproxy.RequestLimitExceeded, Rate: 0.25, Seed: 2},
		faultproxy.Rule{Op: transact, Fault: faultproxy.InternalServerError.AfterForward(), Rate: 0.2, Seed: 3},
		faultproxy.Rule{Op: transact, Fault: faultproxy.ConnectionReset, Rate: 0.2, Seed: 4},
	); err != nil {
		t.Fatal(err)
	}
	token := e.token(aliceID, domainA)
	statuses := map[int]int{}
	outcomes := map[string]int{}
	before := e.state()
	for i := range requests {
		// Always the values she does not hold, so that a 204 is a change.
		email, phone := "alice.even@example.com", "13900000002"
		if before.Users[aliceID].Email == email {
			email, phone = "alice.odd@example.com", "13900000003"
		}
		e.secret(email, phone)
		gets, transacts := p.Requests(get), p.Requests(transact)
		r := e.put(path(aliceID), token, userBody(`"email":"`+email+`","areacode":"+86","phone":"`+phone+`"`))
		statuses[r.status]++
		if r.status != http.StatusNoContent && r.status != http.StatusServiceUnavailable {
			t.Fatalf("request %d: status %d, want 204 or 503; %s", i, r.status, r.body)
		}
		if g, w := p.Requests(get)-gets, p.Requests(transact)-transacts; g > dynamo.MaxAttemptsPerCall || w > dynamo.MaxAttemptsPerCall {
			t.Errorf("request %d: %d GetItem, %d TransactWriteItems attempts", i, g, w)
		}
		got := e.outcome(before, aliceID, tablecheck.Contact{Email: &email, AreaCode: ptr("+86"), Phone: &phone}, r.header.Get("X-Request-Id"))
		if r.status == http.StatusNoContent && got != "after" {
			t.Fatalf("request %d: 204 but the table is as before", i)
		}
		outcomes[got]++
		if got == "after" {
			before = e.state()
		}
	}
	t.Logf("statuses %v, outcomes %v, faults injected: %d GetItem, %d TransactWriteItems",
		statuses, outcomes, p.Injected(get), p.Injected(transact))
	if statuses[http.StatusNoContent] == 0 || statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("statuses %v: the rates should give both 204 and 503", statuses)
	}
}

// TestTransactWritesPerRequestBounded drives one request into the worst
// case: every transaction fails twice with a 500 (which the SDK retries)
// and then with a race (which the service recomputes and writes again).
// The request must give up with 409 after exactly
// app.MaxTransactWritesPerRequest transactions, having written nothing.
func TestTransactWritesPerRequestBounded(t *testing.T) {
	e, p := newFaultEnv(t)
	if err := p.SetRules(
		faultproxy.Rule{Op: transact, Fault: faultproxy.TransactionCanceled(faultproxy.ReasonTransactionConflict), Every: dynamo.MaxAttemptsPerCall},
		faultproxy.Rule{Op: transact, Fault: faultproxy.InternalServerError},
	); err != nil {
		t.Fatal(err)
	}
	before := e.state()
	e.secret("bounded@example.com")
	r := e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"bounded@example.com"`))
	wantError(t, r, http.StatusConflict, "IAM.0005")
	if app.MaxTransactWritesPerRequest != 9 {
		t.Errorf("MaxTransactWritesPerRequest = %d; the README states 9 (3 writes x 3 SDK attempts)", app.MaxTransactWritesPerRequest)
	}
	if n := p.Requests(transact); n != app.MaxTransactWritesPerRequest {
		t.Errorf("%d TransactWriteItems for one request, want app.MaxTransactWritesPerRequest = %d", n, app.MaxTransactWritesPerRequest)
	}
	if !before.Equal(e.state()) {
		t.Errorf("the table changed: %s", before.Diff(e.state()))
	}
}

// TestUserWithoutVersionIs500: a user item without a valid version could
// never be written (every write is conditional on it); it is a data error,
// answered 500 at once with the attribute named in the log, not a 409
// after three lost "races".
func TestUserWithoutVersionIs500(t *testing.T) {
	e := newEnv(t, "")
	seedStandard(e)
	if _, err := e.client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:        aws.String(e.table),
		Key:              map[string]types.AttributeValue{dynamo.AttrPK: &types.AttributeValueMemberS{Value: "USER#" + aliceID}, dynamo.AttrSK: &types.AttributeValueMemberS{Value: "#USER"}},
		UpdateExpression: aws.String("REMOVE version"),
	}); err != nil {
		t.Fatal(err)
	}
	r := e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"alice.v@example.com"`))
	wantError(t, r, http.StatusInternalServerError, "IAM.0006")
	if !strings.Contains(e.logs.String(), "attribute version missing or not a positive integer") {
		t.Errorf("the log does not name the attribute: %s", e.logs.String())
	}
}

func TestUnexpectedStoreErrorIs500(t *testing.T) {
	key, err := devkeys.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs := &tailbuf.Buffer{}
	client, err := awsconfig.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, err := app.New(context.Background(), app.Config{TableName: "no-such-table", JWKSURL: key.JWKSURL(), Issuer: devkeys.DefaultIssuer, Audience: devkeys.DefaultAudience}, testLogger(logs, 0), client)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	e := &apiEnv{t: t, url: srv.URL, key: key, logs: logs}
	t.Cleanup(e.checkLogs)
	r := e.put(path(aliceID), e.token(aliceID, domainA), userBody(`"email":"x@example.com"`))
	wantError(t, r, http.StatusInternalServerError, "IAM.0006")
	if strings.Contains(r.body, "no-such-table") || strings.Contains(r.body, "ResourceNotFound") {
		t.Errorf("the 500 body leaks internals: %s", r.body)
	}
	if !strings.Contains(logs.String(), "ResourceNotFound") {
		t.Errorf("the log lacks the cause of the 500: %s", logs.String())
	}
}

func ptr(s string) *string { return &s }
