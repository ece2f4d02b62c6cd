package admin

import (
	"fmt"
	"time"
)

// Authenticator turns bearer tokens into identities. A token's signature is
// verified once and remembered (bounded); expiry, the user's state and the
// token version are checked on every call, so deactivation, deletion and
// password changes end a token on its next use.
type Authenticator struct {
	keys  *keyring
	cache *tokenCache
	dir   *directory
	now   func() time.Time
}

// Authenticate returns the identity a token stands for. Any problem with the
// token is ErrUnauthenticated; the reason is in the wrapped message, for
// logs only.
func (a *Authenticator) Authenticate(token string) (*Identity, error) {
	if len(token) == 0 || len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token empty or too long", ErrUnauthenticated)
	}
	v := a.cache.get(token)
	if v == nil {
		c, err := a.keys.verify(token)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
		}
		v = &verifiedToken{token: token, userID: c.Subject, ver: c.Ver, exp: c.ExpiresAt.Unix()}
		a.cache.put(v)
	}
	if a.now().Unix() > v.exp+int64(tokenLeeway/time.Second) {
		return nil, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	}
	id := v.id.Load()
	if id == nil || id.stale.Load() {
		id = a.dir.get(v.userID)
		v.id.Store(id)
	}
	switch {
	case id == nil:
		return nil, fmt.Errorf("%w: user no longer exists", ErrUnauthenticated)
	case !id.active:
		return nil, fmt.Errorf("%w: user is inactive", ErrUnauthenticated)
	case id.version != v.ver:
		return nil, fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	}
	return id, nil
}
