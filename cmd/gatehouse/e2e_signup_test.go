package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signupPage opens an invitation link like a browser: it returns a client
// holding the page's cookies, and the form's CSRF token.
func signupPage(t *testing.T, link string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", link, resp.Status, page)
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the sign-up page:\n%s", page)
	}
	return hc, m[1]
}

// postSignup sends the sign-up form. header adds or overrides request
// headers; by default the request looks like a same-origin browser post.
func postSignup(t *testing.T, hc *http.Client, link string, form url.Values, header map[string]string) (int, string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, u.Scheme+"://"+u.Host+u.Path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp.Body)
}

// signupWithForm signs up through the HTML form, as a browser would.
func signupWithForm(t *testing.T, link, password string) string {
	t.Helper()
	hc, csrf := signupPage(t, link)
	token := mustQuery(t, link, "token")
	st, page := postSignup(t, hc, link, url.Values{"token": {token}, "csrf": {csrf}, "password": {password}, "confirm": {password}}, nil)
	if st != http.StatusOK {
		t.Fatalf("sign-up form: %d\n%s", st, page)
	}
	return page
}

func mustQuery(t *testing.T, link, key string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query().Get(key)
	if v == "" {
		t.Fatalf("%s has no %s", link, key)
	}
	return v
}

// TestSignupFormRefusesCrossSitePosts: a sign-up form posted from another
// site, or without the CSRF cookie the page set, is refused with 403 and
// changes nothing: the user stays inactive and the invitation stays
// usable.
func TestSignupFormRefusesCrossSitePosts(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	link := testkit.InvitationURL(t, admin.OK("user", "create", "mallory-target"))
	token := mustQuery(t, link, "token")
	const pw = "chosen-by-attacker"

	tests := []struct {
		name      string
		noCookies bool
		csrf      string // "" means the page's token
		header    map[string]string
	}{
		{name: "Origin of another host", header: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": ""}},
		{name: "Origin null", header: map[string]string{"Origin": "null", "Sec-Fetch-Site": ""}},
		{name: "Sec-Fetch-Site cross-site", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": ""}},
		{name: "Sec-Fetch-Site same-site (a sibling subdomain)", header: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": ""}},
		{name: "no CSRF cookie", noCookies: true},
		{name: "CSRF field not matching the cookie", csrf: "forged"},
		{name: "no CSRF field", csrf: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, csrf := signupPage(t, link)
			if tt.noCookies {
				hc = &http.Client{}
			}
			form := url.Values{"token": {token}, "password": {pw}, "confirm": {pw}, "csrf": {csrf}}
			switch tt.csrf {
			case "":
			case "-":
				form.Del("csrf")
			default:
				form.Set("csrf", tt.csrf)
			}
			st, page := postSignup(t, hc, link, form, tt.header)
			if st != http.StatusForbidden {
				t.Errorf("status %d, want 403\n%s", st, page)
			}
			contains(t, "the refusal page", page, "sent from another site")
			u := decodeJSON[struct{ Active bool }](t, admin.OK("user", "describe", "mallory-target", "-o", "json"))
			if u.Active {
				t.Fatal("a refused post activated the user")
			}
		})
	}
	// The attacker's password was never set, and the invitation still works.
	mallory := testkit.NewCLI(t)
	r := mallory.RunEnv(nil, pw+"\n", "login", "--server", srv.URL, "--username", "mallory-target", "--password-stdin")
	if r.Code != 1 || !strings.Contains(r.Stderr, "invalid username or password") {
		t.Errorf("login with the refused password: %v", r)
	}
	contains(t, "the sign-up result", signupWithForm(t, link, "the-real-password"), "Your account is ready")
}
