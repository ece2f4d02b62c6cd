package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// loadExample loads one of Casbin's example models and policies, written
// out under testdata/casbin.
func loadExample(t *testing.T, name string) *Engine {
	t.Helper()
	dir := filepath.Join("testdata", "casbin", name)
	files, err := LoadDir(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	if isDefaultModel(files.Model) {
		t.Fatalf("%s: the example must be decided by Casbin, not the compiled index", name)
	}
	return newTestEngine(t, nil, files)
}

// testEnforce checks one decision, as Casbin's own tests do.
func testEnforce(t *testing.T, e *Engine, sub, obj, act string, want bool) {
	t.Helper()
	d, err := e.Decide(sub, "", "", act, obj)
	if err != nil {
		t.Fatalf("%s, %s, %s: %v", sub, obj, act, err)
	}
	if d.Allowed != want {
		t.Errorf("%s, %s, %s: %v, want %v", sub, obj, act, d.Allowed, want)
	}
}

// The expected decisions are those of Casbin's TestKeyMatchModel.
func TestCasbinExampleKeyMatch(t *testing.T) {
	e := loadExample(t, "keymatch")
	testEnforce(t, e, "alice", "/alice_data/resource1", "GET", true)
	testEnforce(t, e, "alice", "/alice_data/resource1", "POST", true)
	testEnforce(t, e, "alice", "/alice_data/resource2", "GET", true)
	testEnforce(t, e, "alice", "/alice_data/resource2", "POST", false)
	testEnforce(t, e, "alice", "/bob_data/resource1", "GET", false)
	testEnforce(t, e, "alice", "/bob_data/resource1", "POST", false)
	testEnforce(t, e, "alice", "/bob_data/resource2", "GET", false)
	testEnforce(t, e, "alice", "/bob_data/resource2", "POST", false)

	testEnforce(t, e, "bob", "/alice_data/resource1", "GET", false)
	testEnforce(t, e, "bob", "/alice_data/resource1", "POST", false)
	testEnforce(t, e, "bob", "/alice_data/resource2", "GET", true)
	testEnforce(t, e, "bob", "/alice_data/resource2", "POST", false)
	testEnforce(t, e, "bob", "/bob_data/resource1", "GET", false)
	testEnforce(t, e, "bob", "/bob_data/resource1", "POST", true)
	testEnforce(t, e, "bob", "/bob_data/resource2", "GET", false)
	testEnforce(t, e, "bob", "/bob_data/resource2", "POST", true)

	testEnforce(t, e, "cathy", "/cathy_data", "GET", true)
	testEnforce(t, e, "cathy", "/cathy_data", "POST", true)
	testEnforce(t, e, "cathy", "/cathy_data", "DELETE", false)
}

// The expected decisions are those of Casbin's TestKeyMatch2Model.
func TestCasbinExampleKeyMatch2(t *testing.T) {
	e := loadExample(t, "keymatch2")
	testEnforce(t, e, "alice", "/alice_data", "GET", false)
	testEnforce(t, e, "alice", "/alice_data/resource1", "GET", true)
	testEnforce(t, e, "alice", "/alice_data2/myid", "GET", false)
	testEnforce(t, e, "alice", "/alice_data2/myid/using/res_id", "GET", true)
}

// The expected decisions are those of Casbin's TestRBACModel.
func TestCasbinExampleRBAC(t *testing.T) {
	e := loadExample(t, "rbac")
	testEnforce(t, e, "alice", "data1", "read", true)
	testEnforce(t, e, "alice", "data1", "write", false)
	testEnforce(t, e, "alice", "data2", "read", true)
	testEnforce(t, e, "alice", "data2", "write", true)
	testEnforce(t, e, "bob", "data1", "read", false)
	testEnforce(t, e, "bob", "data1", "write", false)
	testEnforce(t, e, "bob", "data2", "read", false)
	testEnforce(t, e, "bob", "data2", "write", true)
}

// The expected decisions are those of Casbin's TestRBACModelWithDeny.
func TestCasbinExampleRBACWithDeny(t *testing.T) {
	e := loadExample(t, "rbac_with_deny")
	testEnforce(t, e, "alice", "data1", "read", true)
	testEnforce(t, e, "alice", "data1", "write", false)
	testEnforce(t, e, "alice", "data2", "read", true)
	testEnforce(t, e, "alice", "data2", "write", false)
	testEnforce(t, e, "bob", "data1", "read", false)
	testEnforce(t, e, "bob", "data1", "write", false)
	testEnforce(t, e, "bob", "data2", "read", false)
	testEnforce(t, e, "bob", "data2", "write", true)
}

// Explain names the deciding line of a Casbin-decided model with its
// origin.
func TestCasbinExampleExplain(t *testing.T) {
	e := loadExample(t, "rbac")
	d, err := e.Explain("alice", "", "", "write", "data2")
	if err != nil {
		t.Fatal(err)
	}
	want := "p, data2_admin, data2, write (" + filepath.Join("testdata", "casbin", "rbac", "policy.csv") + ":5)"
	if !d.Allowed || d.Rule != want {
		t.Errorf("explain = %+v, want rule %q", d, want)
	}
}
