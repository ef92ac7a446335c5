package faultproxy_test

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/faultproxy"
)

// upstream stands in for DynamoDB Local: it answers every request with an
// empty JSON object and counts what reached it. These tests are about the
// proxy, so they need no JVM.
type upstream struct {
	*httptest.Server
	calls atomic.Int32
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.calls.Add(1)
		w.Header().Set("Content-Type", faultproxy.ContentType)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func newProxy(t *testing.T, target string, rules ...faultproxy.Rule) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target, rules...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// send posts body as operation op and returns the status, or the error.
func send(ctx context.Context, url, op, body string) (int, http.Header, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Content-Type", faultproxy.ContentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b), err
}

// sdk returns a DynamoDB client on url that validates response checksums,
// as it does against real DynamoDB, and does not retry.
func sdk(url string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

// TestErrorShapesDecodeAsTypedErrors checks the proxy's answers against the
// SDK itself: each must come back as the SDK's typed error, with checksum
// validation on.
func TestErrorShapesDecodeAsTypedErrors(t *testing.T) {
	up := newUpstream(t)
	getItem := func(c *dynamodb.Client) error {
		_, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}})
		return err
	}
	transact := func(c *dynamodb.Client) error {
		cc := func(pk string) types.TransactWriteItem {
			return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String("t"),
				Key:                 map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
				ConditionExpression: aws.String("attribute_exists(pk)")}}
		}
		_, err := c.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{cc("a"), cc("b"), cc("c")}})
		return err
	}
	tests := []struct {
		fault faultproxy.Fault
		call  func(*dynamodb.Client) error
		check func(error) bool
	}{
		{faultproxy.ProvisionedThroughputExceeded, getItem, func(err error) bool {
			return errors.As(err, new(*types.ProvisionedThroughputExceededException))
		}},
		{faultproxy.Throttling, getItem, func(err error) bool { return errors.As(err, new(*types.ThrottlingException)) }},
		{faultproxy.RequestLimitExceeded, getItem, func(err error) bool { return errors.As(err, new(*types.RequestLimitExceeded)) }},
		{faultproxy.InternalServerError, transact, func(err error) bool { return errors.As(err, new(*types.InternalServerError)) }},
		{faultproxy.TransactionCanceled(faultproxy.ReasonThrottling), transact, func(err error) bool {
			var tce *types.TransactionCanceledException
			return errors.As(err, &tce) && len(tce.CancellationReasons) == 3 &&
				aws.ToString(tce.CancellationReasons[0].Code) == faultproxy.ReasonThrottling &&
				aws.ToString(tce.CancellationReasons[2].Code) == faultproxy.ReasonNone
		}},
		{faultproxy.TransactionCanceled(faultproxy.ReasonTransactionConflict), transact, func(err error) bool {
			var tce *types.TransactionCanceledException
			return errors.As(err, &tce) && len(tce.CancellationReasons) == 3 &&
				aws.ToString(tce.CancellationReasons[0].Code) == faultproxy.ReasonTransactionConflict
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			p := newProxy(t, up.URL, faultproxy.Rule{Fault: tt.fault})
			before := up.calls.Load()
			err := tt.call(sdk(p.URL()))
			if !tt.check(err) {
				t.Fatalf("err = %v (%T), not the typed error", err, err)
			}
			if up.calls.Load() != before {
				t.Errorf("a faulted request reached DynamoDB")
			}
		})
	}
}

func TestErrorAnswer(t *testing.T) {
	p := newProxy(t, newUpstream(t).URL, faultproxy.Rule{Fault: faultproxy.Throttling})
	status, h, body, err := send(context.Background(), p.URL(), "GetItem", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusBadRequest || h.Get("Content-Type") != faultproxy.ContentType {
		t.Errorf("status %d, Content-Type %q", status, h.Get("Content-Type"))
	}
	if !strings.Contains(body, `"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"`) {
		t.Errorf("body %s", body)
	}
	if h.Get("X-Amz-Crc32") != strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10) {
		t.Errorf("x-amz-crc32 %q does not match the body", h.Get("X-Amz-Crc32"))
	}
}

func TestModes(t *testing.T) {
	up := newUpstream(t)
	tests := []struct {
		name string
		rule faultproxy.Rule
		want string // per request: F faulted, . forwarded
	}{
		{"FirstTwo", faultproxy.Rule{Op: "GetItem", Fault: faultproxy.Throttling, First: 2}, "FF...."},
		{"EveryThird", faultproxy.Rule{Op: "GetItem", Fault: faultproxy.Throttling, Every: 3}, "..F..F"},
		{"Always", faultproxy.Rule{Op: "GetItem", Fault: faultproxy.Throttling}, "FFFFFF"},
		{"OtherOperation", faultproxy.Rule{Op: "PutItem", Fault: faultproxy.Throttling}, "......"},
		{"RateZeroPointFive", faultproxy.Rule{Fault: faultproxy.Throttling, Rate: 0.5, Seed: 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProxy(t, up.URL, tt.rule)
			n := len(tt.want)
			if n == 0 {
				n = 200
			}
			var got strings.Builder
			for range n {
				status, _, _, err := send(context.Background(), p.URL(), "GetItem", `{}`)
				if err != nil {
					t.Fatal(err)
				}
				got.WriteByte(map[bool]byte{true: 'F', false: '.'}[status == http.StatusBadRequest])
			}
			faulted := strings.Count(got.String(), "F")
			if tt.want != "" && got.String() != tt.want {
				t.Errorf("pattern %s, want %s", got.String(), tt.want)
			}
			if tt.want == "" && (faulted < 70 || faulted > 130) {
				t.Errorf("%d of 200 faulted at rate 0.5", faulted)
			}
			if p.Requests("GetItem") != n || p.Injected("GetItem") != faulted {
				t.Errorf("counted %d requests, %d injected; want %d, %d", p.Requests("GetItem"), p.Injected("GetItem"), n, faulted)
			}
		})
	}
}

func TestFirstIsExactUnderConcurrency(t *testing.T) {
	p := newProxy(t, newUpstream(t).URL, faultproxy.Rule{Fault: faultproxy.InternalServerError, First: 10})
	var wg sync.WaitGroup
	var faulted atomic.Int32
	for range 40 {
		wg.Go(func() {
			if status, _, _, err := send(context.Background(), p.URL(), "GetItem", `{}`); err == nil && status == 500 {
				faulted.Add(1)
			}
		})
	}
	wg.Wait()
	if faulted.Load() != 10 || p.Requests("GetItem") != 40 {
		t.Errorf("%d faulted of %d; want 10 of 40", faulted.Load(), p.Requests("GetItem"))
	}
}

func TestLostAndSlowAnswers(t *testing.T) {
	tests := []struct {
		name      string
		fault     faultproxy.Fault
		timeout   time.Duration
		forwarded bool
		reset     bool // the client sees a reset connection, not a timeout
	}{
		{"ResetNotForwarded", faultproxy.ConnectionReset, 5 * time.Second, false, true},
		{"ResetAfterForward", faultproxy.ConnectionReset.AfterForward(), 5 * time.Second, true, true},
		{"DelayNotForwarded", faultproxy.Delay(time.Minute), 200 * time.Millisecond, false, false},
		{"DelayAfterForward", faultproxy.Delay(time.Minute).AfterForward(), 200 * time.Millisecond, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t)
			p := newProxy(t, up.URL, faultproxy.Rule{Fault: tt.fault})
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			begin := time.Now()
			_, _, _, err := send(ctx, p.URL(), "TransactWriteItems", `{"TransactItems":[{}]}`)
			if err == nil {
				t.Fatal("the client got an answer")
			}
			if tt.reset != errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("err = %v; want a reset: %v", err, tt.reset)
			}
			if d := time.Since(begin); d > tt.timeout+time.Second {
				t.Errorf("took %v", d)
			}
			if got := up.calls.Load() == 1; got != tt.forwarded {
				t.Errorf("forwarded = %v, want %v", got, tt.forwarded)
			}
		})
	}
	t.Run("DelayShorterThanDeadline", func(t *testing.T) {
		up := newUpstream(t)
		p := newProxy(t, up.URL, faultproxy.Rule{Fault: faultproxy.Delay(50 * time.Millisecond).AfterForward()})
		begin := time.Now()
		status, _, body, err := send(context.Background(), p.URL(), "GetItem", `{}`)
		if err != nil || status != 200 || body != "{}" || time.Since(begin) < 50*time.Millisecond {
			t.Errorf("status %d body %q err %v after %v", status, body, err, time.Since(begin))
		}
	})
	t.Run("CloseReleasesHeldRequests", func(t *testing.T) {
		p, err := faultproxy.New(newUpstream(t).URL, faultproxy.Rule{Fault: faultproxy.Delay(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, _, _, err := send(context.Background(), p.URL(), "GetItem", `{}`); done <- err }()
		for p.Requests("GetItem") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		begin := time.Now()
		p.Close()
		if d := time.Since(begin); d > 2*time.Second {
			t.Errorf("Close took %v", d)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the held request is still waiting after Close")
		}
	})
}

func TestInvalidRules(t *testing.T) {
	for name, r := range map[string]faultproxy.Rule{
		"ErrTwoModes":     {First: 1, Every: 2},
		"ErrNegative":     {First: -1},
		"ErrRateAboveOne": {Rate: 1.5},
		"ErrTargetPrefix": {Op: "DynamoDB_20120810.GetItem"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := faultproxy.New("http://127.0.0.1:1", r); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := faultproxy.New("127.0.0.1:8000"); err == nil {
		t.Error("accepted a target without a scheme")
	}
}
