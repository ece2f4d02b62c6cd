package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// API key format: KeyPrefix and 43 characters of base64url (256 random
// bits). The prefix lets secret scanners recognize a leaked key; the
// randomness makes a fast hash (SHA-256) safe to store and to check on
// every request, where a password would need argon2.
const (
	KeyPrefix = "gatehouse_"
	// KeyLen is the length of every key.
	KeyLen = len(KeyPrefix) + 43
	// keyDisplayLen is how much of a key lists and audit lines show.
	keyDisplayLen = 12
)

// KeyShaped reports whether s looks like an API key (the prefix and the
// length), whether or not it is one.
func KeyShaped(s string) bool { return len(s) == KeyLen && strings.HasPrefix(s, KeyPrefix) }

// keyDisplay returns the part of a credential that may be shown: the
// prefix and a few characters, never enough to use it.
func keyDisplay(s string) string {
	if len(s) > keyDisplayLen {
		s = s[:keyDisplayLen]
	}
	return strings.ToValidUTF8(s, "?")
}

// newKey returns a new random key and its hash.
func newKey() (key, hash string, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:]), nil
}

// apiKey is an API key as authentication reads it. It is immutable but for
// its use stamps and caches; a change to the key replaces it in the key
// directory.
type apiKey struct {
	id, name, userID string
	hash             [32]byte
	// roles narrow the account's roles, sorted; empty: all of them.
	roles  []string
	active bool
	// expires is the instant (unix nanoseconds) the key stops working, as
	// precise as the store keeps it, so a key never ends before the
	// expires_at the API shows; 0: never.
	expires int64
	// grants caches, per role of roles, what the role reaches under the
	// policy in force.
	grants []policy.GrantCache
	// view is the caller the key stands for (Identity.viaKey), rebuilt
	// when the account's identity is replaced.
	view atomic.Pointer[Identity]
	// use is the key's use stamps, shared with the entries that replace
	// this one.
	use *keyUse
}

// same reports whether k and o say the same of one key.
func (k *apiKey) same(o *apiKey) bool {
	return k.id == o.id && k.name == o.name && k.userID == o.userID && k.hash == o.hash &&
		k.active == o.active && k.expires == o.expires && slices.Equal(k.roles, o.roles)
}

// keyUse is when a key was last used, as this replica knows it: seen is
// the last use (unix seconds) and written the last one written to the
// store (flushLastUsed).
type keyUse struct {
	seen, written atomic.Int64
}

// live reports whether the key may be used at now.
func (k *apiKey) live(now time.Time) bool {
	return k.active && (k.expires == 0 || now.UnixNano() < k.expires)
}

// identity returns the caller the key stands for, or nil when its account
// is gone.
func (k *apiKey) identity(d *directory) *Identity {
	if v := k.view.Load(); v != nil && !v.base.stale.Load() {
		return v
	}
	acct := d.get(k.userID)
	if acct == nil {
		return nil
	}
	v := acct.viaKey(k)
	k.view.Store(v)
	return v
}

// allows reports whether one of the key's roles allows a request of the
// user id and name.
func (k *apiKey) allows(eng *policy.Engine, id, name, method, path string) bool {
	for j, r := range k.roles {
		if d, err := eng.DecideCached(&k.grants[j], r, id, name, method, path); err == nil && d.Allowed {
			return true
		}
	}
	return false
}

// reaches reports whether one of the key's roles reaches perm (every role
// when the key does not narrow).
func (k *apiKey) reaches(eng *policy.Engine, perm string) bool {
	if len(k.roles) == 0 {
		return true
	}
	for _, r := range k.roles {
		if eng.Reaches(r, perm) {
			return true
		}
	}
	return false
}

// splitRoles reads a stored role list.
func splitRoles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// keyDirectory is the in-memory view of every API key, by the hash of the
// key and by id, that authentication reads on each request. It holds the
// store's keys and nothing else (a presented key that is not one is never
// added), so it is bounded by the store. Every change to a key updates it
// right after the change commits.
type keyDirectory struct {
	mu     sync.RWMutex // guards byHash and byID
	byHash map[[32]byte]*apiKey
	byID   map[string]*apiKey
}

func newKeyDirectory() *keyDirectory {
	return &keyDirectory{byHash: map[[32]byte]*apiKey{}, byID: map[string]*apiKey{}}
}

func (kd *keyDirectory) put(row *store.APIKey) {
	k := &apiKey{id: row.ID, name: row.Name, userID: row.UserID, active: row.Active, roles: splitRoles(row.Roles)}
	if _, err := hex.Decode(k.hash[:], []byte(row.Hash)); err != nil {
		return // not a hash this code wrote: such a key cannot be used
	}
	k.grants = make([]policy.GrantCache, len(k.roles))
	if row.ExpiresAt != nil {
		k.expires = row.ExpiresAt.UnixNano()
	}
	kd.mu.Lock()
	defer kd.mu.Unlock()
	if old := kd.byID[row.ID]; old != nil {
		if old.same(k) {
			return // unchanged: keep its caches (a full reload re-puts every key)
		}
		k.use = old.use
		delete(kd.byHash, old.hash)
	} else {
		k.use = &keyUse{}
		if row.LastUsedAt != nil {
			k.use.written.Store(row.LastUsedAt.Unix())
		}
	}
	kd.byID[row.ID] = k
	kd.byHash[k.hash] = k
}

func (kd *keyDirectory) remove(id string) {
	kd.mu.Lock()
	defer kd.mu.Unlock()
	if old := kd.byID[id]; old != nil {
		delete(kd.byHash, old.hash)
		delete(kd.byID, id)
	}
}

// replaceAll makes the directory hold exactly rows.
func (kd *keyDirectory) replaceAll(rows []store.APIKey) {
	keep := make(map[string]bool, len(rows))
	for i := range rows {
		keep[rows[i].ID] = true
		kd.put(&rows[i])
	}
	kd.mu.RLock()
	var gone []string
	for id := range kd.byID {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	kd.mu.RUnlock()
	for _, id := range gone {
		kd.remove(id)
	}
}

func (kd *keyDirectory) byHashOf(sum [32]byte) *apiKey {
	kd.mu.RLock()
	k := kd.byHash[sum]
	kd.mu.RUnlock()
	return k
}

func (kd *keyDirectory) get(id string) *apiKey {
	kd.mu.RLock()
	k := kd.byID[id]
	kd.mu.RUnlock()
	return k
}

// all returns every key.
func (kd *keyDirectory) all() []*apiKey {
	kd.mu.RLock()
	defer kd.mu.RUnlock()
	out := make([]*apiKey, 0, len(kd.byID))
	for _, k := range kd.byID {
		out = append(out, k)
	}
	return out
}

// lastUsed returns when this replica last saw the key used, or zero.
func (kd *keyDirectory) lastUsed(id string) time.Time {
	if k := kd.get(id); k != nil {
		if t := k.use.seen.Load(); t != 0 {
			return time.Unix(t, 0).UTC()
		}
	}
	return time.Time{}
}
