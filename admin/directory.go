package admin

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// Identity is an authenticated user as the data plane sees it. It is
// immutable; a change to the user replaces it in the directory.
type Identity struct {
	// The fields every request reads come first, so that they share the
	// object's first cache line: with many active users, identities are
	// scattered over the heap and each line read is likely a miss.

	// stale is set when a newer identity replaces this one (or the user is
	// deleted), so that holders of this pointer look the user up again.
	stale   atomic.Bool
	active  bool
	version int64
	// grants caches what the user reaches under the policy in force.
	grants policy.GrantCache
	// hdr holds the header values, built on first use (most of a large
	// directory never makes a request to this replica) and then shared:
	// the data plane forwards them as they are. They are rebuilt only when
	// the user's roles differ from those they were built with, so a
	// request allocates nothing until the policy changes the user's roles.
	hdr atomic.Pointer[identityHeaders]
	eng *policy.Engine
	// key is the API key the caller authenticated with (directly, or
	// through a token traded for it), nil otherwise; base is then the
	// account's own identity, and the key's roles narrow every decision.
	key            *apiKey
	base           *Identity
	subject        string
	id, name       string
	email          string
	emailVerified  bool
	serviceAccount bool
}

// UserID returns the user's id.
func (i *Identity) UserID() string { return i.id }

// Username returns the user's name.
func (i *Identity) Username() string { return i.name }

// Subject returns the user's policy subject.
func (i *Identity) Subject() string { return i.subject }

// ServiceAccount reports whether the identity is a service account's.
func (i *Identity) ServiceAccount() bool { return i.serviceAccount }

// KeyID returns the id of the API key the caller authenticated with, or "".
func (i *Identity) KeyID() string {
	if i.key == nil {
		return ""
	}
	return i.key.id
}

// Decide decides a request of this user with the policy in force, through
// the identity's own grant cache. A caller with a narrowed API key is
// allowed only what the account and the key's roles both allow.
func (i *Identity) Decide(method, path string) (policy.Decision, error) {
	d, err := i.eng.DecideCached(&i.grants, i.subject, i.id, i.name, method, path)
	if err != nil || !d.Allowed || i.key == nil || len(i.key.roles) == 0 {
		return d, err
	}
	if i.key.allows(i.eng, i.id, i.name, method, path) {
		return d, nil
	}
	return policy.Decision{}, nil
}

// identityHeaders are an identity's header values and the roles (as
// policy.Engine.RolesCached returns them) that Groups was built from.
type identityHeaders struct {
	roles  string
	values proxy.IdentityHeaders
}

// IdentityHeaders returns the values of the identity headers forwarded
// upstream, shared and never to be modified; the email headers and groups
// are nil when empty. X-Forwarded-Groups carries the user's direct roles
// under the policy in force, read through the identity's grant cache.
func (i *Identity) IdentityHeaders() proxy.IdentityHeaders {
	roles := i.eng.RolesCached(&i.grants, i.subject)
	if h := i.hdr.Load(); h != nil && h.roles == roles {
		return h.values
	}
	h := &identityHeaders{roles: roles, values: proxy.IdentityHeaders{User: []string{i.name}, ID: []string{i.id}}}
	if i.email != "" {
		h.values.Email = []string{i.email}
		h.values.EmailVerified = []string{strconv.FormatBool(i.emailVerified)}
	}
	if groups := i.groups(roles); groups != "" {
		h.values.Groups = []string{groups}
	}
	i.hdr.Store(h)
	return h.values
}

// groups returns the roles the upstream is told of: the account's, or
// with a narrowed key those of the key's roles the account still holds.
func (i *Identity) groups(roles string) string {
	if i.key == nil || len(i.key.roles) == 0 {
		return roles
	}
	held := strings.Split(roles, ",")
	var out []string
	for _, r := range i.key.roles {
		if slices.Contains(held, r) {
			out = append(out, r)
		}
	}
	return strings.Join(out, ",")
}

// viaKey returns the identity of a caller that authenticated with k, an
// API key of the account i.
func (i *Identity) viaKey(k *apiKey) *Identity {
	return &Identity{
		id: i.id, name: i.name, email: i.email, emailVerified: i.emailVerified,
		subject: i.subject, active: i.active, version: i.version, serviceAccount: i.serviceAccount,
		eng: i.eng, key: k, base: i,
	}
}

// directoryColumns are the columns of the users table the directory reads.
var directoryColumns = []string{"id", "username", "email", "email_verified", "active", "token_version", "kind"}

// directory is the in-memory view of every user, by id and by name, that
// authentication reads on each request. Every change to a user updates it
// right after the change commits, which is what makes revocation instant.
type directory struct {
	eng    *policy.Engine
	byID   sync.Map // id → *Identity
	mu     sync.RWMutex
	byName map[string]string // name → id; guarded by mu
}

func newDirectory(eng *policy.Engine) *directory {
	return &directory{eng: eng, byName: map[string]string{}}
}

func (d *directory) put(u *store.User) {
	sa := u.Kind == store.KindServiceAccount
	if old := d.get(u.ID); old != nil && old.name == u.Username && old.email == u.Email && old.emailVerified == u.EmailVerified &&
		old.active == u.Active && old.version == u.TokenVersion && old.serviceAccount == sa {
		return // unchanged: keep the identity (a full reload re-puts everyone)
	}
	id := &Identity{
		id: u.ID, name: u.Username, email: u.Email, emailVerified: u.EmailVerified,
		subject: policy.UserSubject(u.Username),
		active:  u.Active, version: u.TokenVersion, serviceAccount: sa, eng: d.eng,
	}
	d.mu.Lock()
	if old, ok := d.byID.Load(u.ID); ok {
		if old.(*Identity).name != u.Username {
			delete(d.byName, old.(*Identity).name)
		}
		defer old.(*Identity).stale.Store(true) // after the new one is in
	}
	d.byName[u.Username] = u.ID
	d.byID.Store(u.ID, id)
	d.mu.Unlock()
}

func (d *directory) remove(id string) {
	d.mu.Lock()
	if old, ok := d.byID.LoadAndDelete(id); ok {
		delete(d.byName, old.(*Identity).name)
		old.(*Identity).stale.Store(true)
	}
	d.mu.Unlock()
}

func (d *directory) get(id string) *Identity {
	v, ok := d.byID.Load(id)
	if !ok {
		return nil
	}
	return v.(*Identity)
}

// idOf returns the id of the user with the given name, or "".
func (d *directory) idOf(name string) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.byName[name]
}

// replaceAll makes the directory hold exactly users.
func (d *directory) replaceAll(users []store.User) {
	keep := make(map[string]bool, len(users))
	for i := range users {
		keep[users[i].ID] = true
		d.put(&users[i])
	}
	d.byID.Range(func(k, _ any) bool {
		if !keep[k.(string)] {
			d.remove(k.(string))
		}
		return true
	})
}
