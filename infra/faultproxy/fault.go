package faultproxy

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DynamoDB's JSON protocol: the operation travels in X-Amz-Target and an
// error's type in the body's __type, both with these prefixes.
const (
	targetPrefix = "DynamoDB_20120810."
	typePrefix   = "com.amazonaws.dynamodb.v20120810#"
	// ContentType is the Content-Type of every DynamoDB answer, errors
	// included; the SDK decodes an error body only with it.
	ContentType = "application/x-amz-json-1.0"
)

// Fault is what the proxy does to a request a Rule picks. The zero Fault
// forwards the request untouched. Build one with Error, TransactionCanceled,
// Delay or ConnectionReset, and AfterForward.
type Fault struct {
	name    string
	status  int    // an error answer's HTTP status; 0 when the fault is not an answer
	errType string // the __type's short name; "" for an empty body
	message string
	reason  string // TransactionCanceledException: the first item's cancellation code
	reset   bool
	delay   time.Duration
	forward bool
}

// The DynamoDB errors a throttled or failing table answers with. The
// messages are DynamoDB's; the SDK reads only the status and __type.
var (
	// ProvisionedThroughputExceeded is a provisioned table's throttle.
	ProvisionedThroughputExceeded = errorFault(http.StatusBadRequest, "ProvisionedThroughputExceededException",
		"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.")
	// Throttling is an on-demand table's (or the control plane's) throttle.
	Throttling = errorFault(http.StatusBadRequest, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
	// RequestLimitExceeded is the account-level throughput limit.
	RequestLimitExceeded = errorFault(http.StatusBadRequest, "RequestLimitExceeded",
		"Throughput exceeds the current throughput limit for your account. Please contact AWS Support at https://aws.amazon.com/support request a limit increase")
	// InternalServerError is DynamoDB's HTTP 500.
	InternalServerError = errorFault(http.StatusInternalServerError, "InternalServerError", "Internal server error")
	// ConnectionReset closes the connection with a TCP RST instead of
	// answering, as a failing load balancer does.
	ConnectionReset = Fault{name: "ConnectionReset", reset: true}
)

// Cancellation codes DynamoDB puts in a TransactionCanceledException.
const (
	ReasonThrottling          = "ThrottlingError"
	ReasonTransactionConflict = "TransactionConflict"
	ReasonNone                = "None"
)

// Error returns a fault that answers with HTTP status and a DynamoDB error
// body of type errType (the short name, e.g. "ThrottlingException"); an
// empty errType sends an empty body, as a proxy in front of DynamoDB might.
func Error(status int, errType string) Fault {
	return errorFault(status, errType, "injected by faultproxy")
}

func errorFault(status int, errType, message string) Fault {
	name := errType
	if name == "" {
		name = "HTTP" + strconv.Itoa(status)
	}
	return Fault{name: name, status: status, errType: errType, message: message}
}

// TransactionCanceled returns a fault that answers HTTP 400
// TransactionCanceledException with one CancellationReason per item of the
// request's TransactItems, as DynamoDB does: code for the first item (the
// one a store usually puts first and races on) and None for the others.
func TransactionCanceled(code string) Fault {
	return Fault{name: "TransactionCanceled/" + code, status: http.StatusBadRequest,
		errType: "TransactionCanceledException", reason: code}
}

// Delay returns a fault that holds the request for d before forwarding it.
// If the client gives up first, the request is never forwarded: a slow
// answer that DynamoDB never saw.
func Delay(d time.Duration) Fault {
	return Fault{name: "Delay(" + d.String() + ")", delay: d}
}

// AfterForward returns f applied after DynamoDB Local has executed the
// request: its answer is thrown away and f's taken instead (an error, a
// reset), or for a Delay held back for the delay. It is a lost response:
// the write happened, the client does not know.
func (f Fault) AfterForward() Fault {
	f.forward = true
	f.name += "/AfterForward"
	return f
}

// String names the fault, for subtest names and messages.
func (f Fault) String() string {
	if f.name == "" {
		return "None"
	}
	return f.name
}

// errorBody is a DynamoDB error document.
type errorBody struct {
	Type    string   `json:"__type"`
	Message string   `json:"message"`
	Reasons []reason `json:"CancellationReasons,omitempty"`
}

type reason struct {
	Code    string `json:"Code"`
	Message string `json:"Message,omitempty"`
}

var reasonMessages = map[string]string{
	ReasonThrottling:          "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.",
	ReasonTransactionConflict: "Transaction is ongoing for the item",
}

// writeError writes f's error answer to a request whose body was reqBody.
// Like DynamoDB it sends x-amz-crc32, so a client that validates response
// checksums (the SDK's default against real DynamoDB) accepts it.
func writeError(w http.ResponseWriter, f Fault, reqBody []byte) {
	var body []byte
	if f.errType != "" {
		doc := errorBody{Type: typePrefix + f.errType, Message: f.message}
		if f.reason != "" {
			doc.Reasons = cancellationReasons(f.reason, transactItems(reqBody))
			codes := make([]string, len(doc.Reasons))
			for i, r := range doc.Reasons {
				codes[i] = r.Code
			}
			doc.Message = "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]"
		}
		body, _ = json.Marshal(doc) // plain strings: cannot fail
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("X-Amzn-Requestid", fmt.Sprintf("FAULTPROXY%022d", time.Now().UnixNano()))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.status)
	_, _ = w.Write(body)
}

func cancellationReasons(code string, n int) []reason {
	rs := make([]reason, max(n, 1))
	for i := range rs {
		rs[i] = reason{Code: ReasonNone}
	}
	rs[0] = reason{Code: code, Message: reasonMessages[code]}
	return rs
}

// transactItems returns how many items a TransactWriteItems (or
// TransactGetItems) body holds; 0 for any other body.
func transactItems(body []byte) int {
	var req struct {
		TransactItems []json.RawMessage `json:"TransactItems"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	return len(req.TransactItems)
}

// resetConnection takes the connection from net/http and closes it with
// SO_LINGER 0, which sends a TCP RST: the client reads "connection reset by
// peer", not a clean EOF.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): aborting the handler still drops the
		// connection without an answer.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
