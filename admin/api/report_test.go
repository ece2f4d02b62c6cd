package api

import (
	"context"
	"encoding/csv"
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

// TestAccessReportAPI: the report as JSON (valid, with every field) and
// as CSV (by format and by Accept), a route query with its rule, and the
// refusals, each naming its field or thing.
func TestAccessReportAPI(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	root := f.token(t, "admin")
	ctx := context.Background()
	if _, err := f.svc.CreateUser(ctx, admin.CreateUser{Username: "bob", Password: "bob-password-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateTeam(ctx, "ml", []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AssignTeam(ctx, "ml", "admin", ""); err != nil {
		t.Fatal(err)
	}

	res, body := f.request(t, "GET", "/access-report", root, nil)
	var all struct{ Items []map[string]any }
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || json.Unmarshal(body, &all) != nil {
		t.Fatalf("json: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// admin: me, read, write; bob: me, read (guest) and write (the team).
	if len(all.Items) != 6 || all.Items[0]["user"] != "admin" || all.Items[5]["user"] != "bob" {
		t.Fatalf("items: %v", all.Items)
	}
	bobWrite := all.Items[5]
	if bobWrite["permission"] != "write" || bobWrite["kind"] != "user" || bobWrite["active"] != true || bobWrite["workspace"] != "" {
		t.Fatalf("bob's write: %v", bobWrite)
	}
	if via, _ := json.Marshal(bobWrite["via"]); string(via) != `["user:bob","team:ml","admin","write"]` {
		t.Fatalf("bob's chain: %s", via)
	}

	res, body = f.request(t, "GET", "/access-report?team=ml&format=csv", root, nil)
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if res.StatusCode != 200 || err != nil || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v %s", res.StatusCode, err, body)
	}
	want := [][]string{
		{"user", "kind", "active", "permission", "workspace", "via", "rule"},
		{"bob", "user", "true", "me", "", "user:bob > team:ml > admin > me", ""},
		{"bob", "user", "true", "read", "", "user:bob > team:ml > admin > read", ""},
		{"bob", "user", "true", "write", "", "user:bob > team:ml > admin > write", ""},
	}
	if len(recs) != len(want) || strings.Join(recs[3], "|") != strings.Join(want[3], "|") || strings.Join(recs[0], "|") != strings.Join(want[0], "|") {
		t.Fatalf("csv rows %q, want %q", recs, want)
	}

	q := url.Values{"method": {"PUT"}, "path": {"/api/v1/users//bob"}}
	res, body = f.request(t, "GET", "/access-report?"+q.Encode(), root, nil, "Accept", "text/csv")
	recs, err = csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if res.StatusCode != 200 || err != nil || len(recs) != 3 || recs[2][0] != "bob" || recs[2][6] != "p, write, /*, POST|PUT|PATCH|DELETE (policy.csv (embedded default):3)" {
		t.Fatalf("route query (Accept: text/csv): %d %v %q", res.StatusCode, err, recs)
	}
	res, body = f.request(t, "GET", "/access-report?method=OPTIONS&path=/nothing/here&user=bob", root, nil)
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"items":[]}` {
		t.Fatalf("empty report: %d %s", res.StatusCode, body)
	}

	guest, _ := f.svc.CreateUser(ctx, admin.CreateUser{Username: "nora", Password: "nora-password-1", Roles: &[]string{}})
	for _, c := range []struct {
		query, token string
		status       int
		code, part   string
	}{
		{"method=GET", root, 400, "invalid_field", "path"},
		{"path=/x", root, 400, "invalid_field", "method"},
		{"method=FETCH&path=/x", root, 400, "invalid_field", "method"},
		{"method=GET&path=x", root, 400, "invalid_field", "path"},
		{"format=xml", root, 400, "invalid_field", "format"},
		{"user=bob&team=ml", root, 400, "invalid_field", "user"},
		{"user=ghost", root, 404, "not_found", "ghost"},
		{"role=ghost", root, 404, "not_found", "ghost"},
		{"team=ghost", root, 404, "not_found", "ghost"},
		{"", f.token(t, guest.Username), 403, "forbidden", ""},
		{"", "", 401, "unauthenticated", ""},
	} {
		res, code, msg := f.call(t, "GET", "/access-report?"+c.query, c.token, nil)
		if res.StatusCode != c.status || code != c.code || !strings.Contains(msg, c.part) {
			t.Errorf("?%s: %d %s %q, want %d %s naming %q", c.query, res.StatusCode, code, msg, c.status, c.code, c.part)
		}
	}
}

// TestAccessReportCanonicalPaths: the route is decided on the path the data
// plane would decide on (proxy.Canonicalize), and a path it refuses is 400
// naming path.
func TestAccessReportCanonicalPaths(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	a, err := New(f.svc, Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	tok := f.token(t, "admin")
	get := func(path string) (int, string) {
		q := url.Values{"method": {"PUT"}, "path": {path}, "format": {"csv"}}
		req, _ := http.NewRequest("GET", srv.URL+"/gatehouse/v1/access-report?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, res.Body)
		return res.StatusCode, b.String()
	}
	_, want := get("/api/v1/users/admin")
	if st, body := get("/api/v1//users/./admin"); st != 200 || body != want || !strings.Contains(body, "\nadmin,user,true,") {
		t.Fatalf("canonicalized path: %d %s, want %s", st, body, want)
	}
	for _, p := range []string{"/a%2Fb", "/a/%2e%2e/b", `/a\b`} {
		if st, body := get(p); st != 400 || !strings.Contains(body, `"path: `) {
			t.Errorf("%s: %d %s, want 400 naming path", p, st, body)
		}
	}
}
