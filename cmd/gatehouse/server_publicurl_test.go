package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// TestInvitationURLUsesBoundPort: with --listen on port 0 and no
// --public-url, invitation links must name the port actually bound, not
// ":0", or every link printed by serve (and by demo) is dead.
func TestInvitationURLUsesBoundPort(t *testing.T) {
	o := defaultServeOptions()
	o.listen, o.opsListen = "127.0.0.1:0", "127.0.0.1:0"
	o.upstream = "http://127.0.0.1:9"
	o.db = "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	ctx, cancel := context.WithCancel(context.Background())
	log, audit := newLogger(io.Discard, slog.LevelInfo)
	s, err := newServer(ctx, testConfig(t, o, "admin-password-1"), log, audit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.run(ctx); err != nil {
			t.Error(err)
		}
	})
	u, err := s.svc.CreateUser(ctx, admin.CreateUser{Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	want := "http://" + s.dataLn.Addr().String() + admin.SignupPath + "?token="
	if !strings.HasPrefix(u.InvitationURL, want) {
		t.Errorf("invitation URL %q, want it to start with %q", u.InvitationURL, want)
	}
}

// testConfig completes o as serve does, in an environment that only sets
// the first admin's password.
func testConfig(t *testing.T, o *serveOptions, adminPassword string) *serveConfig {
	t.Helper()
	c, err := o.complete(func(k string) string {
		if k == "GATEHOUSE_ADMIN_PASSWORD" {
			return adminPassword
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDefaultPublicURL: without --public-url, the server's URL is its
// bound IP, and 127.0.0.1 for every interface, the form the demo prints
// and a pasted login stores; never a name the listener was not given.
func TestDefaultPublicURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"[::]:8080":      "http://127.0.0.1:8080", // --listen :8080, as bound
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		":8080":          "http://127.0.0.1:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"10.1.2.3:80":    "http://10.1.2.3:80",
	} {
		if got := defaultPublicURL(addr); got != want {
			t.Errorf("defaultPublicURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
