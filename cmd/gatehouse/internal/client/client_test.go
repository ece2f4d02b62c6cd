package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorded is what the fake server saw of one request.
type recorded struct {
	method, path, query, auth, contentType string
	body                                   map[string]any
}

// fakeAPI answers every request with status and body, and records it.
func fakeAPI(t *testing.T, status int, body string) (*Client, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.method, rec.path, rec.query = r.Method, r.URL.Path, r.URL.RawQuery
		rec.auth, rec.contentType = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &rec.body); err != nil {
				t.Errorf("request body is not JSON: %s", b)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", "tok-123", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRequestsCarryTokenAndJSON(t *testing.T) {
	c, rec := fakeAPI(t, http.StatusCreated, `{"username":"bob","roles":["guest"],"active":false,"extra":1}`)
	roles := []string{"guest"}
	res, err := c.CreateUser(context.Background(), CreateUser{Username: "bob", Roles: &roles})
	if err != nil {
		t.Fatal(err)
	}
	if rec.method != "POST" || rec.path != "/gatehouse/v1/users" {
		t.Errorf("request %s %s, want POST /gatehouse/v1/users", rec.method, rec.path)
	}
	if rec.auth != "Bearer tok-123" || rec.contentType != "application/json" {
		t.Errorf("Authorization %q, Content-Type %q", rec.auth, rec.contentType)
	}
	if rec.body["username"] != "bob" || rec.body["password"] != nil {
		t.Errorf("body %v: want the username and no password key", rec.body)
	}
	if res.Value.Username != "bob" || !strings.Contains(string(res.Body), `"extra":1`) {
		t.Errorf("result %+v, body %s: want the decoded user and the body as sent", res.Value, res.Body)
	}
}

func TestRevokeSendsQuery(t *testing.T) {
	c, rec := fakeAPI(t, http.StatusNoContent, "")
	if err := c.Revoke(context.Background(), "bob", "releaser", ""); err != nil {
		t.Fatal(err)
	}
	if rec.method != "DELETE" || rec.path != "/gatehouse/v1/role-assignments" || rec.query != "role=releaser&user=bob" {
		t.Errorf("request %s %s?%s", rec.method, rec.path, rec.query)
	}
}

func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"api error shape", `{"error":{"code":"not_found","message":"role \"x\" not found"}}`, 404, "not_found", `role "x" not found`},
		{"html from a proxy", `<html>bad gateway</html>`, 502, "", "GET /gatehouse/v1/roles/x: the server answered 502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fakeAPI(t, tt.status, tt.body)
			_, err := c.GetRole(context.Background(), "x")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.Status != tt.status || e.Code != tt.code || e.Message != tt.msg {
				t.Errorf("got %d %q %q, want %d %q %q", e.Status, e.Code, e.Message, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func TestNamesCannotReshapeThePath(t *testing.T) {
	c, rec := fakeAPI(t, http.StatusOK, `{}`)
	for _, name := range []string{"a/b", "..", ".", "", "a?b", "a%2fb", "a b"} {
		if _, err := c.GetUser(context.Background(), name); err == nil || !strings.Contains(err.Error(), "invalid user name") {
			t.Errorf("GetUser(%q) = %v, want an invalid-name error", name, err)
		}
	}
	if rec.method != "" {
		t.Errorf("a request was sent: %s %s", rec.method, rec.path)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed, with Authorization %q", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/gatehouse/v1/login", http.StatusTemporaryRedirect))
	defer srv.Close()
	c, err := New(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(context.Background(), "admin", "secret-password")
	if err == nil || !strings.Contains(err.Error(), "redirected to "+other.URL) {
		t.Errorf("Login through a redirect = %v, want a redirect error", err)
	}
}

func TestParseServer(t *testing.T) {
	good := map[string]string{
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"https://gh.example.com/":      "https://gh.example.com",
		" https://gh.example.com/gh/ ": "https://gh.example.com/gh",
	}
	for in, want := range good {
		if got, err := ParseServer(in); err != nil || got != want {
			t.Errorf("ParseServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://u:p@x", "http://x/?a=b", "http://x/#f"} {
		if got, err := ParseServer(in); err == nil {
			t.Errorf("ParseServer(%q) = %q, want an error", in, got)
		}
	}
}
