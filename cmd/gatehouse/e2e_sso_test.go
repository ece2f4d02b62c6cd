package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// TestServeIdPTokens: serve with --oidc-issuer accepts the provider's
// tokens, maps their groups to roles through policy.csv and says so in
// /readyz; a provider down at start leaves serve up, degraded.
func TestServeIdPTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	idp := testkit.NewIdP(t)
	up := testkit.NewUpstream(t)
	dir := policyDirWith(t, "g, oidc:staff, guest", "g, oidc:eng, admin")
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1", "GATEHOUSE_UPSTREAM=" + up.URL,
		"GATEHOUSE_OIDC_CLIENT_ID=gatehouse", "GATEHOUSE_POLICY_DIR=" + dir}
	gh := testkit.StartServe(t, append(env, "GATEHOUSE_DB=sqlite:"+filepath.Join(t.TempDir(), "a.db")), "--oidc-issuer", idp.URL)

	tok := idp.Sign(t, idp.Claims())
	if status, body, _ := do(t, "GET", gh.URL+"/api/v1/pipelines", tok, ""); status != http.StatusOK {
		t.Fatalf("staff reads: %d %s", status, body)
	}
	if got := up.Last().Header; got.Get("X-Forwarded-User") != "alice" || got.Get("X-Forwarded-Groups") != "guest" {
		t.Errorf("forwarded identity %v", got)
	}
	if status, _, _ := do(t, "POST", gh.URL+"/api/v1/pipelines", tok, "{}"); status != http.StatusForbidden {
		t.Errorf("staff writes: %d, want 403", status)
	}
	c := idp.Claims()
	c["aud"] = "another-client"
	if status, _, _ := do(t, "GET", gh.URL+"/api/v1/pipelines", idp.Sign(t, c), ""); status != http.StatusUnauthorized {
		t.Errorf("another audience: %d, want 401", status)
	}
	c = idp.Claims()
	c["groups"] = []string{"eng"}
	if status, body, _ := do(t, "GET", gh.URL+"/gatehouse/v1/users/alice", idp.Sign(t, c), ""); status != http.StatusOK {
		t.Errorf("eng (admin) reads alice through the admin API: %d %s", status, body)
	}
	if status, body, _ := doRaw(t, "GET", gh.Ops+"/readyz", ""); status != http.StatusOK || !strings.Contains(body, "\nsso: ok\n") {
		t.Errorf("/readyz: %d\n%s", status, body)
	}

	// The provider is down when the next server starts.
	idp.Close()
	down := testkit.StartServe(t, append(env, "GATEHOUSE_DB=sqlite:"+filepath.Join(t.TempDir(), "b.db")), "--oidc-issuer", idp.URL)
	status, body, _ := doRaw(t, "GET", down.Ops+"/readyz", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "degraded\n") || !strings.Contains(body, "sso: degraded") {
		t.Errorf("/readyz with the provider down: %d\n%s", status, body)
	}
	if status, _, _ := do(t, "GET", down.URL+"/api/v1/pipelines", tok, ""); status != http.StatusServiceUnavailable {
		t.Errorf("a provider token while it is down: %d, want 503", status)
	}
	if tok := login(t, down.URL, "admin", "admin-password-1"); tok == "" {
		t.Error("no local login while the provider is down")
	}
}

// browser is an HTTP client that keeps cookies and does not follow
// redirects, so a test sees each step of a sign-in.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowserClient(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get requests url (as a page when page is set) and returns the status,
// the Location and the body.
func (b *browser) get(url string, page bool) (int, string, string) {
	b.t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if page {
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// signIn walks a page request through the sign-in: Gatehouse sends it to
// the provider, the provider (auto-approving) back to the callback, the
// callback to the page. It returns the callback's answer when it is not
// the redirect back.
func (b *browser) signIn(page string) (int, string) {
	b.t.Helper()
	status, loc, body := b.get(page, true)
	if status != http.StatusFound {
		b.t.Fatalf("a page without a session: %d %s", status, body)
	}
	for range 3 { // sign-in → provider → callback
		if status, loc, body = b.get(absolute(page, loc), true); status != http.StatusFound {
			return status, body
		}
		if strings.HasPrefix(absolute(page, loc), page) {
			return http.StatusFound, loc
		}
	}
	b.t.Fatalf("the sign-in did not come back to %s (last Location %s)", page, loc)
	return 0, ""
}

// absolute resolves loc against base.
func absolute(base, loc string) string {
	u, err := url.Parse(base)
	if err != nil {
		return loc
	}
	r, err := u.Parse(loc)
	if err != nil {
		return loc
	}
	return r.String()
}

// TestServeBrowserSignIn: serve's browser sign-in against the in-process
// provider, end to end through the binary: a page request is sent to the
// provider and back, the session cookie reads and is refused a write,
// API requests without it get 401 JSON, bad callbacks get a page or JSON
// by Accept and create nobody, the key set fetches are counted, and
// logout goes through the provider's end_session_endpoint.
func TestServeBrowserSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	idp := testkit.NewIdP(t)
	up := testkit.NewUpstream(t)
	dir := policyDirWith(t, "g, oidc:staff, guest")
	const secret = "client-secret-0123456789"
	gh := testkit.StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1", "GATEHOUSE_UPSTREAM=" + up.URL,
		"GATEHOUSE_OIDC_CLIENT_SECRET=" + secret, "GATEHOUSE_DB=sqlite:" + filepath.Join(t.TempDir(), "g.db")},
		"--oidc-issuer", idp.URL, "--oidc-client-id", "gatehouse", "--policy-dir", dir, "--oidc-allowed-domains", "example.com")
	idp.Register("gatehouse", secret, gh.URL+"/gatehouse/oauth2/callback")
	idp.SignInAs(idp.Claims())

	// An API request without credentials: 401 JSON, no redirect.
	b := newBrowserClient(t)
	if status, loc, body := b.get(gh.URL+"/api/v1/pipelines", false); status != http.StatusUnauthorized || loc != "" || !strings.Contains(body, `"unauthenticated"`) {
		t.Errorf("an API request without credentials: %d %q %s", status, loc, body)
	}
	page := gh.URL + "/api/v1/pipelines"
	if status, loc := b.signIn(page); status != http.StatusFound || loc != "/api/v1/pipelines" {
		t.Fatalf("sign-in ended with %d %s", status, loc)
	}
	if status, _, body := b.get(page, true); status != http.StatusOK {
		t.Fatalf("the page after sign-in: %d %s", status, body)
	}
	if h := up.Last().Header; h.Get("X-Forwarded-User") != "alice" || h.Get("X-Forwarded-Groups") != "guest" || strings.Contains(h.Get("Cookie"), "gatehouse_session") {
		t.Errorf("the upstream saw %v", h)
	}
	u, _ := url.Parse(gh.URL)
	var session *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "gatehouse_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	// A write with the cookie, from Gatehouse's own origin: the guest is refused.
	status, body, _ := doRaw(t, "POST", page, "{}", "Cookie", "gatehouse_session="+session.Value, "Origin", gh.URL)
	if status != http.StatusForbidden || !strings.Contains(body, "is not allowed for you") {
		t.Errorf("a guest's write with the cookie: %d %s", status, body)
	}

	// Bad callbacks: a page for a browser, JSON for anything else; audited.
	cli := testkit.NewCLI(t)
	cli.Login(gh.URL, "admin", "admin-password-1")
	users := strings.Count(cli.OK("user", "list", "-o", "json"), `"username"`)
	status, _, body = b.get(gh.URL+"/gatehouse/oauth2/callback?state=forged&code=x", true)
	if status != http.StatusUnauthorized || !strings.Contains(body, "<h1>Sign-in failed</h1>") || !strings.Contains(body, "no sign-in in progress") {
		t.Errorf("a forged callback in a browser: %d %s", status, body)
	}
	status, body, _ = doRaw(t, "GET", gh.URL+"/gatehouse/oauth2/callback?state=forged&code=x", "")
	if status != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthenticated"`) {
		t.Errorf("a forged callback from a client: %d %s", status, body)
	}
	outside := idp.Claims()
	outside["sub"], outside["preferred_username"], outside["email"] = "sub-eve", "eve", "eve@elsewhere.example"
	idp.SignInAs(outside)
	if status, body := newBrowserClient(t).signIn(page); status != http.StatusUnauthorized || !strings.Contains(body, "outside the allowed domains") {
		t.Errorf("an email outside the domains: %d %s", status, body)
	}
	if n := strings.Count(cli.OK("user", "list", "-o", "json"), `"username"`); n != users {
		t.Errorf("refused sign-ins created %d users", n-users)
	}
	if logs := gh.Logs(); !strings.Contains(logs, `"msg":"sso sign-in"`) || strings.Count(logs, `"success":false`) < 3 {
		t.Errorf("sign-ins not audited:\n%s", logs)
	}
	_, metrics, _ := doRaw(t, "GET", gh.Ops+"/metrics", "")
	for _, want := range []string{`gatehouse_authentications_total{kind="sso",result="ok"} 1`, `gatehouse_oidc_key_set_fetches_total{result="ok"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Logout: the cookie goes, and so does the provider's session.
	status, loc, _ := b.get(gh.URL+"/gatehouse/logout", true)
	if status != http.StatusFound || !strings.HasPrefix(loc, idp.URL+"/logout?") {
		t.Fatalf("logout: %d %s", status, loc)
	}
	if status, loc, _ = b.get(loc, true); status != http.StatusFound || loc != gh.URL+"/gatehouse/signed-out" {
		t.Errorf("the provider's logout: %d %s", status, loc)
	}
	if status, _, body = b.get(loc, true); status != http.StatusOK || !strings.Contains(body, "You are signed out") {
		t.Errorf("the signed-out page: %d %s", status, body)
	}
	if status, _, _ = b.get(page, true); status != http.StatusFound {
		t.Errorf("a page after logout: %d, want 302 to sign in", status)
	}
}

// TestServeSSOOnly: with --sso-only, password logins are refused with a
// message that says where to sign in, the preset's login too.
func TestServeSSOOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	idp := testkit.NewIdP(t)
	gh := testkit.StartGatehouse(t, "admin-password-1", "--preset", "zenml", "--oidc-issuer", idp.URL, "--oidc-client-id", "gatehouse", "--sso-only")
	status, body, _ := doRaw(t, "POST", gh.URL+"/gatehouse/v1/login", `{"username":"admin","password":"admin-password-1"}`, "Content-Type", "application/json")
	if status != http.StatusUnauthorized || !strings.Contains(body, "--sso-only") || !strings.Contains(body, "/gatehouse/oauth2/start") {
		t.Errorf("password login: %d %s", status, body)
	}
	status, body, _ = doRaw(t, "POST", gh.URL+"/api/v1/login", "username=admin&password=admin-password-1", "Content-Type", "application/x-www-form-urlencoded")
	if status != http.StatusUnauthorized || !strings.Contains(body, `"detail"`) || !strings.Contains(body, "--sso-only") {
		t.Errorf("the preset's login: %d %s", status, body)
	}
}

// policyDirWith writes a policy directory: the default policy's lines and
// then lines.
func policyDirWith(t *testing.T, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	var csv strings.Builder
	for _, l := range policy.DefaultFiles().Lines {
		csv.WriteString(l.String() + "\n")
	}
	for _, l := range lines {
		csv.WriteString(l + "\n")
	}
	testkit.WriteFile(t, filepath.Join(dir, "policy.csv"), csv.String())
	return dir
}
