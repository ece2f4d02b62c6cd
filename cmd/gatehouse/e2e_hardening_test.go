package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// The tests of this file replay attacks an outside review ran against the
// built binary, each of which once got through, and check that each is
// refused now.

// TestDeactivatedInviteeCannotSignUp: `user create bob` (an invitation),
// then `user update bob --active=false`. The update used to answer 200 and
// change nothing, and the sign-up link then created an active account.
func TestDeactivatedInviteeCannotSignUp(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	link := testkit.InvitationURL(t, admin.OK("user", "create", "bob"))
	contains(t, "user update --active=false", admin.OK("user", "update", "bob", "--active=false"), "State:", "deactivated")
	contains(t, "user describe", admin.OK("user", "describe", "bob"), "deactivated (cannot log in or sign up")

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
	bob := testkit.NewCLI(t)
	r := bob.RunEnv(nil, pw+"\n", "login", "--server", srv.URL, "--username", "bob", "--password-stdin")
	if r.Code != 1 {
		t.Errorf("bob logged in: %v", r)
	}
	u := decodeJSON[struct {
		Active bool
		State  string
	}](t, admin.OK("user", "describe", "bob", "-o", "json"))
	if u.Active || u.State != "deactivated" {
		t.Errorf("bob is %+v after the attempts", u)
	}

	// Reactivated, bob is invited again: a new link works, the old one not.
	contains(t, "user update --active=true", admin.OK("user", "update", "bob", "--active=true"), "invited (has not signed up yet")
	newLink := testkit.InvitationURL(t, admin.OK("user", "invite", "bob"))
	if st, _, _ := do(t, "POST", srv.URL+"/gatehouse/v1/signup", "", body); st != http.StatusBadRequest {
		t.Errorf("the old link after reactivation: %d", st)
	}
	contains(t, "the sign-up result", signupWithForm(t, newLink, pw), "Your account is ready")
}

// TestGuestCannotChooseItsIdentity replays how a guest with the me
// permission alone picked the identity the upstream sees: the admin's email,
// the admin's name in another case, the admin's name once he had renamed
// himself (then PUT /api/v1/users/admin passed the me rule), and a deleted
// user's name.
func TestGuestCannotChooseItsIdentity(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	admin.OK("user", "update", "admin", "--email", "admin@example.com")
	admin.OKStdin("gus-password-1\n", "user", "create", "gus", "--password-stdin")
	gus := login(t, srv.URL, "gus", "gus-password-1")
	me := srv.URL + "/gatehouse/v1/me"

	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"email":"admin@example.com"}`, http.StatusConflict},
		{`{"email":"Admin@Example.COM"}`, http.StatusConflict},
		{`{"username":"Admin"}`, http.StatusForbidden},
		{`{"username":"gus2"}`, http.StatusForbidden}, // renaming yourself needs write
	} {
		if st, out, _ := do(t, "PATCH", me, gus, c.body); st != c.status {
			t.Errorf("PATCH /me %s: %d %s, want %d", c.body, st, out, c.status)
		}
	}

	// Each refusal is in the audit log, with who tried.
	contains(t, "the audit log", srv.Proc.Logs(), `"audit":"refused"`, `"actor":"gus"`, `"path":"/gatehouse/v1/me"`, `"status":409`, `"status":403`)

	// The admin renames himself; his old name stays his.
	admin.OK("user", "update", "admin", "--username", "boss")
	if st, out, _ := do(t, "PATCH", me, gus, `{"username":"admin"}`); st != http.StatusForbidden {
		t.Errorf("the guest taking the admin's old name: %d %s", st, out)
	}
	admin.Fails(1, []string{`the name "admin" was given up by another user`, "reserved until"}, "user", "update", "gus", "--username", "admin")
	before := srv.Up.Count()
	if st, _, _ := do(t, "PUT", srv.URL+"/api/v1/users/admin", gus, `{"full_name":"x"}`); st != http.StatusForbidden {
		t.Errorf("PUT /api/v1/users/admin as the guest: %d", st)
	}
	if srv.Up.Count() != before {
		t.Error("the guest's PUT /api/v1/users/admin reached the upstream")
	}

	// A deleted user's name is reserved too, unless reused on purpose.
	admin.OKStdin("dora-password-1\n", "user", "create", "dora", "--password-stdin")
	admin.OK("user", "delete", "dora")
	admin.Fails(1, []string{"reserved until"}, "user", "create", "dora")
	contains(t, "user create --reuse-name", admin.OK("user", "create", "dora", "--reuse-name"), "Created user dora")

	// What the guest may do with me: its email, marked unverified.
	st, out, _ := do(t, "PATCH", me, gus, `{"email":"gus@example.com"}`)
	u := decodeJSON[struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}](t, out)
	if st != http.StatusOK || u.Email != "gus@example.com" || u.EmailVerified {
		t.Errorf("the guest setting its own email: %d %s", st, out)
	}
	// ...and the upstream is told so, whatever the client claims.
	seenBy := func() (string, string) {
		t.Helper()
		if st, out, _ := do(t, "GET", srv.URL+"/api/v1/pipelines", gus, "", "X-Forwarded-Email-Verified", "true"); st != http.StatusOK {
			t.Fatalf("GET as the guest: %d %s", st, out)
		}
		h := srv.Up.Last().Header
		return h.Get("X-Forwarded-Email"), strings.Join(h.Values("X-Forwarded-Email-Verified"), ",")
	}
	if email, verified := seenBy(); email != "gus@example.com" || verified != "false" {
		t.Errorf("the upstream saw email %q verified %q; want gus@example.com, false", email, verified)
	}
	admin.OK("user", "update", "gus", "--email", "gus@example.org")
	if email, verified := seenBy(); email != "gus@example.org" || verified != "true" {
		t.Errorf("after the admin set it, the upstream saw email %q verified %q", email, verified)
	}
}

// TestSuccessfulLoginsCannotStarveOthers replays a guest looping successful
// logins: they used to be unlimited, and their password checks kept every
// hashing slot busy. Now the loop is refused with 429 after 20 in a minute
// (before any hashing), and the admin still logs in.
func TestSuccessfulLoginsCannotStarveOthers(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	admin.OKStdin("gus-password-1\n", "user", "create", "gus", "--password-stdin")
	form := "username=gus&password=gus-password-1"
	ok := 0
	for ; ok < 40; ok++ {
		st, body, h := doRaw(t, "POST", srv.URL+"/gatehouse/v1/login", form, "Content-Type", "application/x-www-form-urlencoded")
		if st == http.StatusTooManyRequests {
			if h.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %s", body)
			}
			break
		}
		if st != http.StatusOK {
			t.Fatalf("login %d: %d %s", ok+1, st, body)
		}
	}
	if ok != 20 {
		t.Errorf("%d successful logins before the limit; want 20", ok)
	}
	login(t, srv.URL, "admin", "admin-password-1")
}

// TestTrickledBodiesDoNotHoldConnections replays unauthenticated
// connections trickling a declared 100 kB body to /gatehouse/v1/login, one
// byte every 4 s: they all used to stay open. Now a client's connections
// past --max-conns-per-client are answered 429 at once, and the others are
// cut off with 408 once the API's body timeout (10 s) passes.
func TestTrickledBodiesDoNotHoldConnections(t *testing.T) {
	up := testkit.NewUpstream(t)
	p := testkit.StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1"}, "--upstream", up.URL,
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "g.db"), "--max-conns-per-client", "20")
	host := strings.TrimPrefix(p.URL, "http://")
	type answer struct {
		status int
		after  time.Duration
	}
	answers := make(chan answer, 25)
	start := time.Now()
	for i := 0; i < 25; i++ {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			fmt.Fprintf(c, "POST /gatehouse/v1/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", host)
			go func() { // one byte every 4 s, until the connection goes
				for range time.Tick(4 * time.Second) {
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answers <- answer{0, time.Since(start)}
				return
			}
			answers <- answer{res.StatusCode, time.Since(start)}
		}()
	}
	counts := map[int]int{}
	for i := 0; i < 25; i++ {
		a := <-answers
		counts[a.status]++
		if a.after > 20*time.Second {
			t.Errorf("a trickling connection was answered after %s", a.after)
		}
	}
	if counts[http.StatusTooManyRequests] != 5 || counts[http.StatusRequestTimeout] != 20 {
		t.Errorf("answers by status: %v; want 5 × 429 and 20 × 408", counts)
	}
	// The server is still there for everyone.
	login(t, p.URL, "admin", "admin-password-1")
}

// TestStoreFilesArePrivate: the SQLite store (signing keys, password
// hashes) used to be created -rw-r--r--. serve creates it -rw------- and
// warns at start when an existing one is readable by others.
func TestStoreFilesArePrivate(t *testing.T) {
	up := testkit.NewUpstream(t)
	path := filepath.Join(t.TempDir(), "g.db")
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1"}
	p := testkit.StartServe(t, env, "--upstream", up.URL, "--db", "sqlite:"+path)
	login(t, p.URL, "admin", "admin-password-1")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("a new store: %v %v, want -rw-------", st.Mode().Perm(), err)
	}
	if _, err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	p = testkit.StartServe(t, env, "--upstream", up.URL, "--db", "sqlite:"+path)
	contains(t, "the start log", p.Logs(), "other users of this machine can read it", path)
}

// TestWeakPasswordsAreRefused replays the passwords an outside review set
// without complaint: password, 12345678, aaaaaaaa and change-me, for a new
// user, at sign-up, and as the first admin's password from the
// environment, which now stops the start with a clear error.
func TestWeakPasswordsAreRefused(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	admin := testkit.NewCLI(t)
	admin.Login(srv.URL, "admin", "admin-password-1")
	link := testkit.InvitationURL(t, admin.OK("user", "create", "ivy"))
	token := mustQuery(t, link, "token")
	for _, pw := range []string{"password", "12345678", "aaaaaaaa", "change-me", "aaaaaaaaaaaa", "123456789012", "Password2024!"} {
		r := admin.RunEnv(nil, pw+"\n", "user", "create", "weak", "--password-stdin")
		if r.Code != 1 || !strings.Contains(r.Stderr, "password:") {
			t.Errorf("user create with %q: %v", pw, r)
		}
		body := `{"token":"` + token + `","password":"` + pw + `"}`
		if st, out, _ := do(t, "POST", srv.URL+"/gatehouse/v1/signup", "", body); st != http.StatusBadRequest || !strings.Contains(out, `"password: `) {
			t.Errorf("sign-up with %q: %d %s", pw, st, out)
		}
	}
	admin.Fails(1, []string{`user "weak" not found`}, "user", "describe", "weak")

	// The first admin's password from the environment is checked too.
	c := testkit.NewCLI(t)
	r := c.RunEnv([]string{"GATEHOUSE_ADMIN_PASSWORD=change-me"}, "", "serve", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
		"--upstream", "http://127.0.0.1:1", "--db", "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "GATEHOUSE_ADMIN_PASSWORD must be at least 12 characters") {
		t.Errorf("serve with a weak GATEHOUSE_ADMIN_PASSWORD: %v", r)
	}
}

// TestAdminInputIsReadOneWay replays the admin-surface inputs an outside
// review found read loosely: JSON keys in another case or repeated (one
// meaning to Gatehouse, another to a stricter reader), names carrying
// control or bidirectional characters, and forms over 1 MiB, which were
// 400 instead of 413.
func TestAdminInputIsReadOneWay(t *testing.T) {
	srv := testkit.StartGatehouse(t, "admin-password-1")
	tok := login(t, srv.URL, "admin", "admin-password-1")
	users := srv.URL + "/gatehouse/v1/users"
	for _, c := range []struct{ body, want string }{
		{`{"UserName":"mallory"}`, "UserName: unknown field"},
		{`{"username":"mallory","username":"admin2"}`, "username: appears more than once"},
		{`{"username":"mallory","full_name":"Ann \u202egnp.exe"}`, "full_name:"},
		{`{"username":"mallory","full_name":"\u001b]0;owned\u0007"}`, "full_name:"},
	} {
		if st, out, _ := do(t, "POST", users, tok, c.body); st != http.StatusBadRequest || !strings.Contains(out, c.want) {
			t.Errorf("POST /users %s: %d %s, want 400 naming %q", c.body, st, out, c.want)
		}
	}
	big := strings.Repeat("a", 1<<20)
	for _, path := range []string{"/gatehouse/v1/login", "/gatehouse/signup"} {
		st, out, _ := doRaw(t, "POST", srv.URL+path, "username=admin&token=x&password="+big, "Content-Type", "application/x-www-form-urlencoded")
		if st != http.StatusRequestEntityTooLarge {
			t.Errorf("a form over 1 MiB to %s: %d %.200s", path, st, out)
		}
	}
	if st, _, _ := do(t, "GET", users+"/mallory", tok, ""); st != http.StatusNotFound {
		t.Errorf("a refused create left mallory behind: %d", st)
	}
}

// TestServeRefusesMalformedRuleRow: a casbin_rule row with too few values
// (written by another tool) used to crash the start with "index out of
// range"; serve now exits 1 naming the row.
func TestServeRefusesMalformedRuleRow(t *testing.T) {
	up := testkit.NewUpstream(t)
	path := filepath.Join(t.TempDir(), "g.db")
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=admin-password-1"}
	p := testkit.StartServe(t, env, "--upstream", up.URL, "--db", "sqlite:"+path)
	login(t, p.URL, "admin", "admin-password-1")
	if _, err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("INSERT INTO casbin_rule (ptype, v0, v1) VALUES ('p', 'read', '/short')").Error; err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.Table("casbin_rule").Select("id").Where("v1 = ?", "/short").Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("row id %d: %v", id, err)
	}
	if sql, err := db.DB(); err == nil {
		sql.Close()
	}
	r := testkit.NewCLI(t).RunEnv(env, "", "serve", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
		"--upstream", up.URL, "--db", "sqlite:"+path)
	want := fmt.Sprintf("database (casbin_rule row id %d): p, read, /short: p line has 2 values", id)
	if r.Code != 1 || !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, "panic") {
		t.Errorf("serve with a malformed row: %v\nwant exit 1 and %q", r, want)
	}
}
