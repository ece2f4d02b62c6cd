package admin

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// TestDecisionPathAllocations keeps the decision path from regressing
// silently: a cached token authenticated and decided as the data plane
// does it (through DataPlane), allowed or denied, and the identity headers
// it forwards, allocate nothing (the target is at most 2).
func TestDecisionPathAllocations(t *testing.T) {
	f := newTokenFixture(t)
	authn, authz := f.svc.DataPlane()
	for _, c := range []struct {
		method, path string
		allow        bool
	}{
		{"GET", "/api/v1/pipelines/3f2a9c", true},
		{"PUT", "/api/v1/users/bob", true},
		{"POST", "/api/v1/pipelines", false},
	} {
		decide := func() {
			p, err := authn.Authenticate(bearer(f.bobTok))
			if err != nil || p == nil {
				t.Fatalf("authenticate: %v %v", p, err)
			}
			d, err := authz.Authorize(p, c.method, c.path)
			if err != nil || d.Allowed != c.allow {
				t.Fatalf("%s %s: %+v %v, want allowed=%v", c.method, c.path, d, err, c.allow)
			}
			if h := p.IdentityHeaders(); len(h.Groups) != 1 {
				t.Fatalf("groups header %q", h.Groups)
			}
		}
		decide() // verify the token, fill the grant cache, build the headers
		if n := testing.AllocsPerRun(1000, decide); n != 0 {
			t.Errorf("%s %s: %.1f allocations per decision, want 0", c.method, c.path, n)
		}
	}
}

// TestKeyDecisionPathAllocations: a request with an API key, as a bearer
// credential or in Basic credentials, narrowed or not, allocates nothing
// after the key's first use, as a cached token does.
func TestKeyDecisionPathAllocations(t *testing.T) {
	f := newTokenFixture(t)
	mustAccount(t, f.svc, "ci", policy.RoleAdmin, policy.RoleGuest)
	full := string(mustKey(t, f.svc, "ci", CreateAPIKey{Name: "full", ExpiresIn: "90d"}).Key)
	narrow := string(mustKey(t, f.svc, "ci", CreateAPIKey{Name: "narrow", Roles: []string{policy.RoleGuest}}).Key)
	authn, authz := f.svc.DataPlane()
	for _, c := range []struct {
		name         string
		cred         proxy.Credential
		method, path string
		allow        bool
	}{
		{"bearer", bearer(full), "POST", "/api/v1/pipelines", true},
		{"basic", basic("ci", full), "POST", "/api/v1/pipelines", true},
		{"narrowed allow", bearer(narrow), "GET", "/api/v1/pipelines/3f2a9c", true},
		{"narrowed deny", bearer(narrow), "POST", "/api/v1/pipelines", false},
		{"unknown key", bearer(KeyPrefix + "0000000000000000000000000000000000000000000"), "GET", "/", false},
	} {
		decide := func() {
			p, err := authn.Authenticate(c.cred)
			if err != nil || (p == nil) != (c.name == "unknown key") {
				t.Fatalf("%s: authenticate: %v %v", c.name, p, err)
			}
			if p == nil {
				return
			}
			d, err := authz.Authorize(p, c.method, c.path)
			if err != nil || d.Allowed != c.allow {
				t.Fatalf("%s: %+v %v, want allowed=%v", c.name, d, err, c.allow)
			}
			p.IdentityHeaders()
		}
		decide() // the key's first use: its identity, grant caches and headers
		if c.name == "unknown key" {
			continue // refusals write an audit line
		}
		if n := testing.AllocsPerRun(1000, decide); n != 0 {
			t.Errorf("%s: %.1f allocations per decision, want 0", c.name, n)
		}
	}
}
