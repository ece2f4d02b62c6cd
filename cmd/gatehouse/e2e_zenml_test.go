package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// invite creates a user with `gatehouse user create` (an invitation) and
// signs up through the sign-up page, as the invitee would. It returns the
// user's id.
func invite(t *testing.T, s *testkit.ZenML, name, password string) string {
	t.Helper()
	link := testkit.InvitationURL(t, s.Admin.OK("user", "create", name, "--email", name+"@example.com"))
	contains(t, "the sign-up result", signupWithForm(t, link, password), "Your account is ready")
	u := decodeJSON[struct{ ID string }](t, s.Admin.OK("user", "describe", name, "-o", "json"))
	return u.ID
}

// TestZenMLClientThroughPreset replays what ZenML 0.40.3's client sends for
// `zenml connect`, listing and registering stacks, and a session whose user
// is deactivated, and reads each answer as that client does.
func TestZenMLClientThroughPreset(t *testing.T) {
	s := testkit.StartZenML(t)
	const alicePW = "alice-password-1"
	aliceID := invite(t, s, "alice", alicePW)
	z := newZenMLClient(t, s.URL, "alice", alicePW)

	// zenml connect: the store's first call (GET /info) logs in first.
	info, err := z.get("/info", "")
	if err != nil {
		t.Fatalf("GET /info: %v", err)
	}
	if m, _ := info.(map[string]any); m["version"] == nil {
		t.Errorf("GET /info answered %v", info)
	}
	wantLog(t, z.log, "POST /api/v1/login 200 conn=1 source=false", "GET /api/v1/info 200 conn=2 source=true")

	me, err := z.get("/current-user", "")
	if err != nil {
		t.Fatalf("GET /current-user: %v", err)
	}
	// The sample API answers with the user Gatehouse names in
	// X-Forwarded-User (ZenML under NO_AUTH would answer its default user).
	if m, _ := me.(map[string]any); m["name"] != "alice" || m["id"] != aliceID {
		t.Errorf("current user %v: the server did not see alice", me)
	}
	if _, err := z.get("/workspaces/default", ""); err != nil {
		t.Fatalf("GET /workspaces/default: %v", err)
	}
	const listQuery = "sort_by=created&logical_operator=and&page=1&size=50&name=default"
	page, err := z.get("/stacks", listQuery)
	if err != nil {
		t.Fatalf("listing stacks: %v", err)
	}
	if items, _ := page.(map[string]any)["items"].([]any); len(items) == 0 {
		t.Errorf("stack list %v is empty", page)
	}

	// zenml stack register, as a guest: 403, raised as ZenML 0.40 raises
	// it, with Gatehouse's detail in the message; no retry.
	const stackBody = `{"user": "` + "00000000-0000-0000-0000-000000000000" + `", "workspace": "default", "name": "local", "is_shared": false, "components": {}}`
	before := len(z.log)
	_, err = z.post("/workspaces/default/stacks", stackBody)
	ze, _ := err.(*zenmlError)
	if ze == nil || ze.class != "IllegalOperationError" || !strings.Contains(ze.msg, "POST /api/v1/workspaces/default/stacks is not allowed for you") {
		t.Fatalf("registering a stack as a guest: %v", err)
	}
	wantLog(t, z.log[before:], "POST /api/v1/workspaces/default/stacks 403 conn=2 source=true")
	wantDetail(t, z.log[before], "POST /api/v1/workspaces/default/stacks is not allowed for you")

	// A role change counts on the next request, with the same token.
	s.Admin.OK("role", "assign", "admin", "--user", "alice")
	created, err := z.post("/workspaces/default/stacks", stackBody)
	if err != nil {
		t.Fatalf("registering a stack as an admin: %v", err)
	}
	if m, _ := created.(map[string]any); m["name"] != "local" || m["created_by"] != "alice" {
		t.Errorf("created %v", created)
	}
	// A client that names another user in the identity headers is still
	// alice to the server.
	status, body, _ := do(t, "GET", s.URL+"/api/v1/current-user", z.apiToken, "",
		"X-Forwarded-User", "admin", "X-Forwarded-User-Id", "someone-else")
	if status != 200 || !strings.Contains(body, `"name":"alice"`) {
		t.Errorf("spoofed identity headers: %d %s", status, body)
	}

	// Deactivated: the next request is 401; the client drops its session,
	// tries once more with the same token on a new connection (without
	// Source-Context), gets 401 again and raises AuthorizationException
	// with Gatehouse's detail.
	s.Admin.OK("user", "update", "alice", "--active=false")
	before = len(z.log)
	_, err = z.get("/stacks", listQuery)
	ze, _ = err.(*zenmlError)
	if ze == nil || ze.class != "AuthorizationException" || !strings.Contains(ze.msg, "invalid or expired token") {
		t.Fatalf("after deactivation: %v", err)
	}
	wantLog(t, z.log[before:], "GET /api/v1/stacks?"+listQuery+" 401 conn=2 source=true", "GET /api/v1/stacks?"+listQuery+" 401 conn=3 source=false")
	wantDetail(t, z.log[before+1], "invalid or expired token")

	// The login form takes a user id as well as a name.
	adminID := decodeJSON[struct{ ID string }](t, s.Admin.OK("user", "describe", "admin", "-o", "json")).ID
	za := newZenMLClient(t, s.URL, adminID, testkit.ZenMLAdminPassword)
	if _, err := za.get("/info", ""); err != nil {
		t.Fatalf("logging in by user id: %v", err)
	}

	// What the server received: never the login, never a token, never an
	// identity but the one Gatehouse vouches for; the client's requests
	// otherwise as sent.
	ids := map[string]string{"alice": aliceID, "admin": adminID}
	var sawCreate, sawList bool
	for _, r := range s.Up.All() {
		if r.Path == "/api/v1/login" {
			t.Errorf("the upstream received %s %s", r.Method, r.Path)
		}
		if v := r.Header.Values("Authorization"); len(v) > 0 {
			t.Errorf("%s %s reached the upstream with Authorization %q", r.Method, r.Path, v)
		}
		user := r.Header.Get("X-Forwarded-User")
		if want, ok := ids[user]; !ok || r.Header.Get("X-Forwarded-User-Id") != want || len(r.Header.Values("X-Forwarded-User")) != 1 {
			t.Errorf("%s %s reached the upstream as %q (id %q)", r.Method, r.Path, r.Header.Values("X-Forwarded-User"), r.Header.Values("X-Forwarded-User-Id"))
		}
		if r.Header.Get("User-Agent") != "python-requests/2.31.0" && r.Header.Get("User-Agent") != "Go-http-client/1.1" {
			t.Errorf("%s %s: User-Agent %q", r.Method, r.Path, r.Header.Get("User-Agent"))
		}
		if r.Method == "POST" && r.Path == "/api/v1/workspaces/default/stacks" {
			sawCreate = true
			if r.Body != stackBody || r.Header.Get("Content-Type") != "" {
				t.Errorf("the stack reached the upstream as %q (Content-Type %q), sent as %q", r.Body, r.Header.Get("Content-Type"), stackBody)
			}
		}
		if r.Path == "/api/v1/stacks" && r.Query == listQuery && r.Header.Get("Source-Context") == "cli" {
			sawList = true
		}
	}
	if !sawCreate || !sawList {
		t.Errorf("the upstream did not receive the list (%v) and the create (%v) as sent", sawList, sawCreate)
	}
	if t.Failed() {
		t.Logf("gatehouse log:\n%s", s.Proc.Logs())
	}
}

// wantLog compares what the client sent with want, one line per request:
// "METHOD TARGET STATUS conn=N source=BOOL".
func wantLog(t *testing.T, got []zenmlRequest, want ...string) {
	t.Helper()
	var lines []string
	for _, r := range got {
		lines = append(lines, r.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the client sent:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

func (r zenmlRequest) String() string {
	return fmt.Sprintf("%s %s %d conn=%d source=%v", r.method, r.target, r.status, r.conn, r.sourceContext)
}

// wantDetail checks that an error answer carries "detail": the message, as
// a string (FastAPI's shape, which ZenML's clients and dashboard read).
func wantDetail(t *testing.T, r zenmlRequest, want string) {
	t.Helper()
	var b struct {
		Detail any `json:"detail"`
	}
	if err := json.Unmarshal([]byte(r.body), &b); err != nil || b.Detail != want {
		t.Errorf("%s %s answered %s; want detail %q", r.method, r.target, r.body, want)
	}
}

// TestZenMLLoginBadInput: what the preset's login refuses, each with a 4xx
// whose detail says why, and nothing forwarded.
func TestZenMLLoginBadInput(t *testing.T) {
	s := testkit.StartZenML(t)
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, contentType, body string
		status                  int
		detail                  string
	}{
		{"no username", form, "password=admin-password-1", 400, "username: is required"},
		{"no password", form, "username=admin", 400, "password: is required"},
		{"another grant", form, "grant_type=client_credentials&username=admin&password=admin-password-1", 400, "grant_type: only the password grant is supported"},
		{"JSON instead of a form", "application/json", `{"username":"admin","password":"admin-password-1"}`, 400, "application/x-www-form-urlencoded form"},
		{"no content type", "", "username=admin&password=admin-password-1", 400, "application/x-www-form-urlencoded form"},
		{"over 1 MiB", form, "username=admin&password=" + strings.Repeat("a", 1<<20), 413, "larger than 1048576 bytes"},
		{"wrong password", form, "username=admin&password=wrong-password", 401, "invalid username or password"},
		{"unknown user", form, "username=nobody&password=whatever-1", 401, "invalid username or password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.Up.Count()
			hdr := []string{}
			if c.contentType != "" {
				hdr = append(hdr, "Content-Type", c.contentType)
			}
			status, body, h := doRaw(t, "POST", s.URL+"/api/v1/login", c.body, hdr...)
			if status != c.status {
				t.Errorf("status %d, want %d: %s", status, c.status, body)
			}
			d := decodeJSON[struct {
				Detail string `json:"detail"`
			}](t, body)
			if !strings.Contains(d.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", d.Detail, c.detail)
			}
			if c.status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", h.Get("WWW-Authenticate"))
			}
			if n := s.Up.Count() - before; n != 0 {
				t.Errorf("%d requests reached the upstream", n)
			}
		})
	}
	// The login path by another method, or spelt so that it only becomes
	// /api/v1/login once canonicalized, is not forwarded either.
	before := s.Up.Count()
	for _, r := range []struct{ method, target string }{{"GET", "/api/v1/login"}, {"POST", "/api/v1//login"}, {"POST", "/api/v1/x/../login"}} {
		if got := rawRequest(t, s.URL, r.method, r.target, ""); got != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", r.method, r.target, got)
		}
	}
	if n := s.Up.Count() - before; n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

// TestZenMLLoginForms: the forms a client may send, and one rate limit per
// user whether it is named or given by id.
func TestZenMLLoginForms(t *testing.T) {
	s := testkit.StartZenML(t)
	const pw = "rita-password-1"
	s.Admin.OKStdin(pw+"\n", "user", "create", "rita", "--password-stdin")
	ritaID := decodeJSON[struct{ ID string }](t, s.Admin.OK("user", "describe", "rita", "-o", "json")).ID

	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("username", "rita")
	_ = w.WriteField("password", pw)
	_ = w.Close()
	for _, c := range []struct{ name, contentType, body string }{
		{"multipart", w.FormDataContentType(), mp.String()},
		{"upper case with a charset", "Application/X-WWW-Form-Urlencoded; charset=UTF-8", "username=rita&password=" + pw},
		{"by id, with OAuth2's extra fields", "application/x-www-form-urlencoded",
			"grant_type=password&username=" + ritaID + "&password=" + pw + "&scope=read&client_id=zenml&client_secret=x"},
	} {
		status, body, h := doRaw(t, "POST", s.URL+"/api/v1/login", c.body, "Content-Type", c.contentType)
		tok := decodeJSON[struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}](t, body)
		if status != 200 || tok.AccessToken == "" || tok.TokenType != "bearer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %s (Cache-Control %q)", c.name, status, body, h.Get("Cache-Control"))
		}
	}

	// Ten wrong guesses by name, then one by id: the same user, the same
	// count, so the eleventh is refused before the password is checked.
	for i := 0; i < 10; i++ {
		if status, body, _ := doRaw(t, "POST", s.URL+"/api/v1/login", "username=rita&password=wrong-guess",
			"Content-Type", "application/x-www-form-urlencoded"); status != 401 {
			t.Fatalf("guess %d: %d %s", i+1, status, body)
		}
	}
	status, body, h := doRaw(t, "POST", s.URL+"/api/v1/login", "username="+ritaID+"&password="+pw,
		"Content-Type", "application/x-www-form-urlencoded")
	d := decodeJSON[struct {
		Detail string `json:"detail"`
	}](t, body)
	if status != 429 || h.Get("Retry-After") == "" || !strings.Contains(d.Detail, "too many") {
		t.Errorf("the eleventh attempt, by id: %d %s (Retry-After %q)", status, body, h.Get("Retry-After"))
	}
	if s.Up.Count() != 0 {
		t.Errorf("%d requests reached the upstream", s.Up.Count())
	}
}

// TestLoginPathWithoutPreset: without --preset, /api/v1/login is an
// upstream path like any other, decided by the policy.
func TestLoginPathWithoutPreset(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	status, body, _ := doRaw(t, "POST", srv.URL+"/api/v1/login", "username=admin&password=admin-password-1",
		"Content-Type", "application/x-www-form-urlencoded")
	if status != http.StatusUnauthorized || srv.Up.Count() != 0 {
		t.Errorf("anonymous POST /api/v1/login: %d %s, %d forwarded", status, body, srv.Up.Count())
	}
	if strings.Contains(body, `"detail"`) {
		t.Errorf("detail without a preset: %s", body)
	}
	tok := login(t, srv.URL, "admin", "admin-password-1")
	status, body, _ = do(t, "POST", srv.URL+"/api/v1/login", tok, `{"x":1}`)
	if status != http.StatusOK || srv.Up.Count() != 1 || srv.Up.Last().Path != "/api/v1/login" {
		t.Errorf("POST /api/v1/login with write: %d %s; want it forwarded", status, body)
	}
}

// TestServeUnknownPreset: a preset Gatehouse does not know is a usage error
// naming the ones it does, by flag and by environment.
func TestServeUnknownPreset(t *testing.T) {
	c := testkit.NewCLI(t)
	want := `--preset: unknown preset "mlflow": want one of zenml`
	c.Fails(2, []string{want}, "serve", "--upstream", "http://127.0.0.1:1", "--preset", "mlflow")
	r := c.RunEnv([]string{"GATEHOUSE_PRESET=mlflow"}, "", "serve", "--upstream", "http://127.0.0.1:1")
	if r.Code != 2 || !strings.Contains(r.Stderr, want) {
		t.Errorf("GATEHOUSE_PRESET=mlflow: %v", r)
	}
	c.Fails(2, []string{want}, "demo", "--preset", "mlflow")
}
