package testkit

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// IdP is an OpenID Connect provider in the test's process: it serves its
// discovery document and key set, signs tokens (RS256) with its current
// key, and runs the authorization code flow with PKCE for one registered
// client, approving every request without a browser (see Register,
// SignInAs). Tests make it misbehave on purpose through SignInAs(nil),
// SetIDTokenSigner and Rotate, and read what reached it through
// LastAuthRequest, LastLogout, TokenRequests and KeySetFetches. It is safe
// for concurrent use. Built on go-jose, which the product already depends
// on through go-oidc, it adds no module to the root go.mod.
type IdP struct {
	URL string // the issuer
	srv *httptest.Server

	mu  sync.Mutex // guards every field below
	key *rsa.PrivateKey
	kid string
	old []jose.JSONWebKey // keys rotated out, still published

	client     idpClient                   // the one registered client
	signIn     map[string]any              // who /auth signs in as; nil: nobody
	signer     func(map[string]any) string // replaces RS256 for id tokens when set
	codes      map[string]*idpGrant        // authorization codes not yet redeemed
	lastAuth   url.Values                  // the last /auth query
	lastLogout url.Values                  // the last /logout query
	tokenReqs  int                         // requests to /token
	keyFetches int                         // key sets served
}

// NewIdP starts a provider on 127.0.0.1; it stops when the test ends.
func NewIdP(t testing.TB) *IdP {
	t.Helper()
	p, err := StartIdP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.srv.Close)
	return p
}

// StartIdP starts a provider on 127.0.0.1 outside a test (the load
// harness); Close stops it.
func StartIdP() (*IdP, error) {
	p := &IdP{codes: map[string]*idpGrant{}}
	if err := p.rotate(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("/keys", p.serveKeys)
	mux.HandleFunc("/auth", p.serveAuth)
	mux.HandleFunc("/token", p.serveToken)
	mux.HandleFunc("/logout", p.serveLogout)
	// URL is set before the server serves: its handlers read it.
	p.srv = httptest.NewUnstartedServer(mux)
	p.URL = "http://" + p.srv.Listener.Addr().String()
	p.srv.Start()
	return p, nil
}

func (p *IdP) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.URL,
		"jwks_uri":                              p.URL + "/keys",
		"authorization_endpoint":                p.URL + "/auth",
		"token_endpoint":                        p.URL + "/token",
		"end_session_endpoint":                  p.URL + "/logout",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups"},
		"grant_types_supported":                 []string{"authorization_code"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
	})
}

func (p *IdP) serveKeys(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	p.keyFetches++
	set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{p.public()}, p.old...)}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// writeJSON answers status with v as a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Close stops the provider, as an outage would.
func (p *IdP) Close() { p.srv.Close() }

// KeySetFetches reports how many times the key set (/keys) was served.
func (p *IdP) KeySetFetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keyFetches
}

func (p *IdP) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}
}

// Rotate makes a new signing key with a new kid; the old one stays
// published.
func (p *IdP) Rotate(t testing.TB) {
	t.Helper()
	if err := p.rotate(); err != nil {
		t.Fatal(err)
	}
}

func (p *IdP) rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key != nil {
		p.old = append(p.old, p.public())
	}
	p.key, p.kid = k, "k"+rand.Text()[:8]
	return nil
}

// PublicKey returns the current signing key's public half and its kid.
func (p *IdP) PublicKey() (*rsa.PublicKey, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &p.key.PublicKey, p.kid
}

// Claims returns the claims of a valid token for alice (subject
// sub-alice, audience gatehouse, group staff, valid for an hour), for the
// test to change.
func (p *IdP) Claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.URL, "aud": "gatehouse", "sub": "sub-alice", "preferred_username": "alice",
		"email": "alice@example.com", "groups": []string{"staff"},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Sign returns a token of claims signed with the current key.
func (p *IdP) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := p.sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// SignClaims is Sign outside a test.
func (p *IdP) SignClaims(claims map[string]any) (string, error) { return p.sign(claims) }

// sign returns a compact JWS of claims, RS256 with the current key.
func (p *IdP) sign(claims map[string]any) (string, error) {
	p.mu.Lock()
	key := jose.JSONWebKey{Key: p.key, KeyID: p.kid}
	p.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := sig.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}
