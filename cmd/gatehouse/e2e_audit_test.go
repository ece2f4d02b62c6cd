package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// auditLines returns the audit lines a process logged, by kind.
func auditLines(t *testing.T, logs string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q", sc.Text())
		}
		if kind, ok := m["audit"].(string); ok {
			if m["level"] != "AUDIT" {
				t.Fatalf("audit line at level %v: %v", m["level"], m)
			}
			out[kind] = append(out[kind], m)
		}
	}
	return out
}

func TestAuditTrail(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	up := testkit.NewUpstream(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
	gh := testkit.StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1"}, "--upstream", up.URL, "--db", db)

	adminTok := login(t, gh.URL, "admin", "admin-password-1")
	status, out, _ := do(t, "POST", gh.URL+"/gatehouse/v1/users", adminTok, `{"username":"gus","password":"gus-password"}`, "X-Request-Id", "req-create-gus")
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, out)
	}
	// A client cannot name another address (no --trusted-proxies): the
	// login is audited, and rate-limited, under its real one.
	do(t, "POST", gh.URL+"/gatehouse/v1/login", "", `{"username":"gus","password":"wrong-password-9"}`, "X-Forwarded-For", "203.0.113.9")
	gusTok := login(t, gh.URL, "gus", "gus-password")
	do(t, "DELETE", gh.URL+"/api/v1/pipelines/p1", gusTok, "", "X-Request-Id", "req-denied")
	do(t, "POST", gh.URL+"/gatehouse/v1/role-assignments", adminTok, `{"user":"gus","role":"admin"}`, "X-Request-Id", "req-assign")
	do(t, "POST", gh.URL+"/gatehouse/v1/role-assignments", adminTok, `{"user":"gus","role":"guest","workspace":"ws-a"}`, "X-Request-Id", "req-assign-ws")
	do(t, "PATCH", gh.URL+"/gatehouse/v1/me", gusTok, `{"password":"gus-password-2","current_password":"gus-password"}`)

	var lines map[string][]map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines = auditLines(t, gh.Logs())
		if len(lines["admin_change"]) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	deny := lines["deny"]
	if len(deny) != 1 || deny[0]["request_id"] != "req-denied" || deny[0]["user"] != "gus" ||
		deny[0]["method"] != "DELETE" || deny[0]["path"] != "/api/v1/pipelines/p1" || deny[0]["status"] != float64(403) {
		t.Fatalf("deny lines: %v", deny)
	}
	var outcomes []string
	for _, l := range lines["login"] {
		outcomes = append(outcomes, l["user"].(string)+":"+l["outcome"].(string))
		if l["login_client"] == "" || l["request_id"] == "" {
			t.Fatalf("login line without client or request id: %v", l)
		}
	}
	for _, l := range lines["login"] {
		if l["login_client"] != "127.0.0.1" {
			t.Fatalf("login audited for client %v, want 127.0.0.1 (X-Forwarded-For must not be believed)", l["login_client"])
		}
	}
	for _, want := range []string{"admin:success", "gus:wrong_password", "gus:success"} {
		if !slices.Contains(outcomes, want) {
			t.Fatalf("login outcomes %v lack %s", outcomes, want)
		}
	}
	var assign, assignWS map[string]any
	for _, l := range lines["admin_change"] {
		switch {
		case l["action"] == "role.assign" && l["request_id"] == "req-assign":
			assign = l
		case l["action"] == "role.assign" && l["request_id"] == "req-assign-ws":
			assignWS = l
		}
	}
	// A workspace role shows in the user's state as ROLE@WORKSPACE.
	if assignWS == nil || !equalJSON(assignWS["before"], []any{"admin", "guest"}) || !equalJSON(assignWS["after"], []any{"admin", "guest", "guest@ws-a"}) {
		t.Fatalf("role.assign line of a workspace role: %v", assignWS)
	}
	if assign == nil || assign["actor"] != "admin" || assign["target"] != "gus" || assign["request_id"] != "req-assign" ||
		!equalJSON(assign["before"], []any{"guest"}) || !equalJSON(assign["after"], []any{"admin", "guest"}) {
		t.Fatalf("role.assign line: %v\nall: %v", assign, lines["admin_change"])
	}

	// No secret reaches the logs, whatever the level.
	logs := gh.Logs()
	for _, secret := range []string{"admin-password-1", "gus-password", "wrong-password-9", adminTok, gusTok} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs: %.10s…", secret)
		}
	}
	if regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.`).MatchString(logs) {
		t.Fatal("something shaped like a JWT reached the logs")
	}

	_, metrics, _ := do(t, "GET", gh.Ops+"/metrics", "", "")
	for _, want := range []string{
		`gatehouse_audit_events_total{kind="deny"} 1`,
		`gatehouse_audit_events_total{kind="login"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}

func equalJSON(a any, b []any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
