package admin

import "testing"

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
