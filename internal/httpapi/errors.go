package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Error codes of conditions only the HTTP edge meets, beside userinfo's.
// They travel as *userinfo.Error, so one table maps them all.
const (
	EMETHOD   = "method_not_allowed" // the path exists, the method does not
	ETOOLARGE = "too_large"          // the body is over MaxBodyBytes
)

// iamInvalidField is the IAM code of an EINVALID error that names a field;
// other EINVALID errors keep the table's IAM.0011.
const iamInvalidField = "IAM.0073"

// errorKind is how one error code is answered.
type errorKind struct {
	status  int
	iamCode string
	// message is shown when the error has no caller-safe message of its own.
	message string
}

// Messages said in more than one place.
const (
	msgUnauthorized = "The token is missing, invalid or expired."
	msgNotFound     = "The requested resource was not found."
	msgInternal     = "An internal error occurred."
	msgOutOfTime    = "The request ran out of time; retry it."
	msgNotJSON      = "The Content-Type header must be application/json."
)

// errorKinds is the one table from error code to HTTP status and IAM error
// code. A code missing from it is answered as EINTERNAL.
var errorKinds = map[string]errorKind{
	userinfo.EINVALID:      {http.StatusBadRequest, "IAM.0011", "The request is invalid."},
	userinfo.EUNAUTHORIZED: {http.StatusUnauthorized, "IAM.0001", msgUnauthorized},
	userinfo.EFORBIDDEN:    {http.StatusForbidden, "IAM.0002", "Access denied."},
	userinfo.ENOTFOUND:     {http.StatusNotFound, "IAM.0004", msgNotFound},
	EMETHOD:                {http.StatusMethodNotAllowed, "IAM.0013", "The method is not allowed for this resource."},
	userinfo.ECONFLICT:     {http.StatusConflict, "IAM.0005", "The request conflicts with the current state of the user."},
	ETOOLARGE:              {http.StatusRequestEntityTooLarge, "IAM.0012", "The request body is too large."},
	userinfo.EINTERNAL:     {http.StatusInternalServerError, "IAM.0006", msgInternal},
	userinfo.EUNAVAILABLE:  {http.StatusServiceUnavailable, "IAM.0007", "The service is temporarily unavailable; retry the request."},
	userinfo.ETOOMANY:      {http.StatusTooManyRequests, "IAM.0014", "Too many requests; retry later."},
}

// RetryAfterSeconds is the Retry-After of every 503: each is transient
// (throttling, a slow dependency, a deadline).
const RetryAfterSeconds = 1

// ErrorAnswer is how the API answers one kind of error.
type ErrorAnswer struct {
	Status  int
	IAMCode string
	// Message is the error_msg given when the error carries none of its own.
	Message string
}

// ErrorAnswers returns the answer of each error status. API Gateway's own
// answers (the SAM template's gateway responses and firewall responses)
// must give the same; infra/samtemplate's tests compare them.
func ErrorAnswers() map[int]ErrorAnswer {
	out := make(map[int]ErrorAnswer, len(errorKinds))
	for _, k := range errorKinds {
		out[k.status] = ErrorAnswer{Status: k.status, IAMCode: k.iamCode, Message: k.message}
	}
	return out
}

// errorCode returns the code err is answered with. An unclassified context
// error means the request ran out of time or the caller left: 503, not 500.
func errorCode(err error) string {
	code := userinfo.ErrorCode(err)
	if code == userinfo.EINTERNAL && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return userinfo.EUNAVAILABLE
	}
	if _, ok := errorKinds[code]; !ok {
		return userinfo.EINTERNAL
	}
	return code
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

// respondError writes err as an error response and records it for the log
// line. Only a *userinfo.Error's message reaches the caller, and only under
// the code it was raised with; any other text stays in the log.
func respondError(w http.ResponseWriter, r *http.Request, err error) {
	code := errorCode(err)
	kind := errorKinds[code]
	msg := kind.message
	if userinfo.ErrorCode(err) == code && code != userinfo.EINTERNAL {
		msg = userinfo.ErrorMessage(err)
	}
	iamCode := kind.iamCode
	if code == userinfo.EINVALID && userinfo.ErrorField(err) != "" {
		iamCode = iamInvalidField
	}

	ex := exchangeFrom(r.Context())
	ex.err, ex.iamCode = err, iamCode
	switch {
	case kind.status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	case userinfo.ErrorRetryAfter(err) > 0:
		// Whole seconds, rounded up: a retry a moment early fails again.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(userinfo.ErrorRetryAfter(err).Seconds()))))
	}
	encode(w, kind.status, errorBody{ErrorCode: iamCode, ErrorMsg: msg, RequestID: ex.requestID})
}
