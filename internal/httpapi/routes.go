package httpapi

import (
	"net/http"
	"path"
	"strings"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// userInfoPath is the one resource of the API.
const userInfoPath = "/v3.0/OS-USER/users/{user_id}/info"

// Route is the PUT route in ServeMux's pattern syntax, which is also API
// Gateway's. The SAM template sends every method and path to the function
// (infra/samtemplate's tests check it).
const Route = http.MethodPut + " " + userInfoPath

// verificationPath takes the codes of changes an account verifies.
const verificationPath = userInfoPath + "/verification"

// VerificationRoute is the route that applies a verified change.
const VerificationRoute = http.MethodPost + " " + verificationPath

// addRoutes lists the whole API surface. The method-less twin of each
// route answers 405 with a JSON body and Allow (ServeMux's 405 is plain
// text), and "/" a JSON 404 for every other path.
func addRoutes(mux *http.ServeMux, cfg Config, auth Authenticator, svc *userinfo.Service) {
	mux.Handle(Route, routed(handlePutUserInfo(cfg, auth, svc)))
	mux.Handle(userInfoPath, routed(handleMethodNotAllowed(http.MethodPut)))
	mux.Handle(VerificationRoute, routed(handleVerify(cfg, auth, svc)))
	mux.Handle(verificationPath, routed(handleMethodNotAllowed(http.MethodPost)))
	// Not routed: the log's route stays empty, so scanners do not show
	// under "/".
	mux.Handle("/", handleNotFound())
}

// routed records the matched pattern and the path's user id for the log.
func routed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeFrom(r.Context())
		ex.route = r.Pattern
		ex.userID = r.PathValue("user_id")
		next.ServeHTTP(w, r)
	})
}

// canonicalPathsOnly answers 404 for a request ServeMux would redirect
// (//x, /a/../b, /a/./b, or CONNECT): an API client never needs the
// redirect, which has no JSON body.
func canonicalPathsOnly(mux http.Handler) http.Handler {
	notFound := handleNotFound()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || !isCanonicalPath(r.URL.EscapedPath()) {
			notFound.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// isCanonicalPath reports whether ServeMux would route p as it is, without
// redirecting to a cleaned form.
func isCanonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
