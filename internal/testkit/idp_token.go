package testkit

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"time"
)

// serveToken redeems an authorization code for tokens: it checks the
// grant type, the client's authentication and the code (once only, its
// redirect URI and its PKCE verifier), then answers with an access token
// and the ID token.
func (p *IdP) serveToken(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.tokenReqs++
	p.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	client, ok := p.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="testkit"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	g := p.redeem(r.PostForm.Get("code"))
	if g == nil || !g.valid(r, client) {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	p.answerTokens(w, g)
}

// oauthError answers status with an OAuth error body naming code.
func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

// authenticate returns the registered client when the request
// authenticates as it, by HTTP Basic or by client_id and client_secret
// form fields; a public client only has to name itself, if at all.
func (p *IdP) authenticate(r *http.Request) (idpClient, bool) {
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	id, secret, basic := basicCredentials(r)
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if c.id == "" || (id != "" && id != c.id) {
		return c, false
	}
	if c.secret == "" {
		return c, true
	}
	return c, id != "" && equal(secret, c.secret)
}

// basicCredentials returns the HTTP Basic credentials of r, form-decoded
// as RFC 6749 section 2.3.1 has clients encode them.
func basicCredentials(r *http.Request) (id, secret string, ok bool) {
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil {
		return rawID, rawSecret, true
	}
	return id, secret, true
}

// redeem removes code and returns its grant, or nil when the code is
// unknown, already used or expired.
func (p *IdP) redeem(code string) *idpGrant {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.codes[code]
	delete(p.codes, code)
	if g == nil || time.Now().After(g.expires) {
		return nil
	}
	return g
}

// valid tells whether the token request r may redeem g for client c.
func (g *idpGrant) valid(r *http.Request, c idpClient) bool {
	return g.clientID == c.id &&
		r.PostForm.Get("redirect_uri") == g.redirect &&
		equal(s256(r.PostForm.Get("code_verifier")), g.challenge)
}

// answerTokens sends the token response for g.
func (p *IdP) answerTokens(w http.ResponseWriter, g *idpGrant) {
	idToken, err := p.idToken(g)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": "at-" + rand.Text(), "token_type": "Bearer",
		"expires_in": 3600, "id_token": idToken,
	})
}

// idToken returns the ID token for g: its claims completed with iss, aud,
// nonce, iat and exp where they lack them, signed by the test's signer if
// set, else RS256 with the current key.
func (p *IdP) idToken(g *idpGrant) (string, error) {
	now := time.Now()
	claims := g.claims
	setDefault(claims, "iss", p.URL)
	setDefault(claims, "aud", g.clientID)
	if g.nonce != "" {
		setDefault(claims, "nonce", g.nonce)
	}
	setDefault(claims, "iat", now.Unix())
	setDefault(claims, "exp", now.Add(time.Hour).Unix())
	p.mu.Lock()
	signer := p.signer
	p.mu.Unlock()
	if signer != nil {
		return signer(claims), nil
	}
	return p.sign(claims)
}

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}
