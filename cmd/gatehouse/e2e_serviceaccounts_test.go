package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

const saAdminPW = "admin-password-1"

// keyForm is what an API key looks like: the scanners' prefix and 256
// random bits in base64url.
var keyForm = regexp.MustCompile(`^gatehouse_[A-Za-z0-9_-]{43}$`)

// keyServer is `gatehouse serve` on a SQLite file the test can read, with
// an admin logged in through the CLI.
type keyServer struct {
	t     *testing.T
	URL   string
	dir   string // holds the SQLite file and its companions
	proc  *testkit.Process
	up    *testkit.Upstream
	admin *testkit.CLI
}

func startKeyServer(t *testing.T, args ...string) *keyServer {
	t.Helper()
	up := testkit.NewUpstream(t)
	dir := t.TempDir()
	p := testkit.StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=" + saAdminPW},
		append([]string{"--upstream", up.URL, "--db", "sqlite:" + filepath.Join(dir, "g.db")}, args...)...)
	admin := testkit.NewCLI(t)
	admin.Login(p.URL, "admin", saAdminPW)
	return &keyServer{t: t, URL: p.URL, dir: dir, proc: p, up: up, admin: admin}
}

// newKey runs `service-account api-key create SA NAME args…` and returns
// the key it printed: alone on stdout, with the once-only note on stderr.
func newKey(t *testing.T, cli *testkit.CLI, sa, name string, args ...string) string {
	t.Helper()
	return secretFrom(t, cli, append([]string{"service-account", "api-key", "create", sa, name}, args...)...)
}

// secretFrom runs a command that prints a key (create, rotate).
func secretFrom(t *testing.T, cli *testkit.CLI, args ...string) string {
	t.Helper()
	r := cli.Run(args...)
	key := strings.TrimSuffix(r.Stdout, "\n")
	if r.Code != 0 || !keyForm.MatchString(key) || !strings.Contains(r.Stderr, "shown only once") {
		t.Fatalf("want a key alone on stdout and the once-only note on stderr; %v", r)
	}
	return key
}

// bearer is an Authorization header with a bearer credential.
func bearer(cred string) []string { return []string{"Authorization", "Bearer " + cred} }

// basic is an Authorization header with HTTP Basic credentials.
func basic(name, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+secret))}
}

// status sends a request to the server and returns its status.
func (k *keyServer) status(method, path string, hdr []string) int {
	k.t.Helper()
	st, _, _ := doRaw(k.t, method, k.URL+path, "", hdr...)
	return st
}

// trade logs in at path with the form or JSON body and returns the token.
func trade(t *testing.T, loginURL, contentType, body string) string {
	t.Helper()
	st, out, _ := doRaw(t, "POST", loginURL, body, "Content-Type", contentType)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(out), &tok) != nil || tok.AccessToken == "" || tok.TokenType != "bearer" {
		t.Fatalf("POST %s %s: %d %s", loginURL, contentType, st, out)
	}
	return tok.AccessToken
}

// TestServiceAccountKeyCredentials: an account and key made with the CLI;
// the key works as a Bearer token, as HTTP Basic and traded at the login;
// a key narrowed to guest is refused the write its account may do; the
// store keeps no key in clear.
func TestServiceAccountKeyCredentials(t *testing.T) {
	k := startKeyServer(t)
	a := k.admin
	contains(t, "service-account create", a.OK("service-account", "create", "ci-bot", "--role", "admin", "--role", "guest", "--description", "CI pipelines"),
		"Created service account ci-bot with roles: admin, guest.")
	key := newKey(t, a, "ci-bot", "deploy")
	if out := a.OK("service-account", "list"); !hasRow(out, "ci-bot", "CI pipelines", "active", "admin,guest") {
		t.Errorf("service-account list:\n%s", out)
	}
	if out := a.OK("user", "list"); hasRow(out, "ci-bot") {
		t.Errorf("user list shows the service account:\n%s", out)
	}
	contains(t, "service-account describe", a.OK("service-account", "describe", "ci-bot"), "Name:", "ci-bot", "CI pipelines", "admin, guest", "API keys:", "deploy")

	for _, tt := range []struct {
		name   string
		method string
		path   string
		hdr    []string
		want   int
	}{
		{"Bearer read", "GET", "/api/v1/pipelines", bearer(key), 200},
		{"Bearer write", "POST", "/api/v1/pipelines", bearer(key), 200},
		{"Bearer on the admin API", "GET", "/gatehouse/v1/users", bearer(key), 200},
		{"Basic", "POST", "/api/v1/pipelines", basic("ci-bot", key), 200},
		{"Basic under another name", "GET", "/api/v1/pipelines", basic("admin", key), 401},
		{"Basic with a human's password", "GET", "/api/v1/pipelines", basic("admin", saAdminPW), 401},
		{"a key-shaped stranger", "GET", "/api/v1/pipelines", bearer("gatehouse_" + strings.Repeat("A", 43)), 401},
		{"a mangled key", "GET", "/api/v1/pipelines", bearer(key[:len(key)-1]), 401},
	} {
		if got := k.status(tt.method, tt.path, tt.hdr); got != tt.want {
			t.Errorf("%s: %s %s = %d, want %d", tt.name, tt.method, tt.path, got, tt.want)
		}
	}
	if got := k.up.Last().Header.Get("X-Forwarded-User"); got != "ci-bot" {
		t.Errorf("the upstream saw X-Forwarded-User %q, want ci-bot", got)
	}

	// Traded at the login, by JSON with the account's name and by a form
	// with the key alone; the token carries the account's rights.
	for _, tok := range []string{
		trade(t, k.URL+"/gatehouse/v1/login", "application/json", `{"username":"ci-bot","password":"`+key+`"}`),
		trade(t, k.URL+"/gatehouse/v1/login", "application/x-www-form-urlencoded", "password="+url.QueryEscape(key)),
	} {
		if got := k.status("POST", "/api/v1/pipelines", bearer(tok)); got != 200 {
			t.Errorf("a traded token: POST = %d, want 200", got)
		}
	}
	st, _, _ := doRaw(t, "POST", k.URL+"/gatehouse/v1/login", `{"username":"admin","password":"`+key+`"}`, "Content-Type", "application/json")
	if st != http.StatusUnauthorized {
		t.Errorf("a key traded under another name: %d, want 401", st)
	}

	// Narrowed to guest: reads, but may not write what ci-bot may.
	reader := newKey(t, a, "ci-bot", "reader", "--role", "guest")
	if got := k.status("GET", "/api/v1/pipelines", bearer(reader)); got != 200 {
		t.Errorf("narrowed key: GET = %d, want 200", got)
	}
	for _, hdr := range [][]string{bearer(reader), basic("ci-bot", reader)} {
		if got := k.status("POST", "/api/v1/pipelines", hdr); got != 403 {
			t.Errorf("narrowed key: POST = %d, want 403", got)
		}
	}
	if got := k.status("POST", "/api/v1/pipelines", bearer(trade(t, k.URL+"/gatehouse/v1/login", "application/json", `{"password":"`+reader+`"}`))); got != 403 {
		t.Errorf("a token traded for the narrowed key: POST = %d, want 403", got)
	}

	out := a.OK("service-account", "api-key", "list", "ci-bot")
	contains(t, "api-key list", out, "NAME", "PREFIX", "LAST USED", key[:12]+"…")
	if !hasRow(out, "reader", "guest", "active") {
		t.Errorf("api-key list:\n%s", out)
	}
	listed := a.OK("service-account", "api-key", "list", "ci-bot", "-o", "json")
	if strings.Contains(listed, key[10:]) || strings.Contains(listed, reader[10:]) {
		t.Errorf("api-key list -o json shows a key:\n%s", listed)
	}
	for _, it := range decodeJSON[struct{ Items []client.APIKey }](t, listed).Items {
		if it.LastUsedAt == nil || time.Since(*it.LastUsedAt) > time.Minute {
			t.Errorf("api-key list: %s was used just now, last_used_at says %v", it.Name, it.LastUsedAt)
		}
	}
	contains(t, "api-key describe", a.OK("service-account", "api-key", "describe", "ci-bot", "reader"),
		"Name:", "reader", "Service account:", "ci-bot", "roles: guest", "State:", "active", "Last used:")

	// A role revoked from the account is gone from its keys' next request;
	// assigned again, it is back.
	contains(t, "role revoke", a.OK("role", "revoke", "admin", "--service-account", "ci-bot"), "Revoked role admin from service account ci-bot.")
	if got := k.status("POST", "/api/v1/pipelines", bearer(key)); got != 403 {
		t.Errorf("after role revoke: POST = %d, want 403", got)
	}
	contains(t, "role assign", a.OK("role", "assign", "admin", "--service-account", "ci-bot"), "Assigned role admin to service account ci-bot.")
	if out := a.OK("role", "assignment", "list", "--service-account", "ci-bot"); !hasRow(out, "ci-bot", "admin") || !hasRow(out, "ci-bot", "guest") || hasRow(out, "admin", "admin") {
		t.Errorf("role assignment list --service-account ci-bot:\n%s", out)
	}
	if got := k.status("POST", "/api/v1/pipelines", bearer(key)); got != 200 {
		t.Errorf("after role assign: POST = %d, want 200", got)
	}

	noKeyInStore(t, k, key, reader)
}

// noKeyInStore reads every file of the store (the database, its journal
// and write-ahead log) and the server's log, and fails if any holds a key
// or its random part in clear.
func noKeyInStore(t *testing.T, k *keyServer, keys ...string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k.dir, "g.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no store files in %s: %v", k.dir, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			if strings.Contains(string(data), key[len("gatehouse_"):]) {
				t.Errorf("%s holds a key in clear", filepath.Base(f))
			}
		}
	}
	for _, key := range keys {
		if strings.Contains(k.proc.Logs(), key[len("gatehouse_"):]) {
			t.Error("the server's log holds a key")
		}
	}
}
