package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// stopAndLogs stops a serve process (SIGTERM) and returns everything it
// logged: once it has exited, every line it wrote has been read, so no
// test needs to wait for a line to arrive.
func stopAndLogs(t *testing.T, gh *testkit.Server) string {
	t.Helper()
	if _, err := gh.Proc.Stop(time.Minute); err != nil {
		t.Fatalf("serve did not stop cleanly: %v\n%s", err, gh.Proc.Logs())
	}
	return gh.Proc.Logs()
}

// TestAuditsNameTheClientAlike: the deny audit, the login audit and the
// rate limiter name a client the same way: its address without a port;
// behind a trusted proxy, the address X-Forwarded-For gives.
func TestAuditsNameTheClientAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	for _, c := range []struct {
		name   string
		args   []string
		xff    string
		client string
	}{
		{"direct: the peer, without a port", nil, "203.0.113.9", "127.0.0.1"},
		{"behind a trusted proxy: X-Forwarded-For", []string{"--trusted-proxies", "127.0.0.1/32"}, "198.51.100.7, 203.0.113.9", "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			gh := testkit.StartGatehouse(t, "admin-password-1", c.args...)
			adminTok := login(t, gh.URL, "admin", "admin-password-1")
			if status, out, _ := do(t, "POST", gh.URL+"/gatehouse/v1/users", adminTok, `{"username":"gus","password":"gus-password"}`); status != http.StatusCreated {
				t.Fatalf("create gus: %d %s", status, out)
			}
			gusTok := login(t, gh.URL, "gus", "gus-password")
			if status, _, _ := do(t, "DELETE", gh.URL+"/api/v1/pipelines/p1", gusTok, "", "X-Forwarded-For", c.xff); status != http.StatusForbidden {
				t.Fatalf("gus deleting: %d, want 403", status)
			}
			if status, _, _ := do(t, "POST", gh.URL+"/gatehouse/v1/login", "", `{"username":"gus","password":"wrong-password"}`, "X-Forwarded-For", c.xff); status != http.StatusUnauthorized {
				t.Fatalf("a wrong password: %d, want 401", status)
			}
			lines := auditLines(t, stopAndLogs(t, gh))
			deny := lines["deny"]
			if len(deny) != 1 || deny[0]["client"] != c.client {
				t.Errorf("deny audit lines %v; want one naming the client %q", deny, c.client)
			}
			var wrong map[string]any
			for _, l := range lines["login"] {
				if l["outcome"] == "wrong_password" {
					wrong = l
				}
			}
			if wrong == nil || wrong["client"] != c.client || wrong["login_client"] != c.client {
				t.Errorf("the wrong password's audit line %v; want client and login_client %q\nall: %v", wrong, c.client, lines["login"])
			}
		})
	}
}
