package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// keyCreds returns the ways a key is sent: as a Bearer token, as HTTP
// Basic, and as a token traded for it at the login.
func keyCreds(t *testing.T, base, sa, key string) map[string][]string {
	t.Helper()
	return map[string][]string{
		"Bearer": bearer(key),
		"Basic":  basic(sa, key),
		"traded": bearer(trade(t, base+"/gatehouse/v1/login", "application/json", `{"password":"`+key+`"}`)),
	}
}

// wantStatus fails unless every credential gets want for GET path.
func (k *keyServer) wantStatus(what string, creds map[string][]string, want int) {
	k.t.Helper()
	for how, hdr := range creds {
		if got := k.status("GET", "/api/v1/pipelines", hdr); got != want {
			k.t.Errorf("%s (%s): %d, want %d", what, how, got, want)
		}
	}
}

// TestAPIKeyRevocation: deactivating or deleting a key, its expiry, and
// deactivating or deleting its account each refuse the key, and the
// tokens traded for it, on the very next request.
func TestAPIKeyRevocation(t *testing.T) {
	k := startKeyServer(t)
	a := k.admin
	a.OK("service-account", "create", "ci-bot", "--role", "guest")
	a.OK("service-account", "create", "nightly", "--role", "guest")
	a.OK("service-account", "create", "temp", "--role", "guest")

	step := func(what, sa, key string, revoke ...string) {
		t.Helper()
		creds := keyCreds(t, k.URL, sa, key)
		k.wantStatus(what+", before", creds, 200)
		a.OK(revoke...)
		k.wantStatus(what+", the next request", creds, 401)
	}
	step("api-key deactivate", "ci-bot", newKey(t, a, "ci-bot", "one"), "service-account", "api-key", "deactivate", "ci-bot", "one")
	contains(t, "a deactivated key", a.OK("service-account", "api-key", "describe", "ci-bot", "one"), "deactivated")
	step("api-key delete", "ci-bot", newKey(t, a, "ci-bot", "two"), "service-account", "api-key", "delete", "ci-bot", "two")
	a.Fails(1, []string{"two"}, "service-account", "api-key", "describe", "ci-bot", "two")
	step("service-account update --active=false", "nightly", newKey(t, a, "nightly", "k"), "service-account", "update", "nightly", "--active=false")
	step("service-account delete", "temp", newKey(t, a, "temp", "k"), "service-account", "delete", "temp")

	// Expiry: a key made to last 2s works, then is refused.
	short := newKey(t, a, "ci-bot", "short", "--expires-in", "2s")
	creds := keyCreds(t, k.URL, "ci-bot", short)
	k.wantStatus("a key within its lifetime", creds, 200)
	for how, hdr := range creds {
		testkit.WaitFor(t, 5*time.Second, "the expired key ("+how+") refused", func() bool {
			return k.status("GET", "/api/v1/pipelines", hdr) == http.StatusUnauthorized
		})
	}
	// Refused means past expires_at: the list says so at once.
	if out := a.OK("service-account", "api-key", "list", "ci-bot"); !hasRow(out, "short", "expired") {
		t.Errorf("api-key list after the refusal does not show the key expired:\n%s", out)
	}
}

// TestAPIKeyRotateRetain: rotate --retain keeps the old key valid inside
// the window and not after; rotate without it ends the old key at once.
func TestAPIKeyRotateRetain(t *testing.T) {
	k := startKeyServer(t)
	a := k.admin
	a.OK("service-account", "create", "ci-bot", "--role", "guest")
	old := newKey(t, a, "ci-bot", "deploy")
	rotated := time.Now()
	fresh := secretFrom(t, a, "service-account", "api-key", "rotate", "ci-bot", "deploy", "--retain", "3s")
	if fresh == old {
		t.Fatal("rotate printed the old key")
	}
	k.wantStatus("the new key", keyCreds(t, k.URL, "ci-bot", fresh), 200)
	oldCreds := keyCreds(t, k.URL, "ci-bot", old)
	k.wantStatus("the old key inside --retain", oldCreds, 200)
	contains(t, "api-key list after rotate --retain", a.OK("service-account", "api-key", "list", "ci-bot"), "deploy~", "retired", "deploy ")
	for how, hdr := range oldCreds {
		testkit.WaitFor(t, 8*time.Second, "the old key ("+how+") refused after --retain", func() bool {
			return k.status("GET", "/api/v1/pipelines", hdr) == http.StatusUnauthorized
		})
	}
	// The window starts when the server rotates, after rotated: the old
	// key must not end sooner than 3s after it.
	if took := time.Since(rotated); took < 3*time.Second {
		t.Errorf("the old key was refused %s after the rotation, well inside --retain 3s", took)
	}
	k.wantStatus("the new key after the window", keyCreds(t, k.URL, "ci-bot", fresh), 200)

	newest := secretFrom(t, a, "service-account", "api-key", "rotate", "ci-bot", "deploy")
	k.wantStatus("the rotated key without --retain", map[string][]string{"Bearer": bearer(fresh)}, 401)
	k.wantStatus("the newest key", map[string][]string{"Bearer": bearer(newest)}, 200)
}

// TestAPIKeyBadInput: what the CLI says for a bad lifetime, a duplicate
// name, a role the account lacks; nothing is printed on stdout then.
func TestAPIKeyBadInput(t *testing.T) {
	k := startKeyServer(t)
	a := k.admin
	a.OK("service-account", "create", "viewer", "--role", "guest")
	newKey(t, a, "viewer", "deploy")
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"viewer", "k", "--expires-in", "-1h"}, []string{"--expires-in"}},
		{[]string{"viewer", "k", "--expires-in", "soon"}, []string{"--expires-in"}},
		{[]string{"viewer", "k", "--expires-in", "0s"}, []string{"--expires-in"}},
		{[]string{"viewer", "deploy"}, []string{"deploy"}},
		{[]string{"viewer", "k", "--role", "admin"}, []string{"--role", "admin"}},
		{[]string{"nosuch", "k"}, []string{"nosuch"}},
	} {
		r := a.Fails(1, tt.want, append([]string{"service-account", "api-key", "create"}, tt.args...)...)
		if r.Stdout != "" {
			t.Errorf("%v printed on stdout: %q", tt.args, r.Stdout)
		}
	}
	a.Fails(1, []string{"--retain"}, "service-account", "api-key", "rotate", "viewer", "deploy", "--retain", "soon")
	// A duplicate name is a conflict; a name a user holds is taken too.
	tok := login(t, k.URL, "admin", saAdminPW)
	if st, body, _ := do(t, "POST", k.URL+"/gatehouse/v1/service-accounts/viewer/api-keys", tok, `{"name":"deploy"}`); st != http.StatusConflict {
		t.Errorf("a duplicate key name: %d %s, want 409", st, body)
	}
	a.Fails(1, []string{"admin"}, "service-account", "create", "admin")
	// A service account has no password: it cannot log in with one.
	st, _, _ := doRaw(t, "POST", k.URL+"/gatehouse/v1/login", `{"username":"viewer","password":"anything-at-all"}`, "Content-Type", "application/json")
	if st != http.StatusUnauthorized {
		t.Errorf("a password login as a service account: %d, want 401", st)
	}
	// Usage mistakes are exit 2.
	for _, args := range [][]string{
		{"service-account", "api-key", "create", "viewer"},
		{"service-account", "update", "viewer"},
		{"service-account", "api-key", "lst", "viewer"},
	} {
		a.Fails(2, nil, args...)
	}
}

// TestAPIKeyZenMLClientLogin: under --preset zenml, a client configured
// with ZENML_STORE_API_KEY trades the key at /api/v1/login with the form
// ZenML's RestZenStore sends (grant_type=zenml-api-key, the key as the
// password, no username) and works with the token; deactivating the key
// ends that token's next request.
func TestAPIKeyZenMLClientLogin(t *testing.T) {
	s := testkit.StartZenML(t)
	s.Admin.OK("service-account", "create", "ci-bot", "--role", "admin")
	key := newKey(t, s.Admin, "ci-bot", "zenml")
	z := newZenMLClient(t, s.URL, "", "")
	z.apiKey = key
	if _, err := z.get("/info", ""); err != nil {
		t.Fatalf("GET /info: %v", err)
	}
	wantLog(t, z.log, "POST /api/v1/login 200 conn=1 source=false", "GET /api/v1/info 200 conn=2 source=true")
	if _, err := z.get("/stacks", "page=1&size=50"); err != nil {
		t.Fatalf("listing stacks: %v", err)
	}
	// The form with a username, as a password login sends it.
	trade(t, s.URL+"/api/v1/login", "application/x-www-form-urlencoded", "username=ci-bot&password="+key)

	s.Admin.OK("service-account", "api-key", "deactivate", "ci-bot", "zenml")
	if _, err := z.get("/stacks", "page=1&size=50"); err == nil || !strings.Contains(err.Error(), "AuthorizationException") {
		t.Fatalf("after deactivate: %v, want AuthorizationException", err)
	}
}

// TestAPIKeyRevocationAcrossReplicas: two `serve` processes on one
// PostgreSQL schema; a key made through one works on the other, and
// deactivating, deleting, expiring it or deactivating its account through
// one is refused by the other.
func TestAPIKeyRevocationAcrossReplicas(t *testing.T) {
	pg, ok := storetest.Postgres(t)
	if !ok {
		t.Skipf("needs PostgreSQL: set %s", storetest.PostgresEnv)
	}
	up := testkit.NewUpstream(t)
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=" + saAdminPW}
	a := testkit.StartServe(t, env, "--upstream", up.URL, "--db", pg.DSN)
	b := testkit.StartServe(t, env, "--upstream", up.URL, "--db", pg.DSN)
	admin := testkit.NewCLI(t)
	admin.Login(a.URL, "admin", saAdminPW)
	admin.OK("service-account", "create", "ci-bot", "--role", "guest")
	admin.OK("service-account", "create", "nightly", "--role", "guest")
	onB := &keyServer{t: t, URL: b.URL, proc: b, up: up}

	refusedOnB := func(what string, creds map[string][]string) {
		t.Helper()
		for how, hdr := range creds {
			took := testkit.WaitFor(t, 3*time.Second, what+" ("+how+") refused on B", func() bool {
				return onB.status("GET", "/api/v1/pipelines", hdr) == http.StatusUnauthorized
			})
			t.Logf("B refused %s (%s) after %s", what, how, took)
		}
	}
	usable := func(sa, key string) map[string][]string {
		t.Helper()
		testkit.WaitFor(t, 2*time.Second, "B knows the key", func() bool { return onB.status("GET", "/api/v1/pipelines", bearer(key)) == 200 })
		creds := keyCreds(t, b.URL, sa, key)
		onB.wantStatus("on B", creds, 200)
		return creds
	}

	creds := usable("ci-bot", newKey(t, admin, "ci-bot", "one"))
	admin.OK("service-account", "api-key", "deactivate", "ci-bot", "one")
	refusedOnB("a deactivated key", creds)

	creds = usable("ci-bot", newKey(t, admin, "ci-bot", "two"))
	admin.OK("service-account", "api-key", "delete", "ci-bot", "two")
	refusedOnB("a deleted key", creds)

	creds = usable("ci-bot", newKey(t, admin, "ci-bot", "short", "--expires-in", "2s"))
	refusedOnB("an expired key", creds)

	creds = usable("nightly", newKey(t, admin, "nightly", "k"))
	admin.OK("service-account", "update", "nightly", "--active=false")
	refusedOnB("a deactivated account's key", creds)

	admin.OK("service-account", "update", "nightly", "--active=true")
	creds = usable("nightly", newKey(t, admin, "nightly", "k2"))
	admin.OK("service-account", "delete", "nightly")
	refusedOnB("a deleted account's key", creds)
}
