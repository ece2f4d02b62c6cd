package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// policyServer is a running Gatehouse with --policy-dir, in front of an
// upstream that answers every request.
type policyServer struct {
	dir, data, ops string
	token          string
}

func startPolicyServer(t *testing.T, enforce bool) *policyServer {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream "+r.Method+" "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	x := &policyServer{dir: policyTree(t, map[string]string{"policy.csv": goodPolicy})}
	o := defaultServeOptions()
	o.listen, o.opsListen = "127.0.0.1:0", "127.0.0.1:0"
	o.upstream, o.policyDir, o.enforce = up.URL, x.dir, enforce
	o.db = "sqlite:" + filepath.Join(t.TempDir(), "gh.db")
	o.shutdownGrace = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	log, audit := newLogger(io.Discard, slog.LevelInfo)
	s, err := newServer(ctx, testConfig(t, o, "correct-horse-battery"), log, audit)
	if err != nil {
		t.Fatal(err)
	}
	x.data, x.ops = "http://"+s.dataLn.Addr().String(), "http://"+s.opsLn.Addr().String()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	resp, err := http.Post(x.data+"/gatehouse/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"correct-horse-battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	x.token = tok.AccessToken
	return x
}

// get sends a request to base+path and returns the status and body.
func (x *policyServer) do(t *testing.T, method, url string, auth bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+x.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeReloadsPolicyDir(t *testing.T) {
	x := startPolicyServer(t, true)
	if code, _ := x.do(t, "GET", x.data+"/version", false); code != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /version before the edit: %d", code)
	}
	_, ready := x.do(t, "GET", x.ops+"/readyz", false)
	_, metrics := x.do(t, "GET", x.ops+"/metrics", false)
	for _, want := range []string{`gatehouse_policy_reloads_total{result="ok"} 0`, `gatehouse_policy_reloads_total{result="error"} 0`, "gatehouse_policy_enforced 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	rev := readyRevision(t, ready)
	if !strings.Contains(metrics, `gatehouse_policy_info{revision="`+rev+`"} 1`) {
		t.Errorf("metrics lack the revision %q of /readyz:\n%s", rev, ready)
	}

	// A valid edit applies within 2 s.
	testkit.WriteFile(t, filepath.Join(x.dir, "policy.csv"), goodPolicy+"p, public, /version, GET\n")
	start := time.Now()
	for {
		if code, body := x.do(t, "GET", x.data+"/version", false); code == http.StatusOK && body == "upstream GET /version" {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("the edit was not in force within 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ready2 := x.do(t, "GET", x.ops+"/readyz", false); strings.Contains(ready2, rev) {
		t.Errorf("/readyz still shows revision %s", rev)
	}

	// A broken edit is rejected; the last good policy stays.
	testkit.WriteFile(t, filepath.Join(x.dir, "policy.csv"), "p, public, /version, get\n")
	waitMetric(t, x, `gatehouse_policy_reloads_total{result="error"} 1`)
	if code, _ := x.do(t, "GET", x.data+"/version", false); code != http.StatusOK {
		t.Errorf("the broken edit took /version away: %d", code)
	}
	// /readyz stays 200 and ok, and says that the reload failed, and why.
	code, ready := x.do(t, "GET", x.ops+"/readyz", false)
	if code != http.StatusOK || !strings.HasPrefix(ready, "ok\n") ||
		!strings.Contains(ready, "\npolicy reload: failed ") || !regexp.MustCompile(`\(\d+ problems?\); revision `+readyRevision(t, ready)+` stays in force`).MatchString(ready) ||
		!strings.Contains(ready, "\n  "+filepath.Join(x.dir, "policy.csv")+`:1: invalid method "get"`) {
		t.Errorf("/readyz after a rejected reload: %d\n%s", code, ready)
	}
	waitMetric(t, x, `gatehouse_policy_reloads_total{result="ok"} 1`)

	// policy check against the running server, through POST /gatehouse/v1/check.
	env := map[string]string{"GATEHOUSE_SERVER": x.data, "GATEHOUSE_TOKEN": x.token}
	var out, errOut string
	code, out, errOut = policyCLI(t, env, "policy", "check", "--user", "admin", "--method", "DELETE", "--path", "/api/v1/pipelines/p1", "-o", "json")
	want := `{"allowed":true,"rule":"p, write, /*, POST|PUT|PATCH|DELETE (` + x.dir + `/policy.csv:2)"}`
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("check: exit %d\n%s\nwant %s\n%s", code, out, want, errOut)
	}
}

func TestServeShadowMode(t *testing.T) {
	x := startPolicyServer(t, false)
	// No rule names OPTIONS: denied by the policy, forwarded in shadow mode.
	if code, body := x.do(t, "OPTIONS", x.data+"/api/v1/pipelines", true); code != http.StatusOK || body != "upstream OPTIONS /api/v1/pipelines" {
		t.Errorf("shadow mode: %d %q", code, body)
	}
	// Authentication is still required.
	if code, _ := x.do(t, "GET", x.data+"/api/v1/pipelines", false); code != http.StatusUnauthorized {
		t.Errorf("anonymous request in shadow mode: %d, want 401", code)
	}
	_, metrics := x.do(t, "GET", x.ops+"/metrics", false)
	for _, want := range []string{`gatehouse_requests_total{decision="would_deny",permission=""} 1`, "gatehouse_policy_enforced 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if _, ready := x.do(t, "GET", x.ops+"/readyz", false); !strings.Contains(ready, "enforce: false") {
		t.Errorf("/readyz does not say enforcement is off:\n%s", ready)
	}
}

func waitMetric(t *testing.T, x *policyServer, want string) {
	t.Helper()
	start := time.Now()
	for {
		if _, m := x.do(t, "GET", x.ops+"/metrics", false); strings.Contains(m, want) {
			return
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("metrics lack %s after 2s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readyRevision returns the policy revision /readyz reports.
func readyRevision(t *testing.T, ready string) string {
	t.Helper()
	for _, line := range strings.Split(ready, "\n") {
		if rev, ok := strings.CutPrefix(line, "policy: revision "); ok {
			return rev
		}
	}
	t.Fatalf("/readyz names no revision:\n%s", ready)
	return ""
}
