package admin

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// testClock is a settable clock for a Service (setClock).
type testClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newTestClock(s *Service) *testClock {
	c := &testClock{t: time.Now()}
	s.setClock(c.now)
	return c
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mustAccount creates a service account holding roles.
func mustAccount(t testing.TB, s *Service, name string, roles ...string) ServiceAccount {
	t.Helper()
	sa, err := s.CreateServiceAccount(context.Background(), CreateServiceAccount{Name: name, Roles: &roles})
	if err != nil {
		t.Fatalf("create service account %s: %v", name, err)
	}
	return sa
}

// mustKey creates an API key and returns it with the key itself.
func mustKey(t testing.TB, s *Service, account string, in CreateAPIKey) APIKey {
	t.Helper()
	k, err := s.CreateAPIKey(context.Background(), account, in)
	if err != nil {
		t.Fatalf("create key %s/%s: %v", account, in.Name, err)
	}
	if !KeyShaped(string(k.Key)) || !strings.HasPrefix(string(k.Key), k.Prefix) {
		t.Fatalf("key %q (prefix %q) is not key-shaped", k.Key, k.Prefix)
	}
	return k
}

// basic is the Basic credential of name and password, as sent.
func basic(name, password string) proxy.Credential {
	return proxy.Credential{Scheme: proxy.SchemeBasic, Value: base64.StdEncoding.EncodeToString([]byte(name + ":" + password))}
}

// allows reports whether the data plane lets cred make a request.
func allows(t *testing.T, s *Service, cred proxy.Credential, method, path string) bool {
	t.Helper()
	authn, authz := s.DataPlane()
	p, err := authn.Authenticate(cred)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if p == nil {
		return false
	}
	d, err := authz.Authorize(p, method, path)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return d.Allowed
}

func TestServiceAccountsConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := conformanceService(t, dsn)
		mustCreate(t, s, CreateUser{Username: "ada", Password: "ada-password"})
		ci := mustAccount(t, s, "ci", policy.RoleAdmin)
		if !ci.Active || strings.Join(ci.Roles, ",") != "admin" {
			t.Fatalf("created %+v", ci)
		}
		def, err := s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "nightly", Description: "the nightly job"})
		if err != nil || strings.Join(def.Roles, ",") != policy.RoleGuest || def.Description != "the nightly job" {
			t.Fatalf("created %+v, %v; want the default role and the description", def, err)
		}

		// One namespace with users; errors name the JSON fields.
		_, err = s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "ada"})
		wantIs(t, err, ErrConflict)
		_, err = s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "bad name"})
		wantField(t, err, "name")
		_, err = s.CreateServiceAccount(ctx, CreateServiceAccount{Name: "x", Roles: &[]string{"nope"}})
		wantField(t, err, "roles")

		// Users and service accounts are listed and found apart.
		users, _ := s.ListUsers(ctx)
		for _, u := range users {
			if u.Username == "ci" {
				t.Fatal("ListUsers lists the service account ci")
			}
		}
		_, err = s.GetUser(ctx, "ci")
		wantIs(t, err, ErrNotFound)
		wantIs(t, s.DeleteUser(ctx, "", "ci"), ErrNotFound)
		_, err = s.Invite(ctx, "ci")
		wantField(t, err, "kind")
		_, err = s.GetServiceAccount(ctx, "ada")
		wantIs(t, err, ErrNotFound)
		sas, err := s.ListServiceAccounts(ctx)
		if err != nil || len(sas) != 2 || sas[0].Name != "ci" || sas[1].Name != "nightly" {
			t.Fatalf("ListServiceAccounts = %+v, %v", sas, err)
		}
		// A service account has no password to log in with.
		_, err = s.Login(ctx, "ci", "", "client")
		wantIs(t, err, ErrUnauthenticated)

		// Keys: names unique per account, lifetimes and roles checked.
		mustKey(t, s, "ci", CreateAPIKey{Name: "deploy", ExpiresIn: "90d"})
		_, err = s.CreateAPIKey(ctx, "ci", CreateAPIKey{Name: "deploy"})
		wantIs(t, err, ErrConflict)
		mustKey(t, s, "nightly", CreateAPIKey{Name: "deploy"}) // another account's name space
		for _, bad := range []string{"-1h", "0s", "soon", "1x", "d", "99999999d"} {
			_, err = s.CreateAPIKey(ctx, "ci", CreateAPIKey{Name: "k", ExpiresIn: bad})
			wantField(t, err, "expires_in")
		}
		_, err = s.CreateAPIKey(ctx, "ci", CreateAPIKey{Name: "k", Roles: []string{policy.RoleGuest}})
		wantField(t, err, "roles") // ci holds admin, not guest
		_, err = s.CreateAPIKey(ctx, "ci", CreateAPIKey{Name: "bad name"})
		wantField(t, err, "name")
		_, err = s.CreateAPIKey(ctx, "nobody", CreateAPIKey{Name: "k"})
		wantIs(t, err, ErrNotFound)
		_, err = s.CreateAPIKey(ctx, "ada", CreateAPIKey{Name: "k"})
		wantIs(t, err, ErrNotFound) // a person has no keys

		k, err := s.GetAPIKey(ctx, "ci", "deploy")
		if err != nil || k.Key != "" || k.ExpiresAt == nil || time.Until(*k.ExpiresAt) < 89*24*time.Hour || len(k.Roles) != 0 {
			t.Fatalf("GetAPIKey = %+v, %v: want no secret, an expiry in 90 days, no narrowing", k, err)
		}
		_, err = s.GetAPIKey(ctx, "ci", "nope")
		wantIs(t, err, ErrNotFound)
		_, err = s.UpdateAPIKey(ctx, "ci", "deploy", UpdateAPIKey{Active: new(false)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateAPIKey(ctx, "ci", "deploy", UpdateAPIKey{Active: new(true)})
		wantField(t, err, "active")
		_, err = s.RotateAPIKey(ctx, "ci", "deploy", RotateAPIKey{Retain: "later"})
		wantField(t, err, "retain")
		_, err = s.RotateAPIKey(ctx, "ci", "deploy", RotateAPIKey{})
		wantIs(t, err, ErrConflict) // a deactivated key is not rotated

		// Renaming an account keeps its keys; deleting it deletes them.
		if _, err := s.UpdateServiceAccount(ctx, "nightly", UpdateServiceAccount{Name: new("nightly2")}); err != nil {
			t.Fatal(err)
		}
		if ks, err := s.ListAPIKeys(ctx, "nightly2"); err != nil || len(ks) != 1 {
			t.Fatalf("keys after the rename: %+v, %v", ks, err)
		}
		_, err = s.UpdateServiceAccount(ctx, "nightly2", UpdateServiceAccount{Name: new("ada")})
		wantIs(t, err, ErrConflict)
		if err := s.DeleteServiceAccount(ctx, "nightly2"); err != nil {
			t.Fatal(err)
		}
		wantIs(t, s.DeleteServiceAccount(ctx, "nightly2"), ErrNotFound)
	})
}

func TestAPIKeyCredentials(t *testing.T) {
	ctx := context.Background()
	s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
	mustAccount(t, s, "ci", policy.RoleAdmin)
	key := string(mustKey(t, s, "ci", CreateAPIKey{Name: "deploy"}).Key)
	const path = "/api/v1/pipelines"

	for _, c := range []struct {
		name string
		cred proxy.Credential
		want bool
	}{
		{"bearer", bearer(key), true},
		{"basic", basic("ci", key), true},
		{"basic, another name", basic("ada", key), false},
		{"basic, no name", basic("", key), false},
		{"basic, a person's password", basic("admin", testAdminPW), false},
		{"basic, not base64", proxy.Credential{Scheme: proxy.SchemeBasic, Value: "%%%"}, false},
		{"basic, no colon", proxy.Credential{Scheme: proxy.SchemeBasic, Value: base64.StdEncoding.EncodeToString([]byte(key))}, false},
		{"unknown key", bearer(KeyPrefix + strings.Repeat("A", 43)), false},
		{"malformed key", bearer(key[:KeyLen-1]), false},
		{"another scheme", proxy.Credential{}, false},
	} {
		if got := allows(t, s, c.cred, "POST", path); got != c.want {
			t.Errorf("%s: allowed = %v, want %v", c.name, got, c.want)
		}
	}

	// Unknown, malformed and revoked keys get one answer.
	_, errUnknown := s.auth.Authenticate(KeyPrefix + strings.Repeat("A", 43))
	_, errMalformed := s.auth.Authenticate(KeyPrefix + "x")
	if errUnknown == nil || errMalformed == nil || errUnknown.Error() != errMalformed.Error() {
		t.Errorf("unknown key: %v; malformed key: %v; want one answer", errUnknown, errMalformed)
	}

	// Traded at the login, with or without the account's name.
	for _, user := range []string{"", "ci"} {
		tok, err := s.Login(ctx, user, key, "client")
		if err != nil || tok.ExpiresIn <= 0 {
			t.Fatalf("trading the key as %q: %+v, %v", user, tok, err)
		}
		if !allows(t, s, bearer(tok.AccessToken), "POST", path) {
			t.Errorf("the token traded as %q is refused", user)
		}
	}
	_, err := s.Login(ctx, "admin", key, "client")
	wantIs(t, err, ErrUnauthenticated)
	_, err = s.LoginWithKey(ctx, "", "not-a-key", "client")
	wantIs(t, err, ErrUnauthenticated)
}

func TestAPIKeyNarrowed(t *testing.T) {
	s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
	mustAccount(t, s, "ci", policy.RoleAdmin, policy.RoleGuest)
	full := string(mustKey(t, s, "ci", CreateAPIKey{Name: "full"}).Key)
	narrow := mustKey(t, s, "ci", CreateAPIKey{Name: "read-only", Roles: []string{policy.RoleGuest}})
	if strings.Join(narrow.Roles, ",") != policy.RoleGuest {
		t.Fatalf("narrowed key roles %v", narrow.Roles)
	}
	nk := string(narrow.Key)
	tok, err := s.Login(context.Background(), "", nk, "client")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cred   proxy.Credential
		method string
		want   bool
	}{
		{bearer(full), "POST", true},
		{bearer(full), "GET", true},
		{bearer(nk), "GET", true},
		{bearer(nk), "POST", false},
		{basic("ci", nk), "POST", false},
		{bearer(tok.AccessToken), "POST", false},
		{bearer(tok.AccessToken), "GET", true},
	} {
		if got := allows(t, s, c.cred, c.method, "/api/v1/pipelines"); got != c.want {
			t.Errorf("%s with %.20s…: allowed = %v, want %v", c.method, c.cred.Value, got, c.want)
		}
	}
	id, err := s.auth.Authenticate(nk)
	if err != nil {
		t.Fatal(err)
	}
	if s.HasPermission(id, policy.PermWrite) || !s.HasPermission(id, policy.PermRead) {
		t.Error("the narrowed key reaches write on the admin API, or not read")
	}
	if g := id.IdentityHeaders().Groups; len(g) != 1 || g[0] != policy.RoleGuest {
		t.Errorf("X-Forwarded-Groups of the narrowed key = %q, want guest", g)
	}
	// When the account loses the key's role, the key loses it too: a key
	// never widens its account.
	writer := string(mustKey(t, s, "ci", CreateAPIKey{Name: "writer", Roles: []string{policy.RoleAdmin}}).Key)
	if !allows(t, s, bearer(writer), "POST", "/api/v1/pipelines") {
		t.Fatal("the key narrowed to admin cannot write")
	}
	if err := s.Revoke(context.Background(), "ci", policy.RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	if allows(t, s, bearer(writer), "POST", "/api/v1/pipelines") {
		t.Error("the key narrowed to admin still writes after its account lost admin")
	}
	wid, err := s.auth.Authenticate(writer)
	if err != nil {
		t.Fatal(err)
	}
	if g := wid.IdentityHeaders().Groups; g != nil {
		t.Errorf("X-Forwarded-Groups = %q after the account lost the key's role, want none", g)
	}
}

// TestAPIKeyRevocation: every way a key ends refuses the very next
// request, with the key itself and with a token traded for it.
func TestAPIKeyRevocation(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		end  func(s *Service, clock *testClock) error
	}{
		{"deactivate", func(s *Service, _ *testClock) error {
			_, err := s.UpdateAPIKey(ctx, "ci", "deploy", UpdateAPIKey{Active: new(false)})
			return err
		}},
		{"delete", func(s *Service, _ *testClock) error { return s.DeleteAPIKey(ctx, "ci", "deploy") }},
		{"expire", func(_ *Service, clock *testClock) error { clock.advance(2 * time.Hour); return nil }},
		{"deactivate the account", func(s *Service, _ *testClock) error {
			_, err := s.UpdateServiceAccount(ctx, "ci", UpdateServiceAccount{Active: new(false)})
			return err
		}},
		{"delete the account", func(s *Service, _ *testClock) error { return s.DeleteServiceAccount(ctx, "ci") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
			clock := newTestClock(s)
			mustAccount(t, s, "ci", policy.RoleGuest)
			key := string(mustKey(t, s, "ci", CreateAPIKey{Name: "deploy", ExpiresIn: "1h"}).Key)
			tok, err := s.Login(ctx, "ci", key, "client")
			if err != nil {
				t.Fatal(err)
			}
			if tok.ExpiresIn > 3600 {
				t.Errorf("the traded token lives %ds, longer than its key", tok.ExpiresIn)
			}
			creds := []proxy.Credential{bearer(key), basic("ci", key), bearer(tok.AccessToken)}
			for _, cred := range creds {
				if !allows(t, s, cred, "GET", "/api/v1/pipelines") {
					t.Fatalf("%.20s… refused before the key ended", cred.Value)
				}
			}
			if err := c.end(s, clock); err != nil {
				t.Fatal(err)
			}
			for _, cred := range creds {
				if allows(t, s, cred, "GET", "/api/v1/pipelines") {
					t.Errorf("%.20s… still allowed", cred.Value)
				}
			}
			if c.name == "deactivate the account" {
				// Reactivating the account brings no key back.
				if _, err := s.UpdateServiceAccount(ctx, "ci", UpdateServiceAccount{Active: new(true)}); err != nil {
					t.Fatal(err)
				}
				if allows(t, s, bearer(key), "GET", "/api/v1/pipelines") {
					t.Error("the key works again after the account was reactivated")
				}
			}
		})
	}
}

func TestAPIKeyRotateRetain(t *testing.T) {
	ctx := context.Background()
	s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
	clock := newTestClock(s)
	mustAccount(t, s, "ci", policy.RoleGuest)
	old := mustKey(t, s, "ci", CreateAPIKey{Name: "deploy", ExpiresIn: "30d"})
	rotated, err := s.RotateAPIKey(ctx, "ci", "deploy", RotateAPIKey{Retain: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Name != "deploy" || rotated.Key == "" || rotated.Key == old.Key || rotated.ExpiresAt == nil ||
		rotated.ExpiresAt.Sub(clock.now()) < 29*24*time.Hour {
		t.Fatalf("rotated %+v: want a new key named deploy with the same lifetime", rotated)
	}
	kept, err := s.GetAPIKey(ctx, "ci", old.ID)
	if err != nil || kept.Name != RetiredName("deploy", old.ID) || kept.RetainedUntil == nil {
		t.Fatalf("the old key: %+v, %v; want it renamed and retained", kept, err)
	}
	oldCred, newCred := bearer(string(old.Key)), bearer(string(rotated.Key))
	clock.advance(23 * time.Hour)
	if !allows(t, s, oldCred, "GET", "/x") || !allows(t, s, newCred, "GET", "/x") {
		t.Fatal("inside the retention window both keys must work")
	}
	clock.advance(2 * time.Hour)
	if allows(t, s, oldCred, "GET", "/x") {
		t.Error("the old key works after the retention window")
	}
	if !allows(t, s, newCred, "GET", "/x") {
		t.Error("the new key stopped working")
	}

	// Without a retention the old key ends at once.
	again, err := s.RotateAPIKey(ctx, "ci", "deploy", RotateAPIKey{})
	if err != nil {
		t.Fatal(err)
	}
	if allows(t, s, newCred, "GET", "/x") || !allows(t, s, bearer(string(again.Key)), "GET", "/x") {
		t.Error("rotating without a retention: the old key must end, the new one work")
	}
	_, err = s.GetAPIKey(ctx, "ci", rotated.ID)
	wantIs(t, err, ErrNotFound)
}

// TestKeyRefusalsAudited: a refused key-shaped credential leaves an audit
// line with its prefix, never the key.
func TestKeyRefusalsAudited(t *testing.T) {
	s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
	var logs testkit.LockedBuffer
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	mustAccount(t, s, "ci", policy.RoleGuest)
	k := mustKey(t, s, "ci", CreateAPIKey{Name: "deploy"})
	if err := s.DeleteAPIKey(context.Background(), "ci", "deploy"); err != nil {
		t.Fatal(err)
	}
	if allows(t, s, bearer(string(k.Key)), "GET", "/x") {
		t.Fatal("a deleted key works")
	}
	out := logs.String()
	if strings.Contains(out, string(k.Key)) || strings.Contains(out, string(k.Key)[:20]) {
		t.Fatalf("the log holds the key: %s", out)
	}
	for _, want := range []string{`"action":"api-key.create"`, `"action":"api-key.delete"`, `"msg":"API key refused"`, `"key_prefix":"` + k.Prefix + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in the audit lines:\n%s", want, out)
		}
	}
}

// TestAPIKeysReplicate: keys created on one replica work on another, and
// every way of ending one on the first refuses it on the second (through
// the change notifications, well within the time a client takes to send
// its next request).
func TestAPIKeysReplicate(t *testing.T) {
	dsn := postgresOnly(t)
	ctx := context.Background()
	rs := startReplicas(t, dsn, time.Minute, "A", "B")
	a, b := rs[0], rs[1]
	mustAccount(t, a.Service, "ci", policy.RoleGuest)
	newKeyOnB := func(name string) string {
		key := string(mustKey(t, a.Service, "ci", CreateAPIKey{Name: name}).Key)
		testkit.WaitFor(t, time.Second, "B accepts "+name, func() bool { return allows(t, b.Service, bearer(key), "GET", "/x") })
		return key
	}
	refusedOnB := func(what, key string) {
		took := testkit.WaitFor(t, time.Second, "B refuses the key after "+what, func() bool {
			return !allows(t, b.Service, bearer(key), "GET", "/x")
		})
		t.Logf("B refused the key %s after %s", what, took)
	}
	k := newKeyOnB("one")
	if _, err := a.UpdateAPIKey(ctx, "ci", "one", UpdateAPIKey{Active: new(false)}); err != nil {
		t.Fatal(err)
	}
	refusedOnB("deactivation", k)

	k = newKeyOnB("two")
	if err := a.DeleteAPIKey(ctx, "ci", "two"); err != nil {
		t.Fatal(err)
	}
	refusedOnB("deletion", k)

	k = newKeyOnB("three")
	retained, err := a.RotateAPIKey(ctx, "ci", "three", RotateAPIKey{})
	if err != nil {
		t.Fatal(err)
	}
	refusedOnB("rotation", k)
	testkit.WaitFor(t, time.Second, "B accepts the rotated key", func() bool {
		return allows(t, b.Service, bearer(string(retained.Key)), "GET", "/x")
	})

	k = newKeyOnB("four")
	if _, err := a.UpdateServiceAccount(ctx, "ci", UpdateServiceAccount{Active: new(false)}); err != nil {
		t.Fatal(err)
	}
	refusedOnB("the account's deactivation", k)
	if _, err := a.UpdateServiceAccount(ctx, "ci", UpdateServiceAccount{Active: new(true)}); err != nil {
		t.Fatal(err)
	}

	k = newKeyOnB("five")
	if err := a.DeleteServiceAccount(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	refusedOnB("the account's deletion", k)
}

// TestRereadSeveralRows: a change record naming several users or keys
// re-reads each of them, not only the first.
func TestRereadSeveralRows(t *testing.T) {
	s := conformanceService(t, "sqlite:"+t.TempDir()+"/g.db")
	a, b := mustAccount(t, s, "a", policy.RoleGuest), mustAccount(t, s, "b", policy.RoleGuest)
	var got []string
	users := s.db.Select(directoryColumns).Session(&gorm.Session{})
	err := reread(users, []string{a.ID, b.ID, "gone"}, func(u *store.User) { got = append(got, u.Username) },
		func(id string) { got = append(got, "-"+id) })
	if err != nil || strings.Join(got, ",") != "a,b,-gone" {
		t.Errorf("reread = %v, %v; want a, b and gone removed", got, err)
	}
}
