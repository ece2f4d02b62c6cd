package policy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// The differential tests compare every decision with Casbin's own enforcer
// (casbin.NewEnforcer with the model file and Casbin's file adapter
// reading the same policy text) under the documented semantics:
//
//   - The default model says in Casbin's terms what the reserved role
//     public adds (g("public", p.sub)): Casbin's Enforce decides it alone.
//   - Under another model, a request is Enforce(user); when no policy line
//     decided it (Casbin's explanation is empty), Enforce(public).
//   - An anonymous request is the subject public; a HEAD request is decided
//     as GET under every model.
//   - Both sides have Gatehouse's matcher functions (pathMatch,
//     methodMatch) and resolve {self} the same way.
var (
	diffCases = flag.Int("differential.cases", 4000, "decisions each differential test compares with Casbin's (make fuzz runs millions)")
	diffSeed  = flag.Uint64("differential.seed", 0, "seed of the differential tests; 0 draws one, and a failure prints it")
)

// diffRand returns the tests' random source and its seed.
func diffRand(t *testing.T) (*rand.Rand, uint64) {
	seed := *diffSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rerun with: go test ./policy -run '%s' -differential.seed %d", t.Name(), seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// oracle is Casbin's enforcer on a model and a policy file.
type oracle struct {
	enf    *casbin.Enforcer
	custom bool
}

// selfIDs is {self}'s user-id resolver on both sides: a user's id is its
// name with -id.
func selfIDs(name string) string { return name + "-id" }

func newOracle(t *testing.T, model, csv string) *oracle {
	t.Helper()
	dir := t.TempDir()
	mf, pf := filepath.Join(dir, "model.conf"), filepath.Join(dir, "policy.csv")
	testkit.WriteFile(t, mf, model)
	testkit.WriteFile(t, pf, csv)
	enf, err := casbin.NewEnforcer(mf, pf)
	if err != nil {
		t.Fatalf("Casbin refuses the policy Gatehouse loaded: %v\nmodel:\n%s\npolicy:\n%s", err, model, csv)
	}
	registerFunctions(enf, selfIDs)
	if err := InstallScopedRoles(enf); err != nil {
		t.Fatal(err)
	}
	return &oracle{enf: enf, custom: !isDefaultModel(model)}
}

// decide is the documented semantics, with Casbin deciding.
func (o *oracle) decide(t *testing.T, sub, method, path string) bool {
	t.Helper()
	ok, err := o.try(sub, method, path)
	if err != nil {
		t.Fatalf("Casbin: %v", err)
	}
	return ok
}

// try is decide, returning Casbin's error.
func (o *oracle) try(sub, method, path string) (bool, error) {
	if sub == "" {
		sub = Public
	}
	act := decisionMethod(method)
	ok, rule, err := o.enf.EnforceEx(sub, path, act)
	if err != nil || ok || !o.custom || len(rule) > 0 || sub == Public {
		return ok, err
	}
	ok, _, err = o.enf.EnforceEx(Public, path, act)
	return ok, err
}

// gen draws the parts of random policies and requests.
type gen struct{ rng *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

// record writes a policy line in one of the spellings Casbin reads the
// same way: any spacing after the commas, quoted values, leading and
// trailing spaces on the line.
func (g gen) record(ptype string, fields ...string) string {
	var b strings.Builder
	b.WriteString(g.pick("", " ", "\t", "  "))
	b.WriteString(ptype)
	for _, f := range fields {
		b.WriteString(g.pick(",", ", ", ",  ", ",\t"))
		if g.rng.IntN(6) == 0 && !strings.ContainsAny(f, `"`) {
			f = `"` + f + `"`
		}
		b.WriteString(f)
	}
	b.WriteString(g.pick("", "", " ", "\t"))
	return b.String()
}

// file joins records into a policy file, with comments, blank lines and
// the odd duplicate between them.
func (g gen) file(records []string) string {
	var b strings.Builder
	for i, r := range records {
		switch g.rng.IntN(12) {
		case 0:
			b.WriteString("# a comment, p, x, /y, GET\n")
		case 1:
			b.WriteString("\n   \n")
		case 2:
			if i > 0 {
				b.WriteString(records[g.rng.IntN(i)] + "\n")
			}
		}
		b.WriteString(r + "\n")
	}
	return b.String()
}

var (
	diffUsers    = []string{"gus", "ada", "zed"}
	diffRoles    = []string{"admin", "guest", "r1", "r2", "r3", "public"}
	diffPerms    = []string{"read", "write", "me", "extra"}
	diffSegs     = []string{"api", "v1", "users", "runs", "gus", "gus-id", "ada", "x", "docs"}
	diffPatterns = []string{"/*", "/api/*", "/api/v1/users/{self}", "/api/v1/:kind/{id}", "/api/v1/runs", "/",
		"/api/", "/api/v1/users/{self}/*", "/x/{a}/docs", "/api/v1/{k}/*", "/docs", "/docs/*"}
	diffMethodLists = []string{"GET", "POST", "PUT", "DELETE", "GET|HEAD", "*", "OPTIONS", "PATCH|DELETE", "GET|POST"}
	diffMethods     = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// defaultRecords draws a policy for the default model: rules for
// permissions, roles, public and users; role chains, public's own chain
// (g, public, …) and chains longer than the ten hops Casbin follows.
func (g gen) defaultRecords() []string {
	recs := []string{g.record("g", "admin", "read"), g.record("g", "admin", "write"), g.record("g", "admin", "me")}
	subjects := append(append(append([]string(nil), diffPerms...), diffRoles...), "user:gus", "user:ada")
	for i := 3 + g.rng.IntN(10); i > 0; i-- {
		recs = append(recs, g.record("p", g.pick(subjects...), g.pick(diffPatterns...), g.pick(diffMethodLists...)))
	}
	parents := append(append([]string(nil), diffPerms...), diffRoles[1:]...)
	for i := 2 + g.rng.IntN(8); i > 0; i-- {
		child := g.pick(append(append([]string(nil), diffRoles...), "user:gus", "user:ada", "user:zed")...)
		if parent := g.pick(parents...); parent != child {
			recs = append(recs, g.record("g", child, parent))
		}
	}
	if g.rng.IntN(3) == 0 { // a long chain, entered by a user or by public
		n := 8 + g.rng.IntN(6)
		for i := 0; i < n; i++ {
			recs = append(recs, g.record("g", fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i+1)))
		}
		recs = append(recs, g.record("g", g.pick("user:gus", "public", "r1"), "c0"),
			g.record("p", fmt.Sprintf("c%d", g.rng.IntN(n+1)), g.pick(diffPatterns...), g.pick(diffMethodLists...)))
	}
	g.rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return recs
}

// path draws a request path.
func (g gen) path() string {
	parts := make([]string, 1+g.rng.IntN(4))
	for i := range parts {
		parts[i] = g.pick(diffSegs...)
	}
	return "/" + strings.Join(parts, "/") + g.pick("", "", "", "/")
}

// compare decides n random requests on both sides.
func compare(t *testing.T, e *Engine, o *oracle, g gen, n int, policy string) {
	t.Helper()
	for i := 0; i < n; i++ {
		sub, name := "", ""
		if u := g.rng.IntN(len(diffUsers) + 1); u < len(diffUsers) {
			name = diffUsers[u]
			sub = UserSubject(name)
		}
		method, path := g.pick(diffMethods...), g.path()
		id := ""
		if name != "" {
			id = selfIDs(name)
		}
		got, err := e.Decide(sub, id, name, method, path)
		if err != nil {
			t.Fatalf("Decide: %v", err)
		}
		if want := o.decide(t, sub, method, path); got.Allowed != want {
			t.Fatalf("%q %s %s: Gatehouse %v, Casbin %v\npolicy:\n%s", sub, method, path, got.Allowed, want, policy)
		}
		if x, err := e.Explain(sub, id, name, method, path); err != nil || x.Allowed != got.Allowed {
			t.Fatalf("%q %s %s: Explain %+v (%v), Decide %v", sub, method, path, x, err, got.Allowed)
		}
	}
}

// loadEngine builds an engine from a model and policy text, as serve does
// from a policy directory.
func loadEngine(t *testing.T, model, csv string) *Engine {
	t.Helper()
	lines, errs := ParseCSV("policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatalf("parse: %v\n%s", errs, csv)
	}
	e, err := New(context.Background(), nil, &Files{Model: model, ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines}, nil)
	if err != nil {
		t.Fatalf("New: %v\n%s", err, csv)
	}
	e.SetSelfResolver(selfIDs)
	return e
}

// TestDifferentialDefaultModel: random default-model policies, written in
// random spellings, decided by the compiled index and by Casbin.
func TestDifferentialDefaultModel(t *testing.T) {
	rng, _ := diffRand(t)
	g := gen{rng}
	for done := 0; done < *diffCases; {
		csv := g.file(g.defaultRecords())
		e := loadEngine(t, DefaultModel(), csv)
		compare(t, e, newOracle(t, DefaultModel(), csv), g, 100, csv)
		done += 100
	}
}

// TestDifferentialReloads: an engine over a database changes through
// updates (the admin API's path) and file reloads; after each change it
// decides as Casbin does on the union of both layers. The default model
// and a model Casbin decides (whose enforcer is rebuilt on each change).
func TestDifferentialReloads(t *testing.T) {
	rng, _ := diffRand(t)
	g := gen{rng}
	deny := customModels[1]
	for _, m := range []struct {
		name, model string
		records     func(gen) []string
		rule        func(gen) Line
	}{
		{"default", DefaultModel(), gen.defaultRecords, func(g gen) Line {
			return Line{Ptype: "p", Fields: []string{g.pick(append(diffRoles, diffPerms...)...), g.pick(diffPatterns...), g.pick(diffMethodLists...)}}
		}},
		{deny.name, deny.model, deny.records, func(g gen) Line {
			return Line{Ptype: "p", Fields: []string{g.pick("read", "r1", "public"), g.pick("/docs/*", "/api/:kind", "/x"), g.pick("GET", "POST"), g.pick("allow", "deny")}}
		}},
	} {
		t.Run(m.name, func(t *testing.T) {
			for done := 0; done < *diffCases/2; {
				done += reloads(t, g, m.model, m.records, m.rule, *diffCases/2-done)
			}
		})
	}
}

// reloads changes one engine up to eight times and compares after each
// change; it returns how many decisions it compared.
func reloads(t *testing.T, g gen, model string, records func(gen) []string, rule func(gen) Line, budget int) int {
	t.Helper()
	files := func(csv string) *Files {
		lines, errs := ParseCSV("policy.csv", []byte(csv))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return &Files{Model: model, ModelName: "model.conf", PolicyName: "policy.csv", Lines: lines}
	}
	fileCSV := g.file(records(g))
	e := newTestEngine(t, sqliteDB(t), files(fileCSV))
	e.SetSelfResolver(selfIDs)
	var dbLines []Line
	caches := map[string]*GrantCache{}
	done := 0
	for step := 0; step < 8 && done < budget; step++ {
		switch g.rng.IntN(4) {
		case 0: // a new file layer
			fileCSV = g.file(records(g))
			if err := e.ReplaceFiles(files(fileCSV)); err != nil {
				t.Fatal(err)
			}
		case 1: // remove a database line
			if len(dbLines) == 0 {
				continue
			}
			i := g.rng.IntN(len(dbLines))
			l := dbLines[i]
			err := e.Update(context.Background(), func(c *Change) error { return c.Remove(l.Ptype, l.Fields...) })
			var ro *ReadOnlyError
			switch {
			case errors.As(err, &ro): // a file declares it now: the API may not remove it
			case err != nil:
				t.Fatal(err)
			default:
				dbLines = slices.Delete(dbLines, i, i+1)
			}
		default: // add a database line: a role for a user, or a rule
			l := Line{Ptype: "g", Fields: []string{UserSubject(g.pick(diffUsers...)), g.pick(append(diffRoles[:5], diffPerms...)...)}}
			if g.rng.IntN(3) == 0 {
				l = rule(g)
			}
			if slices.ContainsFunc(dbLines, func(d Line) bool { return d.key() == l.key() }) {
				continue
			}
			if err := e.Update(context.Background(), func(c *Change) error { c.Add(l.Ptype, l.Fields...); return nil }); err != nil {
				t.Fatal(err)
			}
			dbLines = append(dbLines, l)
		}
		union := fileCSV
		for _, l := range dbLines {
			union += l.CSV() + "\n"
		}
		o := newOracle(t, model, union)
		compare(t, e, o, g, 50, union)
		if isDefaultModel(model) { // with a GrantCache per user held across the changes
			compareScoped(t, e, o, g, 20, union, caches)
		}
		done += 50
	}
	return done
}

// customModels are models Casbin decides, each with a way to draw lines
// for it: stock matchers, deny effects, subject priority, priority, and
// Gatehouse's functions in a model of one's own.
var customModels = []struct {
	name, model string
	records     func(g gen) []string
}{
	{"keymatch", `[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && keyMatch(r.obj, p.obj) && regexMatch(r.act, p.act)
`, func(g gen) []string {
		var recs []string
		for i := 2 + g.rng.IntN(8); i > 0; i-- {
			recs = append(recs, g.record("p", g.pick("user:gus", "user:ada", "public", "x"),
				g.pick("/docs/*", "/api/*", "/x", "/api/v1/runs", "/*"), g.pick("GET", "POST", "(GET)|(POST)", "PUT", "DELETE")))
		}
		return recs
	}},
	{"rbac-keymatch2-deny", `[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act, eft
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
[matchers]
m = g(r.sub, p.sub) && keyMatch2(r.obj, p.obj) && r.act == p.act
`, func(g gen) []string {
		recs := []string{g.record("g", "admin", "read"), g.record("g", "admin", "write"), g.record("g", "admin", "me")}
		for i := 2 + g.rng.IntN(8); i > 0; i-- {
			recs = append(recs, g.record("p", g.pick("read", "write", "r1", "public", "user:gus"),
				g.pick("/docs/*", "/api/:kind", "/api/v1/:kind/*", "/x", "/*"), g.pick("GET", "POST", "PUT"), g.pick("allow", "allow", "deny")))
		}
		for i := 1 + g.rng.IntN(5); i > 0; i-- {
			recs = append(recs, g.record("g", g.pick("user:gus", "user:ada", "r1", "public"), g.pick("read", "write", "r1")))
		}
		return recs
	}},
	{"subject-priority", `[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act, eft
[role_definition]
g = _, _
[policy_effect]
e = subjectPriority(p.eft) || deny
[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
`, func(g gen) []string {
		recs := []string{g.record("g", "admin", "read"), g.record("g", "admin", "write"), g.record("g", "admin", "me"),
			g.record("g", "user:gus", "editor"), g.record("g", "editor", "viewer")}
		for i := 2 + g.rng.IntN(8); i > 0; i-- {
			recs = append(recs, g.record("p", g.pick("viewer", "editor", "user:gus", "user:ada"),
				g.pick("/docs", "/x", "/api/v1/runs"), g.pick("GET", "POST"), g.pick("allow", "deny")))
		}
		return recs
	}},
	{"priority", `[request_definition]
r = sub, obj, act
[policy_definition]
p = priority, sub, obj, act, eft
[role_definition]
g = _, _
[policy_effect]
e = priority(p.eft) || deny
[matchers]
m = g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act
`, func(g gen) []string {
		recs := []string{g.record("g", "admin", "read"), g.record("g", "admin", "write"), g.record("g", "admin", "me")}
		for i := 2 + g.rng.IntN(8); i > 0; i-- {
			recs = append(recs, g.record("p", fmt.Sprint(1+g.rng.IntN(5)), g.pick("read", "user:gus", "user:ada", "public"),
				g.pick("/docs/*", "/x", "/*"), g.pick("GET", "POST"), g.pick("allow", "deny")))
		}
		for i := 1 + g.rng.IntN(4); i > 0; i-- {
			recs = append(recs, g.record("g", g.pick("user:gus", "user:ada"), g.pick("read", "admin")))
		}
		return recs
	}},
	{"gatehouse-functions", `[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub) && pathMatch(r.obj, p.obj, r.sub) && methodMatch(r.act, p.act) && r.obj != "/docs/secret"
`, func(g gen) []string {
		recs := g.defaultRecords()
		return recs
	}},
}

// TestDifferentialCustomModels: models Casbin decides, loaded by Gatehouse
// (its CSV reading, its adapter, HEAD as GET) and by Casbin's file adapter.
func TestDifferentialCustomModels(t *testing.T) {
	rng, _ := diffRand(t)
	g := gen{rng}
	for _, m := range customModels {
		t.Run(m.name, func(t *testing.T) {
			for done := 0; done < *diffCases/len(customModels); done += 100 {
				csv := g.file(m.records(g))
				e := loadEngine(t, m.model, csv)
				compare(t, e, newOracle(t, m.model, csv), g, 100, csv)
			}
		})
	}
}

// TestSubjectPriorityIgnoresLineOrder: under subjectPriority the user's own
// rule beats its role's, whichever line comes first, as in Casbin.
func TestSubjectPriorityIgnoresLineOrder(t *testing.T) {
	model := customModels[2].model
	if customModels[2].name != "subject-priority" {
		t.Fatalf("customModels[2] is %s", customModels[2].name)
	}
	const roles = "g, admin, read\ng, admin, write\ng, admin, me\ng, user:jane, editor\n"
	deny, allow := "p, editor, /data1, GET, deny\n", "p, user:jane, /data1, GET, allow\n"
	for _, csv := range []string{roles + deny + allow, roles + allow + deny} {
		e := loadEngine(t, model, csv)
		got, err := e.Decide(UserSubject("jane"), "", "jane", "GET", "/data1")
		if err != nil {
			t.Fatal(err)
		}
		if want := newOracle(t, model, csv).decide(t, UserSubject("jane"), "GET", "/data1"); !got.Allowed || !want {
			t.Errorf("Gatehouse %v, Casbin %v, want both to allow:\n%s", got.Allowed, want, csv)
		}
	}
}
