package admin

import (
	"errors"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// dataPlane adapts the control plane to the Authenticator and Authorizer
// the data plane declares.
type dataPlane struct {
	// authenticate is Authenticator.Authenticate.
	authenticate func(token string) (*Identity, error)
	eng          *policy.Engine
}

var (
	_ proxy.Authenticator = (*dataPlane)(nil)
	_ proxy.Authorizer    = (*dataPlane)(nil)
)

// DataPlane returns what the data plane authenticates tokens and decides
// requests with: this service's users and tokens, and its policy engine.
func (s *Service) DataPlane() (proxy.Authenticator, proxy.Authorizer) {
	d := &dataPlane{authenticate: s.auth.Authenticate, eng: s.eng}
	return d, d
}

// Authenticate returns the token's identity. A token that is not valid is
// no principal and no error, which the data plane answers 401; any other
// error means the token could not be checked, which it answers 503.
func (d *dataPlane) Authenticate(token string) (proxy.Principal, error) {
	id, err := d.authenticate(token)
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return id, nil
}

// Authorize decides a request with the policy in force: an anonymous one
// (p is nil) as the public role, an identity through its own grant cache.
func (d *dataPlane) Authorize(p proxy.Principal, method, path string) (proxy.Decision, error) {
	var dec policy.Decision
	var err error
	switch id := p.(type) {
	case nil:
		dec, err = d.eng.Decide("", "", "", method, path)
	case *Identity:
		dec, err = id.Decide(method, path)
	default:
		dec, err = d.eng.Decide(p.Subject(), p.UserID(), p.Username(), method, path)
	}
	return proxy.Decision{Allowed: dec.Allowed, Permission: dec.Permission}, err
}
