package testkit

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// IdP is an OpenID Connect provider in the test's process: it serves its
// discovery document and key set and signs tokens (RS256) with its current
// key. Built on go-jose, which the product already depends on through
// go-oidc, it adds no module to the root go.mod.
type IdP struct {
	URL string // the issuer
	srv *httptest.Server

	mu  sync.Mutex // guards key, kid and old
	key *rsa.PrivateKey
	kid string
	old []jose.JSONWebKey // keys rotated out, still published
}

// NewIdP starts a provider; it stops when the test ends.
func NewIdP(t testing.TB) *IdP {
	t.Helper()
	p := &IdP{}
	p.Rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.URL, "jwks_uri": p.URL + "/keys",
			"authorization_endpoint": p.URL + "/auth", "token_endpoint": p.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{p.public()}, p.old...)}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Close stops the provider, as an outage would.
func (p *IdP) Close() { p.srv.Close() }

func (p *IdP) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}
}

// Rotate makes a new signing key with a new kid; the old one stays
// published.
func (p *IdP) Rotate(t testing.TB) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key != nil {
		p.old = append(p.old, p.public())
	}
	p.key, p.kid = k, "k"+rand.Text()[:8]
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
	p.mu.Lock()
	key := jose.JSONWebKey{Key: p.key, KeyID: p.kid}
	p.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
