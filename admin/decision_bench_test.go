package admin

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// BenchmarkDecisionPath measures what the data plane spends on deciding a
// request with a bearer token: Authenticator.Authenticate of a token that
// was verified before (a cache hit, with the user's state checked) and
// policy.Engine.Decide under the default policy. verify is the signature
// and claims check a cache miss adds, for reference. The api-key rows
// decide with an API key (a hash and a lookup by it) instead of a token.
func BenchmarkDecisionPath(b *testing.B) {
	f := newTokenFixture(b)
	eng := f.svc.eng
	for _, bc := range []struct {
		name, token, method, path string
		allow                     bool
	}{
		{"allow", f.bobTok, "GET", "/api/v1/pipelines/3f2a9c", true},
		{"allow-self", f.bobTok, "PUT", "/api/v1/users/bob", true},
		{"allow-admin", f.rootTok, "DELETE", "/api/v1/pipelines/3f2a9c", true},
		{"deny", f.bobTok, "POST", "/api/v1/pipelines", false},
		{"deny-other-user", f.bobTok, "PUT", "/api/v1/users/root", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			decide := func() bool {
				id, err := f.auth.Authenticate(bc.token)
				if err != nil {
					b.Fatal(err)
				}
				d, err := id.Decide(bc.method, bc.path)
				if err != nil {
					b.Fatal(err)
				}
				return d.Allowed
			}
			// The first call verifies the token and caches the grants.
			if got := decide(); got != bc.allow {
				b.Fatalf("%s %s allowed = %v, want %v", bc.method, bc.path, got, bc.allow)
			}
			b.ReportAllocs()
			for b.Loop() {
				if decide() != bc.allow {
					b.Fatal("the decision changed")
				}
			}
		})
	}
	// data-plane is "allow" as the data plane runs it: through DataPlane,
	// with the identity headers it forwards.
	b.Run("data-plane", func(b *testing.B) {
		authn, authz := f.svc.DataPlane()
		b.ReportAllocs()
		for b.Loop() {
			p, err := authn.Authenticate(bearer(f.bobTok))
			if err != nil || p == nil {
				b.Fatal(err)
			}
			if d, err := authz.Authorize(p, "GET", "/api/v1/pipelines/3f2a9c"); err != nil || !d.Allowed {
				b.Fatalf("%+v, %v; want allowed", d, err)
			}
			p.IdentityHeaders()
		}
	})
	// api-key rows are data-plane with an API key instead of a token:
	// bearer, in Basic credentials, and narrowed to the guest role.
	mustAccount(b, f.svc, "ci", policy.RoleAdmin, policy.RoleGuest)
	full := string(mustKey(b, f.svc, "ci", CreateAPIKey{Name: "full", ExpiresIn: "90d"}).Key)
	narrow := string(mustKey(b, f.svc, "ci", CreateAPIKey{Name: "narrow", Roles: []string{policy.RoleGuest}}).Key)
	for _, kc := range []struct {
		name string
		cred proxy.Credential
	}{
		{"api-key", bearer(full)},
		{"api-key-basic", basic("ci", full)},
		{"api-key-narrowed", bearer(narrow)},
	} {
		b.Run(kc.name, func(b *testing.B) {
			authn, authz := f.svc.DataPlane()
			b.ReportAllocs()
			for b.Loop() {
				p, err := authn.Authenticate(kc.cred)
				if err != nil || p == nil {
					b.Fatal(err)
				}
				if d, err := authz.Authorize(p, "GET", "/api/v1/pipelines/3f2a9c"); err != nil || !d.Allowed {
					b.Fatalf("%+v, %v; want allowed", d, err)
				}
				p.IdentityHeaders()
			}
		})
	}
	b.Run("anonymous-deny", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d, err := eng.Decide("", "", "", "GET", "/api/v1/pipelines"); err != nil || d.Allowed {
				b.Fatalf("anonymous: %+v, %v; want a deny", d, err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.svc.keys.verify(f.bobTok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
