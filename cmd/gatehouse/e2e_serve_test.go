package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestServeEndToEnd drives the built binary as a client would: it proves
// what is forwarded, what is refused, and that state survives a restart.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	up := testkit.NewUpstream(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1", "GATEHOUSE_UPSTREAM=" + up.URL, "GATEHOUSE_DB=" + db}
	outer := t // processes started in subtests live until the whole test ends
	gh := testkit.StartServe(t, env, "--upstream-timeout", "2s", "--shutdown-grace", "5s")

	adminTok := login(t, gh.URL, "admin", "admin-password-1")
	status, out, _ := do(t, "POST", gh.URL+"/gatehouse/v1/users", adminTok, `{"username":"gus","password":"gus-password","email":"gus@example.com"}`)
	if status != http.StatusCreated {
		t.Fatalf("create gus: %d %s", status, out)
	}
	gusTok := login(t, gh.URL, "gus", "gus-password")

	forwarded := func(t *testing.T, method, path, tok string, want int) {
		t.Helper()
		before := up.Count()
		status, body, _ := do(t, method, gh.URL+path, tok, "")
		if status != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, body)
		}
		n := up.Count() - before
		switch {
		case want < 300 && n != 1:
			t.Fatalf("%s %s: allowed but %d requests reached the upstream", method, path, n)
		case want >= 400 && n != 0:
			t.Fatalf("%s %s: refused with %d but %d requests reached the upstream", method, path, want, n)
		}
		if want >= 400 && !strings.Contains(body, `"error":{"code":`) {
			t.Fatalf("%s %s: refusal is not a JSON error: %s", method, path, body)
		}
	}

	t.Run("anonymous", func(t *testing.T) {
		forwarded(t, "GET", "/api/v1/pipelines", "", 401)
		forwarded(t, "POST", "/api/v1/pipelines", "", 401)
		_, _, h := do(t, "GET", gh.URL+"/api/v1/pipelines", "", "")
		if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
		}
		forwarded(t, "GET", "/api/v1/pipelines", "not.a.token", 401)
	})
	t.Run("admin reads and writes", func(t *testing.T) {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			forwarded(t, m, "/api/v1/pipelines/p1", adminTok, 200)
		}
		if got := up.Last().Header.Get("X-Forwarded-User"); got != "admin" {
			t.Fatalf("X-Forwarded-User = %q", got)
		}
	})
	t.Run("guest", func(t *testing.T) {
		forwarded(t, "GET", "/api/v1/pipelines", gusTok, 200)
		forwarded(t, "HEAD", "/api/v1/pipelines", gusTok, 200)
		for _, m := range []string{"POST", "PUT", "DELETE"} {
			forwarded(t, m, "/api/v1/pipelines/p1", gusTok, 403)
		}
		forwarded(t, "PUT", "/api/v1/users/gus", gusTok, 200)
		forwarded(t, "GET", "/api/v1/current-user", gusTok, 200)
		forwarded(t, "PUT", "/api/v1/current-user", gusTok, 200)
		forwarded(t, "PUT", "/api/v1/users/admin", gusTok, 403)
		forwarded(t, "DELETE", "/api/v1/users/gus", gusTok, 403)
	})
	t.Run("path tricks cannot reach another user's record", func(t *testing.T) {
		before := up.Count()
		for target, want := range map[string]int{
			"/api/v1/users/gus/../admin":         403,
			"/api/v1/users/./admin":              403,
			"/api/v1//users//admin":              403,
			"/api/v1/users/gus/%2e%2e/admin":     400,
			"/api/v1/users/gus%2F..%2Fadmin":     400,
			"/api/v1/users/gus%2f..%2fadmin":     400,
			"/api/v1/users/gus%5C..%5Cadmin":     400,
			"/api/v1/users/gus/..;/admin":        400,
			"/api/v1/users/gus%00":               400,
			"/api/v1/users/gus%252F..%252Fadmin": 400,
		} {
			if got := rawRequest(t, gh.URL, "PUT", target, gusTok); got != want {
				t.Errorf("PUT %s: %d, want %d", target, got, want)
			}
		}
		if n := up.Count() - before; n != 0 {
			t.Fatalf("%d tricked requests reached the upstream", n)
		}
		// What is allowed is forwarded on exactly the path decided on.
		if got := rawRequest(t, gh.URL, "PUT", "/api/v1/users/admin/../gus", gusTok); got != 200 {
			t.Fatalf("PUT /api/v1/users/admin/../gus: %d", got)
		}
		if p := up.Last().Path; p != "/api/v1/users/gus" {
			t.Fatalf("upstream saw %q", p)
		}
	})
	t.Run("identity headers and token", func(t *testing.T) {
		status, _, _ := do(t, "GET", gh.URL+"/api/v1/pipelines", gusTok, "",
			"X-Forwarded-User", "admin", "X_Forwarded_User", "admin", "X-Forwarded-Groups", "admin",
			"X-Original-URL", "/api/v1/users/admin", "X-HTTP-Method-Override", "DELETE")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		h := up.Last().Header
		if got := h.Values("X-Forwarded-User"); len(got) != 1 || got[0] != "gus" {
			t.Fatalf("X-Forwarded-User = %q", got)
		}
		if got := h.Get("X-Forwarded-Groups"); got != "guest" {
			t.Fatalf("X-Forwarded-Groups = %q", got)
		}
		if h.Get("X-Forwarded-Email") != "gus@example.com" || h.Get("X-Forwarded-User-Id") == "" {
			t.Fatalf("identity headers: %v", h)
		}
		for _, k := range []string{"Authorization", "X_forwarded_user", "X-Original-Url", "X-Http-Method-Override"} {
			if v, ok := h[k]; ok {
				t.Fatalf("%s reached the upstream: %q", k, v)
			}
		}
	})
	t.Run("streams", func(t *testing.T) {
		req, _ := http.NewRequest("GET", gh.URL+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+gusTok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		if err != nil || line != "data: first\n" {
			t.Fatalf("first event: %q %v", line, err)
		}
		// The upstream is still holding the response open: the event
		// arrived before it finished.
		up.Release()
	})
	t.Run("role change applies to the next request", func(t *testing.T) {
		status, out, _ := do(t, "POST", gh.URL+"/gatehouse/v1/role-assignments", adminTok, `{"user":"gus","role":"admin"}`)
		if status != http.StatusCreated {
			t.Fatalf("assign: %d %s", status, out)
		}
		forwarded(t, "POST", "/api/v1/pipelines", gusTok, 200)
		status, out, _ = do(t, "DELETE", gh.URL+"/gatehouse/v1/role-assignments?user=gus&role=admin", adminTok, "")
		if status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", status, out)
		}
		forwarded(t, "POST", "/api/v1/pipelines", gusTok, 403)
	})
	t.Run("restart keeps users, assignments and tokens", func(t *testing.T) {
		status, out, _ := do(t, "POST", gh.URL+"/gatehouse/v1/roles", adminTok, `{"name":"ops","permissions":["read","write"]}`)
		if status != http.StatusCreated {
			t.Fatalf("create role: %d %s", status, out)
		}
		do(t, "POST", gh.URL+"/gatehouse/v1/role-assignments", adminTok, `{"user":"gus","role":"ops"}`)
		if took, err := gh.Stop(10 * time.Second); err != nil {
			t.Fatalf("stop: %v after %s\n%s", err, took, gh.Logs())
		}
		gh = testkit.StartServe(outer, env)
		forwarded(t, "POST", "/api/v1/runs", gusTok, 200) // the old token, the ops role
		status, out, _ = do(t, "GET", gh.URL+"/gatehouse/v1/users/gus", adminTok, "")
		var u struct{ Roles []string }
		json.Unmarshal([]byte(out), &u)
		if status != 200 || strings.Join(u.Roles, ",") != "guest,ops" {
			t.Fatalf("gus after restart: %d %s", status, out)
		}
	})
	t.Run("SIGTERM drains in-flight requests", func(t *testing.T) {
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", gh.URL+"/slow", nil)
			req.Header.Set("Authorization", "Bearer "+gusTok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		deadline := time.Now().Add(5 * time.Second)
		for up.Count() == 0 || up.Last().Path != "/slow" {
			if time.Now().After(deadline) {
				select {
				case code := <-done:
					t.Fatalf("the slow request never reached the upstream; it got %d", code)
				default:
				}
				t.Fatal("the slow request never reached the upstream")
			}
			time.Sleep(10 * time.Millisecond)
		}
		took, err := gh.Stop(10 * time.Second)
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
		if code := <-done; code != 200 {
			t.Fatalf("in-flight request got %d", code)
		}
		if took > 5*time.Second {
			t.Fatalf("shutdown took %s", took)
		}
	})
	t.Run("dead upstream gives 502", func(t *testing.T) {
		gh = testkit.StartServe(outer, env, "--upstream", "http://127.0.0.1:1")
		start := time.Now()
		status, body, _ := do(t, "GET", gh.URL+"/api/v1/pipelines", adminTok, "")
		if status != http.StatusBadGateway || !strings.Contains(body, `"upstream_unavailable"`) {
			t.Fatalf("status %d: %s", status, body)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("502 took %s", took)
		}
	})
	for _, secret := range []string{"admin-password-1", "gus-password", adminTok, gusTok} {
		if strings.Contains(gh.Logs(), secret) {
			t.Fatalf("a secret reached the logs: %.12s…", secret)
		}
	}
}
