package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// ssoSetup is `gatehouse serve` with single sign-on at an in-process
// OpenID provider, in front of an echoing upstream, and a browser tab
// whose requests are recorded.
type ssoSetup struct {
	URL   string // Gatehouse, http://127.0.0.1:PORT (also its --public-url)
	Proc  *testkit.Process
	Up    *testkit.Upstream
	IdP   *oidcProvider
	Admin *testkit.CLI
	Tab   context.Context

	mu   sync.Mutex
	urls []string // every URL the tab requested, in order
}

const (
	ssoAdminPassword = "admin-password-1"
	ssoTokenTTL      = 10 * time.Minute
	carolPassword    = "carol-password-1"
)

// startSSO starts the provider (with carol, in ml-engineers), Gatehouse
// with the default policy plus two group mappings, and a browser.
func startSSO(t *testing.T) *ssoSetup {
	t.Helper()
	tab := newBrowser(t)
	// The redirect URI names Gatehouse's port, which the provider must know
	// before Gatehouse starts: take a free port first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gh := "http://" + addr

	const clientID, secret = "gatehouse", "client-secret-1"
	idp := startOIDCProvider(t, clientID, secret, gh+"/gatehouse/oauth2/callback", gh+"/gatehouse/signed-out")
	idp.addUser("carol", carolPassword, "carol@example.com", "ml-engineers")

	dir := t.TempDir()
	// The default policy (policy.DefaultFiles embeds this file; reading it
	// keeps the policy package's dependencies out of this module) and the
	// groups' roles.
	def, err := os.ReadFile(filepath.Join("..", "policy", "defaults", "policy.csv"))
	if err != nil {
		t.Fatalf("reading the default policy: %v", err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "policy.csv"),
		strings.TrimRight(string(def), "\n")+"\ng, oidc:ml-engineers, guest\ng, oidc:platform-admins, admin\n")

	up := testkit.NewUpstream(t)
	proc := testkit.StartServe(t,
		[]string{"GATEHOUSE_ADMIN_PASSWORD=" + ssoAdminPassword, "GATEHOUSE_OIDC_CLIENT_SECRET=" + secret},
		"--listen", addr, "--public-url", gh, "--upstream", up.URL,
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "g.db"), "--policy-dir", dir,
		"--oidc-issuer", idp.URL, "--oidc-client-id", clientID, "--token-ttl", ssoTokenTTL.String())
	if proc.URL != gh {
		t.Fatalf("gatehouse listens on %s, want %s", proc.URL, gh)
	}
	admin := testkit.NewCLI(t)
	admin.Login(gh, "admin", ssoAdminPassword)

	s := &ssoSetup{URL: gh, Proc: proc, Up: up, IdP: idp, Admin: admin, Tab: tab}
	if err := chromedp.Listen(tab, func(ev any) { // starts the browser
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			s.mu.Lock()
			s.urls = append(s.urls, e.Request.URL)
			s.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gatehouse log:\n%s", proc.Logs())
			t.Logf("browser requests:\n%s", strings.Join(s.requested(), "\n"))
		}
	})
	return s
}

// requested returns the URLs the tab requested so far.
func (s *ssoSetup) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.urls...)
}

// step runs actions within a time limit, failing the test with the step's
// name when they fail.
func step(t *testing.T, tab context.Context, name string, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// location returns the tab's URL.
func location(t *testing.T, tab context.Context) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("reading the location: %v", err)
	}
	return u
}

// waitLocation waits until the tab's URL satisfies ok, failing with what
// the step is and where the tab is instead.
func waitLocation(t *testing.T, tab context.Context, what string, within time.Duration, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var u string
	for {
		ctx, cancel := context.WithTimeout(tab, time.Second)
		l, err := chromedp.Run(ctx, chromedp.Location())
		cancel()
		if err == nil {
			u = l
		}
		if err == nil && ok(u) && readyState(tab) == "complete" {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the browser is at %q after %s", what, u, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readyState(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState`))
	return s
}

// bodyText returns the page's text.
func bodyText(t *testing.T, tab context.Context) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return s
}

// fetchStatus runs a fetch in the page (init is the JavaScript of its
// second argument) and returns the response's status, or fails the test.
func fetchStatus(t *testing.T, tab context.Context, what, url, init string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, %s).then(r => r.status, e => "error: " + e)`, url, init)
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	f, ok := res.(float64)
	if !ok {
		t.Fatalf("%s: fetch gave %v", what, res)
	}
	return int(f)
}

// browserSessionCookie returns the browser's gatehouse_session cookie for url, or nil.
func browserSessionCookie(t *testing.T, tab context.Context, url string) *network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("reading the cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "gatehouse_session" {
			return c
		}
	}
	return nil
}

// lastTo returns the last request to method and path that reached the
// upstream, and whether there was one.
func lastTo(up *testkit.Upstream, method, path string) (testkit.Request, bool) {
	all := up.All()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Method == method && all[i].Path == path {
			return all[i], true
		}
	}
	return testkit.Request{}, false
}

// signInFromLoginPage signs carol in on the provider's login page and
// waits until the browser is back at want.
func (s *ssoSetup) signInFromLoginPage(t *testing.T, what, want string) {
	t.Helper()
	waitLocation(t, s.Tab, what+": the provider's login page", 10*time.Second, func(u string) bool {
		return strings.HasPrefix(u, s.IdP.URL+"/login")
	})
	ctx, cancel := context.WithTimeout(s.Tab, 10*time.Second)
	defer cancel()
	if err := s.IdP.signIn(ctx, "carol", carolPassword); err != nil {
		t.Fatalf("%s: signing in on the provider's page: %v", what, err)
	}
	waitLocation(t, s.Tab, what+": back at "+want, 10*time.Second, func(u string) bool { return u == want })
}

// TestSSOSignInInBrowser signs carol in through the provider in headless
// Chromium: a page request without a session goes to the provider's login
// page and back; the session cookie then carries reads and writes from the
// page's scripts, decided by the roles her groups map to; her roles follow
// her groups at the next sign-in; logging out passes through the
// provider's end_session; deactivating her ends the session at once.
func TestSSOSignInInBrowser(t *testing.T) {
	start := time.Now()
	s := startSSO(t)
	tab := s.Tab
	t.Logf("setup: %s", time.Since(start).Round(time.Millisecond))

	// 1. A page without a session: sent to the provider's login page.
	step(t, tab, "step 1: opening /api/v1/pipelines without a session", 15*time.Second,
		chromedp.Navigate(s.URL+"/api/v1/pipelines"))
	if u := location(t, tab); !strings.HasPrefix(u, s.IdP.URL+"/login") {
		t.Fatalf("step 1: the browser is at %q, want the provider's login page %s/login", u, s.IdP.URL)
	}
	if _, ok := lastTo(s.Up, "GET", "/api/v1/pipelines"); ok {
		t.Fatal("step 1: the request without a session reached the upstream")
	}

	// 2. Signed in as carol: back at the page, which the upstream answered.
	s.signInFromLoginPage(t, "step 2", s.URL+"/api/v1/pipelines")
	var echo testkit.Request
	if text := bodyText(t, tab); json.Unmarshal([]byte(text), &echo) != nil || echo.Path != "/api/v1/pipelines" {
		t.Fatalf("step 2: the page does not show the upstream's echo of /api/v1/pipelines:\n%s", text)
	}
	got, ok := lastTo(s.Up, "GET", "/api/v1/pipelines")
	if !ok {
		t.Fatal("step 2: the upstream saw no GET /api/v1/pipelines")
	}
	if u, g := got.Header.Get("X-Forwarded-User"), got.Header.Get("X-Forwarded-Groups"); u != "carol" || g != "guest" {
		t.Errorf("step 2: the upstream saw X-Forwarded-User %q, X-Forwarded-Groups %q; want carol, guest", u, g)
	}
	for _, c := range got.Header.Values("Cookie") {
		if strings.Contains(c, "gatehouse_session") {
			t.Errorf("step 2: the session cookie reached the upstream: Cookie: %s", c)
		}
	}
	c := browserSessionCookie(t, tab, s.URL)
	if c == nil {
		t.Fatal("step 2: the browser holds no gatehouse_session cookie")
	}
	exp := time.Unix(int64(c.Expires), 0)
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Secure || c.Session ||
		exp.Before(time.Now()) || exp.After(time.Now().Add(ssoTokenTTL+time.Minute)) {
		t.Errorf("step 2: cookie HttpOnly=%v SameSite=%q Path=%q Secure=%v Session=%v Expires=%s (in %s); want HttpOnly, Lax, /, not Secure, expiring within --token-ttl %s",
			c.HTTPOnly, c.SameSite, c.Path, c.Secure, c.Session, exp.UTC().Format(time.RFC3339), time.Until(exp).Round(time.Second), ssoTokenTTL)
	}

	// 3. The page's scripts: a read is allowed, a write is not (guest).
	const post = `{method: "POST", body: "{}", headers: {"Content-Type": "application/json"}}`
	if st := fetchStatus(t, tab, "step 3: fetching /api/v1/pipelines", "/api/v1/pipelines", "{}"); st != http.StatusOK {
		t.Errorf("step 3: a read from the page answered %d, want 200", st)
	}
	if st := fetchStatus(t, tab, "step 3: posting to /api/v1/pipelines", "/api/v1/pipelines", post); st != http.StatusForbidden {
		t.Errorf("step 3: a guest's write from the page answered %d, want 403", st)
	}
	if _, ok := lastTo(s.Up, "POST", "/api/v1/pipelines"); ok {
		t.Error("step 3: the guest's refused write reached the upstream")
	}
	var carol struct {
		Username string `json:"username"`
		Active   bool   `json:"active"`
	}
	if out := s.Admin.OK("user", "describe", "carol", "-o", "json"); json.Unmarshal([]byte(out), &carol) != nil ||
		carol.Username != "carol" || !carol.Active {
		t.Errorf("step 3: gatehouse user describe carol:\n%s", out)
	}

	// 4. Her groups change at the provider; she logs out (through the
	// provider's end_session) and signs in again: now an admin.
	s.IdP.setGroups("carol", "platform-admins")
	before := len(s.requested())
	step(t, tab, "step 4: logging out", 15*time.Second, chromedp.Navigate(s.URL+"/gatehouse/logout"))
	if u := location(t, tab); u != s.URL+"/gatehouse/signed-out" {
		t.Fatalf("step 4: after logging out the browser is at %q, want %s/gatehouse/signed-out", u, s.URL)
	}
	if h := runText(t, tab, "h1"); h != "Signed out" {
		t.Errorf("step 4: the signed-out page's heading is %q", h)
	}
	endSession := false
	for _, u := range s.requested()[before:] {
		if strings.HasPrefix(u, s.IdP.URL+"/") && strings.Contains(u, "post_logout_redirect_uri=") {
			endSession = true
		}
	}
	if !endSession {
		t.Errorf("step 4: logging out did not pass through the provider's end_session endpoint; requests: %v", s.requested()[before:])
	}
	if c := browserSessionCookie(t, tab, s.URL); c != nil {
		t.Errorf("step 4: the session cookie outlived the logout: %+v", c)
	}
	step(t, tab, "step 4: starting a sign-in", 15*time.Second,
		chromedp.Navigate(s.URL+"/gatehouse/oauth2/start?rd=/api/v1/stacks"))
	s.signInFromLoginPage(t, "step 4", s.URL+"/api/v1/stacks")
	if st := fetchStatus(t, tab, "step 4: posting to /api/v1/pipelines", "/api/v1/pipelines", post); st < 200 || st > 299 {
		t.Errorf("step 4: an admin's write from the page answered %d, want 2xx", st)
	}
	got, ok = lastTo(s.Up, "POST", "/api/v1/pipelines")
	if !ok {
		t.Fatal("step 4: the admin's write did not reach the upstream")
	}
	if u, g := got.Header.Get("X-Forwarded-User"), got.Header.Get("X-Forwarded-Groups"); u != "carol" || g != "admin" {
		t.Errorf("step 4: the upstream saw X-Forwarded-User %q, X-Forwarded-Groups %q; want carol, admin", u, g)
	}

	// 5. Deactivated: the session ends at once.
	s.Admin.OK("user", "update", "carol", "--active=false")
	if st := fetchStatus(t, tab, "step 5: fetching /api/v1/pipelines", "/api/v1/pipelines", "{}"); st != http.StatusUnauthorized {
		t.Errorf("step 5: a deactivated user's read answered %d, want 401", st)
	}
	n := s.Up.Count()
	step(t, tab, "step 5: opening /api/v1/pipelines", 15*time.Second, chromedp.Navigate(s.URL+"/api/v1/pipelines"))
	if u := location(t, tab); !strings.HasPrefix(u, s.IdP.URL+"/login") {
		t.Errorf("step 5: a deactivated user's page request ends at %q, want the provider's login page", u)
	}
	for _, r := range s.Up.All()[n:] {
		if r.Header.Get("X-Forwarded-User") == "carol" {
			t.Errorf("step 5: %s %s reached the upstream as carol after her deactivation", r.Method, r.Path)
		}
	}
	if c := browserSessionCookie(t, tab, s.URL); c != nil {
		t.Errorf("step 5: the deactivated user's session cookie is still in the browser: %+v", c)
	}
	t.Logf("total: %s", time.Since(start).Round(time.Millisecond))
}

// TestSSOCrossSiteWriteRefused: a page of another origin makes the browser
// send a write to Gatehouse with carol's session. From another port of the
// same host (same site, so the Lax cookie comes along) Gatehouse refuses
// it as cross-origin; from another site (localhost) the cookie does not
// come along. Either way the write never reaches the upstream. A client
// that forges no browser headers but says where it comes from is refused
// with 403 too.
func TestSSOCrossSiteWriteRefused(t *testing.T) {
	start := time.Now()
	s := startSSO(t)
	tab := s.Tab

	step(t, tab, "signing in: starting", 15*time.Second,
		chromedp.Navigate(s.URL+"/gatehouse/oauth2/start?rd=/api/v1/pipelines"))
	s.signInFromLoginPage(t, "signing in", s.URL+"/api/v1/pipelines")
	c := browserSessionCookie(t, tab, s.URL)
	if c == nil {
		t.Fatal("signed in, the browser holds no gatehouse_session cookie")
	}

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>elsewhere</title><h1>Another site</h1>`)
	}))
	t.Cleanup(attacker.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(attacker.URL, "http://"))

	for _, origin := range []string{attacker.URL, "http://localhost:" + port} {
		step(t, tab, "opening "+origin, 15*time.Second, chromedp.Navigate(origin+"/"))
		js := fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "include", mode: "no-cors", body: "{}"}).then(r => "sent " + r.type, e => "error: " + e)`,
			s.URL+"/api/v1/pipelines")
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		res, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("posting from %s: %v", origin, err)
		}
		t.Logf("the page at %s posted: %s", origin, res)
	}
	// Gatehouse refused the same-site one as cross-origin (the cookie came
	// along) and the cross-site one as unauthenticated (it did not).
	if _, ok := lastTo(s.Up, "POST", "/api/v1/pipelines"); ok {
		t.Error("a write from another origin reached the upstream")
	}
	var denied []string
	testkit.WaitFor(t, 5*time.Second, "the audit lines of both refusals", func() bool {
		denied = postDenials(s.Proc.Logs())
		return len(denied) >= 2
	})
	if want := []string{"403 cross-origin request with the session cookie", "401 "}; !slices.Equal(denied, want) {
		t.Errorf("Gatehouse's refusals of the posts from other origins: %q, want %q", denied, want)
	}

	// Without a browser: the cookie with another site's Origin, or with
	// Sec-Fetch-Site: cross-site, is refused with 403; the same cookie
	// from this origin reads.
	for _, h := range []map[string]string{
		{"Origin": "http://evil.example"},
		{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": attacker.URL},
	} {
		req, _ := http.NewRequest("POST", s.URL+"/api/v1/pipelines", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: c.Value})
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with the session cookie and %v: %d, want 403", h, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/pipelines", nil)
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: c.Value})
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("GET with the session cookie: %d, want 200", resp.StatusCode)
	}
	if _, ok := lastTo(s.Up, "POST", "/api/v1/pipelines"); ok {
		t.Error("a cross-origin write reached the upstream")
	}
	t.Logf("total: %s", time.Since(start).Round(time.Millisecond))
}

// postDenials returns the status and reason of each audit line of a
// refused POST /api/v1/pipelines in a Gatehouse log, in order.
func postDenials(logs string) []string {
	var out []string
	for line := range strings.SplitSeq(logs, "\n") {
		var l struct {
			Audit, Method, Path, Reason string
			Status                      int
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Audit == "deny" && l.Method == "POST" && l.Path == "/api/v1/pipelines" {
			out = append(out, fmt.Sprintf("%d %s", l.Status, l.Reason))
		}
	}
	return out
}
