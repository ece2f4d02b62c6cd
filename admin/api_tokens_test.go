package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/admin/api"
)

// These tests send the token fixture's tokens (admin.TokenCases) through
// the HTTP face; they live here, not in admin/api, because only this
// package's tests can forge them.

// newAPI returns the HTTP face of svc with no options.
func newAPI(t *testing.T, svc *admin.Service) *api.API {
	t.Helper()
	gin.SetMode(gin.ReleaseMode) // as the gatehouse binary sets it
	a, err := api.New(svc, api.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAPIAuthorizationHeader checks the admin API's answers to the
// Authorization header: like the data plane, missing or bad credentials of
// any scheme are 401 with a Bearer challenge, and only two headers are a
// malformed request (400).
func TestAPIAuthorizationHeader(t *testing.T) {
	svc, bobTok, _ := admin.TokenCases(t)
	r := newAPI(t, svc)
	for _, c := range []struct {
		name   string
		values []string
		status int
	}{
		{"valid token", []string{"Bearer " + bobTok}, http.StatusOK},
		{"no header", nil, http.StatusUnauthorized},
		{"bad token", []string{"Bearer garbage"}, http.StatusUnauthorized},
		{"empty token", []string{"Bearer "}, http.StatusUnauthorized},
		{"scheme only", []string{"Bearer"}, http.StatusUnauthorized},
		{"basic", []string{"Basic Ym9iOmJvYi1wYXNzd29yZC0x"}, http.StatusUnauthorized},
		{"token scheme", []string{"Token " + bobTok}, http.StatusUnauthorized},
		{"two headers", []string{"Bearer " + bobTok, "Bearer " + bobTok}, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/gatehouse/v1/me", nil)
			if c.values != nil {
				req.Header["Authorization"] = c.values
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, c.status, w.Body)
			}
			challenge := w.Header().Get("WWW-Authenticate")
			if (c.status == http.StatusUnauthorized) != strings.HasPrefix(challenge, "Bearer ") {
				t.Errorf("WWW-Authenticate %q with status %d", challenge, w.Code)
			}
			if c.status == http.StatusOK && !strings.Contains(w.Body.String(), `"username":"bob"`) {
				t.Errorf("body %s, want bob's user", w.Body)
			}
		})
	}
}

// TestAPIRefusesBadTokens sends every bad token to the API over HTTP, as a
// client would: each is 401.
func TestAPIRefusesBadTokens(t *testing.T) {
	svc, _, bad := admin.TokenCases(t)
	r := newAPI(t, svc)
	for _, c := range bad {
		req := httptest.NewRequest("GET", "/gatehouse/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401; body %s", c.Name, w.Code, w.Body)
		}
	}
}
