package testkit

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"time"
)

// codeTTL is how long an authorization code stays redeemable.
const codeTTL = time.Minute

// idpClient is the client registered with an IdP; an empty secret makes
// it a public client.
type idpClient struct{ id, secret, redirect string }

// idpGrant is what an authorization code stands for until /token redeems
// it.
type idpGrant struct {
	clientID, redirect, challenge, nonce, scope string
	claims                                      map[string]any
	expires                                     time.Time
}

// Register makes clientID the one client the provider knows (replacing any
// earlier one), with its only redirect URI. An empty secret registers a
// public client, which /token lets in without authentication.
func (p *IdP) Register(clientID, secret, redirectURI string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.client = idpClient{id: clientID, secret: secret, redirect: redirectURI}
}

// SignInAs sets the claims the next /auth requests sign in as, until it is
// called again; claims must hold "sub" (it panics otherwise: the test is
// broken). The ID token adds iss, aud (the client), nonce (the /auth
// request's), iat and exp (an hour) where claims do not set them. With nil
// claims nobody signs in: /auth sends the browser back with
// error=access_denied and the state.
func (p *IdP) SignInAs(claims map[string]any) {
	if claims != nil && claims["sub"] == nil {
		panic("testkit: SignInAs claims need a sub")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signIn = maps.Clone(claims)
}

// SetIDTokenSigner makes /token produce the ID token with f from the final
// claims instead of signing them RS256 with the current key; nil restores
// the default. SignHS256 and SignNone help build such an f.
func (p *IdP) SetIDTokenSigner(f func(claims map[string]any) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signer = f
}

// LastAuthRequest returns the query of the last /auth request, nil before
// the first.
func (p *IdP) LastAuthRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastAuth)
}

// LastLogout returns the query of the last /logout request, nil before
// the first.
func (p *IdP) LastLogout() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastLogout)
}

// TokenRequests reports how many requests reached /token, refused ones
// included. golang.org/x/oauth2 retries a refused exchange with the other
// client authentication style unless the Endpoint sets AuthStyle.
func (p *IdP) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenReqs
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// serveAuth approves an authorization request at once: 400 with the
// reason when the request is malformed or names another client or
// redirect URI, a redirect with error=access_denied when nobody signs in,
// else a redirect with a fresh code and the state.
func (p *IdP) serveAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.lastAuth = cloneValues(q)
	client, claims := p.client, p.signIn
	p.mu.Unlock()
	if reason := checkAuth(q, client); reason != "" {
		http.Error(w, reason, http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if claims == nil {
		back.Set("error", "access_denied")
	} else {
		back.Set("code", p.issueCode(q, claims))
	}
	http.Redirect(w, r, withQuery(client.redirect, back), http.StatusFound)
}

// checkAuth returns why the /auth query q is refused, or "".
func checkAuth(q url.Values, c idpClient) string {
	switch {
	case c.id == "":
		return "no client is registered"
	case q.Get("client_id") != c.id:
		return "unknown client_id"
	case q.Get("redirect_uri") != c.redirect:
		return "redirect_uri is not the registered one"
	case q.Get("response_type") != "code":
		return "response_type must be code"
	case q.Get("state") == "":
		return "state is missing"
	case q.Get("code_challenge") == "":
		return "code_challenge is missing"
	case q.Get("code_challenge_method") != "S256":
		return "code_challenge_method must be S256"
	}
	return ""
}

// issueCode stores a grant for the /auth query q signing in as claims and
// returns its code; it drops expired codes on the way.
func (p *IdP) issueCode(q url.Values, claims map[string]any) string {
	code := rand.Text()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, g := range p.codes {
		if now.After(g.expires) {
			delete(p.codes, c)
		}
	}
	p.codes[code] = &idpGrant{
		clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), scope: q.Get("scope"),
		claims: maps.Clone(claims), expires: now.Add(codeTTL),
	}
	return code
}

// withQuery returns uri with params added to its query.
func withQuery(uri string, params url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// serveLogout records the query and sends the browser to
// post_logout_redirect_uri, as given, or says it signed out.
func (p *IdP) serveLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.lastLogout = cloneValues(q)
	p.mu.Unlock()
	if to := q.Get("post_logout_redirect_uri"); to != "" {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	_, _ = w.Write([]byte("signed out"))
}

// s256 returns the S256 code challenge of verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
