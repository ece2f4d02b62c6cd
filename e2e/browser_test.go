package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// chromiumPath finds a Chromium or Chrome binary, or "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and returns a
// tab's context. Its output goes to the test log on failure.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("browser test skipped: no chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install -y chromium)")
	}
	out := &testkit.LockedBuffer{}                          // Chromium's own goroutines write it
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no first run, no background networking, no sync
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests may run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out)
		}
	})
	return tab
}

// TestSignupPageInBrowser opens an invitation link in headless Chromium,
// types a password twice (first mismatched, then matching), submits the
// form, sees the success page, and logs in with the new password.
func TestSignupPageInBrowser(t *testing.T) {
	tab := newBrowser(t)
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	link := testkit.InvitationURL(t, admin.OK("user", "create", "erin", "--email", "erin@example.com"))
	const pw = "erin-password-1"

	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#password"))); err != nil {
		t.Fatalf("opening the invitation: %v", err)
	}
	heading := runText(t, tab, "h1")
	if heading != "Sign up as erin" {
		t.Errorf("heading %q, want %q", heading, "Sign up as erin")
	}
	// Each password field has a visible label (accessibility).
	for sel, want := range map[string]string{`label[for="password"]`: "New password", `label[for="confirm"]`: "Repeat the password"} {
		if got := runText(t, tab, sel); got != want {
			t.Errorf("%s reads %q, want %q", sel, got, want)
		}
	}

	// Two different passwords: the page says so and nothing changes.
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "something-else"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	); err != nil {
		t.Fatalf("submitting two different passwords: %v", err)
	}
	if got := runText(t, tab, "#form-error"); got != "The two passwords differ." {
		t.Errorf("error %q, want %q", got, "The two passwords differ.")
	}

	// The same password twice: the account is ready.
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.SendKeys(chromedp.CSS("#confirm"), pw),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("p.ok")),
	); err != nil {
		t.Fatalf("submitting the password: %v", err)
	}
	if got := runText(t, tab, "p.ok"); got != "You can now log in as erin." {
		t.Errorf("success message %q", got)
	}

	// Log in with the new password (through the API, as the CLI does) and
	// read the account back.
	erin := testkit.NewCLI(t)
	erin.Login(srv.URL, "erin", pw)
	var me struct {
		Username, Email string
		Active          bool
	}
	if out := erin.OK("me", "describe", "-o", "json"); json.Unmarshal([]byte(out), &me) != nil {
		t.Fatalf("me describe -o json as erin:\n%s", out)
	}
	if me.Username != "erin" || !me.Active || me.Email != "erin@example.com" {
		t.Errorf("GET /me as erin: %+v", me)
	}
	if strings.Contains(srv.Proc.Logs(), pw) {
		t.Error("the server log holds erin's password")
	}
}

// runText returns the trimmed text of the first element matching a CSS
// selector.
func runText(t *testing.T, tab context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("reading %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}
