package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestZenMLDashboardInBrowser loads the sample API's dashboard (a
// single-page app served from the upstream's origin, as ZenML 0.40 serves
// its own) through `gatehouse serve --preset zenml` in headless Chromium:
// without a token at a client-side route, logs in through its form (POST
// /api/v1/login, answered by Gatehouse), lists stacks with the token it got,
// and is refused a write as a guest, with Gatehouse's detail on the page.
func TestZenMLDashboardInBrowser(t *testing.T) {
	tab := newBrowser(t)
	s := testkit.StartZenML(t)
	const pw = "gus-password-1"
	s.Admin.OKStdin(pw+"\n", "user", "create", "gus", "--role", "guest", "--password-stdin")

	if err := chromedp.Do(tab,
		chromedp.Navigate(s.URL+"/workspaces/default/stacks"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
	); err != nil {
		t.Fatalf("opening the dashboard without a token: %v", err)
	}
	if got := runText(t, tab, "h1"); got != "Pipelines dashboard" {
		t.Errorf("heading %q", got)
	}

	// A wrong password: the page shows the login's detail.
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#username"), "gus"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#error:not(:empty)")),
	); err != nil {
		t.Fatalf("logging in with a wrong password: %v", err)
	}
	if got := runText(t, tab, "#error"); got != "invalid username or password" {
		t.Errorf("after a wrong password the page says %q", got)
	}

	// The right one, from the dashboard's start page: the app lists the
	// stacks with the token it got.
	if err := chromedp.Do(tab,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "gus"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#stacks li")),
	); err != nil {
		t.Fatalf("logging in: %v", err)
	}
	if got := runText(t, tab, "#who"); got != "Logged in as gus" {
		t.Errorf("the app says %q", got)
	}
	if got := runText(t, tab, "#stacks li"); got != "default" {
		t.Errorf("first stack %q, want default", got)
	}

	// A guest registers a stack: refused, and the page shows why.
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#stack"), "mine"),
		chromedp.Click(chromedp.CSS(`#register button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#error:not(:empty)")),
	); err != nil {
		t.Fatalf("registering a stack: %v", err)
	}
	if got := runText(t, tab, "#error"); got != "POST /api/v1/workspaces/default/stacks is not allowed for you" {
		t.Errorf("after a refused write the page says %q", got)
	}

	// What the upstream saw: the page and its assets without an identity,
	// the API calls as gus, never the login, a token or the refused write.
	anonymous := map[string]bool{}
	for _, r := range s.Up.All() {
		user := r.Header.Get("X-Forwarded-User")
		switch {
		case r.Path == "/api/v1/login", r.Method == "POST":
			t.Errorf("the upstream received %s %s", r.Method, r.Path)
		case r.Header.Get("Authorization") != "":
			t.Errorf("%s %s reached the upstream with a token", r.Method, r.Path)
		case user == "":
			anonymous[r.Path] = true
		case user != "gus":
			t.Errorf("%s %s reached the upstream as %q", r.Method, r.Path, user)
		}
	}
	for _, p := range []string{"/workspaces/default/stacks", "/", "/static/app.js", "/static/app.css"} {
		if !anonymous[p] {
			t.Errorf("%s was not loaded without a token (anonymous requests: %v)", p, anonymous)
		}
	}
	for p := range anonymous {
		if strings.HasPrefix(p, "/api/") {
			t.Errorf("%s reached the upstream without an identity", p)
		}
	}
}
