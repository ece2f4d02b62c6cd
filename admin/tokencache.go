package admin

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// tokenCache remembers verified tokens so that a signature is checked once
// per token, not once per request. It is keyed by a hash of the token and
// bounded: when full, an arbitrary entry makes room. Only tokens whose
// signature verified are stored, so garbage tokens cannot fill it.
type tokenCache struct {
	seed maphash.Seed
	max  int

	mu sync.RWMutex // guards m
	m  map[uint64]*verifiedToken
}

// verifiedToken is what a verified token says. Revocation is checked on
// every use against the directory, so a cached token ends with its user.
type verifiedToken struct {
	// What every use reads comes first, in one cache line.
	token string // the token itself, to rule out hash collisions
	// id is the user's identity when last looked up; it is looked up again
	// once a change supersedes it, which spares a directory lookup per use.
	id  atomic.Pointer[Identity]
	exp int64 // unix seconds
	ver int64
	// idp marks an identity provider's token: it carries no token
	// version, so only the user's state and existence end it early.
	idp    bool
	keyID  string // the API key the token was traded for, or ""
	userID string
	sst    int64 // when the browser session began (unix seconds), 0 for other tokens
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed(), max: max, m: make(map[uint64]*verifiedToken)}
}

func (c *tokenCache) get(token string) *verifiedToken {
	h := maphash.String(c.seed, token)
	c.mu.RLock()
	v := c.m[h]
	c.mu.RUnlock()
	if v == nil || v.token != token {
		return nil
	}
	return v
}

func (c *tokenCache) put(v *verifiedToken) {
	h := maphash.String(c.seed, v.token)
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			if len(c.m) < c.max {
				break
			}
		}
	}
	c.m[h] = v
	c.mu.Unlock()
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
