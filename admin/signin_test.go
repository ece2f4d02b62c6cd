package admin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
)

const (
	testPublicURL    = "http://127.0.0.1:9"
	testClientSecret = "client-secret-0123456789"
)

// signInService returns a service whose provider p has Gatehouse
// registered as a confidential client, logging to logs; edit changes the
// configuration first.
func signInService(t *testing.T, p *testkit.IdP, logs *testkit.LockedBuffer, edit func(*Config)) *Service {
	t.Helper()
	p.Register("gatehouse", testClientSecret, testPublicURL+CallbackPath)
	return newOIDCService(t, storetest.SQLite(t).DSN, slog.New(slog.NewJSONHandler(logs, nil)), p.URL, func(c *Config) {
		c.PublicURL = testPublicURL
		c.OIDC.ClientSecret = testClientSecret
		c.OIDC.Scopes = []string{"openid", "profile", "email", "groups"}
		if edit != nil {
			edit(c)
		}
	})
}

// flow is a browser sign-in in progress: the flow cookie, and the
// provider's answer on the way back.
type flow struct {
	cookie      string
	state, code string
	idpErr      string
}

// startFlow starts a sign-in and follows the provider's redirect back,
// as a browser would (the provider signs in whoever SignInAs named).
func startFlow(t *testing.T, s *Service, returnTo string) flow {
	t.Helper()
	authURL, cookie, err := s.StartSignIn(returnTo)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), testPublicURL+CallbackPath) {
		t.Fatalf("the provider answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := back.Query()
	return flow{cookie: cookie, state: q.Get("state"), code: q.Get("code"), idpErr: q.Get("error")}
}

func (f flow) finish(s *Service) (Session, error) {
	return s.FinishSignIn(context.Background(), f.cookie, f.state, f.code, f.idpErr)
}

// TestSignIn: the browser sign-in sends the provider the client, the
// redirect URI, the scopes, a state, a nonce and a PKCE challenge; the
// callback creates the user with its groups' roles and returns a session
// whose token the data plane takes, and the sign-in is audited.
func TestSignIn(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, nil)
	p.SignInAs(p.Claims())
	f := startFlow(t, s, "/api/v1/pipelines?page=2")
	q := p.LastAuthRequest()
	for k, want := range map[string]string{"client_id": "gatehouse", "redirect_uri": testPublicURL + CallbackPath,
		"scope": "openid profile email groups", "code_challenge_method": "S256", "response_type": "code"} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s=%q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("state") == "" || q.Get("nonce") == "" || len(q.Get("code_challenge")) != 43 {
		t.Errorf("authorization request lacks state, nonce or an S256 challenge: %v", q)
	}
	sess, err := f.finish(s)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Return != "/api/v1/pipelines?page=2" || sess.User != "alice" || time.Until(sess.Expires) > time.Hour {
		t.Errorf("session %+v", sess)
	}
	if got := decide(t, s, sess.Token, "GET", "/api/v1/pipelines"); got != "allow" {
		t.Errorf("the session reads: %s", got)
	}
	if got := decide(t, s, sess.Token, "POST", "/api/v1/pipelines"); got != "deny" {
		t.Errorf("the session (staff → guest) writes: %s", got)
	}
	if got := s.eng.Parents(policy.UserSubject("alice")); !equalSet(got, []string{"oidc:staff"}) {
		t.Errorf("alice's lines: %v", got)
	}
	if !strings.Contains(logs.String(), `"msg":"sso sign-in","audit":"sso"`) || !strings.Contains(logs.String(), `"user":"alice"`) {
		t.Errorf("no audit line of the sign-in:\n%s", logs.String())
	}
	if n := testutilCount(s, kindSSO, true); n != 1 {
		t.Errorf("sso sign-ins counted: %v", n)
	}

	// The next sign-in refreshes the group roles.
	c := p.Claims()
	c["groups"] = []string{"eng"}
	p.SignInAs(c)
	sess, err = startFlow(t, s, "/").finish(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := decide(t, s, sess.Token, "POST", "/api/v1/pipelines"); got != "allow" {
		t.Errorf("after signing in again as eng (editor): %s", got)
	}

	// Deactivating the user ends the session at once.
	f2 := false
	if _, err := s.UpdateUser(context.Background(), "", "alice", UpdateUser{Active: &f2}); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, s, sess.Token, "GET", "/api/v1/pipelines"); got != "401" {
		t.Errorf("a deactivated user's session: %s, want 401", got)
	}
	p.SignInAs(c)
	if _, err := startFlow(t, s, "/").finish(s); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a deactivated user signs in: %v, want refused", err)
	}
}

// TestSignInRefusals: every way a callback can be wrong is refused with a
// reason, audited, and creates no user.
func TestSignInRefusals(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, func(c *Config) { c.OIDC.AllowedDomains = []string{"example.com"} })
	users := userCount(t, s)
	other := testkit.NewIdP(t)

	claims := func(edit func(map[string]any)) map[string]any {
		c := p.Claims()
		c["sub"], c["preferred_username"], c["email"] = "sub-bob", "bob", "bob@example.com"
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		signer func(map[string]any) string
		edit   func(*flow)
		want   string
	}{
		{name: "wrong state", edit: func(f *flow) { f.state = "not-the-state" }, want: "state does not match"},
		{name: "no flow cookie", edit: func(f *flow) { f.cookie = "" }, want: "cookie is missing"},
		{name: "forged flow cookie", edit: func(f *flow) { f.cookie = f.cookie[:len(f.cookie)-4] + "AAAA" }, want: "cookie is not valid"},
		{name: "the provider's error", edit: func(f *flow) { f.code, f.idpErr = "", "access_denied" }, want: "answered access_denied"},
		{name: "no code", edit: func(f *flow) { f.code = "" }, want: "has no code"},
		{name: "unknown code", edit: func(f *flow) { f.code = "made-up" }, want: "refused the code (invalid_grant)"},
		{name: "alg none", signer: testkit.SignNone, want: "identity provider token"},
		{name: "HS256 keyed with the client secret", signer: func(c map[string]any) string {
			return testkit.SignHS256(t, c, []byte(testClientSecret))
		}, want: "identity provider token"},
		{name: "another issuer", claims: claims(func(c map[string]any) { c["iss"] = "https://elsewhere.example" }), want: "different provider"},
		{name: "another provider's key", signer: func(c map[string]any) string { return other.Sign(t, c) }, want: "signature"},
		{name: "another audience", claims: claims(func(c map[string]any) { c["aud"] = "someone-else" }), want: "audience"},
		{name: "expired", claims: claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), want: "expired"},
		{name: "nonce", claims: claims(func(c map[string]any) { c["nonce"] = "another-nonce" }), want: "nonce does not match"},
		{name: "no username", claims: claims(func(c map[string]any) { delete(c, "preferred_username"); delete(c, "email") }), want: "no username claim"},
		{name: "email outside the domains", claims: claims(func(c map[string]any) { c["email"] = "bob@evil.example" }), want: "outside the allowed domains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.claims
			if c == nil {
				c = claims(func(map[string]any) {})
			}
			p.SignInAs(c)
			p.SetIDTokenSigner(tc.signer)
			defer p.SetIDTokenSigner(nil)
			logs.Reset()
			f := startFlow(t, s, "/")
			if tc.edit != nil {
				tc.edit(&f)
			}
			_, err := f.finish(s)
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want refused with %q", err, tc.want)
			}
			if !strings.Contains(logs.String(), `"audit":"sso"`) || !strings.Contains(logs.String(), `"success":false`) {
				t.Errorf("no audit line:\n%s", logs.String())
			}
			if n := userCount(t, s); n != users {
				t.Errorf("%d users created", n-users)
			}
		})
	}
}

// TestSignInReplay: a callback is taken once. Replayed on the same
// replica, it is refused before the code goes to the provider; replayed
// where it was never seen (another replica), the provider refuses the
// used code.
func TestSignInReplay(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, nil)
	p.SignInAs(p.Claims())
	f := startFlow(t, s, "/")
	if _, err := f.finish(s); err != nil {
		t.Fatal(err)
	}
	before := p.TokenRequests()
	if _, err := f.finish(s); err == nil || !strings.Contains(err.Error(), "completed already") {
		t.Errorf("replayed callback: %v", err)
	}
	if p.TokenRequests() != before {
		t.Error("a replayed callback reached the provider")
	}
	s.idp.flows = newUsedFlows(maxFlows) // as another replica sees it
	if _, err := f.finish(s); err == nil || !strings.Contains(err.Error(), "refused the code (invalid_grant)") {
		t.Errorf("replayed code: %v", err)
	}
	if got := strings.Count(logs.String(), `"msg":"sso sign-in refused"`); got != 2 {
		t.Errorf("%d refusals audited, want 2:\n%s", got, logs.String())
	}
}

// TestSessionRenewal: a session token is renewed once less than half its
// lifetime is left, never past the session's maximum age.
func TestSessionRenewal(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, func(c *Config) { c.OIDC.SessionMaxAge = 90 * time.Minute })
	p.SignInAs(p.Claims())
	start := time.Now()
	sess, err := startFlow(t, s, "/").finish(s)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) { s.setClock(func() time.Time { return start.Add(d) }) }
	check := func(tok string) {
		t.Helper()
		if got := decide(t, s, tok, "GET", "/api/v1/pipelines"); got != "allow" {
			t.Fatalf("the session token: %s", got)
		}
	}
	at(10 * time.Minute)
	check(sess.Token)
	if c := s.RenewSession(sess.Token); c != nil {
		t.Errorf("renewed with 50 of 60 minutes left: %+v", c)
	}
	at(40 * time.Minute)
	c := s.RenewSession(sess.Token)
	if c == nil || c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
		t.Fatalf("renewal with 20 minutes left: %+v", c)
	}
	if want := start.Add(90 * time.Minute); c.Expires.Sub(want).Abs() > 2*time.Second {
		t.Errorf("renewed until %v, want the session's end %v (max age 90m)", c.Expires, want)
	}
	if c.MaxAge < 49*60 || c.MaxAge > 50*60+2 {
		t.Errorf("Max-Age %ds, want the 50 minutes left of the session", c.MaxAge)
	}
	check(c.Value)
	at(80 * time.Minute)
	if again := s.RenewSession(c.Value); again != nil {
		t.Errorf("renewed past the maximum age: %+v", again)
	}
	// A token from a password login is no session: never renewed.
	tok, err := s.Login(context.Background(), "admin", string(testAdminPW), "c")
	if err != nil {
		t.Fatal(err)
	}
	at(130 * time.Minute)
	check(tok.AccessToken)
	if c := s.RenewSession(tok.AccessToken); c != nil {
		t.Errorf("a login token renewed: %+v", c)
	}
}

// TestSSOOnly: password login and sign-up are refused with a message that
// says where to sign in; the browser sign-in works.
func TestSSOOnly(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, func(c *Config) { c.OIDC.SSOOnly = true })
	_, err := s.Login(context.Background(), "admin", string(testAdminPW), "c")
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), SignInPath) {
		t.Errorf("password login: %v", err)
	}
	if !strings.Contains(logs.String(), `"outcome":"sso_only"`) {
		t.Errorf("no audit line of the refused login:\n%s", logs.String())
	}
	if _, err := s.InvitedUser(context.Background(), "any-token", "c"); !errors.Is(err, ErrForbidden) {
		t.Errorf("sign-up page: %v", err)
	}
	if _, err := s.Signup(context.Background(), "any-token", "a-long-password-1", "c"); !errors.Is(err, ErrForbidden) {
		t.Errorf("sign-up: %v", err)
	}
	p.SignInAs(p.Claims())
	if _, err := startFlow(t, s, "/").finish(s); err != nil {
		t.Errorf("browser sign-in: %v", err)
	}
}

// TestSignOut: logging out audits the session's user and goes through the
// provider's end_session_endpoint back to the signed-out page.
func TestSignOut(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, nil)
	p.SignInAs(p.Claims())
	sess, err := startFlow(t, s, "/").finish(s)
	if err != nil {
		t.Fatal(err)
	}
	next, err := url.Parse(s.SignOut(context.Background(), sess.Token))
	if err != nil || next.Scheme+"://"+next.Host+next.Path != p.URL+"/logout" {
		t.Fatalf("logout goes to %v (%v), want the provider's end_session_endpoint", next, err)
	}
	if q := next.Query(); q.Get("client_id") != "gatehouse" || q.Get("post_logout_redirect_uri") != testPublicURL+SignedOutPath {
		t.Errorf("end session query %v", q)
	}
	if !strings.Contains(logs.String(), `"msg":"sso sign-out"`) {
		t.Errorf("no audit line of the sign-out:\n%s", logs.String())
	}
}

// TestLocalPath: a sign-in returns to a path on this server, never to
// another site.
func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/stacks?x=1": "/api/v1/stacks?x=1", "": "/", "//evil.example/x": "/", "/\\evil.example": "/",
		"https://evil.example/": "/", "relative": "/", "/a\r\nSet-Cookie: x": "/", "/ok#frag": "/ok#frag",
		"/" + strings.Repeat("a", maxReturnLen): "/",
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// testutilCount returns gatehouse_authentications_total{kind,result}.
func testutilCount(s *Service, kind string, ok bool) float64 {
	c := s.auth.metrics.bad[kind]
	if ok {
		c = s.auth.metrics.ok[kind]
	}
	return testutil.ToFloat64(c)
}

// TestUsedFlowsNeverRefuse: a full set of taken sign-ins makes room
// instead of refusing the next one, so a flood of callbacks cannot stop
// sign-ins; a replay of a remembered one is still refused.
func TestUsedFlowsNeverRefuse(t *testing.T) {
	u := newUsedFlows(8)
	now := time.Now()
	for i := range 100 {
		if !u.take(fmt.Sprint("flood-", i), now.Add(time.Minute), now) {
			t.Fatalf("take %d refused", i)
		}
		if len(u.seen) > 8 {
			t.Fatalf("%d entries, want at most 8", len(u.seen))
		}
	}
	if !u.take("real", now.Add(time.Minute), now) || u.take("real", now.Add(time.Minute), now) {
		t.Error("a new sign-in refused, or its replay taken")
	}
}

// TestSignInCallbackErrorText: what a provider's callback says is cut and
// stripped of control characters before it reaches messages and audit
// lines.
func TestSignInCallbackErrorText(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, nil)
	f := startFlow(t, s, "/")
	f.code, f.idpErr = "", "access_denied\n"+strings.Repeat("x", 5000)
	_, err := f.finish(s)
	if err == nil || strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 {
		t.Errorf("error %q", err)
	}
}

// TestSignInFailuresLimited: a client's refused callbacks are limited (30
// per five minutes); a successful sign-in gives its attempt back, and
// another client is not affected.
func TestSignInFailuresLimited(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, nil)
	p.SignInAs(p.Claims())
	from := func(client string) context.Context { return WithRequest(context.Background(), "", client) }
	for range 5 {
		f := startFlow(t, s, "/")
		if _, err := s.FinishSignIn(from("10.0.0.1"), f.cookie, f.state, f.code, ""); err != nil {
			t.Fatalf("a real sign-in: %v", err)
		}
	}
	for i := range 30 {
		if _, err := s.FinishSignIn(from("10.0.0.1"), "", "x", "y", ""); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("refused callback %d: %v", i, err)
		}
	}
	var rl *RateLimitError
	if _, err := s.FinishSignIn(from("10.0.0.1"), "", "x", "y", ""); !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Errorf("the 31st refused callback: %v, want rate limited", err)
	}
	f := startFlow(t, s, "/")
	if _, err := s.FinishSignIn(from("10.0.0.2"), f.cookie, f.state, f.code, ""); err != nil {
		t.Errorf("another client: %v", err)
	}
}

// TestCookieNames: with an https public URL the session cookie is a
// __Host- cookie and the flow cookie a __Secure- one, both Secure; over
// http (a loopback address) they keep their plain names.
func TestCookieNames(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	plain := signInService(t, p, &logs, nil)
	if plain.SessionCookieName() != SessionCookie || plain.FlowCookieName() != FlowCookie || plain.SessionCookie("t", time.Now().Add(time.Hour)).Secure {
		t.Errorf("http: %s %s", plain.SessionCookieName(), plain.FlowCookieName())
	}
	secure := signInService(t, p, &logs, func(c *Config) { c.PublicURL = "https://gatehouse.example.com" })
	c := secure.SessionCookie("t", time.Now().Add(time.Hour))
	if c.Name != "__Host-gatehouse_session" || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Errorf("https session cookie %+v", c)
	}
	if f := secure.FlowCookieFor("f"); f.Name != "__Secure-gatehouse_oauth2" || !f.Secure {
		t.Errorf("https flow cookie %+v", f)
	}
	if cl := secure.ClearSessionCookie(); cl.Name != c.Name || cl.MaxAge >= 0 || cl.Path != "/" {
		t.Errorf("clearing %+v", cl)
	}
}

// TestFlowCookieHoldsNoSecrets: the flow cookie carries the state and the
// return path, not the nonce or the PKCE verifier, which are derived from
// the state with the signing key.
func TestFlowCookieHoldsNoSecrets(t *testing.T) {
	p := testkit.NewIdP(t)
	var logs testkit.LockedBuffer
	s := signInService(t, p, &logs, nil)
	authURL, flow, err := s.StartSignIn("/x")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	nonce := u.Query().Get("nonce")
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(flow, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var fc flowClaims
	kid, err := s.keys.parseSigned(flow, flowIssuer, &fc)
	if err != nil {
		t.Fatal(err)
	}
	_, verifier, _ := s.keys.flowSecrets(kid, fc.ID)
	if nonce == "" || strings.Contains(string(payload), nonce) || strings.Contains(string(payload), verifier) {
		t.Errorf("the flow cookie %s holds the nonce or the verifier", payload)
	}
}
