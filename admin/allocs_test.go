package admin

import "testing"

// TestDecisionPathAllocations keeps the decision path from regressing
// silently: a cached token authenticated and decided, allowed or denied,
// allocates nothing (the target is at most 2).
func TestDecisionPathAllocations(t *testing.T) {
	f := newTokenFixture(t)
	for _, c := range []struct {
		method, path string
		allow        bool
	}{
		{"GET", "/api/v1/pipelines/3f2a9c", true},
		{"PUT", "/api/v1/users/bob", true},
		{"POST", "/api/v1/pipelines", false},
	} {
		decide := func() {
			id, err := f.auth.Authenticate(f.bobTok)
			if err != nil {
				t.Fatal(err)
			}
			d, err := id.Decide(c.method, c.path)
			if err != nil || d.Allowed != c.allow {
				t.Fatalf("%s %s: %+v %v, want allowed=%v", c.method, c.path, d, err, c.allow)
			}
		}
		decide() // verify the token and fill the grant cache
		if n := testing.AllocsPerRun(1000, decide); n != 0 {
			t.Errorf("%s %s: %.1f allocations per decision, want 0", c.method, c.path, n)
		}
	}
}
