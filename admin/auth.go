package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Authenticator turns credentials into identities: one chain for every
// kind. A token's signature is verified once and remembered (bounded); an
// API key is found by its hash in the key directory. Expiry, the user's
// state, the token version and the key's state are checked on every call,
// so deactivation, deletion, password changes and key revocation end a
// credential on its next use.
type Authenticator struct {
	keys    *keyring
	cache   *tokenCache
	dir     *directory
	apiKeys *keyDirectory
	metrics *authMetrics
	now     func() time.Time
	// keyRefused writes the audit line of a refused key-shaped
	// credential; shown is the part of it that may be shown.
	keyRefused func(kind, shown, reason string)
	// idp verifies an identity provider's tokens and signIn turns their
	// claims into users; both nil without Config.OIDC.
	idp    *idp
	signIn func(*idpClaims) (*Identity, error)
	// idpRefused writes the audit line of a provider's token that did not
	// verify.
	idpRefused func(reason string)
}

// errBadKey is the one answer for an unknown, malformed, deactivated or
// expired API key, and for a Basic credential that is not a key.
var errBadKey = fmt.Errorf("%w: invalid or expired credentials", ErrUnauthenticated)

// maxBasicLen bounds a Basic credential (its base64 form), so that it
// decodes into a buffer on the stack.
const maxBasicLen = 512

// Authenticate returns the identity a bearer credential stands for: a
// Gatehouse token, or an API key (KeyPrefix). Any problem with it is
// ErrUnauthenticated; the reason is in the wrapped message, for logs only.
func (a *Authenticator) Authenticate(token string) (*Identity, error) {
	if strings.HasPrefix(token, KeyPrefix) {
		// Copied to the stack: the key is hashed without an allocation.
		var buf [maxBasicLen]byte
		if len(token) > len(buf) {
			return a.refuseKey(kindAPIKey, token, "too long")
		}
		n := copy(buf[:], token)
		return a.authenticateKey(kindAPIKey, buf[:n], nil, false)
	}
	id, err := a.authenticateToken(token)
	a.metrics.count(kindToken, err == nil)
	return id, err
}

// AuthenticateBasic returns the identity of an HTTP Basic credential
// (encoded is what follows "Basic "): a service account's name and one of
// its API keys. A person's password is refused (ErrUnauthenticated), with
// or without a valid name: checking a password costs an argon2id hash, so
// accepting passwords on every request would let anyone keep the hashing
// slots busy (and guess passwords without the login's rate limits); people
// log in once and send the token instead.
func (a *Authenticator) AuthenticateBasic(encoded string) (*Identity, error) {
	var src, raw [maxBasicLen]byte
	if len(encoded) > len(src) {
		return a.refuseKey(kindBasic, "", "basic credential too long")
	}
	n := copy(src[:], encoded)
	m, err := base64.StdEncoding.Decode(raw[:], src[:n])
	colon := bytes.IndexByte(raw[:m], ':')
	switch {
	case err != nil || colon < 0:
		return a.refuseKey(kindBasic, "", "malformed basic credential")
	case !bytes.HasPrefix(raw[colon+1:m], []byte(KeyPrefix)):
		return a.refuseKey(kindBasic, "", "a password in basic credentials; only API keys are accepted")
	}
	return a.authenticateKey(kindBasic, raw[colon+1:m], raw[:colon], true)
}

// authenticateKey finds the key whose hash is that of secret and checks
// that it and its account may be used now; with hasName, name must be the
// account's name. Every key-shaped secret is hashed and looked up, so an
// unknown key takes as long as a revoked one, and the answer is the same.
func (a *Authenticator) authenticateKey(kind string, secret, name []byte, hasName bool) (*Identity, error) {
	sum := sha256.Sum256(secret)
	t := a.now()
	now := t.Unix()
	k := a.apiKeys.byHashOf(sum)
	var id *Identity
	reason := ""
	switch {
	case k == nil:
		reason = "unknown key"
	case !k.live(t):
		reason = "key deactivated or expired"
	default:
		if id = k.identity(a.dir); id == nil || !id.active {
			reason = "the key's account is inactive or gone"
		} else if hasName && string(name) != id.name {
			reason = "the name is not the key's account"
		}
	}
	if reason != "" {
		return a.refuseKey(kind, string(secret[:min(len(secret), keyDisplayLen)]), reason)
	}
	k.used(now)
	a.metrics.count(kind, true)
	return id, nil
}

// refuseKey counts and audits a refused key-shaped credential.
func (a *Authenticator) refuseKey(kind, secret, reason string) (*Identity, error) {
	a.metrics.count(kind, false)
	// A trade (kindKeyLogin) writes its own login line.
	if a.keyRefused != nil && kind != kindKeyLogin && strings.HasPrefix(secret, KeyPrefix) {
		a.keyRefused(kind, keyDisplay(secret), reason)
	}
	return nil, errBadKey
}

// authenticateToken checks a Gatehouse token. A token traded for an API
// key (its key claim) stands for the key: it ends with the key, and the
// key's roles narrow it.
func (a *Authenticator) authenticateToken(token string) (*Identity, error) {
	if len(token) == 0 || len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token empty or too long", ErrUnauthenticated)
	}
	v := a.cache.get(token)
	if v == nil && a.idp != nil && a.idp.owns(token) {
		var err error
		if v, err = a.verifyIdP(token); err != nil {
			return nil, err
		}
	} else if v == nil {
		c, err := a.keys.verify(token)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
		}
		v = &verifiedToken{token: token, userID: c.Subject, ver: c.Ver, exp: c.ExpiresAt.Unix(), keyID: c.Key, sst: c.Sst}
		a.cache.put(v)
	}
	t := a.now()
	now := t.Unix()
	if now > v.exp+int64(tokenLeeway/time.Second) {
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
	case id.version != v.ver && !v.idp:
		return nil, fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	case v.keyID == "":
		return id, nil
	}
	k := a.apiKeys.get(v.keyID)
	if k == nil || !k.live(t) || k.userID != id.id {
		return nil, fmt.Errorf("%w: the token's API key is revoked or expired", ErrUnauthenticated)
	}
	kid := k.identity(a.dir)
	if kid == nil {
		return nil, fmt.Errorf("%w: user no longer exists", ErrUnauthenticated)
	}
	k.used(now)
	return kid, nil
}

// used records a use of the key at now (unix seconds), for last_used_at.
// It writes only when the second changed, so that concurrent requests do
// not contend on it.
func (k *apiKey) used(now int64) {
	if k.use.seen.Load() < now {
		k.use.seen.Store(now)
	}
}

// verifyIdP verifies an identity provider's token, signs its user in (see
// Service.signInIdP) and caches it, so that the signature is checked once
// per token. A deactivated or deleted user is refused on every use all
// the same: the cache holds the user's id, not its state.
func (a *Authenticator) verifyIdP(token string) (*verifiedToken, error) {
	c, err := a.idp.verify(token)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			a.idpRefused(err.Error())
		}
		return nil, err
	}
	id, err := a.signIn(c)
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, fmt.Errorf("%w: user no longer exists", ErrUnauthenticated)
	}
	v := &verifiedToken{token: token, userID: id.id, exp: c.exp.Unix(), idp: true}
	a.cache.put(v)
	return v, nil
}
