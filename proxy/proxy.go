package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ReservedPrefix is Gatehouse's own part of the URL space; requests under
// it are never forwarded.
const ReservedPrefix = "/gatehouse/"

// Principal is an authenticated caller.
type Principal interface {
	UserID() string
	Username() string
	// Subject returns the caller's policy subject.
	Subject() string
	// IdentityHeaders returns the identity headers' values as they are now.
	IdentityHeaders() IdentityHeaders
}

// IdentityHeaders are the values of the identity headers Gatehouse sets;
// a nil slice leaves the header unset. The slices are shared: the data
// plane never modifies them, which lets an implementation build them once
// instead of per request.
type IdentityHeaders struct {
	User          []string // X-Forwarded-User
	ID            []string // X-Forwarded-User-Id
	Email         []string // X-Forwarded-Email
	EmailVerified []string // X-Forwarded-Email-Verified: "true" when an admin set the email, "false" when the user did
	Groups        []string // X-Forwarded-Groups: the roles, comma-separated
}

// Authenticator turns a request's credential into a principal. It returns
// a nil Principal and a nil error for a credential that is not valid; an
// error means the credential could not be checked, and the request fails
// closed (503).
type Authenticator interface {
	Authenticate(c Credential) (Principal, error)
}

// Scheme is the scheme of an Authorization header.
type Scheme uint8

// Schemes of credentials. SchemeOther is any other scheme, or a header
// without a credential: always a bad credential.
const (
	SchemeOther Scheme = iota
	SchemeBearer
	SchemeBasic
)

// Credential is what a request's Authorization header presents. It is
// passed by value and refers to the header's own string, so reading it
// allocates nothing.
type Credential struct {
	Scheme Scheme
	// Value is the bearer token, or for Basic the base64 of
	// "name:password" as sent (the control plane decodes it); "" for
	// SchemeOther.
	Value string
}

// Decision is an authorization outcome.
type Decision struct {
	Allowed bool
	// Permission is the permission that allowed the request, for metrics.
	Permission string
}

// Authorizer decides a request on its canonical path. p is nil for an
// anonymous request. An error means no decision could be made; the
// request fails closed (503).
type Authorizer interface {
	Authorize(p Principal, method, path string) (Decision, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(c Credential) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(c Credential) (Principal, error) { return f(c) }

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(p Principal, method, path string) (Decision, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(p Principal, method, path string) (Decision, error) {
	return f(p, method, path)
}

// Config configures a Handler.
type Config struct {
	// Upstream is the server requests are forwarded to.
	Upstream *url.URL
	// Authenticator and Authorizer are required.
	Authenticator Authenticator
	Authorizer    Authorizer
	// ForwardToken passes the caller's Authorization header upstream.
	ForwardToken bool
	// PublicURL is Gatehouse's external base URL as the operator declared
	// it (serve's --public-url), or nil. Its host is sent upstream as
	// X-Forwarded-Host and its scheme as X-Forwarded-Proto, so that an
	// upstream building links gets the name the operator chose, never one
	// the client made up. Without it, X-Forwarded-Proto is the scheme the
	// client reached Gatehouse with, and X-Forwarded-Host is not sent
	// (unless PassHostHeader).
	PublicURL *url.URL
	// PassHostHeader sends the client's Host to the upstream, and as
	// X-Forwarded-Host when there is no PublicURL, instead of the
	// upstream's own host: for an upstream that serves several names, in
	// front of an ingress that only routes the names it knows. Off, the
	// upstream sees the host of Upstream, as oauth2-proxy does with
	// --pass-host-header=false.
	PassHostHeader bool
	// OwnPaths are canonical paths outside ReservedPrefix that Gatehouse
	// answers itself (a preset's login). The router serves them before
	// this handler; a request that still arrives here with one of them (by
	// another method, on a path that only canonicalizes to it, or with a
	// trailing slash) is answered 404 like an unknown Gatehouse route and
	// never forwarded.
	OwnPaths []string
	// Errors is the shape of the errors the data plane writes.
	Errors ErrorShape
	// Shadow turns enforcement off for rolling out a policy: a request the
	// policy denies (403) is forwarded all the same, logged as would_deny
	// and counted as decision "would_deny". Only the policy's decision is
	// relaxed: a request without valid credentials is still 401, one that
	// cannot be decided 503, one that cannot be read 400.
	Shadow bool
	// AuditAllowed writes an audit line ("audit":"allow") for every
	// request the policy allows, as every refusal has one, so that a log
	// records each decision (policy diff --audit-log replays them). Off,
	// an allowed request writes nothing and its path is unchanged.
	AuditAllowed bool
	// DialTimeout and ResponseHeaderTimeout bound the wait for the
	// upstream; zero means 5s and 60s.
	DialTimeout           time.Duration
	ResponseHeaderTimeout time.Duration
	// TrustedProxies are the proxies (an ingress) whose X-Forwarded-For
	// names the client in audit lines (ClientAddr); nil trusts none.
	TrustedProxies []netip.Prefix
	// Sessions, when set, accepts the session cookie of single sign-on.
	// A change (any method but GET, HEAD and OPTIONS) carrying the cookie
	// must come from the site's own pages (net/http's
	// CrossOriginProtection): a cookie comes along with requests another
	// site's pages make, an Authorization header does not.
	Sessions *Sessions
	// RecheckAuthenticator and RecheckAuthorizer, when set, decide open
	// long-lived connections again instead of Authenticator and
	// Authorizer: the same checks, for implementations that count each
	// call as a request (metrics). An Expirer among them is used.
	RecheckAuthenticator Authenticator
	RecheckAuthorizer    Authorizer
	// MaxStreams bounds the long-lived connections (WebSockets, streaming
	// responses) open at once; zero means DefaultMaxStreams. A WebSocket
	// upgrade or an event stream beyond it is refused (503); a response
	// that is found streaming beyond it (after StreamAfter) is ended.
	MaxStreams int
	// StreamAfter is how long a response of unknown or long length
	// streams before it is registered as a long-lived connection; zero
	// means 10s. Event streams and WebSockets are registered at once.
	StreamAfter time.Duration
	// RecheckEvery is how often every long-lived connection is decided
	// again (see Run); zero means 250ms.
	RecheckEvery time.Duration
	// Transport overrides the transport built from the timeouts.
	Transport http.RoundTripper
	Metrics   *Metrics
	Log       *slog.Logger
}

// Handler is the data plane. It is built once; nothing on a request's path
// builds chains, compiles or parses what could be prepared here.
type Handler struct {
	authn        Authenticator
	authz        Authorizer
	rp           *httputil.ReverseProxy
	upstream     *url.URL
	basePath     string
	forwardToken bool
	passHost     bool
	fwdHost      []string // X-Forwarded-Host from PublicURL, or nil
	fwdProto     []string // X-Forwarded-Proto from PublicURL, or nil
	ownPaths     []string
	errs         ErrorShape
	shadow       bool
	auditAllowed bool
	trusted      []netip.Prefix // Config.TrustedProxies
	metrics      *Metrics
	log          *slog.Logger
	ids          *requestIDs
	sessions     *Sessions
	crossOrigin  *http.CrossOriginProtection // checks changes carrying the session cookie
	streams      *streams                    // the long-lived connections, decided again on every change
	bodies       sync.Pool                   // of *streamBody, for responses of unknown length
}

// New builds the data plane.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Upstream == nil || cfg.Upstream.Host == "" || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https") {
		errs = append(errs, errors.New("proxy: the upstream must be an http:// or https:// URL with a host"))
	}
	if cfg.PublicURL != nil && (cfg.PublicURL.Host == "" || (cfg.PublicURL.Scheme != "http" && cfg.PublicURL.Scheme != "https")) {
		errs = append(errs, errors.New("proxy: the public URL must be an http:// or https:// URL with a host"))
	}
	if cfg.Authenticator == nil || cfg.Authorizer == nil {
		errs = append(errs, errors.New("proxy: an authenticator and an authorizer are required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	h := &Handler{
		authn: cfg.Authenticator, authz: cfg.Authorizer,
		upstream:     cfg.Upstream,
		basePath:     strings.TrimRight(cfg.Upstream.Path, "/"),
		forwardToken: cfg.ForwardToken,
		passHost:     cfg.PassHostHeader,
		ownPaths:     cfg.OwnPaths,
		errs:         cfg.Errors,
		shadow:       cfg.Shadow,
		auditAllowed: cfg.AuditAllowed,
		trusted:      cfg.TrustedProxies,
		metrics:      cfg.Metrics,
		log:          cfg.Log,
		ids:          newRequestIDs(),
		sessions:     cfg.Sessions,
		streams:      newStreams(&cfg),
	}
	h.bodies.New = h.newPooledBody
	if s := cfg.Sessions; s != nil {
		h.crossOrigin = http.NewCrossOriginProtection()
		for _, o := range s.TrustedOrigins {
			if err := h.crossOrigin.AddTrustedOrigin(o); err != nil {
				return nil, fmt.Errorf("proxy: trusted origin: %w", err)
			}
		}
	}
	if cfg.PublicURL != nil {
		h.fwdHost, h.fwdProto = []string{cfg.PublicURL.Host}, []string{cfg.PublicURL.Scheme}
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport(cfg.DialTimeout, cfg.ResponseHeaderTimeout)
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      transport,
		BufferPool:     newBufferPool(),
		ErrorHandler:   h.upstreamError,
		ModifyResponse: h.modifyResponse,
		// Zero flushes at the end of each response, and at once after
		// every write for streams: text/event-stream and responses of
		// unknown length (chunked), as ReverseProxy detects them.
		FlushInterval: 0,
		ErrorLog:      slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	return h, nil
}

// ServeHTTP canonicalizes, authenticates, decides and forwards a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := h.ids.ensure(r.Header)
	path, err := Canonicalize(sentPath(r.URL))
	if err != nil {
		h.metrics.count(outcomeBadRequest, "")
		h.writeError(w, r, rid, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if path == "/gatehouse" || strings.HasPrefix(path, ReservedPrefix) || h.ownPath(path) {
		// Gatehouse's own routes are matched before this handler; what
		// reaches here under the prefix or on an own path is unknown or
		// non-canonical.
		h.metrics.count(outcomeNotFound, "")
		h.writeError(w, r, rid, http.StatusNotFound, codeNotFound, "no such Gatehouse route")
		return
	}
	if msg := ambiguous(r); msg != "" {
		h.metrics.count(outcomeBadRequest, "")
		h.writeError(w, r, rid, http.StatusBadRequest, codeBadRequest, msg)
		return
	}
	cred, sent := RequestCredential(r.Header)
	fromCookie := false
	if !sent && h.sessions != nil {
		if v := sessionCookie(r, h.sessions.Cookie); v != "" {
			cred, sent, fromCookie = Credential{Scheme: SchemeBearer, Value: v}, true, true
		}
	}
	if fromCookie {
		if err := h.crossOrigin.Check(r); err != nil || h.crossOriginUpgrade(r) {
			h.refuseCrossOrigin(w, r, rid, path)
			return
		}
	}
	start := time.Now()
	p, d, status, err := h.decide(r, path, cred, sent)
	h.metrics.decisionSeconds.Observe(time.Since(start).Seconds())
	switch {
	case status == http.StatusForbidden && h.shadow:
		// Shadow mode relaxes the policy's decision and nothing else:
		// decide returns 401 for missing or bad credentials (an
		// anonymous request the policy denies included), 503 when no
		// decision could be made, and those are still refused.
		h.wouldDeny(r, rid, path, p)
	case status == http.StatusUnauthorized && h.sessions != nil && (fromCookie || !sent):
		h.refuseSession(w, r, rid, path, err, fromCookie)
		return
	case status != 0:
		h.refuse(w, r, rid, path, p, status, err)
		return
	default:
		h.metrics.count(outcomeAllow, d.Permission)
		if h.auditAllowed {
			h.auditAllow(r, rid, path, p, d.Permission)
		}
	}
	r, err = guardBody(r)
	if err != nil {
		h.badBody(w, r, err)
		return
	}
	prepareHeaders(r.Header, r.Method, p, h.forwardToken)
	if h.sessions != nil {
		stripCookie(r.Header, h.sessions.Cookie)
		if fromCookie && p != nil {
			if c := h.sessions.Renew(cred.Value); c != nil {
				http.SetCookie(w, c)
			}
		}
	}
	r.URL.Path, r.URL.RawPath = path, ""
	reserveForwarded(r.Header)
	f, r := flightFor(r)
	*f = flight{on: true, req: r, cred: cred, method: r.Method, path: path, user: username(p), rid: rid}
	up := time.Now()
	if _, upgrade := r.Header["Upgrade"]; upgrade {
		h.forwardUpgrade(w, r, f)
	} else {
		h.rp.ServeHTTP(w, r)
	}
	*f = flight{}
	h.metrics.upstreamSeconds.Observe(time.Since(up).Seconds())
}

// username returns p's name, or "" for an anonymous request.
func username(p Principal) string {
	if p == nil {
		return ""
	}
	return p.Username()
}

// ambiguous returns why a request can be read more than one way, or "":
// two credentials, or a method override in the query (see
// methodOverrideParam). Such a request is refused before it is decided.
func ambiguous(r *http.Request) string {
	switch {
	case len(r.Header["Authorization"]) > 1:
		return "more than one Authorization header"
	case methodOverrideParam(r.URL.RawQuery):
		return `the "_method" query parameter is refused: a request is decided and forwarded with its own method`
	}
	return ""
}

// ownPath reports whether path is one of the own paths, or one with a
// trailing slash (which servers such as ZenML's redirect to it).
func (h *Handler) ownPath(path string) bool {
	for _, p := range h.ownPaths {
		if rest, ok := strings.CutPrefix(path, p); ok && (rest == "" || rest == "/") {
			return true
		}
	}
	return false
}

// sentPath returns the request path escaped as the client sent it. The
// server keeps it in RawPath whenever it differs from the default escaping;
// url.URL.EscapedPath is not used because it drops RawPath when that holds a
// byte Go would escape ("{", "|", a quote), and re-escapes the decoded Path
// instead, which turns "%2F" and "%2e%2e" into a real "/" and ".." before
// Canonicalize could refuse them.
func sentPath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.EscapedPath()
}

// decide authenticates and authorizes. A non-zero status means refuse.
func (h *Handler) decide(r *http.Request, path string, cred Credential, sent bool) (Principal, Decision, int, error) {
	var p Principal
	if sent {
		var err error
		if p, err = h.authn.Authenticate(cred); err != nil {
			return nil, Decision{}, http.StatusServiceUnavailable, err
		}
		if p == nil {
			return nil, Decision{}, http.StatusUnauthorized, errBadToken
		}
	}
	d, err := h.authz.Authorize(p, r.Method, path)
	switch {
	case err != nil:
		return p, d, http.StatusServiceUnavailable, err
	case d.Allowed:
		return p, d, 0, nil
	case p == nil:
		return nil, d, http.StatusUnauthorized, errNoToken
	}
	return p, d, http.StatusForbidden, nil
}

// LevelAudit is the log level of audit lines, the data plane's and the
// control plane's: above warnings, so that --log-level warn keeps the
// audit trail; only error suppresses it.
const LevelAudit = slog.Level(6)

var (
	errNoToken  = errors.New("authentication required: send a bearer token")
	errBadToken = errors.New("invalid or expired token")
)

// refuse answers a request that is not forwarded, and logs it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, rid, path string, p Principal, status int, err error) {
	user := username(p)
	switch status {
	case http.StatusUnauthorized:
		h.metrics.count(outcomeUnauthenticated, "")
		w.Header()["WWW-Authenticate"] = wwwAuthenticate(err == errBadToken)
		h.writeError(w, r, rid, status, codeUnauthenticated, err.Error())
	case http.StatusForbidden:
		h.metrics.count(outcomeDeny, "")
		h.writeError(w, r, rid, status, codeForbidden, fmt.Sprintf("%s %s is not allowed for you", r.Method, path))
	default:
		h.metrics.count(outcomeError, "")
		h.log.Error("decision failed; refusing (fail closed)", "request_id", rid, "method", r.Method, "path", path, "error", err)
		h.writeError(w, r, rid, http.StatusServiceUnavailable, codeUnavailable, "the request could not be decided; try again")
		return
	}
	h.auditDeny(r, rid, path, status, user, "")
}

// auditDeny writes the audit line of a refused request; reason, when not
// empty, says why in words the status does not.
func (h *Handler) auditDeny(r *http.Request, rid, path string, status int, user, reason string) {
	attrs := []slog.Attr{slog.String("audit", "deny"),
		slog.String("request_id", rid), slog.Int("status", status), slog.String("user", user),
		slog.String("method", r.Method), slog.String("path", path), slog.String("client", ClientAddr(r, h.trusted))}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	h.log.LogAttrs(r.Context(), LevelAudit, "request denied", attrs...)
}

// auditAllow writes the audit line of a request the policy allows, with
// the permission that allowed it.
func (h *Handler) auditAllow(r *http.Request, rid, path string, p Principal, permission string) {
	user := username(p)
	h.log.LogAttrs(r.Context(), LevelAudit, "request allowed", slog.String("audit", "allow"),
		slog.String("request_id", rid), slog.String("user", user), slog.String("method", r.Method),
		slog.String("path", path), slog.String("client", ClientAddr(r, h.trusted)), slog.String("permission", permission))
}

// refuseSession refuses a request without valid credentials where
// browsers sign in: a page request is sent to sign in, anything else gets
// the 401; an invalid session cookie is removed either way.
func (h *Handler) refuseSession(w http.ResponseWriter, r *http.Request, rid, path string, err error, fromCookie bool) {
	if !wantsPage(r) || h.sessions.SignIn == "" {
		if fromCookie {
			http.SetCookie(w, h.sessions.Clear)
		}
		h.refuse(w, r, rid, path, nil, http.StatusUnauthorized, err)
		return
	}
	h.metrics.count(outcomeUnauthenticated, "")
	h.auditDeny(r, rid, path, http.StatusFound, "", "sent to sign in")
	h.signInRedirect(w, r, fromCookie)
}

// ReasonCrossOrigin is the reason of the audit line of a cross-origin
// refusal (refuseCrossOrigin); policy diff --audit-log leaves such lines
// out by it, as policy.AuditReasonCrossOrigin.
const ReasonCrossOrigin = "cross-origin request with the session cookie"

// refuseCrossOrigin refuses a change that carries the session cookie but
// comes from another site's page.
func (h *Handler) refuseCrossOrigin(w http.ResponseWriter, r *http.Request, rid, path string) {
	h.metrics.count(outcomeDeny, "")
	h.auditDeny(r, rid, path, http.StatusForbidden, "", ReasonCrossOrigin)
	h.writeError(w, r, rid, http.StatusForbidden, codeForbidden,
		"cross-origin request refused: a change sent with the session cookie must come from this site's own pages")
}

// wouldDeny counts and logs a request that shadow mode forwards although
// the policy denies it. The line is an audit line, as a deny's is, so that
// whatever log level keeps denials keeps what shadow mode would deny.
func (h *Handler) wouldDeny(r *http.Request, rid, path string, p Principal) {
	h.metrics.count(outcomeWouldDeny, "")
	user := username(p)
	h.log.LogAttrs(r.Context(), LevelAudit, "would_deny", slog.String("audit", "would_deny"),
		slog.String("request_id", rid), slog.String("decision", "would_deny"), slog.String("user", user),
		slog.String("method", r.Method), slog.String("path", path), slog.String("client", ClientAddr(r, h.trusted)))
}

// BearerToken returns the token of the (first) Authorization header and
// whether the header was sent at all. A header of another scheme, or with
// no token, gives "" and true: a bad credential. Callers refuse requests
// with more than one Authorization header first.
func BearerToken(h http.Header) (token string, sent bool) {
	c, sent := RequestCredential(h)
	if c.Scheme != SchemeBearer {
		return "", sent
	}
	return c.Value, true
}

// RequestCredential returns the credential of the (first) Authorization
// header and whether the header was sent at all: a bearer token, HTTP
// Basic credentials (still encoded), or SchemeOther for another scheme or
// a header without a credential. Callers refuse requests with more than
// one Authorization header first.
func RequestCredential(h http.Header) (Credential, bool) {
	vs := h["Authorization"]
	if len(vs) == 0 {
		return Credential{}, false
	}
	v := vs[0]
	switch {
	case len(v) > 7 && strings.EqualFold(v[:7], "bearer "):
		if tok := strings.TrimSpace(v[7:]); tok != "" {
			return Credential{Scheme: SchemeBearer, Value: tok}, true
		}
	case len(v) > 6 && strings.EqualFold(v[:6], "basic "):
		if enc := strings.TrimSpace(v[6:]); enc != "" {
			return Credential{Scheme: SchemeBasic, Value: enc}, true
		}
	}
	return Credential{}, true
}

var (
	wwwAuthNoToken  = []string{`Bearer realm="gatehouse"`}
	wwwAuthBadToken = []string{`Bearer realm="gatehouse", error="invalid_token"`}
)

func wwwAuthenticate(bad bool) []string {
	if bad {
		return wwwAuthBadToken
	}
	return wwwAuthNoToken
}

// reserveForwarded gives the X-Forwarded headers that rewrite sets a place
// in the request's header map, without a value: ReverseProxy's copy of the
// map is then sized for them (it removes them before rewrite runs, which
// leaves the place), instead of growing while rewrite adds them. A header
// without a value is never sent.
func reserveForwarded(hd http.Header) {
	hd["X-Forwarded-For"], hd["X-Forwarded-Host"], hd["X-Forwarded-Proto"] = nil, nil, nil
}
