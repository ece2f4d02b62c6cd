package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// do sends a JSON request (body nil: none) and decodes a 2xx answer into
// out; it returns the status and, for an error, its code and message.
func (f *apiFixture) do(t *testing.T, method, path, token string, body, out any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	res, b := f.request(t, method, path, token, r)
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.Unmarshal(b, &e)
		return res.StatusCode, e.Error.Code + ": " + e.Error.Message
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode, ""
}

// postForm posts a login form to url and returns the status and token.
func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	res, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok admin.Token
	_ = json.NewDecoder(res.Body).Decode(&tok)
	return res.StatusCode, tok.AccessToken
}

func TestServiceAccountsAPI(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	root := f.token(t, "admin")

	var sa admin.ServiceAccount
	if st, msg := f.do(t, "POST", "/service-accounts", root, map[string]any{"name": "ci", "description": "CI", "roles": []string{"admin"}}, &sa); st != 201 {
		t.Fatalf("create: %d %s", st, msg)
	}
	if sa.Name != "ci" || sa.Description != "CI" || !sa.Active || len(sa.Roles) != 1 {
		t.Fatalf("created %+v", sa)
	}
	var key admin.APIKey
	if st, msg := f.do(t, "POST", "/service-accounts/ci/api-keys", root, map[string]any{"name": "deploy", "expires_in": "90d"}, &key); st != 201 {
		t.Fatalf("create key: %d %s", st, msg)
	}
	secret := string(key.Key)
	if !admin.KeyShaped(secret) || key.ServiceAccount != "ci" || key.ExpiresAt == nil {
		t.Fatalf("created key %+v", key)
	}

	for _, c := range []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"POST", "/service-accounts", map[string]any{"name": "ci"}, 409, "conflict"},
		{"POST", "/service-accounts", map[string]any{}, 400, "name"},
		{"POST", "/service-accounts", map[string]any{"name": "x", "nope": 1}, 400, "nope"},
		{"GET", "/service-accounts/nobody", nil, 404, "not_found"},
		{"GET", "/users/ci", nil, 404, "service account"},
		{"POST", "/service-accounts/ci/api-keys", map[string]any{"name": "deploy"}, 409, "conflict"},
		{"POST", "/service-accounts/ci/api-keys", map[string]any{"name": "k", "expires_in": "-1d"}, 400, "expires_in"},
		{"POST", "/service-accounts/ci/api-keys", map[string]any{"name": "k", "expires_in": "soon"}, 400, "expires_in"},
		{"POST", "/service-accounts/ci/api-keys", map[string]any{"name": "k", "roles": []string{"guest"}}, 400, "roles"},
		{"POST", "/service-accounts/ci/api-keys/deploy/rotate", map[string]any{"retain": "-1h"}, 400, "retain"},
		{"GET", "/service-accounts/ci/api-keys/nope", nil, 404, "not_found"},
	} {
		st, msg := f.do(t, c.method, c.path, root, c.body, nil)
		if st != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %v: %d %q, want %d naming %q", c.method, c.path, c.body, st, msg, c.status, c.msg)
		}
	}

	// The key is a bearer credential of the admin API, with its account's
	// permissions; the listing shows no secret and the use.
	var list struct{ Items []map[string]any }
	if st, msg := f.do(t, "GET", "/service-accounts/ci/api-keys", secret, nil, &list); st != 200 || len(list.Items) != 1 {
		t.Fatalf("list with the key: %d %s %+v", st, msg, list)
	}
	if _, has := list.Items[0]["key"]; has || list.Items[0]["last_used_at"] == nil || list.Items[0]["prefix"] != key.Prefix {
		t.Errorf("listed %v: want no key, a last use and the prefix", list.Items[0])
	}

	// Traded for a token at both login paths, as ZenML's client does.
	preset, err := New(f.svc, Options{LoginPath: "/api/v1/login"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(preset)
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		url  string
		form url.Values
		ok   bool
	}{
		{srv.URL + "/api/v1/login", url.Values{"grant_type": {"zenml-api-key"}, "password": {secret}}, true},
		{srv.URL + "/api/v1/login", url.Values{"grant_type": {"zenml-api-key"}, "username": {""}, "password": {secret}, "client_id": {""}}, true},
		{f.base + "/login", url.Values{"username": {"ci"}, "password": {secret}}, true},
		{f.base + "/login", url.Values{"password": {secret}}, true},
		{f.base + "/login", url.Values{"username": {"admin"}, "password": {secret}}, false},
		{f.base + "/login", url.Values{"grant_type": {"zenml-api-key"}, "password": {"admin-password-1"}}, false},
	} {
		st, tok := postForm(t, c.url, c.form)
		if c.ok != (st == 200) {
			t.Errorf("%s %v: %d", c.url, c.form, st)
			continue
		}
		if c.ok {
			if st, msg := f.do(t, "GET", "/service-accounts", tok, nil, nil); st != 200 {
				t.Errorf("the traded token: %d %s", st, msg)
			}
		}
	}
	var tok admin.Token
	if st, msg := f.do(t, "POST", "/login", "", map[string]string{"password": secret}, &tok); st != 200 {
		t.Fatalf("JSON trade: %d %s", st, msg)
	}

	// Rotation answers the new key; deactivation ends the old one and the
	// token traded for it, and cannot be undone.
	var rotated admin.APIKey
	if st, msg := f.do(t, "POST", "/service-accounts/ci/api-keys/deploy/rotate", root, nil, &rotated); st != 201 || rotated.Key == "" {
		t.Fatalf("rotate: %d %s %+v", st, msg, rotated)
	}
	if st, _ := f.do(t, "GET", "/service-accounts", secret, nil, nil); st != 401 {
		t.Errorf("the rotated key without retention: %d, want 401", st)
	}
	if st, _ := f.do(t, "GET", "/service-accounts", tok.AccessToken, nil, nil); st != 401 {
		t.Errorf("the token traded for the rotated key: %d, want 401", st)
	}
	newKey := string(rotated.Key)
	if st, msg := f.do(t, "PATCH", "/service-accounts/ci/api-keys/deploy", root, map[string]any{"active": false}, nil); st != 200 {
		t.Fatalf("deactivate: %d %s", st, msg)
	}
	if st, _ := f.do(t, "GET", "/service-accounts", newKey, nil, nil); st != 401 {
		t.Errorf("a deactivated key: %d, want 401", st)
	}
	if st, msg := f.do(t, "PATCH", "/service-accounts/ci/api-keys/deploy", root, map[string]any{"active": true}, nil); st != 400 || !strings.Contains(msg, "active") {
		t.Errorf("reactivate: %d %s, want 400 naming active", st, msg)
	}
	if st, msg := f.do(t, "DELETE", "/service-accounts/ci/api-keys/deploy", root, nil, nil); st != 204 {
		t.Errorf("delete key: %d %s", st, msg)
	}
	if st, msg := f.do(t, "DELETE", "/service-accounts/ci", root, nil, nil); st != 204 {
		t.Errorf("delete account: %d %s", st, msg)
	}
}

// TestNarrowedKeyOnTheAPI: a key narrowed to guest reads through the admin
// API but may not write, though its account (admin and guest) may; so may
// not the token it is traded for.
func TestNarrowedKeyOnTheAPI(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	root := f.token(t, "admin")
	if st, msg := f.do(t, "POST", "/service-accounts", root, map[string]any{"name": "ops", "roles": []string{"admin", "guest"}}, nil); st != 201 {
		t.Fatalf("create: %d %s", st, msg)
	}
	secret := func(name string, roles []string) string {
		var k admin.APIKey
		if st, msg := f.do(t, "POST", "/service-accounts/ops/api-keys", root, map[string]any{"name": name, "roles": roles}, &k); st != 201 {
			t.Fatalf("create key %s: %d %s", name, st, msg)
		}
		return string(k.Key)
	}
	full, narrow := secret("full", nil), secret("narrow", []string{"guest"})
	var traded admin.Token
	if st, msg := f.do(t, "POST", "/login", "", map[string]string{"password": narrow}, &traded); st != 200 {
		t.Fatalf("trade the narrowed key: %d %s", st, msg)
	}
	for _, c := range []struct {
		who, cred, role string
		write           int
	}{
		{"the account's full key", full, "made-by-full", 201},
		{"the key narrowed to guest", narrow, "made-by-narrow", 403},
		{"the narrowed key's traded token", traded.AccessToken, "made-by-traded", 403},
	} {
		if st, msg := f.do(t, "GET", "/service-accounts", c.cred, nil, nil); st != 200 {
			t.Errorf("%s reads: %d %s", c.who, st, msg)
		}
		st, msg := f.do(t, "POST", "/roles", c.cred, map[string]any{"name": c.role, "permissions": []string{"read"}}, nil)
		if st != c.write {
			t.Errorf("%s writes: %d %s, want %d", c.who, st, msg, c.write)
		}
	}
}
