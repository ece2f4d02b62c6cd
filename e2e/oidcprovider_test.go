package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"html/template"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// This file holds a real OpenID Connect provider for browser tests, built on
// github.com/zitadel/oidc/v3/pkg/op with an in-memory op.Storage of its own.
//
// Flow in the browser:
//
//	relying party -> {issuer}/authorize?... (op validates client, redirect URI, PKCE, scopes)
//	  -> 302 {issuer}/login?authRequestID=ID       the provider's login page (see loginSelectors)
//	  -> POST {issuer}/login                        wrong password: the page again, with #login-error
//	  -> 302 {issuer}/authorize/callback?id=ID      op issues the code
//	  -> 302 redirect_uri?code=...&state=...
//
// There is no consent step and no single sign-on session at the provider:
// every authorization request shows the login page (so no prompt=none
// support either), and end_session only validates its parameters and
// redirects to the post-logout redirect URI.
//
// Claims (ID token and userinfo), by requested scope:
//
//	openid   sub (a stable opaque id derived from the username, not the username)
//	profile  preferred_username = username, name = username
//	email    email, email_verified = true
//	groups   groups: JSON array of strings (possibly empty), read at token time
//
// The ID token carries the nonce of the authorization request, is signed
// RS256 by a key made per provider, and holds the profile and email claims
// even though an access token is issued too (IDTokenUserinfoClaimsAssertion).
// Codes are single use: exchanging one deletes its authorization request.

// oidcProvider is a running in-process OpenID provider.
type oidcProvider struct {
	URL string // issuer, http://127.0.0.1:PORT, no trailing slash

	store *oidcStorage
}

// startOIDCProvider starts a provider on a random loopback port with one
// confidential web client (client_secret_basic or client_secret_post,
// authorization code grant, PKCE S256 allowed but not required), the given
// redirect URI and post-logout redirect URI (either may be ""). It stops
// when the test ends.
func startOIDCProvider(t *testing.T, clientID, clientSecret, redirectURI, postLogoutURI string) *oidcProvider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidc provider: listening: %v", err)
	}
	issuer := "http://" + ln.Addr().String()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidc provider: signing key: %v", err)
	}
	client := &oidcClient{id: clientID, secret: clientSecret, loginURL: issuer + "/login?authRequestID="}
	if redirectURI != "" {
		client.redirectURIs = []string{redirectURI}
	}
	if postLogoutURI != "" {
		client.postLogoutURIs = []string{postLogoutURI}
	}
	store := &oidcStorage{
		client:   client,
		key:      key,
		keyID:    randomID()[:16],
		users:    map[string]*oidcUser{},
		requests: map[string]*oidcAuthRequest{},
		codes:    map[string]string{},
		tokens:   map[string]*oidcAccessToken{},
	}

	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		t.Fatalf("oidc provider: crypto key: %v", err)
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey, // encrypts the opaque access tokens
		DefaultLogoutRedirectURI: "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, "groups"},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp",
			"preferred_username", "name", "email", "email_verified", "groups"},
	}, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatalf("oidc provider: %v", err)
	}
	callbackURL := op.AuthCallbackURL(provider)

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		store.serveLogin(w, r, func(id string) string {
			return callbackURL(op.ContextWithIssuer(r.Context(), issuer), id)
		})
	})
	mux.HandleFunc("/logged-out", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Signed out</title><h1 id="logged-out">Signed out</h1>`))
	})
	mux.Handle("/", provider)

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// Close, not Shutdown: Chromium's preconnected idle sockets would hold
	// a graceful shutdown for seconds.
	t.Cleanup(func() { _ = srv.Close() })
	return &oidcProvider{URL: issuer, store: store}
}

// addUser adds (or replaces) a user who can sign in on the login page.
func (p *oidcProvider) addUser(username, password, email string, groups ...string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.users[username] = &oidcUser{
		username: username,
		password: password,
		email:    email,
		groups:   slices.Clone(groups),
		subject:  subjectOf(username),
	}
}

// setGroups replaces a user's groups; tokens issued afterwards carry them.
// It panics on an unknown user, a mistake in the test.
func (p *oidcProvider) setGroups(username string, groups ...string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	u := p.store.users[username]
	if u == nil {
		panic("oidc provider: setGroups of unknown user " + username)
	}
	u.groups = slices.Clone(groups)
}

// subject returns the sub claim the provider gives a username.
func (p *oidcProvider) subject(username string) string { return subjectOf(username) }

// loginSelectors returns the CSS selectors of the login page's username
// field, password field and submit button.
func (p *oidcProvider) loginSelectors() (user, password, submit string) {
	return "#username", "#password", "#login-submit"
}

// signIn fills the provider's login page, which the browser must be on or
// be heading to, and submits it. There is no consent step: a correct
// password redirects straight back to the relying party's redirect URI, so
// the caller then waits for its own page. A wrong password shows the login
// page again with #login-error.
func (p *oidcProvider) signIn(ctx context.Context, username, password string) error {
	user, pass, submit := p.loginSelectors()
	return chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(user)),
		chromedp.Clear(chromedp.CSS(user)),
		chromedp.SendKeys(chromedp.CSS(user), username),
		chromedp.Clear(chromedp.CSS(pass)),
		chromedp.SendKeys(chromedp.CSS(pass), password),
		chromedp.Click(chromedp.CSS(submit)),
	)
}

func subjectOf(username string) string {
	sum := sha256.Sum256([]byte("oidc-test-user:" + username))
	return hex.EncodeToString(sum[:12])
}

func randomID() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// ---- login page ----

var oidcLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - test OpenID provider</title></head>
<body>
<h1>Sign in to the test OpenID provider</h1>
{{if .Error}}<p id="login-error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<label for="username">Username</label> <input id="username" name="username" autocomplete="username" value="{{.Username}}" autofocus>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password">
<button id="login-submit" type="submit">Sign in</button>
</form>
</body></html>`))

func (s *oidcStorage) serveLogin(w http.ResponseWriter, r *http.Request, callbackURL func(id string) string) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get("authRequestID")
	s.mu.Lock()
	req := s.requests[id]
	s.mu.Unlock()
	if req == nil {
		http.Error(w, "unknown or expired authorization request", http.StatusBadRequest)
		return
	}
	data := struct{ ID, Username, Error string }{ID: id, Username: req.LoginHint}
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
		if s.checkPassword(id, username, password) {
			http.Redirect(w, r, callbackURL(id), http.StatusFound)
			return
		}
		data.Username, data.Error, status = username, "Invalid username or password.", http.StatusUnauthorized
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = oidcLoginPage.Execute(w, data)
}

// checkPassword marks the authorization request done for the user if the
// password is right.
func (s *oidcStorage) checkPassword(requestID, username, password string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, req := s.users[username], s.requests[requestID]
	if u == nil || req == nil || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
		return false
	}
	req.subject, req.authTime, req.done = u.subject, time.Now(), true
	return true
}

// ---- storage ----

type oidcUser struct {
	username, password, email, subject string
	groups                             []string
}

type oidcAccessToken struct {
	subject, clientID string
	scopes            []string
	expires           time.Time
}

// oidcStorage implements op.Storage in memory for one client.
type oidcStorage struct {
	client *oidcClient
	key    *rsa.PrivateKey
	keyID  string

	mu       sync.Mutex
	users    map[string]*oidcUser        // by username
	requests map[string]*oidcAuthRequest // by id
	codes    map[string]string           // code -> request id
	tokens   map[string]*oidcAccessToken // by token id
}

var errOIDCNotFound = errors.New("not found")

func (s *oidcStorage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	req := &oidcAuthRequest{id: randomID(), AuthRequest: *r, created: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[req.id] = req
	return req.snapshot(), nil
}

func (s *oidcStorage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req := s.requests[id]; req != nil {
		return req.snapshot(), nil
	}
	return nil, errOIDCNotFound
}

func (s *oidcStorage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req := s.requests[s.codes[code]]; req != nil && req.done {
		return req.snapshot(), nil
	}
	return nil, errOIDCNotFound
}

func (s *oidcStorage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests[id] == nil {
		return errOIDCNotFound
	}
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs when a code is exchanged: the code dies with it.
func (s *oidcStorage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *oidcStorage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	clientID := s.client.id
	if ar, ok := r.(op.AuthRequest); ok {
		clientID = ar.GetClientID()
	}
	id, exp := randomID(), time.Now().Add(5*time.Minute)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[id] = &oidcAccessToken{subject: r.GetSubject(), clientID: clientID, scopes: r.GetScopes(), expires: exp}
	return id, exp, nil
}

func (s *oidcStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (s *oidcStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

// TerminateSession: the provider keeps no sessions, so there is nothing to end.
func (s *oidcStorage) TerminateSession(context.Context, string, string) error { return nil }

func (s *oidcStorage) RevokeToken(_ context.Context, tokenOrID, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tokenOrID)
	return nil
}

func (s *oidcStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *oidcStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return oidcSigningKey{id: s.keyID, key: s.key}, nil
}

func (s *oidcStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *oidcStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{oidcPublicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

func (s *oidcStorage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if clientID != s.client.id {
		return nil, errOIDCNotFound
	}
	return s.client, nil
}

func (s *oidcStorage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	if clientID != s.client.id || subtle.ConstantTimeCompare([]byte(secret), []byte(s.client.secret)) != 1 {
		return errors.New("invalid client id or secret")
	}
	return nil
}

// SetUserinfoFromScopes fills the ID token's user claims (op calls it for ID tokens).
func (s *oidcStorage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, subject, _ string, scopes []string) error {
	return s.setUserinfo(info, subject, scopes)
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *oidcStorage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	tok := s.tokens[tokenID]
	s.mu.Unlock()
	if tok == nil || tok.subject != subject || time.Now().After(tok.expires) {
		return errors.New("invalid or expired access token")
	}
	return s.setUserinfo(info, subject, tok.scopes)
}

func (s *oidcStorage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *oidcUser
	for _, candidate := range s.users {
		if candidate.subject == subject {
			u = candidate
		}
	}
	if u == nil {
		return errors.New("unknown user")
	}
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeOpenID:
			info.Subject = u.subject
		case oidc.ScopeProfile:
			info.PreferredUsername, info.Name = u.username, u.username
		case oidc.ScopeEmail:
			info.Email, info.EmailVerified = u.email, true
		case "groups":
			info.AppendClaims("groups", append([]string{}, u.groups...)) // [] rather than null when none
		}
	}
	return nil
}

func (s *oidcStorage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	tok := s.tokens[tokenID]
	s.mu.Unlock()
	if tok == nil || tok.subject != subject || time.Now().After(tok.expires) {
		return nil // inactive
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, subject, tok.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Active, resp.Scope, resp.ClientID = true, tok.scopes, tok.clientID
	resp.Expiration = oidc.FromTime(tok.expires)
	return nil
}

// GetPrivateClaimsFromScopes adds nothing: access tokens are opaque.
func (s *oidcStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *oidcStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported")
}

func (s *oidcStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grant is not supported")
}

func (s *oidcStorage) Health(context.Context) error { return nil }

type oidcSigningKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k oidcSigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k oidcSigningKey) Key() any                                    { return k.key }
func (k oidcSigningKey) ID() string                                  { return k.id }

type oidcPublicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k oidcPublicKey) ID() string                         { return k.id }
func (k oidcPublicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k oidcPublicKey) Use() string                        { return "sig" }
func (k oidcPublicKey) Key() any                           { return k.key }

// ---- authorization request ----

type oidcAuthRequest struct {
	oidc.AuthRequest
	id       string
	created  time.Time
	subject  string
	authTime time.Time
	done     bool
}

// snapshot copies the request, so op reads it without holding the lock.
func (r *oidcAuthRequest) snapshot() *oidcAuthRequest {
	c := *r
	return &c
}

func (r *oidcAuthRequest) GetID() string                      { return r.id }
func (r *oidcAuthRequest) GetACR() string                     { return "" }
func (r *oidcAuthRequest) GetAMR() []string                   { return []string{"pwd"} }
func (r *oidcAuthRequest) GetAudience() []string              { return []string{r.ClientID} }
func (r *oidcAuthRequest) GetAuthTime() time.Time             { return r.authTime }
func (r *oidcAuthRequest) GetClientID() string                { return r.ClientID }
func (r *oidcAuthRequest) GetNonce() string                   { return r.Nonce }
func (r *oidcAuthRequest) GetRedirectURI() string             { return r.RedirectURI }
func (r *oidcAuthRequest) GetResponseType() oidc.ResponseType { return r.ResponseType }
func (r *oidcAuthRequest) GetResponseMode() oidc.ResponseMode { return r.ResponseMode }
func (r *oidcAuthRequest) GetScopes() []string                { return r.Scopes }
func (r *oidcAuthRequest) GetState() string                   { return r.State }
func (r *oidcAuthRequest) GetSubject() string                 { return r.subject }
func (r *oidcAuthRequest) Done() bool                         { return r.done }

func (r *oidcAuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
}

// ---- client ----

// oidcClient is a confidential web client using the authorization code grant.
type oidcClient struct {
	id, secret, loginURL         string
	redirectURIs, postLogoutURIs []string
}

func (c *oidcClient) GetID() string                       { return c.id }
func (c *oidcClient) RedirectURIs() []string              { return c.redirectURIs }
func (c *oidcClient) PostLogoutRedirectURIs() []string    { return c.postLogoutURIs }
func (c *oidcClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *oidcClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic } // post works too (Config.AuthMethodPost)
func (c *oidcClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *oidcClient) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *oidcClient) LoginURL(id string) string            { return c.loginURL + id }
func (c *oidcClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *oidcClient) IDTokenLifetime() time.Duration       { return 10 * time.Minute }
func (c *oidcClient) DevMode() bool                        { return false }
func (c *oidcClient) IsScopeAllowed(scope string) bool     { return scope == "groups" }
func (c *oidcClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *oidcClient) ClockSkew() time.Duration             { return 0 }
func (c *oidcClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *oidcClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
