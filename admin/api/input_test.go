package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// apiFixture is the admin API over a fresh SQLite store, with the policy
// files given (nil: the embedded defaults) and the admin password given ("":
// none, so the first admin is invited).
type apiFixture struct {
	base string // …/gatehouse/v1
	svc  *admin.Service
	logs *testkit.LockedBuffer
}

func newAPIFixture(t *testing.T, files *policy.Files, adminPW string) *apiFixture {
	t.Helper()
	ctx := context.Background()
	logs := &testkit.LockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.New(ctx, db, files, log)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := admin.New(ctx, db, eng, admin.Config{TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest,
		PublicURL: "http://gatehouse.test", AdminPassword: admin.Secret(adminPW)}, log)
	if err != nil {
		t.Fatal(err)
	}
	// No TrustedProxies: as serve does without --trusted-proxies.
	a, err := New(svc, Options{Canonicalize: func(p string) (string, error) { return p, nil }, BodyTimeout: fixtureBodyTimeout}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &apiFixture{base: srv.URL + "/gatehouse/v1", svc: svc, logs: logs}
}

// fixtureBodyTimeout is the fixture's Options.BodyTimeout: short, for
// TestSlowBodiesAreCutOff, and long enough for every other body, sent at
// once.
const fixtureBodyTimeout = 2 * time.Second

// TestSlowBodiesAreCutOff: a client trickling a declared body into the API
// (one byte at a time, slower than the body timeout allows) gets 408 and
// loses the connection, instead of holding it for as long as it likes.
func TestSlowBodiesAreCutOff(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	u, _ := url.Parse(f.base)
	auth := "Authorization: Bearer " + f.token(t, "admin")
	for _, path := range []string{"/login", "/users"} {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /gatehouse/v1%s HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", path, auth)
		start := time.Now()
		done := make(chan *http.Response, 1)
		go func() {
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				done <- nil
				return
			}
			done <- res
		}()
		trickle := time.NewTicker(200 * time.Millisecond)
	wait:
		for {
			select {
			case res := <-done:
				if res == nil || res.StatusCode != http.StatusRequestTimeout {
					t.Errorf("%s: answer %v, want 408", path, res)
				}
				break wait
			case <-trickle.C:
				_, _ = c.Write([]byte(" "))
			case <-time.After(5 * fixtureBodyTimeout):
				t.Fatalf("%s: a trickled body held the connection for %s", path, time.Since(start))
			}
		}
		trickle.Stop()
		if d := time.Since(start); d < fixtureBodyTimeout/2 {
			t.Errorf("%s: cut off after %s, before the body timeout", path, d)
		}
	}
}

func (f *apiFixture) token(t *testing.T, user string) string {
	t.Helper()
	tok, err := f.svc.IssueToken(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// request sends a JSON request with a bearer token (when not "") and the
// headers given (name, value, …), and returns the answer and its body.
func (f *apiFixture) request(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.base+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// call sends a request and decodes the error shape when there is one.
func (f *apiFixture) call(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (*http.Response, string, string) {
	t.Helper()
	res, b := f.request(t, method, path, token, body, hdr...)
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(b, &e)
	return res, e.Error.Code, e.Error.Message
}

func TestAPIBadInput(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	tok := f.token(t, "admin")
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"malformed JSON", "POST", "/users", `{"username": "x",`, 400, "bad_request", "malformed JSON"},
		{"empty body", "POST", "/users", ``, 400, "bad_request", "empty"},
		{"unknown field", "POST", "/users", `{"username": "x", "passwd": "y"}`, 400, "invalid_field", "passwd"},
		{"wrong type", "POST", "/users", `{"username": 7}`, 400, "invalid_field", "username"},
		{"not an object", "POST", "/users", `["x"]`, 400, "bad_request", "object"},
		{"trailing data", "POST", "/users", `{"username": "x"} {}`, 400, "bad_request", "after the JSON"},
		{"field name in another case", "POST", "/users", `{"UserName": "x"}`, 400, "invalid_field", "UserName: unknown field"},
		{"field given twice", "POST", "/users", `{"username": "x", "username": "admin2"}`, 400, "invalid_field", "username: appears more than once"},
		{"bidi override in full name", "POST", "/users", `{"username": "x", "full_name": "Ann \u202egnp.exe"}`, 400, "invalid_field", "full_name"},
		{"C1 control in full name", "POST", "/users", `{"username": "x", "full_name": "Ann \u009b31m"}`, 400, "invalid_field", "full_name"},
		{"escape in full name", "POST", "/users", `{"username": "x", "full_name": "Ann \u001b[31m"}`, 400, "invalid_field", "full_name"},
		{"bidi isolate in email", "POST", "/users", `{"username": "x", "email": "a\u2067b@example.com"}`, 400, "invalid_field", "email"},
		{"missing username", "POST", "/users", `{"email": "a@example.com"}`, 400, "invalid_field", "username"},
		{"bad email", "POST", "/users", `{"username": "x", "email": "nope"}`, 400, "invalid_field", "email"},
		{"unknown role in create", "POST", "/users", `{"username": "x", "roles": ["nope"]}`, 400, "invalid_field", "roles"},
		{"duplicate user", "POST", "/users", `{"username": "admin", "password": "long-enough-1"}`, 409, "conflict", `"admin"`},
		{"unknown user", "GET", "/users/nobody", ``, 404, "not_found", `"nobody"`},
		{"unknown role", "POST", "/role-assignments", `{"user": "admin", "role": "nope"}`, 404, "not_found", `"nope"`},
		{"file role is read-only", "PATCH", "/roles/guest", `{"permissions": ["read"]}`, 409, "conflict", "policy.csv (embedded default):"},
		{"file assignment is read-only", "DELETE", "/roles/admin", ``, 409, "conflict", "admin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, code, msg := f.call(t, c.method, c.path, tok, strings.NewReader(c.body))
			if res.StatusCode != c.status || code != c.code || !strings.Contains(msg, c.msg) {
				t.Fatalf("%d %s %q; want %d %s containing %q", res.StatusCode, code, msg, c.status, c.code, c.msg)
			}
		})
	}
	// Nothing was half-written by the refusals above.
	if _, err := f.svc.GetUser(context.Background(), "x"); err == nil {
		t.Fatal("a refused create left user x behind")
	}
}

func TestAPIBodyLimit(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	big := `{"username": "x", "full_name": "` + strings.Repeat("a", 1<<20) + `"}`
	res, code, _ := f.call(t, "POST", "/users", f.token(t, "admin"), strings.NewReader(big))
	if res.StatusCode != http.StatusRequestEntityTooLarge || code != "too_large" {
		t.Fatalf("%d %s, want 413 too_large", res.StatusCode, code)
	}
	// Forms over the limit are too large as well, on /login and on the
	// sign-up page.
	form := "username=admin&password=" + strings.Repeat("a", 1<<20)
	res, code, _ = f.call(t, "POST", "/login", "", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != http.StatusRequestEntityTooLarge || code != "too_large" {
		t.Errorf("a form login over 1 MiB: %d %s, want 413 too_large", res.StatusCode, code)
	}
	signup := strings.TrimSuffix(f.base, "/v1") + "/signup"
	res, err := http.Post(signup, "application/x-www-form-urlencoded", strings.NewReader("token=x&password="+strings.Repeat("a", 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a sign-up form over 1 MiB: %d, want 413", res.StatusCode)
	}
}

func TestAPILoginRateLimited(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	var res *http.Response
	var code string
	for i := 0; i < 11; i++ {
		res, code, _ = f.call(t, "POST", "/login", "", strings.NewReader(`{"username": "admin", "password": "wrong-password"}`))
	}
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusTooManyRequests || code != "rate_limited" || retry <= 0 {
		t.Fatalf("11th failed login: %d %s Retry-After=%q, want 429 rate_limited with a delay", res.StatusCode, code, res.Header.Get("Retry-After"))
	}
	// The limit is per client address, and a client cannot name another.
	form := "username=admin&password=admin-password-1&grant_type=password"
	res, _, _ = f.call(t, "POST", "/login", "", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded", "X-Forwarded-For", "203.0.113.9")
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a spoofed X-Forwarded-For escaped the limit: %d", res.StatusCode)
	}
}

// TestFirstAdminInvitedWithoutPassword: with no admin password on an empty
// store, the first admin is inactive and a one-time sign-up URL is logged;
// it works once.
func TestFirstAdminInvitedWithoutPassword(t *testing.T) {
	f := newAPIFixture(t, nil, "")
	var line struct {
		SignupURL string `json:"signup_url"`
		User      string `json:"user"`
	}
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "signup_url") {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if line.User != "admin" || !strings.HasPrefix(line.SignupURL, "http://gatehouse.test/gatehouse/signup?token=") {
		t.Fatalf("no sign-up URL logged for the first admin:\n%s", f.logs.String())
	}
	if _, err := f.svc.Login(context.Background(), "admin", "anything-at-all", "c"); err == nil {
		t.Fatal("the invited admin can log in before signing up")
	}
	inv, err := url.Parse(line.SignupURL)
	if err != nil {
		t.Fatal(err)
	}
	tok := inv.Query().Get("token")
	res, _, _ := f.call(t, "POST", "/signup", "", strings.NewReader(`{"token": "`+tok+`", "password": "chosen-password-1"}`))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("signup: %d", res.StatusCode)
	}
	if _, err := f.svc.Login(context.Background(), "admin", "chosen-password-1", "c"); err != nil {
		t.Fatalf("login after sign-up: %v", err)
	}
	res, code, _ := f.call(t, "POST", "/signup", "", strings.NewReader(`{"token": "`+tok+`", "password": "chosen-password-2"}`))
	if res.StatusCode != http.StatusGone || code != "gone" {
		t.Fatalf("second use: %d %s, want 410 gone", res.StatusCode, code)
	}
}

// TestFilePermissionsInCustomRoles: a permission a policy file defines can
// be given to a role made through the API, and shows as from its file.
func TestFilePermissionsInCustomRoles(t *testing.T) {
	csv := string("p, read, /*, GET|HEAD\np, write, /*, POST|PUT|PATCH|DELETE\np, me, /api/v1/users/{self}, GET|PUT\np, deploy, /api/v1/deployments/{id}, POST\ng, admin, read\ng, admin, write\ng, admin, me\ng, guest, read\ng, guest, me\n")
	lines, errs := policy.ParseCSV("policy/policy.csv", []byte(csv))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	f := newAPIFixture(t, &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines}, "admin-password-1")
	tok := f.token(t, "admin")
	res, _, msg := f.call(t, "POST", "/roles", tok, strings.NewReader(`{"name": "releaser", "permissions": ["read", "deploy"]}`))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create role with a file permission: %d %s", res.StatusCode, msg)
	}
	if _, err := f.svc.CreateUser(context.Background(), admin.CreateUser{Username: "rita", Password: "rita-password", Roles: &[]string{"releaser"}}); err != nil {
		t.Fatal(err)
	}
	id, err := f.svc.Authenticator().Authenticate(f.token(t, "rita"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := id.Decide("POST", "/api/v1/deployments/d1"); !d.Allowed {
		t.Fatal("the file permission does not reach the role's holder")
	}
	if d, _ := id.Decide("POST", "/api/v1/pipelines"); d.Allowed {
		t.Fatal("releaser may write everything")
	}
	var deploy *admin.Permission
	for _, p := range f.svc.ListPermissions() {
		if p.Name == "deploy" {
			deploy = &p
		}
	}
	if deploy == nil || deploy.Source != "policy/policy.csv:4" {
		t.Fatalf("permission list: %+v", deploy)
	}
}
