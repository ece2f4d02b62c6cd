package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// TestServeIdPTokens: serve with --oidc-issuer accepts the provider's
// tokens, maps their groups to roles through policy.csv and says so in
// /readyz; a provider down at start leaves serve up, degraded.
func TestServeIdPTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	idp := testkit.NewIdP(t)
	up := testkit.NewUpstream(t)
	dir := t.TempDir()
	var csv strings.Builder
	for _, l := range policy.DefaultFiles().Lines {
		csv.WriteString(l.String() + "\n")
	}
	csv.WriteString("g, oidc:staff, guest\ng, oidc:eng, admin\n")
	testkit.WriteFile(t, filepath.Join(dir, "policy.csv"), csv.String())
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1", "GATEHOUSE_UPSTREAM=" + up.URL,
		"GATEHOUSE_OIDC_CLIENT_ID=gatehouse", "GATEHOUSE_POLICY_DIR=" + dir}
	gh := testkit.StartServe(t, append(env, "GATEHOUSE_DB=sqlite:"+filepath.Join(t.TempDir(), "a.db")), "--oidc-issuer", idp.URL)

	tok := idp.Sign(t, idp.Claims())
	if status, body, _ := do(t, "GET", gh.URL+"/api/v1/pipelines", tok, ""); status != http.StatusOK {
		t.Fatalf("staff reads: %d %s", status, body)
	}
	if got := up.Last().Header; got.Get("X-Forwarded-User") != "alice" || got.Get("X-Forwarded-Groups") != "guest" {
		t.Errorf("forwarded identity %v", got)
	}
	if status, _, _ := do(t, "POST", gh.URL+"/api/v1/pipelines", tok, "{}"); status != http.StatusForbidden {
		t.Errorf("staff writes: %d, want 403", status)
	}
	c := idp.Claims()
	c["aud"] = "another-client"
	if status, _, _ := do(t, "GET", gh.URL+"/api/v1/pipelines", idp.Sign(t, c), ""); status != http.StatusUnauthorized {
		t.Errorf("another audience: %d, want 401", status)
	}
	c = idp.Claims()
	c["groups"] = []string{"eng"}
	if status, body, _ := do(t, "GET", gh.URL+"/gatehouse/v1/users/alice", idp.Sign(t, c), ""); status != http.StatusOK {
		t.Errorf("eng (admin) reads alice through the admin API: %d %s", status, body)
	}
	if status, body, _ := doRaw(t, "GET", gh.Ops+"/readyz", ""); status != http.StatusOK || !strings.Contains(body, "\nsso: ok\n") {
		t.Errorf("/readyz: %d\n%s", status, body)
	}

	// The provider is down when the next server starts.
	idp.Close()
	down := testkit.StartServe(t, append(env, "GATEHOUSE_DB=sqlite:"+filepath.Join(t.TempDir(), "b.db")), "--oidc-issuer", idp.URL)
	status, body, _ := doRaw(t, "GET", down.Ops+"/readyz", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "degraded\n") || !strings.Contains(body, "sso: degraded") {
		t.Errorf("/readyz with the provider down: %d\n%s", status, body)
	}
	if status, _, _ := do(t, "GET", down.URL+"/api/v1/pipelines", tok, ""); status != http.StatusServiceUnavailable {
		t.Errorf("a provider token while it is down: %d, want 503", status)
	}
	if tok := login(t, down.URL, "admin", "admin-password-1"); tok == "" {
		t.Error("no local login while the provider is down")
	}
}
