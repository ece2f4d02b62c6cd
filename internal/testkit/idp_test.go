package testkit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

const callback = "https://rp.example/callback"

// relyingParty drives an IdP as an OIDC client would, with x/oauth2 and
// go-oidc, stopping at redirects instead of following them.
type relyingParty struct {
	t        *testing.T
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	browser  *http.Client
}

// newRelyingParty registers client "rp" (with secret, "" for a public
// client) at p and discovers p.
func newRelyingParty(t *testing.T, p *testkit.IdP, secret string, style oauth2.AuthStyle) *relyingParty {
	t.Helper()
	p.Register("rp", secret, callback)
	provider, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &relyingParty{
		t: t,
		conf: oauth2.Config{ClientID: "rp", ClientSecret: secret, Endpoint: ep,
			RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: "rp"}),
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// visit GETs uri without following a redirect and returns the response,
// its body read.
func (rp *relyingParty) visit(uri string) (*http.Response, string) {
	rp.t.Helper()
	res, err := rp.browser.Get(uri)
	if err != nil {
		rp.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		rp.t.Fatal(err)
	}
	return res, string(body)
}

// authorize sends the browser to the authorization endpoint and returns
// the query it is redirected back to the callback with.
func (rp *relyingParty) authorize(state, verifier, nonce string) url.Values {
	rp.t.Helper()
	res, body := rp.visit(rp.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	if res.StatusCode != http.StatusFound {
		rp.t.Fatalf("/auth answered %d %q, want a redirect", res.StatusCode, body)
	}
	loc, err := res.Location()
	if err != nil {
		rp.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		rp.t.Fatalf("redirected to %s, want %s", got, callback)
	}
	if got := loc.Query().Get("state"); got != state {
		rp.t.Fatalf("state came back as %q, want %q", got, state)
	}
	return loc.Query()
}

// exchange redeems code with verifier.
func (rp *relyingParty) exchange(code, verifier string) (*oauth2.Token, error) {
	return rp.conf.Exchange(rp.t.Context(), code, oauth2.VerifierOption(verifier))
}

// verify checks the ID token of tok and its nonce.
func (rp *relyingParty) verify(tok *oauth2.Token, nonce string) (*oidc.IDToken, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, errors.New("no id_token in the token response")
	}
	id, err := rp.verifier.Verify(rp.t.Context(), raw)
	if err != nil {
		return nil, err
	}
	if id.Nonce != nonce {
		return nil, errors.New("nonce " + id.Nonce + ", want " + nonce)
	}
	return id, nil
}

// wantOAuthError fails unless err is the token endpoint refusing with
// code and status.
func wantOAuthError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an OAuth error %s", err, code)
	}
	if re.ErrorCode != code || re.Response.StatusCode != status {
		t.Fatalf("token endpoint answered %d %q, want %d %s", re.Response.StatusCode, re.ErrorCode, status, code)
	}
}

func signInAlice(p *testkit.IdP) {
	p.SignInAs(map[string]any{"sub": "sub-alice", "email": "alice@example.com", "groups": []string{"staff"}})
}

func TestIdPCodeFlow(t *testing.T) {
	for name, c := range map[string]struct {
		secret string
		style  oauth2.AuthStyle
	}{
		"basic":  {"s3cret/+&", oauth2.AuthStyleInHeader},
		"post":   {"s3cret", oauth2.AuthStyleInParams},
		"public": {"", oauth2.AuthStyleInParams},
	} {
		t.Run(name, func(t *testing.T) {
			p := testkit.NewIdP(t)
			rp := newRelyingParty(t, p, c.secret, c.style)
			signInAlice(p)
			verifier, nonce := oauth2.GenerateVerifier(), "n-"+oauth2.GenerateVerifier()
			back := rp.authorize("st-1", verifier, nonce)
			tok, err := rp.exchange(back.Get("code"), verifier)
			if err != nil {
				t.Fatal(err)
			}
			id, err := rp.verify(tok, nonce)
			if err != nil {
				t.Fatal(err)
			}
			checkAlice(t, id, p.URL)
			if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.Expiry.IsZero() {
				t.Errorf("token = %+v, want a bearer access token that expires", tok)
			}
			if got := p.LastAuthRequest(); got.Get("scope") != "openid email" || got.Get("nonce") != nonce {
				t.Errorf("LastAuthRequest() = %v, want scope and nonce", got)
			}
			if n := p.TokenRequests(); n != 1 {
				t.Errorf("TokenRequests() = %d, want 1", n)
			}
			if n := p.KeySetFetches(); n != 1 {
				t.Errorf("KeySetFetches() = %d, want 1", n)
			}
		})
	}
}

func checkAlice(t *testing.T, id *oidc.IDToken, issuer string) {
	t.Helper()
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if id.Subject != "sub-alice" || id.Issuer != issuer || !slices.Equal(id.Audience, []string{"rp"}) ||
		claims.Email != "alice@example.com" || !slices.Equal(claims.Groups, []string{"staff"}) {
		t.Errorf("id token = %+v %+v, want alice's", id, claims)
	}
}

func TestIdPRefusesReplayedCode(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "s3cret", oauth2.AuthStyleInHeader)
	signInAlice(p)
	verifier := oauth2.GenerateVerifier()
	code := rp.authorize("st", verifier, "n").Get("code")
	if _, err := rp.exchange(code, verifier); err != nil {
		t.Fatal(err)
	}
	_, err := rp.exchange(code, verifier)
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest)
	if n := p.TokenRequests(); n != 2 {
		t.Errorf("TokenRequests() = %d, want 2", n)
	}
}

func TestIdPRefusesBadExchanges(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "s3cret", oauth2.AuthStyleInParams)
	signInAlice(p)
	verifier := oauth2.GenerateVerifier()

	code := rp.authorize("st", verifier, "n").Get("code")
	_, err := rp.exchange(code, oauth2.GenerateVerifier())
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest)

	_, err = rp.exchange("no-such-code", verifier)
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest)

	code = rp.authorize("st", verifier, "n").Get("code")
	other := rp.conf
	other.RedirectURL = callback + "/other"
	_, err = other.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest)

	code = rp.authorize("st", verifier, "n").Get("code")
	other = rp.conf
	other.ClientSecret = "wrong"
	_, err = other.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized)
	if _, err := rp.exchange(code, verifier); err != nil {
		t.Errorf("the code refused with a bad secret is lost: %v", err)
	}
}

func TestIdPAuthRefusesWithoutRedirect(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "s3cret", oauth2.AuthStyleInHeader)
	signInAlice(p)
	good := func() url.Values {
		u, _ := url.Parse(rp.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		return u.Query()
	}
	for name, change := range map[string]func(url.Values){
		"unregistered redirect_uri": func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"unknown client":            func(q url.Values) { q.Set("client_id", "other") },
		"implicit flow":             func(q url.Values) { q.Set("response_type", "token") },
		"no state":                  func(q url.Values) { q.Del("state") },
		"no challenge":              func(q url.Values) { q.Del("code_challenge") },
		"plain challenge":           func(q url.Values) { q.Set("code_challenge_method", "plain") },
	} {
		t.Run(name, func(t *testing.T) {
			q := good()
			change(q)
			res, body := rp.visit(p.URL + "/auth?" + q.Encode())
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || body == "" {
				t.Errorf("/auth answered %d, Location %q, body %q; want 400 with a reason and no redirect",
					res.StatusCode, res.Header.Get("Location"), body)
			}
			if got := p.LastAuthRequest(); got.Encode() != q.Encode() {
				t.Errorf("LastAuthRequest() = %v, want %v", got, q)
			}
		})
	}
}

func TestIdPNobodySignsIn(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "", oauth2.AuthStyleInParams)
	p.SignInAs(nil)
	back := rp.authorize("st-9", oauth2.GenerateVerifier(), "n")
	if back.Get("error") != "access_denied" || back.Has("code") {
		t.Errorf("came back with %v, want error=access_denied and no code", back)
	}
}

func TestIdPMisbehavingSigners(t *testing.T) {
	hsSecret := []byte("0123456789abcdef0123456789abcdef")
	for name, signer := range map[string]func(map[string]any) string{
		"alg none": testkit.SignNone,
		"hs256":    func(c map[string]any) string { return testkit.SignHS256(t, c, hsSecret) },
	} {
		t.Run(name, func(t *testing.T) {
			p := testkit.NewIdP(t)
			rp := newRelyingParty(t, p, "s3cret", oauth2.AuthStyleInHeader)
			signInAlice(p)
			p.SetIDTokenSigner(signer)
			verifier := oauth2.GenerateVerifier()
			tok, err := rp.exchange(rp.authorize("st", verifier, "n").Get("code"), verifier)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rp.verify(tok, "n"); err == nil {
				t.Error("go-oidc accepted the ID token")
			}
			p.SetIDTokenSigner(nil)
			tok, err = rp.exchange(rp.authorize("st", verifier, "n").Get("code"), verifier)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rp.verify(tok, "n"); err != nil {
				t.Errorf("back to RS256: %v", err)
			}
		})
	}
}

func TestIdPClaimsOverrideDefaults(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "s3cret", oauth2.AuthStyleInHeader)
	p.SignInAs(map[string]any{"sub": "sub-bob", "nonce": "stale", "aud": "someone-else"})
	verifier := oauth2.GenerateVerifier()
	tok, err := rp.exchange(rp.authorize("st", verifier, "fresh").Get("code"), verifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.verify(tok, "fresh"); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("verify = %v, want the audience refused", err)
	}
}

func TestIdPLogout(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "", oauth2.AuthStyleInParams)
	if got := p.LastLogout(); got != nil {
		t.Errorf("LastLogout() = %v before any logout", got)
	}
	res, body := rp.visit(p.URL + "/logout?id_token_hint=x")
	if res.StatusCode != http.StatusOK || body != "signed out" {
		t.Errorf("/logout answered %d %q", res.StatusCode, body)
	}
	res, _ = rp.visit(p.URL + "/logout?post_logout_redirect_uri=" + url.QueryEscape(callback+"?bye=1"))
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != callback+"?bye=1" {
		t.Errorf("/logout answered %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := p.LastLogout().Get("post_logout_redirect_uri"); got != callback+"?bye=1" {
		t.Errorf("LastLogout() recorded %q", got)
	}
}

func TestIdPDiscovery(t *testing.T) {
	p := testkit.NewIdP(t)
	provider, err := oidc.NewProvider(context.Background(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Auth       string   `json:"authorization_endpoint"`
		Token      string   `json:"token_endpoint"`
		EndSession string   `json:"end_session_endpoint"`
		PKCE       []string `json:"code_challenge_methods_supported"`
		Responses  []string `json:"response_types_supported"`
		Subjects   []string `json:"subject_types_supported"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
		Scopes     []string `json:"scopes_supported"`
	}
	if err := provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Auth != p.URL+"/auth" || doc.Token != p.URL+"/token" || doc.EndSession != p.URL+"/logout" ||
		!slices.Equal(doc.PKCE, []string{"S256"}) || !slices.Equal(doc.Responses, []string{"code"}) ||
		!slices.Equal(doc.Subjects, []string{"public"}) || !slices.Equal(doc.Algs, []string{"RS256"}) ||
		!slices.Contains(doc.Scopes, "openid") {
		t.Errorf("discovery document = %+v", doc)
	}
}

func TestIdPConcurrentFlows(t *testing.T) {
	p := testkit.NewIdP(t)
	rp := newRelyingParty(t, p, "s3cret", oauth2.AuthStyleInHeader)
	signInAlice(p)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			verifier := oauth2.GenerateVerifier()
			res, err := rp.browser.Get(rp.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n")))
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			loc, err := res.Location()
			if err != nil {
				t.Error(err)
				return
			}
			tok, err := rp.exchange(loc.Query().Get("code"), verifier)
			if err == nil {
				_, err = rp.verify(tok, "n")
			}
			if err != nil {
				t.Error(err)
			}
			p.Rotate(t)
		})
	}
	wg.Wait()
	if n := p.TokenRequests(); n != 8 {
		t.Errorf("TokenRequests() = %d, want 8", n)
	}
}
