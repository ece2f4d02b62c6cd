package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// otherPrincipal is a proxy.Principal that is not an *Identity.
type otherPrincipal struct{ name string }

func (p otherPrincipal) UserID() string                         { return "id-" + p.name }
func (p otherPrincipal) Username() string                       { return p.name }
func (p otherPrincipal) Subject() string                        { return policy.UserSubject(p.name) }
func (p otherPrincipal) IdentityHeaders() proxy.IdentityHeaders { return proxy.IdentityHeaders{} }

// TestDataPlaneAuthenticate: a token that is not valid is no principal and
// no error (the data plane answers 401); a token that could not be checked
// is an error (503).
func TestDataPlaneAuthenticate(t *testing.T) {
	f := newTokenFixture(t)
	authn, _ := f.svc.DataPlane()
	for _, c := range []struct {
		name, token, user string
	}{
		{"valid", f.bobTok, "bob"},
		{"empty", "", ""},
		{"garbage", "not-a-token", ""},
		{"tampered", f.bobTok[:len(f.bobTok)-2] + "xx", ""},
	} {
		p, err := authn.Authenticate(bearer(c.token))
		switch {
		case err != nil:
			t.Errorf("%s: error %v, want none", c.name, err)
		case c.user == "" && p != nil:
			t.Errorf("%s: principal %v, want none", c.name, p)
		case c.user != "" && (p == nil || p.Username() != c.user):
			t.Errorf("%s: principal %v, want %s", c.name, p, c.user)
		}
	}
	down := &dataPlane{authenticate: func(string) (*Identity, error) {
		return nil, fmt.Errorf("%w: the store does not answer", ErrUnavailable)
	}}
	if p, err := down.Authenticate(bearer(f.bobTok)); p != nil || !errors.Is(err, ErrUnavailable) {
		t.Errorf("a token that could not be checked: %v, %v; want no principal and the error", p, err)
	}
}

// TestDataPlaneAuthorize: an anonymous request is decided as public, an
// identity (through its grant cache) and any other principal as their
// subject.
func TestDataPlaneAuthorize(t *testing.T) {
	f := newTokenFixture(t)
	if err := f.svc.eng.Update(context.Background(), func(c *policy.Change) error {
		c.Add("p", policy.Public, "/status", "GET")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bob, err := f.auth.Authenticate(f.bobTok)
	if err != nil {
		t.Fatal(err)
	}
	_, authz := f.svc.DataPlane()
	for _, c := range []struct {
		p            proxy.Principal
		method, path string
		want         proxy.Decision
	}{
		{nil, "GET", "/status", proxy.Decision{Allowed: true, Permission: policy.Public}},
		{nil, "GET", "/api/v1/pipelines", proxy.Decision{}},
		{bob, "GET", "/api/v1/pipelines", proxy.Decision{Allowed: true, Permission: policy.PermRead}},
		{bob, "PUT", "/api/v1/users/bob", proxy.Decision{Allowed: true, Permission: policy.PermMe}},
		{bob, "POST", "/api/v1/pipelines", proxy.Decision{}},
		{otherPrincipal{"root"}, "DELETE", "/api/v1/pipelines/1", proxy.Decision{Allowed: true, Permission: policy.PermWrite}},
		{otherPrincipal{"bob"}, "DELETE", "/api/v1/pipelines/1", proxy.Decision{}},
	} {
		if got, err := authz.Authorize(c.p, c.method, c.path); err != nil || got != c.want {
			t.Errorf("%v %s %s: %+v, %v; want %+v", c.p, c.method, c.path, got, err, c.want)
		}
	}
}

// TestIdentityHeadersFollowRoles: X-Forwarded-Groups names the user's roles
// in force, and is built again only when they change.
func TestIdentityHeadersFollowRoles(t *testing.T) {
	f := newTokenFixture(t)
	bob, err := f.auth.Authenticate(f.bobTok)
	if err != nil {
		t.Fatal(err)
	}
	first := bob.IdentityHeaders()
	if !slices.Equal(first.Groups, []string{policy.RoleGuest}) || !slices.Equal(first.User, []string{"bob"}) {
		t.Fatalf("headers %+v", first)
	}
	if again := bob.IdentityHeaders(); &again.Groups[0] != &first.Groups[0] {
		t.Error("the groups header was built again with the same roles")
	}
	if _, err := f.svc.Assign(context.Background(), "bob", policy.RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	if got := bob.IdentityHeaders().Groups; !slices.Equal(got, []string{"admin,guest"}) {
		t.Errorf("groups after the assignment %q, want admin,guest", got)
	}
	if n := testing.AllocsPerRun(100, func() { bob.IdentityHeaders() }); n != 0 {
		t.Errorf("IdentityHeaders: %.1f allocations, want 0", n)
	}
}

// bearer is the credential of an "Authorization: Bearer tok" header.
func bearer(tok string) proxy.Credential {
	return proxy.Credential{Scheme: proxy.SchemeBearer, Value: tok}
}

// TestRecheckPlane: open connections are decided again with the data
// plane's checks (a deactivated user is refused) without counting as
// authentications; Expires gives a token's exp.
func TestRecheckPlane(t *testing.T) {
	f := newTokenFixture(t)
	count := func() float64 { return testutil.ToFloat64(f.svc.auth.metrics.ok[kindToken]) }
	authn, _ := f.svc.DataPlane()
	quiet, authz := f.svc.RecheckPlane()
	before := count()
	if p, err := authn.Authenticate(bearer(f.bobTok)); p == nil || err != nil {
		t.Fatalf("data plane: %v, %v", p, err)
	}
	if count() != before+1 {
		t.Fatal("the data plane's authentication was not counted")
	}
	p, err := quiet.Authenticate(bearer(f.bobTok))
	if p == nil || err != nil {
		t.Fatalf("recheck: %v, %v", p, err)
	}
	if d, err := authz.Authorize(p, "GET", "/api/v1/pipelines"); err != nil || !d.Allowed {
		t.Errorf("recheck authorize: %+v, %v", d, err)
	}
	if count() != before+1 {
		t.Error("a recheck was counted as an authentication")
	}
	exp := quiet.(proxy.Expirer).Expires(bearer(f.bobTok))
	if want := f.issuedAt.Add(time.Hour); exp.Before(want.Add(-time.Second)) || exp.After(want.Add(time.Second)) {
		t.Errorf("Expires = %v, want the token's exp, about %v", exp, want)
	}
	if _, err := f.svc.UpdateUser(context.Background(), "", "bob", UpdateUser{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if p, err := quiet.Authenticate(bearer(f.bobTok)); p != nil || err != nil {
		t.Errorf("recheck of a deactivated user's token: %v, %v; want refused", p, err)
	}
}
