package policy

import (
	"slices"
	"strings"
	"testing"
)

// workspaceParam is the path parameter that names a workspace in ZenML's
// route table; the preset writes it {workspace}, binding the route to the
// workspace, except on the routes of unboundWorkspaceRoutes.
const workspaceParam = "{workspace_name_or_id}"

// unboundWorkspaceRoutes are the routes of ZenML's table that name a
// workspace but that the preset keeps global: renaming or deleting a
// workspace is not work inside it.
var unboundWorkspaceRoutes = []string{
	"PUT /api/v1/workspaces/" + workspaceParam,
	"DELETE /api/v1/workspaces/" + workspaceParam,
}

// wsCaller is a caller of TestZenMLPresetWorkspaces: the permissions it
// holds everywhere, and those it holds in workspace ws-a only.
type wsCaller struct {
	caller
	global, inA []string
}

// wsExpected is what ZenML's route table says for c: allowed when a route
// matches whose permission c holds globally, or holds in ws-a and the
// route is bound to the workspace the path names, ws-a.
func wsExpected(routes []zenmlRoute, c wsCaller, method, path string) bool {
	m := decisionMethod(method)
	for _, r := range routes {
		if decisionMethod(r.method) != m {
			continue
		}
		match, own := routeMatches(r.path, path, c.caller)
		if !match {
			continue
		}
		held := func(perms []string) bool {
			return r.perm == "none" || (slices.Contains(perms, r.perm) && (r.perm != "me" || own))
		}
		if held(c.global) {
			return true
		}
		bound := strings.HasPrefix(r.path, "/api/v1/workspaces/"+workspaceParam) &&
			!slices.Contains(unboundWorkspaceRoutes, r.method+" "+r.path)
		if bound && strings.Split(path, "/")[4] == "ws-a" && held(c.inA) {
			return true
		}
	}
	return false
}

// TestZenMLPresetWorkspaces decides every row of ZenML 0.40's route table
// under the preset for a global admin, a writer in workspace ws-a only, a
// guest who also writes in ws-a, a member of a team that writes in ws-a,
// and an anonymous caller; each route naming a workspace is tried in ws-a
// and ws-b, with every method. The decision must be what the table's
// permission column says for a caller holding those permissions there.
func TestZenMLPresetWorkspaces(t *testing.T) {
	files := zenmlFiles(t)
	extra := `g, editor, read
g, editor, write
g, user:ada, admin
g2, user:wes, editor, ws-a
g, user:gwen, guest
g2, user:gwen, editor, ws-a
g, user:tina, team:ml
g2, team:ml, editor, ws-a
`
	lines, errs := ParseCSV("callers.csv", []byte(extra))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	f := *files
	f.Lines = append(slices.Clone(files.Lines), lines...)
	e := newTestEngine(t, nil, &f)
	callers := []wsCaller{
		{caller{name: "ada", id: "u-ada"}, []string{"read", "write", "me"}, nil},
		{caller{name: "wes", id: "u-wes"}, nil, []string{"read", "write"}},
		{caller{name: "gwen", id: "u-gwen"}, []string{"read", "me"}, []string{"read", "write"}},
		{caller{name: "tina", id: "u-tina"}, nil, []string{"read", "write"}},
		{caller{}, nil, nil},
	}
	routes := zenmlRoutes(t)
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	checked, scopedAllows := 0, 0
	for _, r := range routes {
		var paths []string
		for _, ws := range []string{"ws-a", "ws-b"} {
			p := strings.ReplaceAll(r.path, workspaceParam, ws)
			if !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
		for _, c := range callers {
			for _, p := range paths {
				who := c.name // a route naming a user is tried with the caller's own
				if who == "" {
					who = "someone"
				}
				path := paramValue(strings.ReplaceAll(p, userParam, who))
				for _, m := range methods {
					want := wsExpected(routes, c, m, path)
					got := c.decide(t, e, m, path).Allowed
					if got != want {
						t.Errorf("zenml-0.40-routes.tsv:%d (%s %s %s): %s %s %s: allowed=%v, want %v",
							r.line, r.method, r.path, r.perm, c.label(), m, path, got, want)
					}
					if got && c.global == nil && c.name != "" {
						scopedAllows++
					}
					checked++
				}
			}
		}
	}
	if scopedAllows < 40 {
		t.Errorf("only %d requests allowed through a workspace role: the preset binds too few routes", scopedAllows)
	}
	t.Logf("%d decisions checked over %d routes, %d allowed through a workspace role only", checked, len(routes), scopedAllows)
}
