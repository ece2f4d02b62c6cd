package main

import (
	"net/http"
	"strings"
	"testing"
)

// The tests of this file replay attacks an outside review ran against the
// built binary, each of which once got through, and check that each is
// refused now.

// TestDeactivatedInviteeCannotSignUp: `user create bob` (an invitation),
// then `user update bob --active=false`. The update used to answer 200 and
// change nothing, and the sign-up link then created an active account.
func TestDeactivatedInviteeCannotSignUp(t *testing.T) {
	srv := startGatehouse(t, "admin-password-1")
	admin := newCLI(t)
	admin.login(srv.URL, "admin", "admin-password-1")
	link := invitationURL(t, admin.ok("user", "create", "bob"))
	contains(t, "user update --active=false", admin.ok("user", "update", "bob", "--active=false"), "State:", "deactivated")
	contains(t, "user describe", admin.ok("user", "describe", "bob"), "deactivated (cannot log in or sign up")

	// The link opens no sign-up form, and a form posted anyway is refused.
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, res.Body)
	if res.StatusCode == http.StatusOK || strings.Contains(page, `name="password"`) {
		t.Errorf("the sign-up page of a deactivated invitee: %d\n%s", res.StatusCode, page)
	}
	const pw = "bob-password-123"
	body := `{"token":"` + mustQuery(t, link, "token") + `","password":"` + pw + `"}`
	if st, out, _ := do(t, "POST", srv.URL+"/gatehouse/v1/signup", "", body); st < 400 || st >= 500 {
		t.Errorf("POST /gatehouse/v1/signup for a deactivated invitee: %d %s", st, out)
	}
	bob := newCLI(t)
	r := bob.runEnv(nil, pw+"\n", "login", "--server", srv.URL, "--username", "bob", "--password-stdin")
	if r.code != 1 {
		t.Errorf("bob logged in: %v", r)
	}
	u := decodeJSON[struct {
		Active bool
		State  string
	}](t, admin.ok("user", "describe", "bob", "-o", "json"))
	if u.Active || u.State != "deactivated" {
		t.Errorf("bob is %+v after the attempts", u)
	}

	// Reactivated, bob is invited again: a new link works, the old one not.
	contains(t, "user update --active=true", admin.ok("user", "update", "bob", "--active=true"), "invited (has not signed up yet")
	newLink := invitationURL(t, admin.ok("user", "invite", "bob"))
	if st, _, _ := do(t, "POST", srv.URL+"/gatehouse/v1/signup", "", body); st != http.StatusBadRequest {
		t.Errorf("the old link after reactivation: %d", st)
	}
	contains(t, "the sign-up result", signupWithForm(t, newLink, pw), "Your account is ready")
}
