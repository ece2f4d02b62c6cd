package admin

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// testMaxHops is the decision path's bound on g lines (policy.maxHops),
// which the oracle below counts independently.
const testMaxHops = 10

// report collects the access report's rows for f.
func report(t testing.TB, s *Service, f ReportFilter) []ReportRow {
	t.Helper()
	var rows []ReportRow
	if err := s.AccessReport(context.Background(), f, func(r ReportRow) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("AccessReport(%+v): %v", f, err)
	}
	return rows
}

// addUser inserts a user row as the store holds one; its roles come from
// the policy files.
func addUser(t testing.TB, s *Service, name, kind string, active bool) *store.User {
	t.Helper()
	key := store.IdentityKey(name)
	u := &store.User{ID: uuid.NewString(), Username: name, UsernameKey: &key, Active: active, Kind: kind}
	if err := s.db.Create(u).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

// genPolicy is a random policy: permissions with wildcard and {self}
// patterns, roles that hold permissions and roles, teams and identity
// provider groups that hold roles, a public permission, a chain of roles
// longer than the hop limit, and users holding all of those.
type genPolicy struct {
	csv     strings.Builder
	edges   map[string][]string // child → parents, as the g lines say
	users   []string
	routes  [][2]string // method, path
	roles   []string
	teams   []string
	isPerm  map[string]bool
	members map[string][]string // team subject → usernames
	scoped  [][3]string         // g2 lines: subject, role, workspace
}

func (g *genPolicy) line(ptype string, fields ...string) {
	g.csv.WriteString(ptype + ", " + strings.Join(fields, ", ") + "\n")
	switch ptype {
	case "g":
		g.edges[fields[0]] = append(g.edges[fields[0]], fields[1])
	case "g2":
		g.scoped = append(g.scoped, [3]string(fields))
	default:
		g.isPerm[fields[0]] = true
	}
}

func generate(seed uint64) *genPolicy {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &genPolicy{edges: map[string][]string{}, isPerm: map[string]bool{}, members: map[string][]string{}}
	g.line("g", "admin", "read")
	g.line("g", "admin", "write")
	g.line("g", "admin", "me")
	g.line("g", "guest", "read")
	g.line("p", "read", "/api/*", "GET")
	g.line("p", "write", "/api/*", "POST|PUT|DELETE")
	g.line("p", "me", "/users/{self}", "GET|PUT")
	g.line("p", "public", "/health", "GET")
	g.line("g", "public", "status")
	g.line("p", "status", "/status/{id}", "GET")
	patterns := []string{"/a/*", "/a/{id}", "/a/{id}/x", "/b/{self}", "/b/{self}/*", "/c", "/c/*", "/users/{self}/keys", "/api/runs/{id}"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "GET|POST", "*"}
	var perms []string
	for i := range 8 {
		p := fmt.Sprintf("perm%d", i)
		perms = append(perms, p)
		for range 1 + r.IntN(3) {
			g.line("p", p, patterns[r.IntN(len(patterns))], methods[r.IntN(len(methods))])
		}
	}
	perms = append(perms, "read", "write", "me")
	for i := range 10 {
		g.roles = append(g.roles, fmt.Sprintf("role%d", i))
	}
	for i, role := range g.roles {
		for range 1 + r.IntN(2) { // a role is a subject of g lines
			g.line("g", role, perms[r.IntN(len(perms))])
		}
		if i+1 < len(g.roles) && r.IntN(2) == 0 { // roles hold later roles: no cycles
			g.line("g", role, g.roles[i+1+r.IntN(len(g.roles)-i-1)])
		}
	}
	// far0 > far1 > … > far11 > perm0-far: beyond the hop limit from a user.
	g.line("p", "farperm", "/far", "GET")
	for i := range 11 {
		g.line("g", fmt.Sprintf("far%d", i), fmt.Sprintf("far%d", i+1))
	}
	g.line("g", "far11", "farperm")
	g.line("g", "far2", "perm7")
	// From a user holding far0, edgeperm is exactly maxHops g lines away,
	// overperm one more.
	g.line("p", "edgeperm", "/edge", "GET")
	g.line("p", "overperm", "/over", "GET")
	g.line("g", "far8", "edgeperm")
	g.line("g", "far9", "overperm")
	g.roles = append(g.roles, "far0", "far5")
	var groups []string
	for i := range 4 {
		t := policy.TeamSubject(fmt.Sprintf("team%d", i))
		g.teams = append(g.teams, t)
		for range 1 + r.IntN(2) {
			g.line("g", t, g.roles[r.IntN(len(g.roles))])
		}
	}
	for i := range 3 {
		o := policy.OIDCGroup(fmt.Sprintf("grp%d", i))
		groups = append(groups, o)
		g.line("g", o, g.roles[r.IntN(len(g.roles))])
	}
	// Routes bound to a workspace, and roles held in one (g2 lines) by
	// users, teams and groups.
	g.line("p", "perm3", "/ws/{workspace}/*", "GET|POST")
	g.line("p", "read", "/ws/{workspace}/runs/{id}", "GET")
	g.line("p", "wsperm", "/ws/{workspace}/deep/*", "*")
	g.line("g", "wsrole", "wsperm")
	g.roles = append(g.roles, "wsrole")
	for _, sub := range slices.Concat(g.teams, groups) {
		if r.IntN(2) == 0 {
			g.line("g2", sub, g.roles[r.IntN(len(g.roles))], []string{"wa", "wb"}[r.IntN(2)])
		}
	}
	holders := slices.Concat(g.roles, g.teams, groups)
	for i := range 30 {
		u := fmt.Sprintf("u%02d", i)
		g.users = append(g.users, u)
		for range r.IntN(4) {
			h := holders[r.IntN(len(holders))]
			if slices.Contains(g.edges[policy.UserSubject(u)], h) {
				continue
			}
			g.line("g", policy.UserSubject(u), h)
			if strings.HasPrefix(h, policy.TeamPrefix) {
				g.members[h] = append(g.members[h], u)
			}
		}
		if r.IntN(3) == 0 {
			g.line("g2", policy.UserSubject(u), g.roles[r.IntN(len(g.roles))], []string{"wa", "wb"}[r.IntN(2)])
		}
	}
	g.users = append(g.users, "zfar")
	g.line("g", policy.UserSubject("zfar"), "far0")
	// In wa, zfar holds far0 itself: the role's side counts its hops
	// apart, so overperm (10 g lines from far0) is reached there.
	g.line("g2", policy.UserSubject("zfar"), "far0", "wa")
	paths := []string{"/ws/wa/x", "/ws/wb/x", "/ws/wa/deep/y", "/ws/wb/deep/y", "/ws/wa/runs/r1", "/ws/wb/runs/r1", "/ws/wa", "/edge", "/over", "/a/x", "/a/x/x", "/a/x/y", "/c", "/c/d", "/health", "/status/s1", "/far", "/api/runs/r1", "/users/u00", "/nothing"}
	for _, u := range []string{"u01", "u02", "u03", "u07"} {
		paths = append(paths, "/b/"+u, "/b/"+u+"/deep", "/users/"+u, "/users/"+u+"/keys")
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"} {
			g.routes = append(g.routes, [2]string{m, p})
		}
	}
	return g
}

// dist returns the number of g lines on the shortest chain from a to b
// (-1 when there is none), counted with no bound.
func (g *genPolicy) dist(a, b string) int {
	d := map[string]int{a: 0}
	q := []string{a}
	for len(q) > 0 {
		n := q[0]
		q = q[1:]
		if n == b {
			return d[n]
		}
		for _, p := range g.edges[n] {
			if _, ok := d[p]; !ok {
				d[p] = d[n] + 1
				q = append(q, p)
			}
		}
	}
	return -1
}

// reaches reports whether sub reaches perm within the hop limit through
// mid ("" for any route), directly or through the public role.
func (g *genPolicy) reaches(sub, mid, perm string) bool {
	within := func(from string) bool {
		if mid == "" {
			d := g.dist(from, perm)
			return d >= 0 && d <= testMaxHops
		}
		d1, d2 := g.dist(from, mid), g.dist(mid, perm)
		return d1 >= 0 && d2 >= 0 && d1+d2 <= testMaxHops
	}
	return within(sub) || within(policy.Public)
}

// within reports whether the chain a → mid → b, mid "" for any, is at
// most the hop limit.
func (g *genPolicy) within(a, mid, b string) bool {
	if mid == "" {
		d := g.dist(a, b)
		return d >= 0 && d <= testMaxHops
	}
	d1, d2 := g.dist(a, mid), g.dist(mid, b)
	return d1 >= 0 && d2 >= 0 && d1+d2 <= testMaxHops
}

// wantScoped returns what the oracle says sub reaches through g2 lines
// (through mid unless ""), as PERM@WORKSPACE: a g2 line (s, R, W) with s
// within the hop limit of sub and the permission within it of R, each
// side counted apart, mid on either side.
func (g *genPolicy) wantScoped(sub, mid string) []string {
	set := map[string]bool{}
	for _, l := range g.scoped {
		for p := range g.isPerm {
			ok := g.within(sub, "", l[0]) && g.within(l[1], "", p)
			if mid != "" {
				ok = (g.within(sub, mid, l[0]) && g.within(l[1], "", p)) || (g.within(sub, "", l[0]) && g.within(l[1], mid, p))
			}
			if ok {
				set[p+"@"+l[2]] = true
			}
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	return out
}

// wantAll returns every row the oracle expects for sub through mid, as
// PERM or PERM@WORKSPACE, in the report's order (permission, then
// workspace with every workspace first).
func (g *genPolicy) wantAll(sub, mid string) []string {
	out := append(g.want(sub, mid), g.wantScoped(sub, mid)...)
	slices.SortFunc(out, func(a, b string) int {
		pa, wa, _ := strings.Cut(a, "@")
		pb, wb, _ := strings.Cut(b, "@")
		return cmp.Or(strings.Compare(pa, pb), strings.Compare(wa, wb))
	})
	return out
}

// rowKey is a report row as wantAll writes it.
func rowKey(r ReportRow) string {
	if r.Workspace == "" {
		return r.Permission
	}
	return r.Permission + "@" + r.Workspace
}

// want returns the permissions the oracle says sub reaches through mid.
func (g *genPolicy) want(sub, mid string) []string {
	var out []string
	for p := range g.isPerm {
		if g.reaches(sub, mid, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// TestAccessReportAgreesWithDecisions: on generated policies, the route
// query lists a user exactly when Decide allows them, with Decide's
// permission; every allowed (user, route) has its permission in the user's
// report; and each user's report (whole, through a role, through a team)
// lists exactly the permissions an independent walk of the g lines finds
// within the hop limit, each with a chain made of real g lines.
func TestAccessReportAgreesWithDecisions(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			checkGenerated(t, generate(seed))
		})
	}
}

func checkGenerated(t *testing.T, g *genPolicy) {
	ctx := context.Background()
	files := &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Revision: "gen"}
	lines, errs := policy.ParseCSV("policy.csv", []byte(g.csv.String()))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	files.Lines = lines
	s := serviceWithFiles(t, storetest.SQLite(t).DSN, files)
	users := map[string]*store.User{}
	for i, name := range g.users {
		kind := store.KindUser
		if i%7 == 3 {
			kind = store.KindServiceAccount
		}
		users[name] = addUser(t, s, name, kind, i%5 != 4)
	}
	g.users = append(g.users, "admin") // bootstrap's, with its database line
	g.edges["user:admin"] = []string{"admin"}
	var admin store.User
	if err := s.db.Where("username = ?", "admin").Take(&admin).Error; err != nil {
		t.Fatal(err)
	}
	users["admin"] = &admin

	perUser := map[string][]ReportRow{}
	for _, r := range report(t, s, ReportFilter{}) {
		perUser[r.User] = append(perUser[r.User], r)
	}
	for _, name := range g.users {
		u, sub := users[name], policy.UserSubject(name)
		var got []string
		for _, r := range perUser[name] {
			got = append(got, rowKey(r))
			if r.Kind != u.Kind || r.Active != u.Active {
				t.Errorf("%s: row %+v does not describe the user", name, r)
			}
			g.checkVia(t, sub, r)
		}
		if want := g.wantAll(sub, ""); !slices.Equal(got, want) {
			t.Errorf("report for %s: permissions %v, want %v", name, got, want)
		}
		if one := report(t, s, ReportFilter{User: name}); !slices.EqualFunc(one, perUser[name], rowsEqual) {
			t.Errorf("report --user %s differs from its rows in the whole report", name)
		}
	}
	for _, mid := range slices.Concat(g.roles, g.teams) {
		f := ReportFilter{Role: mid}
		if name, ok := strings.CutPrefix(mid, policy.TeamPrefix); ok {
			f = ReportFilter{Team: name}
		}
		got := map[string][]string{}
		for _, r := range report(t, s, f) {
			got[r.User] = append(got[r.User], rowKey(r))
			if !slices.Contains(r.Via, mid) {
				t.Errorf("%+v: row %v does not pass through %s", f, r, mid)
			}
			g.checkVia(t, policy.UserSubject(r.User), r)
		}
		for _, name := range g.users {
			want := g.wantAll(policy.UserSubject(name), mid)
			if f.Team != "" && !slices.Contains(g.members[mid], name) {
				want = nil
			}
			if !slices.Equal(got[name], want) {
				t.Errorf("%+v: %s has %v, want %v", f, name, got[name], want)
			}
		}
	}
	scopedRoutes := 0
	defer func() {
		scopedRows := 0
		for _, rs := range perUser {
			for _, r := range rs {
				if r.Workspace != "" {
					scopedRows++
				}
			}
		}
		if scopedRows == 0 || scopedRoutes == 0 {
			t.Errorf("the generated policy gives %d rows and %d route rows in a workspace: it tests nothing of g2", scopedRows, scopedRoutes)
		}
		t.Logf("%d rows and %d route rows in a workspace", scopedRows, scopedRoutes)
	}()
	for _, rt := range g.routes {
		method, path := rt[0], rt[1]
		rows := report(t, s, ReportFilter{Method: method, Path: path})
		byUser := map[string]ReportRow{}
		for _, r := range rows {
			byUser[r.User] = r
		}
		anon, _ := s.eng.Decide("", "", "", method, path)
		if r, ok := byUser[ReportAnyone]; ok != anon.Allowed || (ok && (r.Permission != anon.Permission || r.Kind != ReportKindAnonymous)) {
			t.Errorf("%s %s: anonymous row %+v, public decides %+v", method, path, r, anon)
		}
		for _, name := range g.users {
			u := users[name]
			d, err := s.eng.Decide(policy.UserSubject(name), u.ID, name, method, path)
			if err != nil {
				t.Fatal(err)
			}
			r, listed := byUser[name]
			if listed != d.Allowed || (listed && r.Permission != d.Permission) {
				t.Errorf("%s %s: %s listed %v (%+v), Decide says %+v", method, path, name, listed, r, d)
			}
			if listed && (r.Rule == "" || r.Via[len(r.Via)-1] != d.Permission) {
				t.Errorf("%s %s: %s's row %+v lacks the rule or the chain", method, path, name, r)
			}
			if listed && r.Workspace != "" && !strings.HasPrefix(path, "/ws/"+r.Workspace+"/") {
				t.Errorf("%s %s: %s's row %+v holds in another workspace", method, path, name, r)
			}
			if d.Allowed && !slices.ContainsFunc(perUser[name], func(pr ReportRow) bool {
				return pr.Permission == d.Permission && pr.Workspace == r.Workspace
			}) {
				t.Errorf("%s %s: Decide allows %s through %s (workspace %q), missing from the user's report", method, path, name, d.Permission, r.Workspace)
			}
		}
		for _, r := range rows {
			if r.Workspace != "" {
				scopedRoutes++
			}
		}
		if !slices.IsSortedFunc(rows, func(a, b ReportRow) int { return strings.Compare(a.User, b.User) }) {
			t.Errorf("%s %s: rows are not in username order", method, path)
		}
	}
	_ = ctx
}

// checkVia fails unless r's chain starts at sub, ends at its permission,
// follows g lines (or sub's implicit membership of public) and stays
// within the hop limit.
func (g *genPolicy) checkVia(t *testing.T, sub string, r ReportRow) {
	t.Helper()
	v := r.Via
	if len(v) == 0 || v[0] != sub || v[len(v)-1] != r.Permission {
		t.Errorf("%s: chain %v does not lead from %s to %s", r.User, v, sub, r.Permission)
		return
	}
	hops, scoped := len(v)-1, false
	for i := 1; i < len(v); i++ {
		if i == 1 && v[1] == policy.Public && !slices.Contains(g.edges[v[0]], policy.Public) {
			hops-- // the implicit membership costs no hop
			continue
		}
		if r.Workspace != "" && !scoped && slices.Contains(g.scoped, [3]string{v[i-1], v[i], r.Workspace}) {
			// The g2 hop: each side of it counts its g lines apart.
			scoped = true
			if i-1 > testMaxHops || len(v)-1-i > testMaxHops {
				t.Errorf("%s: chain %v: a side of the g2 line is longer than the hop limit", r.User, v)
			}
			continue
		}
		if !slices.Contains(g.edges[v[i-1]], v[i]) {
			t.Errorf("%s: chain %v: no g line %s, %s", r.User, v, v[i-1], v[i])
		}
	}
	switch {
	case r.Workspace != "" && !scoped:
		t.Errorf("%s: chain %v in workspace %s has no g2 line", r.User, v, r.Workspace)
	case r.Workspace == "" && hops > testMaxHops:
		t.Errorf("%s: chain %v is longer than the hop limit", r.User, v)
	}
}

func rowsEqual(a, b ReportRow) bool {
	return a.User == b.User && a.Kind == b.Kind && a.Active == b.Active && a.Permission == b.Permission &&
		a.Workspace == b.Workspace && slices.Equal(a.Via, b.Via) && a.Rule == b.Rule
}
