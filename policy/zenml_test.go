package policy

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy/preset"
)

// zenmlRoute is one row of testdata/zenml-0.40-routes.tsv, a copy of the
// route table the ZenML preset must reproduce, except for the routes of
// closedRoutes, whose permission is "closed": the policy lets them through
// for no one.
type zenmlRoute struct {
	method, path, perm string
	line               int
}

func zenmlRoutes(t *testing.T) []zenmlRoute {
	t.Helper()
	recs, lines := readTSV(t, filepath.Join("testdata", "zenml-0.40-routes.tsv"), 3)
	var out []zenmlRoute
	for i, r := range recs {
		if r[0] == "method" {
			continue // the header
		}
		perm := r[2]
		if _, closed := closedRoutes[r[0]+" "+r[1]]; closed {
			perm = "closed"
		}
		out = append(out, zenmlRoute{method: r[0], path: r[1], perm: perm, line: lines[i]})
	}
	if len(out) < 100 {
		t.Fatalf("only %d routes read", len(out))
	}
	return out
}

// closedRoutes are the routes of ZenML 0.40 that the preset keeps from
// ever reaching ZenML, and why.
var closedRoutes = map[string]string{
	"POST /api/v1/login":                           "Gatehouse answers it (the preset's LoginPath)",
	"PUT /api/v1/users/{user_name_or_id}/activate": "unauthenticated password reset in ZenML 0.40 (CVE-2024-25723)",
}

// userParam is the path parameter that names a user in ZenML's routes.
const userParam = "{user_name_or_id}"

// holds reports whether the caller holds perm (for "me": whether it holds
// me and the route is about its own user).
func (c caller) holds(perm string, own bool) bool {
	if perm == "none" {
		return true
	}
	held := map[string][]string{"admin": {"read", "write", "me"}, "guest": {"read", "me"}, "writer": {"write"}}
	for _, r := range c.roles {
		if slices.Contains(held[r], perm) {
			return perm != "me" || own
		}
	}
	return false
}

// routeMatches is the oracle's own path matcher, independent of the
// engine's: a {param} matches one non-empty segment. It also reports
// whether the user parameter, if any, named the caller.
func routeMatches(pattern, path string, c caller) (match, own bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false, false
	}
	own = !strings.Contains(pattern, userParam)
	for i := range ps {
		switch {
		case strings.HasPrefix(ps[i], "{"):
			if xs[i] == "" {
				return false, false
			}
			if ps[i] == userParam && c.name != "" && (xs[i] == c.name || xs[i] == c.id) {
				own = true
			}
		case ps[i] != xs[i]:
			return false, false
		}
	}
	return true, own
}

// expected is what the route table says for a request: allowed when some
// route of the table matches it and the caller holds that route's
// permission. HEAD is decided as GET, as everywhere in Gatehouse.
func expected(routes []zenmlRoute, c caller, method, path string) bool {
	m := decisionMethod(method)
	for _, r := range routes {
		if decisionMethod(r.method) != m {
			continue
		}
		if match, own := routeMatches(r.path, path, c); match && c.holds(r.perm, own) {
			return true
		}
	}
	return false
}

// zenmlPreset returns the ZenML preset.
func zenmlPreset(tb testing.TB) preset.Preset {
	tb.Helper()
	p, err := preset.Lookup("zenml")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// zenmlFiles loads the ZenML preset's policy, as serve --preset zenml does.
func zenmlFiles(tb testing.TB) *Files {
	tb.Helper()
	files, err := LoadDir(zenmlPreset(tb).Policy, "preset/zenml")
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// TestGoldenZenMLPreset checks the ZenML preset's policy against every row
// of the ZenML 0.40 route table, for admin, guest, a write-only role and an
// anonymous caller; routes naming a user are tried with the caller's own
// name, own id and another user. Every path of the table is also tried
// with the methods the table does not list for it, which must be decided
// as the table says too (denied, unless another route covers them).
func TestGoldenZenMLPreset(t *testing.T) {
	e := newTestEngine(t, nil, withCallers(zenmlFiles(t)))
	routes := zenmlRoutes(t)
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	checked, rowsSeen := 0, map[int]bool{}
	for _, r := range routes {
		for _, c := range goldenCallers {
			for _, who := range []string{c.name, c.id, "someone-else"} {
				if who == "" || (who != "someone-else" && !strings.Contains(r.path, userParam)) {
					continue
				}
				path := strings.ReplaceAll(r.path, userParam, who)
				path = paramValue(path)
				for _, m := range methods {
					want := expected(routes, c, m, path)
					got := c.decide(t, e, m, path).Allowed
					if got != want {
						t.Errorf("zenml-0.40-routes.tsv:%d (%s %s %s): %s %s %s: allowed=%v, want %v",
							r.line, r.method, r.path, r.perm, c.label(), m, path, got, want)
					}
					if m == r.method {
						rowsSeen[r.line] = true
						if want != c.holds(r.perm, who == c.name || who == c.id || !strings.Contains(r.path, userParam)) {
							t.Errorf("oracle disagrees with row %d for %s", r.line, c.label())
						}
					}
					checked++
				}
			}
		}
	}
	if len(rowsSeen) != len(routes) {
		t.Errorf("checked %d of %d rows", len(rowsSeen), len(routes))
	}
	t.Logf("%d decisions checked over %d routes", checked, len(routes))
}

// paramValue fills the remaining {param} segments with a sample value.
func paramValue(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") {
			parts[i] = "x1"
		}
	}
	return strings.Join(parts, "/")
}

// zenmlEngine loads the preset with the golden callers.
func zenmlEngine(tb testing.TB) *Engine {
	tb.Helper()
	return newTestEngine(tb, nil, withCallers(zenmlFiles(tb)))
}

// TestZenMLDecisionsAllocateNothing keeps the decision path free of
// allocations with a realistic policy: a user's grants are cached, the
// route trie is walked in place.
func TestZenMLDecisionsAllocateNothing(t *testing.T) {
	e := zenmlEngine(t)
	sub := UserSubject("gus")
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/workspaces/default/service_connectors/resources"},
		{"PUT", "/api/v1/users/gus/email-opt-in"},
		{"DELETE", "/api/v1/pipelines/p1"}, // denied
		{"GET", "/health"},
	} {
		e.Decide(sub, "u-gus", "gus", r.method, r.path) // fills the grant cache
		if n := testing.AllocsPerRun(200, func() { e.Decide(sub, "u-gus", "gus", r.method, r.path) }); n != 0 {
			t.Errorf("%s %s: %v allocations per decision", r.method, r.path, n)
		}
	}
}

func BenchmarkDecideZenMLPreset(b *testing.B) {
	e := zenmlEngine(b)
	sub := UserSubject("gus")
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(sub, "u-gus", "gus", "PUT", "/api/v1/users/gus/email-opt-in")
	}
}

// TestZenMLLoginIsClosed: the route Gatehouse answers for the preset is one
// the policy keeps closed.
func TestZenMLLoginIsClosed(t *testing.T) {
	if _, ok := closedRoutes["POST "+zenmlPreset(t).LoginPath]; !ok {
		t.Errorf("the preset's login %s is not among the closed routes", zenmlPreset(t).LoginPath)
	}
}
