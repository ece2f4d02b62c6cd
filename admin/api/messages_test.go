package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// startMessagesAPI serves the admin API on a fresh SQLite store and returns
// its base URL and an admin token.
func startMessagesAPI(t *testing.T) (string, string) {
	t.Helper()
	f := newAPIFixture(t, policy.DefaultFiles(), "admin-password-1")
	return f.base, f.token(t, "admin")
}

// TestErrorMessagesNameTheObject: every 404 and 409 reads as one sentence
// that names the object, as the CLI prints it verbatim.
func TestErrorMessagesNameTheObject(t *testing.T) {
	base, tok := startMessagesAPI(t)
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error.Message
	}
	if st, msg := call("POST", "/users", `{"username":"bob"}`); st != http.StatusCreated {
		t.Fatalf("creating bob: %d %s", st, msg)
	}
	tests := []struct {
		name         string
		method, path string
		body         string
		status       int
		msg          string
	}{
		{"unknown user", "GET", "/users/ghost", "", 404, `user "ghost" not found`},
		{"unknown role", "GET", "/roles/ghost", "", 404, `role "ghost" not found`},
		{"assign unknown role", "POST", "/role-assignments", `{"user":"bob","role":"ghost"}`, 404, `role "ghost" not found`},
		{"revoke a role not held", "DELETE", "/role-assignments?user=bob&role=admin", "", 404, `user "bob" does not have role "admin"`},
		{"filter by unknown role", "GET", "/role-assignments?role=ghost", "", 404, `role "ghost" not found`},
		{"filter by unknown user", "GET", "/role-assignments?user=ghost", "", 404, `user "ghost" not found`},
		{"duplicate user", "POST", "/users", `{"username":"bob"}`, 409, `user "bob" already exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, msg := call(tt.method, tt.path, tt.body)
			if st != tt.status || msg != tt.msg {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, st, msg, tt.status, tt.msg)
			}
		})
	}
	if st, msg := call("GET", "/role-assignments?role=guest", ""); st != http.StatusOK {
		t.Errorf("filter by a known role: %d %s", st, msg)
	}
}
