package policy

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"gorm.io/gorm"
)

// maxHops bounds role chains, as Casbin's default role manager does.
const maxHops = 10

// maxCachedSubjects bounds the per-subject grant cache of one policy
// revision. Subjects come from authenticated users only, so the bound is a
// guard, not an expected size.
const maxCachedSubjects = 1 << 18

// Decision is the outcome of deciding one request.
type Decision struct {
	Allowed bool
	// Permission is the subject of the rule that allowed the request (a
	// permission such as "read", or "public"); empty on a deny.
	Permission string
	// Rule is the deciding line with its origin, filled by Explain only;
	// ", via public" ends it when the line applies through the public role
	// (every subject reaches what public reaches).
	Rule string
	// Workspace is, filled by Explain only, the workspace whose role (a
	// g2 line) allowed the request; "" when a global role or public did.
	Workspace string
	// Lines are, filled by Explain only, the lines Rule names: the
	// deciding p line, then the g2 line that gives the role in Workspace
	// when one does. Each has its origin (File and Num; no File for a
	// database line).
	Lines []Line
}

// viaPublic ends the Rule of a decision made through the public role.
const viaPublic = ", via public"

// Engine decides requests and keeps the policy's two layers.
type Engine struct {
	log *slog.Logger
	db  *dbLayer // nil without a database layer

	// wmu serializes changes: a database transaction and its application
	// to memory happen in commit order.
	wmu sync.Mutex

	mu      sync.RWMutex        // guards the fields below
	files   *Files              // the file layer
	fileKey map[string]Line     // file layer lines by content
	dbKey   keySet              // database layer lines, by content
	parents map[string][]string // 2-field g lines of the union: child → parents
	scopes  map[string][]scope  // g2 lines of the union: subject → (role, workspace)
	checks  *lineChecks         // how every line is validated, whatever its origin
	model   model.Model         // the model, for a non-default one
	casbin  *casbin.Enforcer    // non-default models only
	selfID  func(username string) string

	snap atomic.Pointer[snapshot]
	// onChange is called after every change is in force (see OnChange).
	onChange atomic.Pointer[func()]
}

// snapshot is what a decision reads without locks. A new one is published
// on every change; its grant cache starts empty.
type snapshot struct {
	x      *index // compiled p lines; nil for non-default models
	public bitset // what the public role reaches
	grants sync.Map
	n      atomic.Int32
}

// grantSet is what one subject reaches, cached per snapshot.
type grantSet struct {
	bits  bitset
	roles string // direct roles, sorted and comma-separated
	// scoped is what the subject reaches per workspace through g2 lines
	// (see scopedBits); nil for a subject that holds no workspace role.
	scoped map[string]bitset
}

// New builds an engine from the file layer and, when db is not nil, the
// database layer stored in gorm-adapter's casbin_rule table (created when
// missing). A nil files means the embedded defaults.
func New(ctx context.Context, db *gorm.DB, files *Files, log *slog.Logger) (*Engine, error) {
	if files == nil {
		files = DefaultFiles()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{log: log, dbKey: keySet{}}
	if db != nil {
		d, err := openDBLayer(db)
		if err != nil {
			return nil, err
		}
		e.db = d
		keys, err := d.load(ctx)
		if err != nil {
			return nil, err
		}
		e.dbKey = keys
	}
	if err := e.install(files, e.dbKey); err != nil {
		return nil, err
	}
	return e, nil
}

// SetSelfResolver sets the function that finds a user's id from the user's
// name, used by {self} when Casbin itself evaluates a match (non-default
// models and explanations).
func (e *Engine) SetSelfResolver(fn func(username string) string) {
	e.mu.Lock()
	e.selfID = fn
	e.mu.Unlock()
}

// OnChange sets fn to be called after every change is in force: a change
// made here (Update), changes of other replicas applied or a full reload
// (Exclusive), a new file layer (ReplaceFiles); nil stops the calls. fn
// runs with the engine's write lock held (the one that serializes
// changes), so it must not block and must not call Update, Exclusive or
// ReplaceFiles, which would wait for that lock forever; decisions (Decide)
// do not take it and may be made. The data plane only asks its open
// connections to be decided again.
func (e *Engine) OnChange(fn func()) {
	if fn == nil {
		e.onChange.Store(nil)
		return
	}
	e.onChange.Store(&fn)
}

// changed calls the OnChange function, if any.
func (e *Engine) changed() {
	if fn := e.onChange.Load(); fn != nil {
		(*fn)()
	}
}

// Revision returns the content hash of the file layer in force.
func (e *Engine) Revision() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.files.Revision
}

// ReplaceFiles validates a new file layer and puts it in force. On error the
// engine keeps the layer it had.
func (e *Engine) ReplaceFiles(files *Files) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if err := e.install(files, e.dbKey); err != nil {
		return err
	}
	e.changed()
	return nil
}

// fileLines returns the valid file lines in file order.
func fileLines(files *Files, fileKey map[string]Line) []Line {
	out := make([]Line, 0, len(fileKey))
	for _, l := range files.Lines {
		if f, ok := fileKey[l.key()]; ok && f.File == l.File && f.Num == l.Num {
			out = append(out, l)
		}
	}
	return out
}

// unionLines returns the file lines in file order, then the database lines
// that no file declares, in content order. It sorts the whole database
// layer: use it for exports and custom models, not on frequent paths.
func unionLines(files *Files, fileKey map[string]Line, dbKey keySet) []Line {
	out := fileLines(files, fileKey)
	return append(out, sortedDBLines(fileKey, dbKey, "")...)
}

// sortedDBLines returns the database lines of type ptype ("" for all) that
// no file declares, sorted by content.
func sortedDBLines(fileKey map[string]Line, dbKey keySet, ptype string) []Line {
	keys := make([]string, 0, len(dbKey))
	for k := range dbKey {
		if _, dup := fileKey[k]; !dup && (ptype == "" || strings.HasPrefix(k, ptype+"\x00")) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]Line, len(keys))
	for i, k := range keys {
		out[i] = lineOf(k)
	}
	return out
}

// ruleLines returns the p lines of both layers: what the index compiles.
func ruleLines(files *Files, fileKey map[string]Line, dbKey keySet) []Line {
	var out []Line
	for _, l := range fileLines(files, fileKey) {
		if l.Ptype == "p" {
			out = append(out, l)
		}
	}
	return append(out, sortedDBLines(fileKey, dbKey, "p")...)
}

// sortLines orders lines as files list them (by file and line).
func sortLines(ls []Line) {
	sort.SliceStable(ls, func(i, j int) bool {
		if ls[i].File != ls[j].File {
			return ls[i].File < ls[j].File
		}
		return ls[i].Num < ls[j].Num
	})
}

// buildParents collects the 2-value g lines of both layers: child → parents.
func buildParents(fileKey map[string]Line, dbKey keySet) map[string][]string {
	ps := make(map[string][]string, len(dbKey)/2+16)
	for _, l := range fileKey {
		if l.Ptype == "g" && len(l.Fields) == 2 {
			ps[l.Fields[0]] = append(ps[l.Fields[0]], l.Fields[1])
		}
	}
	for k := range dbKey {
		if _, dup := fileKey[k]; dup {
			continue
		}
		if child, parent, ok := edgeOf(k); ok {
			ps[child] = append(ps[child], parent)
		}
	}
	return ps
}

// closure returns what sub reaches through g lines within maxHops, sub
// included.
func closure(parents map[string][]string, sub string) []string {
	seen := []string{sub}
	frontier := []string{sub}
	for hop := 0; hop < maxHops && len(frontier) > 0; hop++ {
		var next []string
		for _, s := range frontier {
			for _, p := range parents[s] {
				if !slices.Contains(seen, p) {
					seen = append(seen, p)
					next = append(next, p)
				}
			}
		}
		frontier = next
	}
	return seen
}

// publish installs a new snapshot with index x (nil for non-default
// models) and an empty grant cache. Callers hold mu.
func (e *Engine) publish(x *index) {
	s := &snapshot{x: x}
	if s.x != nil {
		s.public = e.reachBits(s.x, Public)
	}
	e.snap.Store(s)
}

func (e *Engine) reachBits(x *index, sub string) bitset {
	b := make(bitset, x.words)
	for _, name := range closure(e.parents, sub) {
		if i, ok := x.subject[name]; ok {
			b.set(i)
		}
	}
	return b
}

// grants returns what sub reaches under snapshot s.
func (e *Engine) grants(s *snapshot, sub string) *grantSet {
	if v, ok := s.grants.Load(sub); ok {
		return v.(*grantSet)
	}
	e.mu.RLock()
	roles := directRoles(e.parents, sub)
	g := &grantSet{roles: strings.Join(roles, ",")}
	if s.x != nil {
		g.bits = e.reachBits(s.x, sub)
		g.bits.or(s.public)
		g.scoped = e.scopedBits(s.x, sub)
	}
	e.mu.RUnlock()
	if s.n.Load() < maxCachedSubjects {
		if _, loaded := s.grants.LoadOrStore(sub, g); !loaded {
			s.n.Add(1)
		}
	}
	return g
}

// GrantCache remembers what one subject reaches under the policy in force,
// for a holder that decides for the same subject again and again (a user's
// identity): DecideCached then skips the engine's own per-subject lookup.
// The engine refills it after every policy change. The zero value is ready.
type GrantCache struct{ p atomic.Pointer[grantSlot] }

// grantSlot is a GrantCache's content: a copy of what a decision reads of
// the subject's grantSet, in one small object. With the grants inline (a
// policy of up to inlineWords*64 permissions and roles) a cached decision
// reads the identity, this slot and the shared index, and no object of the
// engine's per-subject cache: with many active users those objects are
// scattered over the heap, and each pointer followed costs a cache miss.
type grantSlot struct {
	snap   *snapshot
	bits   bitset            // inline[:words], or the grant set's own bits
	scoped map[string]bitset // the grant set's
	roles  string            // the grant set's
	inline [inlineWords]uint64
}

// inlineWords is the size of the grants a grantSlot holds inline.
const inlineWords = 2

// newGrantSlot copies g, under snapshot s, into a slot.
func newGrantSlot(s *snapshot, g *grantSet) *grantSlot {
	sl := &grantSlot{snap: s, bits: g.bits, scoped: g.scoped, roles: g.roles}
	if n := len(g.bits); n <= inlineWords {
		copy(sl.inline[:], g.bits)
		sl.bits = sl.inline[:n:n]
	}
	return sl
}

// cached returns sub's grants under s from c, filling c on a miss.
func (e *Engine) cached(c *GrantCache, s *snapshot, sub string) *grantSlot {
	if sl := c.p.Load(); sl != nil && sl.snap == s {
		return sl
	}
	sl := newGrantSlot(s, e.grants(s, sub))
	c.p.Store(sl)
	return sl
}

// DecideCached is Decide for an authenticated subject with its GrantCache.
func (e *Engine) DecideCached(c *GrantCache, sub, userID, username, method, path string) (Decision, error) {
	s := e.snap.Load()
	if s.x == nil || sub == "" {
		return e.Decide(sub, userID, username, method, path)
	}
	g := e.cached(c, s, sub)
	if i := s.x.lookupScoped(method, path, g.bits, g.scoped, username, userID); i >= 0 {
		return Decision{Allowed: true, Permission: s.x.subjects[i]}, nil
	}
	return Decision{}, nil
}

// RolesCached is Groups through a GrantCache: the roles directly assigned
// to sub under the policy in force, sorted and comma-separated. The string
// is shared by every call until the policy changes.
func (e *Engine) RolesCached(c *GrantCache, sub string) string {
	return e.cached(c, e.snap.Load(), sub).roles
}

// Decide decides one request. sub is the user's subject (UserSubject), or
// "" for an anonymous request; userID and username are what {self} matches;
// path must be canonical. An error means the decision could not be made.
func (e *Engine) Decide(sub, userID, username, method, path string) (Decision, error) {
	if sub == "" {
		sub, userID, username = Public, "", ""
	}
	s := e.snap.Load()
	if s.x != nil {
		g, scoped := s.public, map[string]bitset(nil)
		if sub != Public {
			gs := e.grants(s, sub)
			g, scoped = gs.bits, gs.scoped
		}
		if i := s.x.lookupScoped(method, path, g, scoped, username, userID); i >= 0 {
			return Decision{Allowed: true, Permission: s.x.subjects[i]}, nil
		}
		return Decision{}, nil
	}
	return e.decideCasbin(sub, method, path, false)
}

// Groups returns the roles directly assigned to sub, sorted and
// comma-separated.
func (e *Engine) Groups(sub string) string {
	return e.grants(e.snap.Load(), sub).roles
}

// Explain decides like Decide and names the deciding rule.
func (e *Engine) Explain(sub, userID, username, method, path string) (Decision, error) {
	if sub == "" {
		sub, userID, username = Public, "", ""
	}
	s := e.snap.Load()
	if s.x == nil {
		return e.decideCasbin(sub, method, path, true)
	}
	d, _ := e.Decide(sub, userID, username, method, path)
	if !d.Allowed {
		return d, nil
	}
	i := s.x.subject[d.Permission]
	var scoped map[string]bitset // the grants Decide used (grants locks mu itself)
	if sub != Public {
		scoped = e.grants(s, sub).scoped
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	own := e.reachBits(s.x, sub)
	if sub != Public && !own.has(i) && !s.public.has(i) {
		// Neither the subject's global roles nor public's: a role it
		// holds in the path's workspace.
		d.Rule, d.Workspace, d.Lines = e.explainScoped(s.x, i, sub, userID, username, method, path, scoped)
		return d, nil
	}
	if l, ok := s.x.explain(i, method, path, username, userID); ok {
		d.Rule, d.Lines = l.String()+" ("+l.Origin()+")", []Line{l}
		if sub != Public && !own.has(i) {
			d.Rule += viaPublic
		}
	}
	return d, nil
}

// Reaches reports whether sub reaches target through g lines (a user holding
// a role, a role holding a permission), or is target. Roles held in a
// workspace only (g2 lines) do not count: a user who is admin in one
// workspace is not an administrator of Gatehouse.
func (e *Engine) Reaches(sub, target string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Contains(closure(e.parents, sub), target) || slices.Contains(closure(e.parents, Public), target)
}

// directRoles returns the roles sub holds directly, sorted: its parents,
// with an identity provider's group (oidc:GROUP) or a team (team:NAME)
// standing for the roles the policy gives the group or team, so the
// upstream is told of roles only.
func directRoles(parents map[string][]string, sub string) []string {
	var roles []string
	for _, p := range parents[sub] {
		if strings.HasPrefix(p, OIDCPrefix) || strings.HasPrefix(p, TeamPrefix) {
			roles = append(roles, parents[p]...)
		} else {
			roles = append(roles, p)
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}
