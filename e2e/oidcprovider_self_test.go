package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOIDCProviderCodeFlowInBrowser proves the in-process OpenID provider:
// a tiny relying party (x/oauth2 with PKCE S256, go-oidc verifying the ID
// token and its nonce) sends headless Chromium to the provider's login page,
// a wrong password is refused, the right one comes back with a code, and
// the verified claims carry preferred_username, email and groups. The same
// code is refused a second time.
func TestOIDCProviderCodeFlowInBrowser(t *testing.T) {
	tab := newBrowser(t)
	const clientID, clientSecret = "gatehouse-test", "client-secret-1"

	type pending struct{ nonce, verifier string }
	type result struct {
		code, verifier string
		claims         map[string]any
	}
	var (
		mu       sync.Mutex
		states   = map[string]pending{}
		results  = make(chan result, 1)
		conf     *oauth2.Config
		verifier *oidc.IDTokenVerifier
	)
	page := template.Must(template.New("cb").Parse(`<!doctype html><title>callback</title><pre id="claims">{{.}}</pre>`))

	mux := http.NewServeMux()
	rp := httptest.NewServer(mux) // 127.0.0.1
	defer rp.Close()

	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, pkce := randomID(), randomID(), oauth2.GenerateVerifier()
		mu.Lock()
		states[state] = pending{nonce, pkce}
		mu.Unlock()
		http.Redirect(w, r, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		fail := func(format string, err error) {
			t.Errorf(format, err)
			http.Error(w, "callback failed", http.StatusBadRequest)
		}
		mu.Lock()
		st, ok := states[r.URL.Query().Get("state")]
		delete(states, r.URL.Query().Get("state"))
		mu.Unlock()
		if !ok {
			fail("callback: %v", errors.New("unknown state "+r.URL.RawQuery))
			return
		}
		code := r.URL.Query().Get("code")
		tok, err := conf.Exchange(r.Context(), code, oauth2.VerifierOption(st.verifier))
		if err != nil {
			fail("exchanging the code: %v", err)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			fail("verifying the ID token: %v", err)
			return
		}
		if idt.Nonce != st.nonce {
			fail("ID token nonce: %v", errors.New("got "+idt.Nonce+", want "+st.nonce))
			return
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			fail("ID token claims: %v", err)
			return
		}
		b, _ := json.Marshal(claims)
		_ = page.Execute(w, string(b))
		results <- result{code: code, verifier: st.verifier, claims: claims}
	})

	p := startOIDCProvider(t, clientID, clientSecret, rp.URL+"/callback", rp.URL+"/signed-out")
	p.addUser("alice", "alice-password-1", "alice@example.com", "staff")
	p.setGroups("alice", "ml-engineers")
	p.addUser("bob", "bob-password-1", "bob@example.com")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, p.URL) // discovery; checks the issuer
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var disc struct {
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
		AuthMethod []string `json:"token_endpoint_auth_methods_supported"`
		PKCE       []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&disc); err != nil {
		t.Fatalf("discovery claims: %v", err)
	}
	if !strings.HasPrefix(disc.EndSession, p.URL+"/") || !slices.Contains(disc.Algs, "RS256") ||
		!slices.Contains(disc.AuthMethod, "client_secret_basic") || !slices.Contains(disc.AuthMethod, "client_secret_post") ||
		!slices.Contains(disc.PKCE, "S256") {
		t.Errorf("discovery: %+v", disc)
	}
	conf = &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret,
		Endpoint:    provider.Endpoint(),
		RedirectURL: rp.URL + "/callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile", "email", "groups"},
	}
	verifier = provider.Verifier(&oidc.Config{ClientID: clientID}) // RS256 only, by default

	// To the provider's login page; a wrong password is refused there.
	userSel, _, _ := p.loginSelectors()
	if err := chromedp.Do(tab, chromedp.Navigate(rp.URL+"/start"), chromedp.WaitVisible(chromedp.CSS(userSel))); err != nil {
		t.Fatalf("to the login page: %v", err)
	}
	if loc, err := chromedp.Run(tab, chromedp.Location()); err != nil || !strings.HasPrefix(loc, p.URL+"/login?") {
		t.Fatalf("login page at %q (%v), want %s/login?...", loc, err, p.URL)
	}
	if err := p.signIn(tab, "alice", "wrong-password"); err != nil {
		t.Fatalf("signing in with a wrong password: %v", err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#login-error"))); err != nil {
		t.Fatalf("no error shown for a wrong password: %v", err)
	}

	// The right password: straight back to the callback (no consent step).
	if err := p.signIn(tab, "alice", "alice-password-1"); err != nil {
		t.Fatalf("signing in: %v", err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#claims"))); err != nil {
		t.Fatalf("callback page: %v", err)
	}
	shown := runText(t, tab, "#claims")
	var res result
	select {
	case res = <-results:
	case <-ctx.Done():
		t.Fatal("no result from the callback")
	}
	var onPage map[string]any
	if err := json.Unmarshal([]byte(shown), &onPage); err != nil || onPage["preferred_username"] != "alice" {
		t.Errorf("callback page shows %q (%v)", shown, err)
	}
	c := res.claims
	t.Logf("verified ID token claims: %s", shown)
	if c["preferred_username"] != "alice" || c["email"] != "alice@example.com" || c["email_verified"] != true {
		t.Errorf("claims %v: want preferred_username alice, email alice@example.com, email_verified true", c)
	}
	if c["sub"] != p.subject("alice") || c["iss"] != p.URL {
		t.Errorf("claims %v: want sub %s, iss %s", c, p.subject("alice"), p.URL)
	}
	if groups, _ := c["groups"].([]any); len(groups) != 1 || groups[0] != "ml-engineers" {
		t.Errorf("groups claim %#v, want [ml-engineers]", c["groups"])
	}

	// The same code a second time is refused.
	_, err = conf.Exchange(ctx, res.code, oauth2.VerifierOption(res.verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("second exchange of the code: %v, want invalid_grant", err)
	}

	// end_session accepts the registered post-logout redirect URI.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {rp.URL + "/signed-out"}, "state": {"s1"}}
	resp, err := noRedirect.Get(disc.EndSession + "?" + q.Encode())
	if err != nil {
		t.Fatalf("end_session: %v", err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != rp.URL+"/signed-out?state=s1" {
		t.Errorf("end_session answered %d to %q, want 302 to %s/signed-out?state=s1", resp.StatusCode, got, rp.URL)
	}
}

// TestOIDCProviderScopesWithoutBrowser drives the same flow with a plain
// HTTP client posting the login form, to check the claims per scope: no
// groups claim without the groups scope, an empty array for a user without
// groups, and client_secret_post as well as client_secret_basic.
func TestOIDCProviderScopesWithoutBrowser(t *testing.T) {
	const clientID, clientSecret, redirectURI = "rp", "rp-secret", "http://127.0.0.1:1/callback" // never dialled
	p := startOIDCProvider(t, clientID, clientSecret, redirectURI, "")
	p.addUser("bob", "bob-password-1", "bob@example.com")
	p.addUser("carol", "carol-password-1", "carol@example.com", "ml-engineers", "staff")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, p.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: clientID})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := func(resp *http.Response, err error) *url.URL {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if resp.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("%s %s answered %d, want a redirect", resp.Request.Method, resp.Request.URL, resp.StatusCode)
		}
		return loc
	}

	for _, tc := range []struct {
		user, password string
		scopes         []string
		style          oauth2.AuthStyle
		groups         any
	}{
		{"carol", "carol-password-1", []string{"openid", "profile", "email"}, oauth2.AuthStyleInHeader, nil},
		{"carol", "carol-password-1", []string{"openid", "profile", "email", "groups"}, oauth2.AuthStyleInParams, []any{"ml-engineers", "staff"}},
		{"bob", "bob-password-1", []string{"openid", "profile", "email", "groups"}, oauth2.AuthStyleInHeader, []any{}},
	} {
		conf := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI, Scopes: tc.scopes, Endpoint: provider.Endpoint()}
		conf.Endpoint.AuthStyle = tc.style
		pkce := oauth2.GenerateVerifier()
		login := redirect(noRedirect.Get(conf.AuthCodeURL("st", oidc.Nonce("n-1"), oauth2.S256ChallengeOption(pkce))))
		form := url.Values{"authRequestID": {login.Query().Get("authRequestID")}, "username": {tc.user}, "password": {tc.password}}
		back := redirect(noRedirect.PostForm(login.String(), form))
		code := redirect(noRedirect.Get(back.String())).Query().Get("code")
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("%s %v: exchange: %v", tc.user, tc.scopes, err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil || idt.Nonce != "n-1" {
			t.Fatalf("%s %v: ID token %v, nonce %q", tc.user, tc.scopes, err, idt.Nonce)
		}
		var c map[string]any
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c["preferred_username"] != tc.user || c["email"] != tc.user+"@example.com" || c["email_verified"] != true {
			t.Errorf("%s %v: claims %v", tc.user, tc.scopes, c)
		}
		if got, ok := c["groups"]; (tc.groups == nil) != !ok || (ok && !reflect.DeepEqual(got, tc.groups)) {
			t.Errorf("%s %v: groups %#v (present %v), want %#v", tc.user, tc.scopes, got, ok, tc.groups)
		}
	}
}
