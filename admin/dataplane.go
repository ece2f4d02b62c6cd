package admin

import (
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// dataPlane adapts the control plane to the Authenticator and Authorizer
// the data plane declares.
type dataPlane struct {
	// authenticate and authenticateBasic are the Authenticator's
	// Authenticate and AuthenticateBasic.
	authenticate      func(token string) (*Identity, error)
	authenticateBasic func(encoded string) (*Identity, error)
	// tokens and apiKeys are read by Expires.
	tokens  *tokenCache
	apiKeys *keyDirectory
	eng     *policy.Engine
	metrics *authMetrics
}

var (
	_ proxy.Authenticator = (*dataPlane)(nil)
	_ proxy.Authorizer    = (*dataPlane)(nil)
	_ proxy.Expirer       = (*dataPlane)(nil)
)

// DataPlane returns what the data plane authenticates credentials and
// decides requests with: this service's users, tokens and API keys, and
// its policy engine.
func (s *Service) DataPlane() (proxy.Authenticator, proxy.Authorizer) {
	d := &dataPlane{
		authenticate: s.auth.Authenticate, authenticateBasic: s.auth.AuthenticateBasic,
		tokens: s.auth.cache, apiKeys: s.apiKeys,
		eng: s.eng, metrics: s.auth.metrics,
	}
	return d, d
}

// RecheckPlane returns what open connections are decided again with: the
// data plane's checks exactly, but neither counted in
// gatehouse_authentications_total nor as anonymous requests, nor audited
// as refused credentials, since a round of re-decisions is no new request.
// It is a copy of the service's Authenticator as it is now: call it once
// the service is configured.
func (s *Service) RecheckPlane() (proxy.Authenticator, proxy.Authorizer) {
	quiet := *s.auth
	quiet.metrics = newAuthMetrics() // registered nowhere
	// A credential refused in a round ends its connections, audited as
	// stream_closed; it is no refused request of its own.
	quiet.keyRefused, quiet.idpRefused = nil, func(string) {}
	d := &dataPlane{
		authenticate: quiet.Authenticate, authenticateBasic: quiet.AuthenticateBasic,
		tokens: quiet.cache, apiKeys: quiet.apiKeys, eng: s.eng,
	}
	return d, d
}

// Authenticate returns the credential's identity: a bearer token or API
// key, or an API key in Basic credentials. A credential that is not valid
// is no principal and no error, which the data plane answers 401; any
// other error means it could not be checked, which it answers 503.
func (d *dataPlane) Authenticate(c proxy.Credential) (proxy.Principal, error) {
	var id *Identity
	var err error
	switch c.Scheme {
	case proxy.SchemeBearer:
		id, err = d.authenticate(c.Value)
	case proxy.SchemeBasic:
		id, err = d.authenticateBasic(c.Value)
	default:
		err = errBadKey
	}
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
		if d.metrics != nil {
			d.metrics.count(kindAnonymous, true)
		}
		dec, err = d.eng.Decide("", "", "", method, path)
	case *Identity:
		dec, err = id.Decide(method, path)
	default:
		dec, err = d.eng.Decide(p.Subject(), p.UserID(), p.Username(), method, path)
	}
	return proxy.Decision{Allowed: dec.Allowed, Permission: dec.Permission}, err
}

// Expires returns when a bearer credential ends: a token's exp (as
// verified before, so without the leeway its check allows for other
// replicas' clocks), an API key's expiry. Basic credentials, tokens not
// seen yet and keys without expiry give the zero time.
func (d *dataPlane) Expires(c proxy.Credential) time.Time {
	if c.Scheme != proxy.SchemeBearer {
		return time.Time{}
	}
	if strings.HasPrefix(c.Value, KeyPrefix) {
		if k := d.apiKeys.byHashOf(sha256.Sum256([]byte(c.Value))); k != nil && k.expires != 0 {
			return time.Unix(0, k.expires)
		}
		return time.Time{}
	}
	if v := d.tokens.get(c.Value); v != nil {
		return time.Unix(v.exp, 0)
	}
	return time.Time{}
}
