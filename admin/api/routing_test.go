package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFallbackGetsWhatNoRouteMatches: every request that no route of the
// API matches reaches Options.Fallback (the data plane) as it came: no
// redirect to a trailing slash or another case, no 405 for another
// method. The API's own routes never reach it.
func TestFallbackGetsWhatNoRouteMatches(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	var got string
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.RequestURI()
		w.WriteHeader(http.StatusTeapot)
	})
	a, err := New(f.svc, Options{Fallback: fallback}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, target string }{
		{"GET", "/api/v1/pipelines?x=1"},
		{"GET", "/gatehouse/v1/users/"},  // /users is a route: no redirect
		{"GET", "/GATEHOUSE/v1/users"},   // nor one to the fixed path
		{"PUT", "/gatehouse/v1/login"},   // POST only: no 405
		{"GET", "/gatehouse/v1/nothing"}, // the data plane refuses it
		{"GET", "/gatehouse/signup/"},
	} {
		got = ""
		w := httptest.NewRecorder()
		a.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
		if want := c.method + " " + c.target; w.Code != http.StatusTeapot || got != want {
			t.Errorf("%s %s: %d, the fallback got %q; want it to get %q", c.method, c.target, w.Code, got, want)
		}
	}
	got = ""
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("POST", "/gatehouse/v1/login", strings.NewReader(`{"username":"admin","password":"wrong-password-1"}`)))
	if w.Code != http.StatusUnauthorized || got != "" {
		t.Errorf("POST /gatehouse/v1/login: %d, fallback got %q; want the API's 401", w.Code, got)
	}
}

// TestFallbackPanics: a panic in a handler, the fallback's included, is a
// 500 in the error shape; an aborted response (http.ErrAbortHandler) is
// net/http's to handle, and passes on.
func TestFallbackPanics(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	var value any
	fallback := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(value) })
	a, err := New(f.svc, Options{Fallback: fallback}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	value = "boom"
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/x", nil))
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusInternalServerError || e.Error.Code != "internal" {
		t.Errorf("a panicking handler: %d %s, want 500 internal in the error shape", w.Code, w.Body)
	}

	value = http.ErrAbortHandler
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/x", nil))
	t.Error("http.ErrAbortHandler was swallowed")
}

// TestNoFallbackIsNotFound: without a fallback, what no route matches is
// 404 in the error shape.
func TestNoFallbackIsNotFound(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	res, code, _ := f.call(t, "GET", "/nothing", "", nil)
	if res.StatusCode != http.StatusNotFound || code != "not_found" {
		t.Errorf("%d %s, want 404 not_found", res.StatusCode, code)
	}
}
