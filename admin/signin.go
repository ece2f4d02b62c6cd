package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

// The browser sign-in's routes and cookies.
const (
	// SignInPath starts a sign-in: GET SignInPath?rd=/where/to/return.
	SignInPath = "/gatehouse/oauth2/start"
	// CallbackPath is where the provider sends the browser back; its
	// public URL is the redirect URI to register at the provider.
	CallbackPath = "/gatehouse/oauth2/callback"
	// LogoutPath ends the session (and the provider's, when it can).
	LogoutPath = "/gatehouse/logout"
	// SignedOutPath is where the browser lands after logging out.
	SignedOutPath = "/gatehouse/signed-out"
	// SessionCookie carries the session's Gatehouse token; with an https
	// public URL its name is "__Host-" + SessionCookie (SessionCookieName).
	SessionCookie = "gatehouse_session"
	// FlowCookie carries a sign-in in progress from SignInPath to
	// CallbackPath; with an https public URL its name is "__Secure-" +
	// FlowCookie (FlowCookieName).
	FlowCookie = "gatehouse_oauth2"
	// flowPath is the flow cookie's path: the two routes of a sign-in.
	flowPath = "/gatehouse/oauth2/"
)

// flowTTL bounds a sign-in from start to callback; maxFlows bounds the
// sign-ins remembered as taken (usedFlows).
const (
	flowTTL  = 10 * time.Minute
	maxFlows = 1 << 16
)

// flowIssuer is the iss of a flow cookie's token. The access token parser
// requires tokenIssuer, so a flow cookie is never taken for an access
// token, nor the other way round.
const flowIssuer = "gatehouse-oauth2-flow"

// flowClaims are a sign-in in progress, signed with the token keys and
// kept in FlowCookie: the state (the JWT ID) and where to return. The
// nonce the ID token must carry and the PKCE verifier are derived from the
// state with the key that signed the cookie (flowSecrets), so the cookie
// does not hold them: a log line or a proxy that sees both the cookie and
// the callback's code still cannot redeem the code.
type flowClaims struct {
	jwt.RegisteredClaims
	Return string `json:"rd"`
}

// flowSecrets returns the nonce and the PKCE verifier of the sign-in with
// state, under the signing key kid.
func (k *keyring) flowSecrets(kid, state string) (nonce, verifier string, err error) {
	if nonce, err = k.derive(kid, "oauth2-nonce", state); err != nil {
		return "", "", err
	}
	verifier, err = k.derive(kid, "oauth2-pkce", state)
	return nonce, verifier, err
}

// Session is a signed-in browser's session: the token its cookie carries.
type Session struct {
	Token   string
	Expires time.Time
	// Return is the path to send the browser to.
	Return string
	// User is the user signed in.
	User string
}

var errSignInOff = fmt.Errorf("%w: single sign-on is not configured", ErrNotFound)

// StartSignIn begins a browser sign-in that returns to returnTo (a path on
// this server; anything else returns to "/"). It returns the provider's
// authorization URL to redirect to and the flow cookie's value.
func (s *Service) StartSignIn(returnTo string) (authURL, flow string, err error) {
	if s.idp == nil {
		return "", "", errSignInOff
	}
	d := s.idp.found.Load()
	if d == nil {
		return "", "", errIdPUnavailable
	}
	now := s.now()
	fc := flowClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: flowIssuer, ID: rand.Text(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(flowTTL)),
		},
		Return: LocalPath(returnTo),
	}
	kid := s.keys.currentID()
	nonce, verifier, err := s.keys.flowSecrets(kid, fc.ID)
	if err != nil {
		return "", "", err
	}
	if flow, err = s.keys.signWith(kid, fc); err != nil {
		return "", "", err
	}
	authURL = d.oauth2.AuthCodeURL(fc.ID, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	return authURL, flow, nil
}

// maxReturnLen bounds the path a sign-in returns to, which the flow
// cookie carries: a browser drops a cookie over 4 KB.
const maxReturnLen = 1024

// LocalPath returns p when it is a path on this server (of at most
// maxReturnLen bytes), "/" otherwise: a sign-in must not send the browser
// to another site ("//evil.example", "/\evil.example", "https://…").
func LocalPath(p string) string {
	if len(p) > maxReturnLen || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	if u, err := url.Parse(p); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

// FinishSignIn completes a browser sign-in at the callback: flow is the
// flow cookie, state and code the callback's parameters (or idpErr the
// provider's error). It exchanges the code (with the PKCE verifier),
// verifies the ID token (signature, algorithm, issuer, audience, expiry,
// nonce), signs the user in as a bearer token of the provider would
// (created on first sign-in, groups recorded on every one) and returns a
// session. Every refusal is audited and creates nothing.
func (s *Service) FinishSignIn(ctx context.Context, flow, state, code, idpErr string) (Session, error) {
	if s.idp == nil {
		return Session{}, errSignInOff
	}
	// A client's refused callbacks are limited as failed logins are: each
	// may cost a request to the provider. Counted when they start,
	// refunded on success.
	client := requestFrom(ctx).client
	if wait := s.signInFailures.attempt(client, s.now()); wait > 0 {
		s.audit(ctx, AuditSSO, "sso sign-in refused", slog.String("reason", "rate limited"), slog.Bool("success", false))
		return Session{}, &RateLimitError{RetryAfter: wait}
	}
	sess, reason, err := s.finishSignIn(ctx, flow, state, code, idpErr)
	if err == nil {
		s.signInFailures.refund(client)
	}
	s.auth.metrics.count(kindSSO, err == nil)
	if err != nil {
		if reason != "" {
			s.audit(ctx, AuditSSO, "sso sign-in refused", slog.String("user", sess.User),
				slog.String("reason", reason), slog.Bool("success", false))
		}
		return Session{}, err
	}
	s.audit(ctx, AuditSSO, "sso sign-in", slog.String("user", sess.User), slog.Bool("success", true))
	return sess, nil
}

// finishSignIn does FinishSignIn's work; a refusal comes with the reason
// to audit ("" when signInIdP already wrote its own line).
func (s *Service) finishSignIn(ctx context.Context, flow, state, code, idpErr string) (Session, string, error) {
	refuse := func(reason string) (Session, string, error) {
		return Session{}, reason, fmt.Errorf("%w: sign-in failed: %s", ErrUnauthenticated, reason)
	}
	d := s.idp.found.Load()
	if d == nil {
		return Session{}, "identity provider unreachable", errIdPUnavailable
	}
	var fc flowClaims
	if flow == "" {
		return refuse("no sign-in in progress in this browser (its cookie is missing); start again")
	}
	kid, err := s.keys.parseSigned(flow, flowIssuer, &fc)
	if err != nil {
		return refuse("the sign-in expired or its cookie is not valid; start again")
	}
	nonce, verifier, err := s.keys.flowSecrets(kid, fc.ID)
	if err != nil {
		return refuse("the sign-in's key is gone; start again")
	}
	switch {
	case subtle.ConstantTimeCompare([]byte(state), []byte(fc.ID)) != 1:
		return refuse("the state does not match this browser's sign-in")
	case idpErr != "":
		return refuse("the identity provider answered " + printable(idpErr))
	case code == "":
		return refuse("the callback has no code")
	case !s.idp.flows.take(fc.ID, fc.ExpiresAt.Time, s.now()):
		return refuse("this sign-in was completed already; start again")
	}
	xctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, s.idp.client), 10*time.Second)
	defer cancel()
	tok, err := d.oauth2.Exchange(xctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return refuse("the identity provider refused the code (" + re.ErrorCode + ")")
		}
		s.log.Warn("identity provider: code exchange failed", "err", err)
		return Session{}, "code exchange failed: identity provider unreachable", errIdPUnavailable
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse("the identity provider sent no ID token")
	}
	c, idt, err := s.idp.claimsOf(d.id, raw)
	if err != nil {
		return refuse(strings.TrimPrefix(err.Error(), ErrUnauthenticated.Error()+": "))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return refuse("the ID token's nonce does not match this sign-in")
	}
	id, err := s.signInIdP(c) // audits its own refusals
	if err != nil {
		return Session{User: c.username}, "", err
	}
	switch {
	case id == nil:
		return refuse("the user no longer exists")
	case !id.active:
		return refuse("the user " + id.name + " is deactivated in Gatehouse")
	}
	now := s.now()
	t, exp, err := s.keys.issueSession(id.id, id.version, now.Unix(), s.sessionExpiry(now.Unix(), now), now)
	if err != nil {
		return Session{}, "", err
	}
	return Session{Token: t, Expires: exp, Return: LocalPath(fc.Return), User: id.name}, "", nil
}

// sessionExpiry is when a session token issued at now for a session that
// began at start (unix seconds) ends: a token's lifetime later, but not
// after the session's maximum age.
func (s *Service) sessionExpiry(start int64, now time.Time) time.Time {
	return minTime(now.Add(s.cfg.TokenTTL), time.Unix(start, 0).Add(s.idp.cfg.SessionMaxAge))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// RenewSession returns a new cookie for a session whose token (an
// authenticated one, which the data plane just allowed a request with)
// has less than half its lifetime left, or nil: a session in use stays
// signed in, up to SessionMaxAge after its sign-in.
func (s *Service) RenewSession(token string) *http.Cookie {
	v := s.auth.cache.get(token)
	if v == nil || v.sst == 0 {
		return nil
	}
	now := s.now()
	if time.Unix(v.exp, 0).Sub(now) > s.cfg.TokenTTL/2 {
		return nil
	}
	exp := s.sessionExpiry(v.sst, now)
	if exp.Unix() <= v.exp+60 {
		return nil // the session is near its maximum age: nothing to gain
	}
	t, exp, err := s.keys.issueSession(v.userID, v.ver, v.sst, exp, now)
	if err != nil {
		s.log.Warn("renewing a session failed", "err", err)
		return nil
	}
	return s.SessionCookie(t, exp)
}

// SessionCookie returns the session cookie carrying token until exp:
// HttpOnly, SameSite=Lax (so that it comes along when the provider sends
// the browser back, and never with another site's forms or scripts'
// requests), and Secure when the public URL is https.
func (s *Service) SessionCookie(token string, exp time.Time) *http.Cookie {
	return &http.Cookie{
		Name: s.SessionCookieName(), Value: token, Path: "/", Expires: exp.UTC(), MaxAge: int(exp.Sub(s.now()) / time.Second),
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode,
	}
}

// SessionCookieName is the session cookie's name. With an https public
// URL it carries the "__Host-" prefix: browsers then take it only when it
// is Secure, for the whole host and set by the host itself, so a sibling
// subdomain cannot plant a session of its choosing.
func (s *Service) SessionCookieName() string {
	if s.secureCookies() {
		return "__Host-" + SessionCookie
	}
	return SessionCookie
}

// FlowCookieName is the flow cookie's name: "__Secure-" prefixed with an
// https public URL ("__Host-" needs the path /).
func (s *Service) FlowCookieName() string {
	if s.secureCookies() {
		return "__Secure-" + FlowCookie
	}
	return FlowCookie
}

// FlowCookieFor returns the flow cookie carrying flow.
func (s *Service) FlowCookieFor(flow string) *http.Cookie {
	return &http.Cookie{
		Name: s.FlowCookieName(), Value: flow, Path: flowPath, MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode,
	}
}

// ClearSessionCookie and ClearFlowCookie return cookies that remove the
// session and the flow cookie.
func (s *Service) ClearSessionCookie() *http.Cookie { return s.clearCookie(s.SessionCookieName(), "/") }

// ClearFlowCookie: see ClearSessionCookie.
func (s *Service) ClearFlowCookie() *http.Cookie { return s.clearCookie(s.FlowCookieName(), flowPath) }

func (s *Service) clearCookie(name, path string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode}
}

func (s *Service) secureCookies() bool { return strings.HasPrefix(s.cfg.PublicURL, "https://") }

// SignOut ends a browser session: it audits the sign-out of the session's
// user (when its token is still valid) and returns where to send the
// browser: the provider's end_session_endpoint when it advertises one
// (which returns to SignedOutPath), else SignedOutPath.
func (s *Service) SignOut(ctx context.Context, token string) string {
	if token != "" {
		if id, err := s.auth.Authenticate(token); err == nil {
			s.audit(ctx, AuditSSO, "sso sign-out", slog.String("user", id.name), slog.Bool("success", true))
		}
	}
	back := s.cfg.PublicURL + SignedOutPath
	if s.idp == nil {
		return back
	}
	d := s.idp.found.Load()
	if d == nil || d.endSession == "" {
		return back
	}
	u, err := url.Parse(d.endSession)
	if err != nil {
		return back
	}
	q := u.Query()
	q.Set("client_id", s.idp.cfg.ClientID)
	q.Set("post_logout_redirect_uri", back)
	u.RawQuery = q.Encode()
	return u.String()
}

// SSOOnly reports whether password login is off (OIDCConfig.SSOOnly).
func (s *Service) SSOOnly() bool { return s.idp != nil && s.idp.cfg.SSOOnly }

// SignInEnabled reports whether the browser sign-in is configured.
func (s *Service) SignInEnabled() bool { return s.idp != nil }

// usedFlows remembers the sign-ins whose callback came with a code, until
// they would have expired anyway, so that a callback replayed on this
// replica is refused before its code is sent to the provider (which
// refuses a code used twice, on any replica, and PKCE binds the code to
// the browser that started the sign-in). Bounded: when full, expired
// entries go, then arbitrary ones, so that a flood of callbacks can
// weaken this first check but never refuse a sign-in.
type usedFlows struct {
	max int

	mu   sync.Mutex // guards seen
	seen map[string]time.Time
}

func newUsedFlows(max int) *usedFlows { return &usedFlows{max: max, seen: make(map[string]time.Time)} }

// take marks the flow id (valid until exp) taken; false when it was taken
// already.
func (u *usedFlows) take(id string, exp, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.seen[id]; ok {
		return false
	}
	if len(u.seen) >= u.max {
		u.shrink(now)
	}
	u.seen[id] = exp
	return true
}

// shrink drops the expired entries and, while more than seven eighths of
// max remain, arbitrary ones: a full set costs one scan per max/8 takes.
func (u *usedFlows) shrink(now time.Time) {
	for k, e := range u.seen {
		if now.After(e) {
			delete(u.seen, k)
		}
	}
	for k := range u.seen {
		if len(u.seen) <= u.max*7/8 {
			break
		}
		delete(u.seen, k)
	}
}

// printable returns what a provider's callback said, cut to a bounded
// length and without control characters, for messages and audit lines.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || UnsafeRune(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
