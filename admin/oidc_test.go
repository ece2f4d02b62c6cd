package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// testIdP is an OpenID Connect provider in the test's process: it serves
// discovery and its key set, and signs tokens with its current RSA key.
type testIdP struct {
	srv *httptest.Server

	mu  sync.Mutex // guards key and kid, and old
	key *rsa.PrivateKey
	kid string
	old []jose.JSONWebKey // keys rotated out, still published
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	p := &testIdP{}
	p.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys",
			"authorization_endpoint": p.srv.URL + "/auth", "token_endpoint": p.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}}, p.old...)}
		p.mu.Unlock()
		json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// rotate makes a new signing key with a new kid; the old one stays
// published.
func (p *testIdP) rotate(t *testing.T) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key != nil {
		p.old = append(p.old, jose.JSONWebKey{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"})
	}
	p.key, p.kid = k, "k"+rand.Text()[:8]
}

// claims are a token's claims: the defaults of a valid token for alice,
// changed by the test.
func (p *testIdP) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.srv.URL, "aud": "gatehouse", "sub": "sub-alice", "preferred_username": "alice",
		"email": "alice@example.com", "groups": []string{"staff"},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func (p *testIdP) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	p.mu.Lock()
	key := jose.JSONWebKey{Key: p.key, KeyID: p.kid}
	p.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, sig, claims)
}

func signWith(t *testing.T, sig jose.Signer, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
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

// hs256 signs claims with HMAC-SHA256 under key, by hand.
func hs256(claims map[string]any, key []byte, kid string) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// oidcService is a service that accepts p's tokens, with policy lines
// that map the provider's groups staff to guest and eng to editor.
func oidcService(t *testing.T, issuer string, domains ...string) *Service {
	t.Helper()
	csv := string(policyDefault(t)) + "g, editor, read\ng, editor, write\ng, editor, me\ng, oidc:staff, guest\ng, oidc:eng, editor\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.SQLite(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	eng, err := policy.New(ctx, db, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, db, eng, Config{
		TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminPassword: testAdminPW,
		NameReservation: 30 * 24 * time.Hour,
		OIDC: &OIDCConfig{Issuer: issuer, ClientID: "gatehouse", Audience: "gatehouse",
			UsernameClaim: "preferred_username", GroupsClaim: "groups", AllowedDomains: domains},
	}, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decide authenticates tok as the data plane does and decides method on
// path: "allow", "deny", "401" (no principal) or "503" (an error).
func decide(t *testing.T, s *Service, tok, method, path string) string {
	t.Helper()
	authn, authz := s.DataPlane()
	p, err := authn.Authenticate(bearer(tok))
	switch {
	case err != nil:
		return "503"
	case p == nil:
		return "401"
	}
	d, err := authz.Authorize(p, method, path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed {
		return "allow"
	}
	return "deny"
}

func userCount(t *testing.T, s *Service) int {
	t.Helper()
	var n int64
	if err := s.db.Model(&store.User{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestIdPTokens: a provider's token is verified (signature, algorithm,
// issuer, audience, lifetime), creates its user on first use, and the
// user's groups give roles through the policy's oidc: lines.
func TestIdPTokens(t *testing.T) {
	p := newTestIdP(t)
	s := oidcService(t, p.srv.URL)
	if on, err := s.SSOStatus(); !on || err != nil {
		t.Fatalf("SSOStatus %v %v", on, err)
	}
	users := userCount(t, s)
	tok := p.sign(t, p.claims())
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "allow" {
		t.Fatalf("staff reads: %s", got)
	}
	if got := decide(t, s, tok, "POST", "/api/v1/pipelines"); got != "deny" {
		t.Fatalf("staff writes: %s", got)
	}
	if userCount(t, s) != users+1 {
		t.Fatal("no user created")
	}
	u, err := s.GetUser(context.Background(), "alice")
	if err != nil || u.Email != "alice@example.com" || !u.Active {
		t.Fatalf("%+v %v", u, err)
	}

	c := p.claims()
	c["groups"] = []string{"staff", "eng"}
	eng := p.sign(t, c)
	if got := decide(t, s, eng, "POST", "/api/v1/pipelines"); got != "allow" {
		t.Fatalf("eng writes: %s", got)
	}
	if userCount(t, s) != users+1 {
		t.Fatal("a second token made a second user")
	}

	for name, bad := range map[string]string{
		"another audience": func() string { c := p.claims(); c["aud"] = "other"; return p.sign(t, c) }(),
		"expired":          func() string { c := p.claims(); c["exp"] = time.Now().Add(-time.Hour).Unix(); return p.sign(t, c) }(),
		"not yet valid":    func() string { c := p.claims(); c["nbf"] = time.Now().Add(time.Hour).Unix(); return p.sign(t, c) }(),
		"another issuer":   func() string { o := newTestIdP(t); return o.sign(t, o.claims()) }(),
		"forged issuer": func() string {
			o := newTestIdP(t)
			c := p.claims()
			return o.sign(t, c) // p's iss, o's key
		}(),
		"hs256 with the public key": func() string {
			p.mu.Lock()
			pub, kid := p.key.PublicKey, p.kid
			p.mu.Unlock()
			return hs256(p.claims(), pub.N.Bytes(), kid)
		}(),
		"hs256": hs256(p.claims(), []byte("0123456789abcdef0123456789abcdef"), ""),
		"none":  base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(mustJSON(p.claims())) + ".",
	} {
		if got := decide(t, s, bad, "GET", "/api/v1/pipelines"); got != "401" {
			t.Errorf("%s: %s, want 401", name, got)
		}
	}

	// A later token refreshes the group roles and leaves an admin's.
	if _, err := s.Assign(context.Background(), "alice", policy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c = p.claims()
	c["groups"] = []string{"staff"}
	c["iat"] = time.Now().Unix() + 1
	later := p.sign(t, c)
	if got := decide(t, s, later, "GET", "/api/v1/pipelines"); got != "allow" {
		t.Fatalf("later token: %s", got)
	}
	if got := s.eng.Parents(policy.UserSubject("alice")); !equalSet(got, []string{policy.RoleAdmin, "oidc:staff"}) {
		t.Errorf("alice's lines after the refresh: %v, want admin and oidc:staff", got)
	}

	// Key rotation at the provider: a token under the new kid verifies
	// (once the key set may be fetched again).
	p.rotate(t)
	if got := decide(t, s, p.sign(t, p.claims()), "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("a new kid within %s of the last key set fetch: %s, want 401", keySetEvery, got)
	}
	tr := s.idp.client.Transport.(*spacedTransport)
	tr.mu.Lock()
	tr.every = 0
	tr.mu.Unlock()
	if got := decide(t, s, p.sign(t, p.claims()), "GET", "/api/v1/pipelines"); got != "allow" {
		t.Errorf("after key rotation: %s", got)
	}

	// Deactivation ends the cached tokens and refuses new ones.
	f := false
	if _, err := s.UpdateUser(context.Background(), "", "alice", UpdateUser{Active: &f}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, later, p.sign(t, p.claims())} {
		if got := decide(t, s, tk, "GET", "/api/v1/pipelines"); got != "401" {
			t.Errorf("deactivated: %s, want 401", got)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func equalSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// TestIdPDeletedUser: deleting the user ends its valid token at once, and
// while its name is reserved a new token does not bring it back.
func TestIdPDeletedUser(t *testing.T) {
	p := newTestIdP(t)
	s := oidcService(t, p.srv.URL)
	tok := p.sign(t, p.claims())
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "allow" {
		t.Fatal(got)
	}
	if err := s.DeleteUser(context.Background(), "", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("deleted: %s, want 401", got)
	}
	c := p.claims()
	c["iat"] = time.Now().Unix() + 1
	if got := decide(t, s, p.sign(t, c), "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("a new token of the deleted user: %s, want 401", got)
	}
}

// TestIdPRefusedUsers: a token without a username, or with an email
// outside the allowed domains, is refused and creates no user.
func TestIdPRefusedUsers(t *testing.T) {
	p := newTestIdP(t)
	s := oidcService(t, p.srv.URL, "example.com")
	users := userCount(t, s)
	noName := p.claims()
	delete(noName, "preferred_username")
	delete(noName, "email")
	outside := p.claims()
	outside["email"], outside["sub"], outside["preferred_username"] = "mallory@evil.example", "sub-mallory", "mallory"
	badName := p.claims()
	badName["preferred_username"] = "al ice"
	unverified := p.claims()
	unverified["email_verified"] = false
	for name, c := range map[string]map[string]any{"no username": noName, "outside the domains": outside, "bad name": badName,
		"an unverified email": unverified} {
		if got := decide(t, s, p.sign(t, c), "GET", "/api/v1/pipelines"); got != "401" {
			t.Errorf("%s: %s, want 401", name, got)
		}
	}
	if n := userCount(t, s); n != users {
		t.Errorf("%d users created", n-users)
	}
	// The email is the name when the username claim is absent.
	byEmail := p.claims()
	delete(byEmail, "preferred_username")
	if got := decide(t, s, p.sign(t, byEmail), "GET", "/api/v1/pipelines"); got != "allow" {
		t.Errorf("by email: %s", got)
	}
	if _, err := s.GetUser(context.Background(), "alice@example.com"); err != nil {
		t.Error(err)
	}
}

// TestIdPUnreachable: a provider unreachable at start leaves the service
// up; its tokens cannot be checked (503) and SSOStatus says why.
func TestIdPUnreachable(t *testing.T) {
	p := newTestIdP(t)
	tok := p.sign(t, p.claims())
	p.srv.Close()
	s := oidcService(t, p.srv.URL)
	if on, err := s.SSOStatus(); !on || err == nil {
		t.Fatalf("SSOStatus %v %v", on, err)
	}
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "503" {
		t.Errorf("%s, want 503", got)
	}
}

// TestIdPDecisionPathAllocations: after its first use, a provider's token
// is authenticated and decided without an allocation.
func TestIdPDecisionPathAllocations(t *testing.T) {
	p := newTestIdP(t)
	s := oidcService(t, p.srv.URL)
	tok := p.sign(t, p.claims())
	authn, authz := s.DataPlane()
	run := func() {
		pr, err := authn.Authenticate(proxy.Credential{Scheme: proxy.SchemeBearer, Value: tok})
		if err != nil || pr == nil {
			t.Fatalf("%v %v", pr, err)
		}
		if d, err := authz.Authorize(pr, "GET", "/api/v1/pipelines"); err != nil || !d.Allowed {
			t.Fatalf("%+v %v", d, err)
		}
		pr.IdentityHeaders()
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%.1f allocations per decision, want 0", n)
	}
}

// TestIdPGroupsHeader: the upstream is told of the roles a group gives,
// not of the group.
func TestIdPGroupsHeader(t *testing.T) {
	p := newTestIdP(t)
	s := oidcService(t, p.srv.URL)
	c := p.claims()
	c["groups"] = []string{"staff", "eng", "not a valid name"}
	authn, _ := s.DataPlane()
	pr, err := authn.Authenticate(bearer(p.sign(t, c)))
	if err != nil || pr == nil {
		t.Fatalf("%v %v", pr, err)
	}
	if got := pr.IdentityHeaders().Groups; len(got) != 1 || got[0] != "editor,guest" {
		t.Errorf("groups header %q, want editor,guest", got)
	}
}
