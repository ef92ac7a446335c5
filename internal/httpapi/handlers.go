package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// tokenHeader carries the caller's token, as the reference specifies.
const tokenHeader = "X-Auth-Token"

// handlePutUserInfo changes the caller's email and/or mobile number: 204,
// or 202 with where the codes went (pendingBody) in an account that
// verifies changes.
func handlePutUserInfo(cfg Config, auth Authenticator, svc *userinfo.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, user, upd, err := checkRequest(w, r, cfg, auth, svc, decodeUpdate)
		var requested []userinfo.Requested
		if err == nil {
			// UpdateContact validates the values first.
			requested, err = svc.UpdateContact(ctx, p, user, upd, requestMeta(ctx))
		}
		if err != nil {
			respondError(w, r, err)
			return
		}
		if len(requested) > 0 {
			encode(w, http.StatusAccepted, newPendingBody(requested))
			return
		}
		// No Content-Type: there is no content, and API Gateway passes an
		// empty header through as is.
		w.WriteHeader(http.StatusNoContent)
	})
}

// pendingBody is the 202 answer: where each code went, masked, and when it
// expires.
type pendingBody struct {
	Pending map[string]pendingField `json:"pending"`
}

type pendingField struct {
	To        string `json:"to"`
	ExpiresAt string `json:"expires_at"`
}

func newPendingBody(requested []userinfo.Requested) pendingBody {
	b := pendingBody{Pending: map[string]pendingField{}}
	for _, q := range requested {
		b.Pending[q.Field] = pendingField{To: q.To, ExpiresAt: q.ExpiresAt.UTC().Format(time.RFC3339)}
	}
	return b
}

// handleVerify applies the pending changes whose codes the body holds, and
// answers 204.
func handleVerify(cfg Config, auth Authenticator, svc *userinfo.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, user, codes, err := checkRequest(w, r, cfg, auth, svc, decodeCodes)
		if err == nil {
			err = svc.Verify(ctx, p, user, codes, requestMeta(ctx))
		}
		if err != nil {
			respondError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// checkRequest runs the checks both routes make before their store write,
// in the contract's order, and returns the first error: the token, the
// caller against the path's user (which reads the user), then the body,
// decoded by decodeBody. The time left is checked before each store step:
// the read, then the write.
//
// The token and the caller come before the body, so a caller who fails them
// learns nothing of how its body would be judged, and the handler does not
// read it (under Lambda the event already holds it).
func checkRequest[B any](w http.ResponseWriter, r *http.Request, cfg Config, auth Authenticator, svc *userinfo.Service,
	decodeBody func(http.ResponseWriter, *http.Request) (B, error)) (p userinfo.Principal, user *userinfo.User, body B, err error) {
	ctx := r.Context()
	if p, err = authenticate(ctx, auth, r.Header); err != nil {
		return
	}
	if err = checkTimeLeft(ctx, cfg.DeadlineMargin); err != nil {
		return
	}
	if user, err = svc.Authorize(ctx, p, r.PathValue("user_id")); err != nil {
		return
	}
	if body, err = decodeBody(w, r); err != nil {
		return
	}
	err = checkTimeLeft(ctx, cfg.DeadlineMargin)
	return
}

// requestMeta is what the audit trail and the messages say of the request.
func requestMeta(ctx context.Context) userinfo.RequestMeta {
	ex := exchangeFrom(ctx)
	return userinfo.RequestMeta{RequestID: ex.requestID, SourceIP: ex.sourceIP}
}

// handleMethodNotAllowed answers 405 for a known path with another method.
func handleMethodNotAllowed(allow string) http.Handler {
	err := userinfo.Errorf(EMETHOD, "The method is not allowed for this resource; use %s.", allow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		respondError(w, r, err)
	})
}

// handleNotFound answers 404 for any path the API does not have.
func handleNotFound() http.Handler {
	err := userinfo.Errorf(userinfo.ENOTFOUND, msgNotFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondError(w, r, err)
	})
}

// authenticate returns the principal named by the request's token. It
// returns EUNAUTHORIZED for no token, more than one (proxies may disagree
// on which counts) or one the Authenticator rejects, and EUNAVAILABLE when
// the Authenticator could not decide.
func authenticate(ctx context.Context, auth Authenticator, h http.Header) (userinfo.Principal, error) {
	tokens := h.Values(tokenHeader)
	if len(tokens) != 1 || tokens[0] == "" {
		return userinfo.Principal{}, userinfo.Errorf(userinfo.EUNAUTHORIZED, "Exactly one X-Auth-Token header with a token is required.")
	}
	token := tokens[0]
	p, err := auth.Verify(ctx, token)
	if err != nil {
		return userinfo.Principal{}, authError(err, token)
	}
	if p.UserID == "" {
		// Fail closed on an Authenticator bug.
		return userinfo.Principal{}, userinfo.Errorf(userinfo.EUNAUTHORIZED, msgUnauthorized)
	}
	return p, nil
}

// authError turns a Verify error into the caller's: EUNAVAILABLE when the
// Authenticator could not decide, else EUNAUTHORIZED with the
// Authenticator's message if it gave an EUNAUTHORIZED one. The cause kept
// for the log (err's own, when the new error restates err) has the token
// cut out: a verifier library's error text may quote it.
func authError(err error, token string) error {
	code, msg := userinfo.EUNAUTHORIZED, msgUnauthorized
	switch errorCode(err) {
	case userinfo.EUNAVAILABLE:
		code, msg = userinfo.EUNAVAILABLE, "The token could not be verified now; retry the request."
	case userinfo.EUNAUTHORIZED:
		msg = userinfo.ErrorMessage(err)
	}
	cause := err
	if e, ok := err.(*userinfo.Error); ok && e.Code == code {
		cause = e.Err
	}
	if cause != nil {
		cause = withoutSecret(cause, token)
	}
	return &userinfo.Error{Code: code, Message: msg, Err: cause}
}

// errDeadlineNear is the logged cause of a request refused for lack of time.
var errDeadlineNear = errors.New("httpapi: too little time left before the deadline to call the store")

// checkTimeLeft returns EUNAVAILABLE when ctx is done or has less than
// margin left: a cut-off write leaves the caller not knowing whether it
// happened.
func checkTimeLeft(ctx context.Context, margin time.Duration) error {
	if err := ctx.Err(); err != nil {
		return userinfo.Unavailable(err, msgOutOfTime)
	}
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < margin {
			return userinfo.Unavailable(fmt.Errorf("%w (%v left)", errDeadlineNear, left.Round(time.Millisecond)), msgOutOfTime)
		}
	}
	return nil
}
