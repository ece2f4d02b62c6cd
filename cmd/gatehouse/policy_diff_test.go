package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// releaserDir copies the releaser example of docs/policy.md to a new
// directory and returns its path.
func releaserDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policy")
	copyTree(t, filepath.Join("..", "..", "docs", "examples", "releaser"), dir)
	return dir
}

// appendLine adds a line to dir's policy.csv.
func appendLine(t *testing.T, dir, line string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "policy.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyDiffExitCodes: 0 when no decision changes, 1 when some do, 2
// for every error, with the argument or flag named on stderr and nothing
// on stdout.
func TestPolicyDiffExitCodes(t *testing.T) {
	old := releaserDir(t)
	same := releaserDir(t)
	changed := releaserDir(t)
	appendLine(t, changed, "g, guest, deploy")
	broken := releaserDir(t)
	appendLine(t, broken, "p, read, /x, get")
	routes := filepath.Join(t.TempDir(), "routes.tsv")
	testkit.WriteFile(t, routes, "method\tpath\nGET\t/api/v1/pipelines/{id}\n")
	badRoutes := filepath.Join(t.TempDir(), "bad.tsv")
	testkit.WriteFile(t, badRoutes, "GET\t/ok\nFETCH\t/x\n")
	log := filepath.Join(t.TempDir(), "gatehouse.log")
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	testkit.WriteFile(t, log, `{"time":"`+recent+`","audit":"allow","user":"gus","method":"GET","path":"/api/v1/pipelines"}`+"\n")
	missing := filepath.Join(t.TempDir(), "nope")

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"same", []string{old, same}, 0, []string{": no decision changes\n"}, nil},
		{"same, routes and log", []string{old, same, "--routes", routes, "--audit-log", log, "--since", "720h"}, 0, []string{"no decision changes", "audit log replay: 1 decision read, 1 replayed: 0 allow → deny, 0 deny → allow\n"}, nil},
		{"changed", []string{old, changed}, 1, []string{"role guest: 2 changes\n", "  POST /api/v1/deployments/{id}: deny → allow\n", "g, guest, deploy"}, nil},
		{"changed, json", []string{old, changed, "-o", "json"}, 1, []string{`"deny_to_allow": 4`}, nil},
		{"changed, markdown", []string{old, changed, "-o", "markdown"}, 1, []string{"### Policy diff: 4 decisions change for 2 subjects"}, nil},
		{"missing dir", []string{old, missing}, 2, nil, []string{"policy directory: stat " + missing}},
		{"invalid new side", []string{old, broken}, 2, nil, []string{broken + `/policy.csv:16: invalid method "get"`}},
		{"invalid old side", []string{broken, old}, 2, nil, []string{broken + `/policy.csv:16: invalid method "get"`}},
		{"one dir", []string{old}, 2, nil, []string{`"gatehouse policy diff" needs OLD_DIR and NEW_DIR, or --base GIT_REF [DIR]`}},
		{"three dirs", []string{old, same, changed}, 2, nil, []string{"needs OLD_DIR and NEW_DIR"}},
		{"bad output", []string{old, changed, "-o", "yaml"}, 2, nil, []string{`--output "yaml": want text, markdown or json`}},
		{"missing routes", []string{old, changed, "--routes", missing}, 2, nil, []string{"--routes: open " + missing}},
		{"bad routes", []string{old, changed, "--routes", badRoutes}, 2, nil, []string{badRoutes + `:2: invalid method "FETCH"`}},
		{"missing log", []string{old, changed, "--audit-log", missing}, 2, nil, []string{"--audit-log: open " + missing}},
		{"since without log", []string{old, changed, "--since", "24h"}, 2, nil, []string{"--since needs --audit-log"}},
		{"bad since", []string{old, changed, "--audit-log", log, "--since", "a month"}, 2, nil, []string{`invalid argument "a month" for "--since"`}},
		{"unknown flag", []string{old, changed, "--bsae", "main"}, 2, nil, []string{"unknown flag: --bsae"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := policyCLI(t, nil, append([]string{"policy", "diff"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			for _, want := range c.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range c.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if c.code == 2 && out != "" {
				t.Errorf("an error wrote to stdout:\n%s", out)
			}
			if c.code != 2 && errOut != "" {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}
}

// TestPolicyDiffBinaryExitCodes: the built binary exits with the codes
// CI reads.
func TestPolicyDiffBinaryExitCodes(t *testing.T) {
	bin := testkit.Binary(t)
	old, changed := releaserDir(t), releaserDir(t)
	appendLine(t, changed, "p, public, /api/v1/status, GET")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{old, old}, 0},
		{[]string{old, changed}, 1},
		{[]string{old, filepath.Join(old, "nope")}, 2},
	} {
		cmd := exec.Command(bin, append([]string{"policy", "diff"}, c.args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code {
			t.Errorf("policy diff %v: exit %d, want %d\n%s", c.args, code, c.code, out)
		}
	}
}

// gitRepo makes a git repository in a new directory with the releaser
// example committed as policy/, and returns the repository's path.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "docs", "examples", "releaser"), filepath.Join(repo, "policy"))
	runGit(t, repo, "init", "-q", "-b", "main")
	runGit(t, repo, "add", "policy")
	runGit(t, repo, "commit", "-q", "-m", "policy")
	return repo
}

func runGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestPolicyDiffBase: --base compares DIR at a git reference with DIR in
// the working tree, naming the old side REF:DIR; a bad reference, a
// directory outside a checkout and one the reference lacks are errors.
func TestPolicyDiffBase(t *testing.T) {
	repo := gitRepo(t)
	dir := filepath.Join(repo, "policy")
	code, out, errOut := policyCLI(t, nil, "policy", "diff", "--base", "main", dir)
	if code != 0 || !strings.Contains(out, "policy diff main:"+dir+" → "+dir+": no decision changes") {
		t.Fatalf("unchanged: exit %d\n%s%s", code, out, errOut)
	}
	appendLine(t, dir, "g, guest, deploy")
	code, out, errOut = policyCLI(t, nil, "policy", "diff", "--base", "main", dir)
	if code != 1 || !strings.Contains(out, "role guest: 2 changes") || !strings.Contains(out, dir+"/policy.csv:16: g, guest, deploy") {
		t.Fatalf("changed: exit %d\n%s%s", code, out, errOut)
	}
	// DIR from GATEHOUSE_POLICY_DIR; the committed change is the base.
	runGit(t, repo, "commit", "-q", "-am", "guest deploys")
	code, out, errOut = policyCLI(t, map[string]string{"GATEHOUSE_POLICY_DIR": dir}, "policy", "diff", "--base", "main~1", "-o", "json")
	var doc struct {
		Old     string `json:"old"`
		Summary struct {
			Changes int `json:"changes"`
		} `json:"summary"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &doc) != nil || doc.Old != "main~1:"+dir || doc.Summary.Changes != 4 {
		t.Fatalf("GATEHOUSE_POLICY_DIR: exit %d, %+v\n%s%s", code, doc, out, errOut)
	}

	added := filepath.Join(repo, "new-policy")
	copyTree(t, dir, added)
	outside := filepath.Join(t.TempDir(), "policy")
	copyTree(t, dir, outside)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"bad ref", []string{"--base", "no-such-branch", dir}, "--base no-such-branch: no such commit in the checkout of " + dir},
		{"option as ref", []string{"--base=--output=x", dir}, `--base "--output=x": not a git reference`},
		{"not a checkout", []string{"--base", "main", outside}, "--base main: " + outside + " is not in a git checkout"},
		{"not at ref", []string{"--base", "main", added}, "--base main: " + added + " does not exist at main"},
		{"two dirs", []string{"--base", "main", dir, dir}, "--base main: takes one DIR at most"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := policyCLI(t, nil, append([]string{"policy", "diff"}, c.args...)...)
			if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want 2; stderr lacks %q\nstdout: %s\nstderr: %s", code, c.want, out, errOut)
			}
		})
	}
}

// TestPolicyDiffAuditReplay: --audit-log replays the recorded decisions
// with both sides and --since keeps the recent ones.
func TestPolicyDiffAuditReplay(t *testing.T) {
	old, changed := releaserDir(t), releaserDir(t)
	appendLine(t, changed, "g, guest, deploy")
	recent, long := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano), time.Now().Add(-1000*time.Hour).UTC().Format(time.RFC3339Nano)
	log := filepath.Join(t.TempDir(), "gatehouse.log")
	testkit.WriteFile(t, log, strings.Join([]string{
		`{"time":"` + recent + `","level":"AUDIT","msg":"request denied","audit":"deny","status":403,"user":"gus","method":"POST","path":"/api/v1/deployments/d1"}`,
		`{"time":"` + recent + `","level":"AUDIT","msg":"request denied","audit":"deny","status":403,"user":"gus","method":"POST","path":"/api/v1/deployments/d2"}`,
		`{"time":"` + long + `","level":"AUDIT","msg":"request denied","audit":"deny","status":403,"user":"gus","method":"POST","path":"/api/v1/deployments/d3"}`,
		`{"time":"` + recent + `","level":"AUDIT","msg":"request allowed","audit":"allow","user":"rita","method":"POST","path":"/api/v1/deployments/d1","permission":"deploy"}`,
		`{"time":"` + recent + `","level":"AUDIT","msg":"request denied","audit":"deny","status":403,"user":"zoe","method":"POST","path":"/api/v1/deployments/d1"}`,
		`{"time":"` + recent + `","level":"INFO","msg":"listening"}`,
	}, "\n")+"\n")
	code, out, errOut := policyCLI(t, nil, "policy", "diff", old, changed, "--audit-log", log, "--since", "720h")
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"audit log replay: 4 decisions read (2 other lines skipped: not audit decisions, too long, or older than --since), 3 replayed: 0 allow → deny, 2 deny → allow\n",
		"  not replayed: 1 decision of 1 user the policy files do not name: zoe (1)\n",
		"  user gus: 0 allow → deny, 2 deny → allow\n",
		"  route POST /api/v1/deployments/d1: 0 allow → deny, 1 deny → allow\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = policyCLI(t, nil, "policy", "diff", old, changed, "--audit-log", log, "-o", "json")
	var doc struct {
		Replay struct {
			Records      int `json:"records"`
			SkippedLines int `json:"skipped_lines"`
			DenyToAllow  int `json:"deny_to_allow"`
			UnknownUsers []struct {
				User    string `json:"user"`
				Records int    `json:"records"`
			} `json:"unknown_users"`
		} `json:"replay"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &doc) != nil || doc.Replay.Records != 5 || doc.Replay.SkippedLines != 1 || doc.Replay.DenyToAllow != 3 ||
		len(doc.Replay.UnknownUsers) != 1 || doc.Replay.UnknownUsers[0].User != "zoe" {
		t.Errorf("without --since: exit %d, %+v\n%s", code, doc, out)
	}
}

// TestAuditAllowedReplay: serve with GATEHOUSE_AUDIT_ALLOWED writes the
// allow lines that policy diff --audit-log reads, beside the deny lines;
// a change that lets guest deploy flips exactly gus's denied deployment.
func TestAuditAllowedReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	old := releaserDir(t)
	up := testkit.NewUpstream(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
	gh := testkit.StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1", "GATEHOUSE_AUDIT_ALLOWED=true"},
		"--upstream", up.URL, "--db", db, "--policy-dir", old)
	adminTok := login(t, gh.URL, "admin", "admin-password-1")
	for _, u := range []string{`{"username":"gus","password":"gus-password"}`, `{"username":"rita","password":"rita-password","roles":["releaser"]}`} {
		if status, out, _ := do(t, "POST", gh.URL+"/gatehouse/v1/users", adminTok, u); status != 201 {
			t.Fatalf("create: %d %s", status, out)
		}
	}
	gusTok, ritaTok := login(t, gh.URL, "gus", "gus-password"), login(t, gh.URL, "rita", "rita-password")
	for _, r := range []struct {
		token, method, path string
		status              int
	}{
		{gusTok, "GET", "/api/v1/pipelines", 200},
		{gusTok, "POST", "/api/v1/deployments/d1", 403},
		{ritaTok, "POST", "/api/v1/deployments/d1", 200},
		{"", "GET", "/health", 200},
	} {
		if status, out, _ := do(t, r.method, gh.URL+r.path, r.token, ""); status != r.status {
			t.Fatalf("%s %s: %d, want %d: %s", r.method, r.path, status, r.status, out)
		}
	}
	var allows int
	deadline := time.Now().Add(5 * time.Second)
	for allows < 3 && time.Now().Before(deadline) {
		allows = len(auditLines(t, gh.Logs())["allow"])
		time.Sleep(20 * time.Millisecond)
	}
	lines := auditLines(t, gh.Logs())
	if len(lines["allow"]) != 3 || len(lines["deny"]) != 1 {
		t.Fatalf("%d allow and %d deny lines, want 3 and 1: %v", len(lines["allow"]), len(lines["deny"]), lines)
	}
	for _, l := range lines["allow"] {
		if l["permission"] == "" || l["request_id"] == "" || l["client"] != "127.0.0.1" {
			t.Errorf("allow line: %v", l)
		}
	}
	log := filepath.Join(t.TempDir(), "gatehouse.log")
	testkit.WriteFile(t, log, gh.Logs())
	changed := releaserDir(t)
	appendLine(t, changed, "g, guest, deploy")
	code, out, errOut := policyCLI(t, nil, "policy", "diff", old, changed, "--audit-log", log, "--since", "1h", "-o", "json")
	var doc struct {
		Replay struct {
			Records       int `json:"records"`
			Replayed      int `json:"replayed"`
			AllowToDeny   int `json:"allow_to_deny"`
			DenyToAllow   int `json:"deny_to_allow"`
			NotReproduced int `json:"not_reproduced"`
		} `json:"replay"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 1 || err != nil {
		t.Fatalf("exit %d (%v)\n%s%s", code, err, out, errOut)
	}
	r := doc.Replay
	if r.Records != 4 || r.Replayed != 4 || r.AllowToDeny != 0 || r.DenyToAllow != 1 || r.NotReproduced != 0 {
		t.Errorf("replay %+v, want 4 records, 4 replayed, 1 deny → allow, all reproduced\n%s", r, out)
	}
}

// TestAuditReasonCrossOrigin: the reason a replay leaves out is the one
// the data plane writes for a cross-origin refusal.
func TestAuditReasonCrossOrigin(t *testing.T) {
	if policy.AuditReasonCrossOrigin != proxy.ReasonCrossOrigin {
		t.Errorf("policy reads %q, the proxy writes %q", policy.AuditReasonCrossOrigin, proxy.ReasonCrossOrigin)
	}
}

// TestPolicyDiffReplayFlipsOnly: a change that no decided path shows but
// that flips a recorded decision exits 1 and says so in the headline, in
// Markdown and in the JSON summary.
func TestPolicyDiffReplayFlipsOnly(t *testing.T) {
	old, changed := releaserDir(t), releaserDir(t)
	appendLine(t, old, "p, deploy, /api/v1/releases/{id}, POST")
	appendLine(t, changed, "p, deploy, /api/v1/releases/1, POST") // the sample of {id}: the diff sees no change there
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	log := filepath.Join(t.TempDir(), "gatehouse.log")
	testkit.WriteFile(t, log, `{"time":"`+recent+`","audit":"allow","user":"rita","method":"POST","path":"/api/v1/releases/r7","permission":"deploy"}`+"\n")
	for _, c := range []struct{ output, want string }{
		{"text", ": no decision changes; 1 recorded decision of the audit log flips\n"},
		{"markdown", "### Policy diff: no decision changes; 1 recorded decision of the audit log flips\n"},
		{"json", `"replay_flips": 1`},
	} {
		code, out, errOut := policyCLI(t, nil, "policy", "diff", old, changed, "--audit-log", log, "-o", c.output)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("-o %s: exit %d, want 1 and %q\n%s%s", c.output, code, c.want, out, errOut)
		}
		if c.output == "json" && strings.Contains(out, `"changes": [`+"\n") {
			t.Errorf("-o json: the diff itself finds changes:\n%s", out)
		}
	}
}

// TestPolicyDiffAuditLogNotRead: a log of which no line is read but some
// are skipped (Docker's json-file wrapping, kubectl --timestamps prefixes)
// is an error naming --audit-log, not a replay of nothing.
func TestPolicyDiffAuditLogNotRead(t *testing.T) {
	old, same := releaserDir(t), releaserDir(t)
	line := `{"time":"2026-11-30T10:00:00Z","level":"AUDIT","audit":"deny","status":403,"user":"gus","method":"POST","path":"/api/v1/deployments/d1"}`
	quoted, _ := json.Marshal(line + "\n")
	for name, text := range map[string]string{
		"docker json-file":     `{"log":` + string(quoted) + `,"stream":"stderr","time":"2026-11-30T10:00:00.1Z"}` + "\n",
		"kubectl --timestamps": "2026-11-30T10:00:00.100000000Z " + line + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "gatehouse.log")
			testkit.WriteFile(t, log, text+text)
			code, out, errOut := policyCLI(t, nil, "policy", "diff", old, same, "--audit-log", log)
			if code != 2 || out != "" || !strings.Contains(errOut, "--audit-log "+log+": no decision read, 2 lines skipped") {
				t.Errorf("exit %d, want 2 and a message naming --audit-log\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
	// An empty log is no error: there is nothing to replay.
	empty := filepath.Join(t.TempDir(), "empty.log")
	testkit.WriteFile(t, empty, "")
	if code, out, errOut := policyCLI(t, nil, "policy", "diff", old, same, "--audit-log", empty); code != 0 || !strings.Contains(out, "audit log replay: 0 decisions read, 0 replayed") {
		t.Errorf("empty log: exit %d\n%s%s", code, out, errOut)
	}
}

// TestPolicyDiffNotSampled: the text report names on stderr the patterns
// that have no sample path; the diff itself still exits as it found.
func TestPolicyDiffNotSampled(t *testing.T) {
	model := "[request_definition]\nr = sub, obj, act\n\n[policy_definition]\np = sub, obj, act\n\n[role_definition]\ng = _, _\n\n" +
		"[policy_effect]\ne = some(where (p.eft == allow))\n\n[matchers]\nm = g(r.sub, p.sub) && regexMatch(r.obj, p.obj) && r.act == p.act\n"
	dir := filepath.Join(t.TempDir(), "policy")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "model.conf"), model)
	testkit.WriteFile(t, filepath.Join(dir, "policy.csv"), "p, reader, ^/api/.*$, GET\ng, alice, reader\ng, admin, read\ng, admin, write\ng, admin, me\n")
	code, out, errOut := policyCLI(t, nil, "policy", "diff", dir, dir)
	if code != 0 || !strings.Contains(out, "no decision changes") || !strings.HasPrefix(errOut, "1 pattern not sampled: ^/api/.*$ (") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = policyCLI(t, nil, "policy", "diff", dir, dir, "-o", "json")
	if code != 0 || !strings.Contains(out, `"not_sampled": [`) || errOut != "" {
		t.Errorf("-o json: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
