// Package lambdaproxy is the Lambda front door of the API. It tells apart
// the events that can reach the function (API Gateway REST API, HTTP API
// payload 1.0 or 2.0, function URL), serves each to the one http.Handler
// with aws-lambda-go-api-proxy, and returns the proxy response its sender
// expects.
//
// Every outcome, an event that is no HTTP request included, is a proxy
// response: a Lambda error would be API Gateway's bare 502, without our
// request id, and would fire the function-error alarm for a client's
// mistake.
package lambdaproxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Proxy serves Lambda invocations with an http.Handler. As a
// lambda.Handler it gets each raw payload, so even one that is not JSON
// gets a response instead of a Lambda error from the runtime's decoder.
type Proxy struct {
	handler http.Handler
	logger  *slog.Logger
}

// New returns a Proxy serving h. logger gets a line for each event that
// never reached h (h logs the others); nil discards.
func New(h http.Handler, logger *slog.Logger) *Proxy {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Proxy{handler: h, logger: logger}
}

// Invoke returns the JSON proxy response for one event. Its error is
// always nil, and a panic becomes a 500 response.
func (p *Proxy) Invoke(ctx context.Context, payload []byte) (out []byte, _ error) {
	defer func() {
		if v := recover(); v != nil {
			out = p.fail(ctx, "", http.StatusInternalServerError, fmt.Errorf("lambdaproxy: panic: %v", v))
		}
	}()
	resp := p.serve(ctx, payload)
	b, err := json.Marshal(resp)
	if err != nil {
		// The responses are fixed struct types of strings and ints.
		return p.fail(ctx, "", http.StatusInternalServerError, fmt.Errorf("lambdaproxy: encode response: %w", err)), nil
	}
	return b, nil
}

// format is the shape of an event.
type format int

const (
	formatUnknown format = iota
	// formatV1 is an API Gateway REST API proxy event, or an HTTP API
	// event in payload format 1.0: httpMethod, path, headers and
	// multiValueHeaders at the top.
	formatV1
	// formatV2 is an HTTP API event in payload format 2.0, or a function
	// URL event, which has the same shape: version "2.0", rawPath,
	// requestContext.http.method.
	formatV2
)

// probe holds only the members that tell the formats apart, and the
// request id for an event that turns out unusable.
type probe struct {
	Version        string       `json:"version"`
	HTTPMethod     string       `json:"httpMethod"`
	RequestContext probeContext `json:"requestContext"`
}

type probeContext struct {
	RequestID string `json:"requestId"`
	HTTP      struct {
		Method string `json:"method"`
	} `json:"http"`
}

// detect returns the format of payload (Lambda does not say who sent it)
// and the event's request id, if it has one.
func detect(payload []byte) (format, string, error) {
	var pr probe
	if err := json.Unmarshal(payload, &pr); err != nil {
		return formatUnknown, "", err
	}
	return pr.format()
}

// format is detect's answer for the probed members.
func (pr *probe) format() (format, string, error) {
	id := pr.RequestContext.RequestID
	switch {
	case pr.Version == "2.0" && pr.RequestContext.HTTP.Method != "":
		return formatV2, id, nil
	case (pr.Version == "" || pr.Version == "1.0") && pr.HTTPMethod != "":
		return formatV1, id, nil
	}
	return formatUnknown, id, errors.New("neither an API Gateway (payload 1.0 or 2.0) nor a function URL event")
}

// restEvent is a payload 1.0 event with the members of probe, so that a
// REST API's event, the template's, is decoded once rather than twice
// (10-15 % of a warm request with a cached token: BENCHMARKS.md). The
// outer RequestContext shadows the embedded one, which gets what decoding
// into events.APIGatewayProxyRequest would give.
type restEvent struct {
	events.APIGatewayProxyRequest
	Version        string      `json:"version"`
	RequestContext restContext `json:"requestContext"`
}

type restContext struct {
	events.APIGatewayProxyRequestContext
	HTTP struct {
		Method string `json:"method"`
	} `json:"http"`
}

// probe returns the members detect would have read.
func (ev *restEvent) probe() probe {
	pr := probe{Version: ev.Version, HTTPMethod: ev.HTTPMethod}
	pr.RequestContext.RequestID = ev.RequestContext.RequestID
	pr.RequestContext.HTTP.Method = ev.RequestContext.HTTP.Method
	return pr
}

// request returns the payload 1.0 event as decoding it alone would.
func (ev *restEvent) request() events.APIGatewayProxyRequest {
	req := ev.APIGatewayProxyRequest
	req.RequestContext = ev.RequestContext.APIGatewayProxyRequestContext
	return req
}

// serve returns the proxy response for payload.
func (p *Proxy) serve(ctx context.Context, payload []byte) any {
	// One pass decodes a REST API event and probes any other, which is
	// then decoded as what it is. Where it fails (a member of another
	// type, or no JSON), detect decides, with encoding/json's errors.
	// jsonv1 is encoding/json's semantics on a faster decoder
	// (FuzzRestEventDecode holds them equal; BENCHMARKS.md has the gain).
	var rest restEvent
	decoded := jsonv1.Unmarshal(payload, &rest) == nil
	var (
		f         format
		requestID string
		err       error
	)
	if decoded {
		pr := rest.probe()
		f, requestID, err = pr.format()
	} else {
		f, requestID, err = detect(payload)
	}
	if err != nil {
		return p.failResponse(ctx, requestID, http.StatusBadRequest, fmt.Errorf("lambdaproxy: unrecognised event: %w", err))
	}
	// served tells a conversion failure (the handler never ran: the
	// client's event is at fault) from a failure after the handler ran.
	served := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = true
		p.handler.ServeHTTP(w, r)
	})
	var resp any
	switch f {
	case formatV1:
		var ev events.APIGatewayProxyRequest
		if decoded {
			ev = rest.request()
		} else if err := json.Unmarshal(payload, &ev); err != nil {
			return p.failResponse(ctx, requestID, http.StatusBadRequest, fmt.Errorf("lambdaproxy: payload 1.0 event: %w", err))
		}
		normaliseV1(&ev)
		if err := convertible(ev.HTTPMethod, ev.RequestContext.DomainName+slash(ev.Path), ev.Body, ev.IsBase64Encoded); err != nil {
			return p.failResponse(ctx, requestID, http.StatusBadRequest, err)
		}
		resp, err = httpadapter.New(h).ProxyWithContext(ctx, ev)
	case formatV2:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return p.failResponse(ctx, requestID, http.StatusBadRequest, fmt.Errorf("lambdaproxy: payload 2.0 event: %w", err))
		}
		normaliseV2(&ev)
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path
		}
		target := ev.RequestContext.DomainName + slash(path)
		if ev.RawQueryString != "" {
			target += "?" + ev.RawQueryString
		}
		if err := convertible(ev.RequestContext.HTTP.Method, target, ev.Body, ev.IsBase64Encoded); err != nil {
			return p.failResponse(ctx, requestID, http.StatusBadRequest, err)
		}
		resp, err = httpadapter.NewV2(h).ProxyWithContext(ctx, ev)
	}
	if err != nil {
		if !served {
			// convertible missed a case; the adapter has printed why.
			return p.failResponse(ctx, requestID, http.StatusBadRequest, errors.New("lambdaproxy: the event does not form an HTTP request"))
		}
		return p.failResponse(ctx, requestID, http.StatusInternalServerError, fmt.Errorf("lambdaproxy: %w", err))
	}
	return resp
}

// convertible returns why the adapter could not turn an event into a
// request (it checks the base64 body, then http.NewRequest's method and
// URL), or nil. The adapter would print the event's method and path
// outside our redacted log; checked here, it never gets such an event. The
// errors quote nothing from the event.
func convertible(method, target, body string, base64Body bool) error {
	if base64Body {
		if _, err := base64.StdEncoding.DecodeString(body); err != nil {
			return errors.New("lambdaproxy: the body is marked base64 but is not")
		}
	}
	method = strings.ToUpper(method)
	if method != "" && strings.IndexFunc(method, notToken) >= 0 {
		return errors.New("lambdaproxy: the method is not an HTTP token")
	}
	if _, err := url.Parse("https://" + target); err != nil {
		return errors.New("lambdaproxy: the path does not form a URL")
	}
	return nil
}

// notToken reports whether r may not appear in an HTTP method (RFC 9110
// token characters).
func notToken(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// slash prefixes path with "/" as the adapter does.
func slash(path string) string {
	if strings.HasPrefix(path, "/") {
		return path
	}
	return "/" + path
}

// normaliseV1 works around the adapter reading only multiValueHeaders when
// the event has them (even empty): API Gateway fills both maps alike, but a
// hand-made test event may have X-Auth-Token only in headers, and the
// adapter would drop it. The multi-value map wins for a name in both.
// Query parameters likewise.
func normaliseV1(ev *events.APIGatewayProxyRequest) {
	ev.MultiValueHeaders = merge(ev.MultiValueHeaders, ev.Headers, textproto.CanonicalMIMEHeaderKey)
	ev.MultiValueQueryStringParameters = merge(ev.MultiValueQueryStringParameters, ev.QueryStringParameters, func(s string) string { return s })
}

// merge adds to multi each entry of single whose key, after canon, multi
// lacks. An empty multi becomes nil: the adapter then reads single itself.
func merge(multi map[string][]string, single map[string]string, canon func(string) string) map[string][]string {
	if len(multi) == 0 {
		return nil
	}
	have := make(map[string]bool, len(multi))
	for k := range multi {
		have[canon(k)] = true
	}
	for k, v := range single {
		if !have[canon(k)] {
			multi[k] = []string{v}
		}
	}
	return multi
}

// normaliseV2 removes a named stage from the path: an HTTP API stage other
// than $default prefixes rawPath with its name (aws-lambda-go-api-proxy
// issue #130), and /prod/v3.0/... would answer 404.
func normaliseV2(ev *events.APIGatewayV2HTTPRequest) {
	stage := ev.RequestContext.Stage
	if stage == "" || stage == "$default" {
		return
	}
	ev.RawPath = trimStage(ev.RawPath, stage)
	ev.RequestContext.HTTP.Path = trimStage(ev.RequestContext.HTTP.Path, stage)
}

func trimStage(path, stage string) string {
	prefix := "/" + stage
	if path == prefix {
		return "/"
	}
	if strings.HasPrefix(path, prefix+"/") {
		return path[len(prefix):]
	}
	return path
}

// failure is the response to an event the handler could not answer: only
// the members every sender reads.
type failure struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// failureBody is the API's error body, as httpapi writes it.
type failureBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

// failures are the two answers made here rather than by the handler, with
// httpapi's codes for them (a test holds them equal).
var failures = map[int]failureBody{
	http.StatusBadRequest:          {ErrorCode: "IAM.0011", ErrorMsg: "The request is invalid."},
	http.StatusInternalServerError: {ErrorCode: "IAM.0006", ErrorMsg: "An internal error occurred."},
}

// failResponse logs err and returns the response for status, with the
// event's request id, else the invocation's.
func (p *Proxy) failResponse(ctx context.Context, requestID string, status int, err error) failure {
	if requestID == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			requestID = lc.AwsRequestID
		}
	}
	body := failures[status]
	body.RequestID = requestID
	b, _ := json.Marshal(body) // strings only: cannot fail
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	p.logger.LogAttrs(ctx, level, "request",
		slog.String("request_id", requestID),
		slog.Int("status", status),
		slog.String("error_code", body.ErrorCode),
		// Redacted as the handler's log line is: an event's JSON error may
		// quote a number from it, a panic value anything.
		slog.String("error", userinfo.Redact(err.Error())),
	)
	return failure{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":           "application/json",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
			"X-Request-Id":           requestID,
		},
		Body: string(b),
	}
}

// fail is failResponse, encoded.
func (p *Proxy) fail(ctx context.Context, requestID string, status int, err error) []byte {
	b, _ := json.Marshal(p.failResponse(ctx, requestID, status, err)) // cannot fail, as above
	return b
}
