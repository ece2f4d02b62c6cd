package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestWouldDenyIsAnAuditLine: in shadow mode at --log-level warn, what the
// policy would deny is logged at the audit level (AUDIT), with the client
// named as the deny audit names it, and counted with the audits.
func TestWouldDenyIsAnAuditLine(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)
	o := defaultServeOptions()
	o.listen, o.opsListen, o.upstream, o.enforce = "127.0.0.1:0", "127.0.0.1:0", up.URL, false
	o.db = "sqlite:" + filepath.Join(t.TempDir(), "gh.db")
	var logs testkit.LockedBuffer
	log, audit := newLogger(&logs, slog.LevelWarn) // as --log-level warn
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := newServer(ctx, testConfig(t, o, "correct-horse-battery"), log, audit)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	data, ops := "http://"+s.dataLn.Addr().String(), "http://"+s.opsLn.Addr().String()

	tok := login(t, data, "admin", "correct-horse-battery")
	// No rule names OPTIONS: the policy denies it, shadow mode forwards it.
	if status, _, _ := do(t, "OPTIONS", data+"/api/v1/pipelines", tok, ""); status != http.StatusOK {
		t.Fatalf("OPTIONS in shadow mode: %d, want 200 (forwarded)", status)
	}
	if _, metrics, _ := do(t, "GET", ops+"/metrics", "", ""); !strings.Contains(metrics, `gatehouse_audit_events_total{kind="would_deny"} 1`) {
		t.Errorf("/metrics does not count the would_deny audit line")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var found []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if m["msg"] == "would_deny" {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d would_deny lines at --log-level warn, want 1:\n%s", len(found), logs.String())
	}
	for k, want := range map[string]any{"level": "AUDIT", "audit": "would_deny", "user": "admin", "method": "OPTIONS",
		"path": "/api/v1/pipelines", "client": "127.0.0.1"} {
		if found[0][k] != want {
			t.Errorf("would_deny line: %s is %v, want %v\n%v", k, found[0][k], want, found[0])
		}
	}
}
