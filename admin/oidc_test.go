package admin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

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
	return oidcServiceOn(t, storetest.SQLite(t).DSN, issuer, domains...)
}

// oidcServiceLog is oidcService logging to log.
func oidcServiceLog(t *testing.T, log *slog.Logger, issuer string, domains ...string) *Service {
	t.Helper()
	return oidcServiceWith(t, storetest.SQLite(t).DSN, log, issuer, domains...)
}

// oidcServiceOn is oidcService on the store dsn.
func oidcServiceOn(t *testing.T, dsn, issuer string, domains ...string) *Service {
	t.Helper()
	return oidcServiceWith(t, dsn, discardLog(), issuer, domains...)
}

// oidcServiceWith is oidcService on the store dsn, logging to log.
func oidcServiceWith(t *testing.T, dsn string, log *slog.Logger, issuer string, domains ...string) *Service {
	t.Helper()
	return newOIDCService(t, dsn, log, issuer, func(c *Config) { c.OIDC.AllowedDomains = domains })
}

// newOIDCService returns a service on the store dsn whose provider is
// issuer, with the policy's oidc: lines (staff → guest, eng → editor);
// edit changes the configuration first.
func newOIDCService(t testing.TB, dsn string, log *slog.Logger, issuer string, edit func(*Config)) *Service {
	t.Helper()
	csv := string(policyDefault(t)) + "g, editor, read\ng, editor, write\ng, editor, me\ng, oidc:staff, guest\ng, oidc:eng, editor\n"
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	db, eng := openStoreEngine(t, dsn, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines})
	cfg := Config{
		TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminPassword: testAdminPW,
		NameReservation: 30 * 24 * time.Hour,
		OIDC: &OIDCConfig{Issuer: issuer, ClientID: "gatehouse", Audience: "gatehouse",
			UsernameClaim: "preferred_username", GroupsClaim: "groups"},
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(context.Background(), db, eng, cfg, log)
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
func TestIdPTokens(t *testing.T) { eachStore(t, testIdPTokens) }

func testIdPTokens(t *testing.T, dsn string) {
	p := testkit.NewIdP(t)
	s := oidcServiceOn(t, dsn, p.URL)
	if on, err := s.SSOStatus(); !on || err != nil {
		t.Fatalf("SSOStatus %v %v", on, err)
	}
	users := userCount(t, s)
	tok := p.Sign(t, p.Claims())
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

	c := p.Claims()
	c["groups"] = []string{"staff", "eng"}
	eng := p.Sign(t, c)
	if got := decide(t, s, eng, "POST", "/api/v1/pipelines"); got != "allow" {
		t.Fatalf("eng writes: %s", got)
	}
	if userCount(t, s) != users+1 {
		t.Fatal("a second token made a second user")
	}

	for name, bad := range map[string]string{
		"another audience": func() string { c := p.Claims(); c["aud"] = "other"; return p.Sign(t, c) }(),
		"expired":          func() string { c := p.Claims(); c["exp"] = time.Now().Add(-time.Hour).Unix(); return p.Sign(t, c) }(),
		"not yet valid":    func() string { c := p.Claims(); c["nbf"] = time.Now().Add(time.Hour).Unix(); return p.Sign(t, c) }(),
		"another issuer":   func() string { o := testkit.NewIdP(t); return o.Sign(t, o.Claims()) }(),
		"forged issuer": func() string {
			o := testkit.NewIdP(t)
			c := p.Claims()
			return o.Sign(t, c) // p's iss, o's key
		}(),
		"hs256 with the public key": func() string {
			pub, kid := p.PublicKey()
			return hs256(p.Claims(), pub.N.Bytes(), kid)
		}(),
		"hs256": hs256(p.Claims(), []byte("0123456789abcdef0123456789abcdef"), ""),
		"none":  base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(mustJSON(p.Claims())) + ".",
	} {
		if got := decide(t, s, bad, "GET", "/api/v1/pipelines"); got != "401" {
			t.Errorf("%s: %s, want 401", name, got)
		}
	}

	// A later token refreshes the group roles and leaves an admin's.
	if _, err := s.Assign(context.Background(), "alice", policy.RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	c = p.Claims()
	c["groups"] = []string{"staff"}
	c["iat"] = time.Now().Unix() + 1
	later := p.Sign(t, c)
	if got := decide(t, s, later, "GET", "/api/v1/pipelines"); got != "allow" {
		t.Fatalf("later token: %s", got)
	}
	if got := s.eng.Parents(policy.UserSubject("alice")); !equalSet(got, []string{policy.RoleAdmin, "oidc:staff"}) {
		t.Errorf("alice's lines after the refresh: %v, want admin and oidc:staff", got)
	}

	// Key rotation at the provider: a token under the new kid verifies
	// (once the key set may be fetched again).
	p.Rotate(t)
	if got := decide(t, s, p.Sign(t, p.Claims()), "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("a new kid within %s of the last key set fetch: %s, want 401", keySetEvery, got)
	}
	if n := fetches(s, "throttled"); n < 1 {
		t.Errorf("throttled key set fetches counted: %v, want at least 1", n)
	}
	tr := s.idp.keys
	tr.mu.Lock()
	tr.every = 0
	tr.mu.Unlock()
	// go-oidc hands the refused fetch's result to a verification that
	// starts just as it ends, so the first try may still see it.
	rotated := p.Sign(t, p.Claims())
	got := ""
	for range 50 {
		if got = decide(t, s, rotated, "GET", "/api/v1/pipelines"); got == "allow" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got != "allow" {
		t.Errorf("after key rotation: %s", got)
	}
	if n := fetches(s, "ok"); n < 2 {
		t.Errorf("key set fetches counted ok: %v, want at least 2 (first use and rotation)", n)
	}

	// Deactivation ends the cached tokens and refuses new ones.
	f := false
	if _, err := s.UpdateUser(context.Background(), "", "alice", UpdateUser{Active: &f}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, later, p.Sign(t, p.Claims())} {
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
	p := testkit.NewIdP(t)
	s := oidcService(t, p.URL)
	tok := p.Sign(t, p.Claims())
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "allow" {
		t.Fatal(got)
	}
	if err := s.DeleteUser(context.Background(), "", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("deleted: %s, want 401", got)
	}
	c := p.Claims()
	c["iat"] = time.Now().Unix() + 1
	if got := decide(t, s, p.Sign(t, c), "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("a new token of the deleted user: %s, want 401", got)
	}
}

// TestIdPRefusedUsers: a token without a username, or with an email
// outside the allowed domains, is refused and creates no user.
func TestIdPRefusedUsers(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs bytes.Buffer
	s := oidcServiceLog(t, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), p.URL, "example.com")
	users := userCount(t, s)
	noName := p.Claims()
	delete(noName, "preferred_username")
	delete(noName, "email")
	outside := p.Claims()
	outside["email"], outside["sub"], outside["preferred_username"] = "mallory@evil.example", "sub-mallory", "mallory"
	badName := p.Claims()
	badName["preferred_username"] = "al ice"
	unverified := p.Claims()
	unverified["email_verified"] = false
	for name, c := range map[string]map[string]any{"no username": noName, "outside the domains": outside, "bad name": badName,
		"an unverified email": unverified} {
		if got := decide(t, s, p.Sign(t, c), "GET", "/api/v1/pipelines"); got != "401" {
			t.Errorf("%s: %s, want 401", name, got)
		}
	}
	if n := userCount(t, s); n != users {
		t.Errorf("%d users created", n-users)
	}
	hs := hs256(p.Claims(), []byte("0123456789abcdef0123456789abcdef"), "")
	if got := decide(t, s, hs, "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("hs256: %s", got)
	}
	audit := strings.Count(logs.String(), `"msg":"identity provider token refused"`)
	if audit != 5 || strings.Contains(logs.String(), hs[:20]) {
		t.Errorf("%d audit lines of refused tokens, want 5 (and never the token):\n%s", audit, logs.String())
	}
	// The email is the name when the username claim is absent.
	byEmail := p.Claims()
	delete(byEmail, "preferred_username")
	if got := decide(t, s, p.Sign(t, byEmail), "GET", "/api/v1/pipelines"); got != "allow" {
		t.Errorf("by email: %s", got)
	}
	if _, err := s.GetUser(context.Background(), "alice@example.com"); err != nil {
		t.Error(err)
	}
}

// TestIdPUnreachable: a provider unreachable at start leaves the service
// up; its tokens cannot be checked (503) and SSOStatus says why.
func TestIdPUnreachable(t *testing.T) {
	p := testkit.NewIdP(t)
	tok := p.Sign(t, p.Claims())
	p.Close()
	s := oidcService(t, p.URL)
	if on, err := s.SSOStatus(); !on || err == nil {
		t.Fatalf("SSOStatus %v %v", on, err)
	}
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "503" {
		t.Errorf("%s, want 503", got)
	}
}

// TestIdPKeySetUnreachable: a key set fetch that fails (the provider gone
// after discovery) refuses the token and is counted as an error.
func TestIdPKeySetUnreachable(t *testing.T) {
	p := testkit.NewIdP(t)
	s := oidcService(t, p.URL)
	tok := p.Sign(t, p.Claims())
	p.Close()
	if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("a token whose keys cannot be fetched: %s, want 401", got)
	}
	if n := fetches(s, "error"); n != 1 {
		t.Errorf("failed key set fetches counted: %v, want 1", n)
	}
}

// TestIdPDecisionPathAllocations: after its first use, a provider's token
// is authenticated and decided without an allocation.
func TestIdPDecisionPathAllocations(t *testing.T) {
	p := testkit.NewIdP(t)
	s := oidcService(t, p.URL)
	tok := p.Sign(t, p.Claims())
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
	p := testkit.NewIdP(t)
	s := oidcService(t, p.URL)
	c := p.Claims()
	c["groups"] = []string{"staff", "eng", "not a valid name"}
	authn, _ := s.DataPlane()
	pr, err := authn.Authenticate(bearer(p.Sign(t, c)))
	if err != nil || pr == nil {
		t.Fatalf("%v %v", pr, err)
	}
	if got := pr.IdentityHeaders().Groups; len(got) != 1 || got[0] != "editor,guest" {
		t.Errorf("groups header %q, want editor,guest", got)
	}
}

// fetches returns gatehouse_oidc_key_set_fetches_total{result}.
func fetches(s *Service, result string) float64 {
	return testutil.ToFloat64(s.idp.keys.fetches.WithLabelValues(result))
}
