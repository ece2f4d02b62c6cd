package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
)

// fakeAPI answers each "METHOD PATH" with a status and body, and records
// the bodies it was sent.
type fakeAPI struct {
	answers map[string]struct {
		status int
		body   string
	}
	mu     sync.Mutex // protects sent and accept
	sent   map[string]string
	accept map[string]string // each route's Accept header
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	route := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		route += "?" + r.URL.RawQuery
	}
	f.mu.Lock()
	f.sent[route] = string(b)
	f.accept[route] = r.Header.Get("Accept")
	f.mu.Unlock()
	a, ok := f.answers[route]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"no route `+route+`"}}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// serveFake starts f and returns the environment that points the CLI at it.
func serveFake(t *testing.T, f *fakeAPI) map[string]string {
	f.sent, f.accept = map[string]string{}, map[string]string{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return map[string]string{"GATEHOUSE_SERVER": srv.URL, "GATEHOUSE_TOKEN": "t", "HOME": t.TempDir()}
}

const fakeKey = "gatehouse_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"

// TestServiceAccountKeyOutput: a new or rotated key is alone on stdout
// (KEY=$(…) captures it) with the once-only note on stderr, and the
// server's field names read as the flags that set them.
func TestServiceAccountKeyOutput(t *testing.T) {
	keyJSON := `{"id":"k1","name":"deploy","service_account":"ci-bot","prefix":"gatehouse_Ab","roles":[],"active":true,` +
		`"expires_at":null,"created_at":"2026-12-01T00:00:00Z","last_used_at":null,"retained_until":null,"key":"` + fakeKey + `"}`
	f := &fakeAPI{answers: map[string]struct {
		status int
		body   string
	}{
		"POST /gatehouse/v1/service-accounts/ci-bot/api-keys":               {201, keyJSON},
		"POST /gatehouse/v1/service-accounts/ci-bot/api-keys/deploy/rotate": {201, keyJSON},
		"POST /gatehouse/v1/service-accounts/ci-bot/api-keys/bad/rotate":    {400, `{"error":{"code":"invalid_field","message":"retain: want a duration such as 24h"}}`},
		"POST /gatehouse/v1/service-accounts/other/api-keys":                {400, `{"error":{"code":"invalid_field","message":"expires_in: must be in the future"}}`},
		"POST /gatehouse/v1/service-accounts/narrow/api-keys":               {400, `{"error":{"code":"invalid_field","message":"roles: narrow does not hold role \"admin\""}}`},
		"POST /gatehouse/v1/role-assignments":                               {201, `{"user":"ci-bot","role":"releaser"}`},
	}}
	env := serveFake(t, f)

	for _, args := range [][]string{
		{"service-account", "api-key", "create", "ci-bot", "deploy", "--expires-in", "90d"},
		{"service-account", "api-key", "rotate", "ci-bot", "deploy", "--retain", "24h"},
	} {
		stdout, stderr, code := clientRun(t, env, "", args...)
		if code != 0 || stdout != fakeKey+"\n" || !strings.Contains(stderr, "shown only once") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q", args[2], code, stdout, stderr)
		}
	}
	if got := f.sent["POST /gatehouse/v1/service-accounts/ci-bot/api-keys"]; got != `{"name":"deploy","expires_in":"90d"}` {
		t.Errorf("create sent %s", got)
	}
	if got := f.sent["POST /gatehouse/v1/service-accounts/ci-bot/api-keys/deploy/rotate"]; got != `{"retain":"24h"}` {
		t.Errorf("rotate sent %s", got)
	}
	stdout, _, _ := clientRun(t, env, "", "service-account", "api-key", "create", "ci-bot", "deploy", "-o", "json")
	if decodeJSON[client.APIKey](t, stdout).Key != fakeKey {
		t.Errorf("-o json lacks the key:\n%s", stdout)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"service-account", "api-key", "create", "other", "k", "--expires-in", "-1h"}, "Error: --expires-in: must be in the future\n"},
		{[]string{"service-account", "api-key", "rotate", "ci-bot", "bad", "--retain", "soon"}, "Error: --retain: want a duration such as 24h\n"},
		{[]string{"service-account", "api-key", "create", "narrow", "k", "--role", "admin"}, "Error: --role: narrow does not hold role \"admin\"\n"},
	} {
		stdout, stderr, code := clientRun(t, env, "", tt.args...)
		if code != 1 || stdout != "" || stderr != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tt.args, code, stdout, stderr, tt.want)
		}
	}

	// --service-account is the same assignment as --user; one of them, once.
	stdout, _, code := clientRun(t, env, "", "role", "assign", "releaser", "--service-account", "ci-bot")
	if code != 0 || stdout != "Assigned role releaser to service account ci-bot.\n" {
		t.Errorf("role assign --service-account: exit %d, %q", code, stdout)
	}
	if got := f.sent["POST /gatehouse/v1/role-assignments"]; got != `{"role":"releaser","user":"ci-bot"}` {
		t.Errorf("role assign --service-account sent %s", got)
	}
	for _, args := range [][]string{
		{"role", "assign", "releaser"},
		{"role", "revoke", "releaser", "--user", "a", "--service-account", "b"},
	} {
		if _, stderr, code := clientRun(t, env, "", args...); code != 2 || !strings.Contains(stderr, "--service-account") {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
	}
}

func TestKeyState(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	for _, tt := range []struct {
		k    client.APIKey
		want string
	}{
		{client.APIKey{Active: true}, "active"},
		{client.APIKey{Active: true, ExpiresAt: &future}, "active"},
		{client.APIKey{Active: false, ExpiresAt: &future}, "deactivated"},
		{client.APIKey{Active: true, ExpiresAt: &past}, "expired"},
		{client.APIKey{Active: true, ExpiresAt: &future, RetainedUntil: &future}, "retired"},
		{client.APIKey{Active: true, ExpiresAt: &past, RetainedUntil: &past}, "expired"},
	} {
		if got := keyState(tt.k, now); got != tt.want {
			t.Errorf("keyState(%+v) = %q, want %q", tt.k, got, tt.want)
		}
	}
}
