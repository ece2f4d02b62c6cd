package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// meAPI answers GET /gatehouse/v1/me with status and body.
func meAPI(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gatehouse/v1/me" || r.Header.Get("Authorization") == "" {
			t.Errorf("unexpected %s %s (Authorization %q)", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// storeLogins writes a credentials file for HOME=vars["HOME"] and returns
// its path.
func storeLogins(t *testing.T, vars map[string]string, current string, logins map[string]*storedLogin) string {
	t.Helper()
	path, err := credentialsPath(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := (&credentials{Current: current, Logins: logins}).save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

const bobJSON = `{"id":"u-1","username":"bob","full_name":"Bob Builder","email":"bob@example.com","email_verified":false,"active":true,"state":"active","roles":["guest","releaser"],"created_at":"2026-01-01T00:00:00Z"}`

func TestWhoami(t *testing.T) {
	srv := meAPI(t, http.StatusOK, bobJSON)
	vars := map[string]string{"HOME": t.TempDir()}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	path := storeLogins(t, vars, srv.URL, map[string]*storedLogin{srv.URL: {Username: "bob", Token: "t", ExpiresAt: exp}})

	stdout, stderr, code := clientRun(t, vars, "", "whoami")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, row := range [][]string{{"Server:", srv.URL}, {"User:", "bob"}, {"Roles:", "guest,", "releaser"},
		{"Token:", "stored", "login", "in", path + ",", "expires", "at", timestamp(exp)}} {
		if !hasRow(stdout, row...) {
			t.Errorf("whoami has no row %q:\n%s", row, stdout)
		}
	}
	stdout, _, code = clientRun(t, vars, "", "whoami", "-o", "json")
	info := decodeJSON[whoamiInfo](t, stdout)
	if code != 0 || info.Server != srv.URL || info.Username != "bob" || info.TokenSource != path ||
		info.ExpiresAt == nil || !info.ExpiresAt.Equal(exp) || !strings.Contains(string(info.User), `"releaser"`) {
		t.Errorf("whoami -o json: exit %d: %s", code, stdout)
	}

	// GATEHOUSE_TOKEN: the server says who it is.
	env := map[string]string{"HOME": t.TempDir(), "GATEHOUSE_TOKEN": "env-token", "GATEHOUSE_SERVER": srv.URL}
	stdout, _, code = clientRun(t, env, "", "whoami")
	if code != 0 || !hasRow(stdout, "User:", "bob") || !hasRow(stdout, "Token:", "GATEHOUSE_TOKEN") {
		t.Errorf("whoami with GATEHOUSE_TOKEN: exit %d:\n%s", code, stdout)
	}
}

// TestWhoamiWithoutTheMePermission: the server accepts the token but
// refuses GET /me (403); whoami says what the stored login knows, and why
// there is no more.
func TestWhoamiWithoutTheMePermission(t *testing.T) {
	srv := meAPI(t, http.StatusForbidden, `{"error":{"code":"forbidden","message":"this needs the me permission"}}`)
	vars := map[string]string{"HOME": t.TempDir()}
	storeLogins(t, vars, srv.URL, map[string]*storedLogin{srv.URL: {Username: "robot", Token: "t", ExpiresAt: time.Now().Add(time.Hour)}})
	stdout, stderr, code := clientRun(t, vars, "", "whoami")
	if code != 0 || !hasRow(stdout, "User:", "robot") || !hasRow(stdout, "Roles:", "-") || !strings.Contains(stderr, "lacks the me permission") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
}

func TestWhoamiRefused(t *testing.T) {
	srv := meAPI(t, http.StatusUnauthorized, `{"error":{"code":"unauthenticated","message":"invalid or expired token"}}`)
	vars := map[string]string{"HOME": t.TempDir()}
	storeLogins(t, vars, srv.URL, map[string]*storedLogin{srv.URL: {Username: "bob", Token: "t", ExpiresAt: time.Now().Add(time.Hour)}})
	_, stderr, code := clientRun(t, vars, "", "whoami")
	if code != 1 || !strings.Contains(stderr, "invalid or expired token (log in again: gatehouse login --server "+srv.URL+" --username bob)") {
		t.Errorf("a refused token: exit %d: %s", code, stderr)
	}
	_, stderr, code = clientRun(t, map[string]string{"HOME": t.TempDir()}, "", "whoami")
	if code != 2 || !strings.Contains(stderr, "no server: log in first") {
		t.Errorf("no login at all: exit %d: %s", code, stderr)
	}
}

// TestLogout: logout forgets the login for one server (and only that
// one), under any of its loopback names, says what it did, and says so
// when there is nothing to forget.
func TestLogout(t *testing.T) {
	const a, b = "http://127.0.0.1:8080", "https://gatehouse.example.com"
	vars := map[string]string{"HOME": t.TempDir()}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	path := storeLogins(t, vars, a, map[string]*storedLogin{
		a: {Username: "bob", Token: "ta", ExpiresAt: exp},
		b: {Username: "carol", Token: admin.Secret("tb"), ExpiresAt: exp},
	})

	stdout, stderr, code := clientRun(t, vars, "", "logout", "--server", "http://localhost:8080/")
	want := "Forgot the login to " + a + " as bob (removed from " + path + ").\nThe token itself stays valid until " + timestamp(exp)
	if code != 0 || !strings.HasPrefix(stdout, want) {
		t.Fatalf("logout: exit %d:\n%s%s\nwant it to start with:\n%s", code, stdout, stderr, want)
	}
	creds, err := loadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if creds.Logins[a] != nil || creds.Current != "" || creds.Logins[b] == nil || creds.Logins[b].Token != "tb" {
		t.Errorf("after logout: current %q, logins %v; want only %s's, and no current server", creds.Current, creds.Logins, b)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the credentials file after logout: %v, %v", st.Mode(), err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"logout", "--server", a}, "No stored login for " + a + ": nothing to forget.\n"},
		{[]string{"logout"}, "No stored login: nothing to forget.\n"}, // the current login is gone
	} {
		if stdout, stderr, code := clientRun(t, vars, "", tt.args...); code != 0 || stdout != tt.want {
			t.Errorf("gatehouse %s: exit %d: %q %s, want %q", strings.Join(tt.args, " "), code, stdout, stderr, tt.want)
		}
	}

	vars["GATEHOUSE_SERVER"], vars["GATEHOUSE_TOKEN"] = b, "env"
	stdout, stderr, code = clientRun(t, vars, "", "logout")
	if code != 0 || !strings.HasPrefix(stdout, "Forgot the login to "+b+" as carol") || !strings.Contains(stderr, "GATEHOUSE_TOKEN is set") {
		t.Errorf("logout with GATEHOUSE_SERVER and GATEHOUSE_TOKEN: exit %d:\n%s%s", code, stdout, stderr)
	}
	if creds, _ := loadCredentials(path); len(creds.Logins) != 0 {
		t.Errorf("logins left: %v", creds.Logins)
	}
	_, stderr, code = clientRun(t, vars, "", "logout", "--server", "ftp://x")
	if code != 2 || !strings.Contains(stderr, "--server: server \"ftp://x\"") {
		t.Errorf("a bad --server: exit %d: %s", code, stderr)
	}
}
