package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/internal/sampleapi"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/preset"
)

func (a *app) demoCmd() *cobra.Command {
	listen, opsListen, presetName := "127.0.0.1:8080", "127.0.0.1:9090", ""
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Gatehouse in front of a built-in sample pipeline API",
		Long: `Run the sidecar in front of a small built-in pipeline API (pipelines, runs,
stacks, users, current-user) on a temporary SQLite store. It creates an
admin and a guest user, prints their passwords, tokens and curl lines to try,
and removes the store when it stops (Ctrl-C). With --preset zenml it fronts
the sample API as it would a ZenML 0.40 server: its clients log in at
/api/v1/login, errors carry "detail", and the sample dashboard at / loads
without a token.`,
		Example: "  go run ./cmd/gatehouse demo\n  go run ./cmd/gatehouse demo --preset zenml\n  gatehouse demo --listen 127.0.0.1:18080 --ops-listen 127.0.0.1:19090",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDemo(cmd.Context(), listen, opsListen, presetName)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", listen, "address of the demo sidecar (port 0 picks a free one)")
	cmd.Flags().StringVar(&opsListen, "ops-listen", opsListen, "address of /healthz, /readyz and /metrics")
	cmd.Flags().StringVar(&presetName, "preset", presetName, "front the sample API as a known server: "+strings.Join(preset.Names(), ", "))
	return cmd
}

// demoStarting is the demo's first line, printed before any slow work:
// the first start hashes two passwords and creates a store, which takes
// seconds on a small machine.
const demoStarting = "Starting the Gatehouse demo: a temporary store, a sample pipeline API, users admin and guest..."

// demoShutdownGrace is how long the demo lets requests finish once it is
// told to stop: a streamed run log would otherwise hold Ctrl-C for the
// 20 s that serve allows, and a second Ctrl-C does nothing.
const demoShutdownGrace = time.Second

// runDemo runs the demo until ctx ends (Ctrl-C or SIGTERM: main cancels
// ctx), then removes its temporary store.
func (a *app) runDemo(ctx context.Context, listen, opsListen, presetName string) error {
	adminPW, guestPW := randomPassword(), randomPassword()
	o := defaultServeOptions()
	o.listen, o.opsListen, o.preset = listen, opsListen, presetName
	o.upstream = "http://127.0.0.1:1" // set below, once the sample API listens
	o.logLevel = "error"              // keep the terminal for the curl lines
	o.shutdownGrace = demoShutdownGrace
	// The demo reads no environment: its admin is its own, and the
	// collector is tuned whatever GOGC says.
	c, err := o.complete(func(string) string { return "" })
	if err != nil {
		return err
	}
	c.adminUsername, c.adminPassword = "admin", admin.Secret(adminPW)
	fmt.Fprintln(a.stdout, demoStarting)

	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return fmt.Errorf("demo: a temporary directory for the store: %w", err)
	}
	defer os.RemoveAll(dir)
	c.db = "sqlite:" + filepath.Join(dir, "gatehouse.db")

	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	up := &http.Server{Handler: sampleapi.New(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = up.Serve(upLn) }()
	defer up.Close()
	c.upstream = &url.URL{Scheme: "http", Host: upLn.Addr().String()}
	log, audit := newLogger(a.stderr, c.logLevel)
	s, err := newServer(ctx, c, log, audit)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "listen" {
			return fmt.Errorf("demo: %w (is something else on that port? try --listen 127.0.0.1:0 --ops-listen 127.0.0.1:0)", err)
		}
		return fmt.Errorf("demo: %w", err)
	}
	if _, err := s.svc.CreateUser(ctx, admin.CreateUser{Username: "guest", Password: guestPW, Roles: &[]string{policy.RoleGuest}, FullName: "Guest User"}); err != nil {
		return err
	}
	adminTok, err := s.svc.IssueToken(ctx, "admin")
	if err != nil {
		return err
	}
	guestTok, err := s.svc.IssueToken(ctx, "guest")
	if err != nil {
		return err
	}
	// The URLs printed are the server's own (as in invitation links), so
	// the login line below stores the login the other commands look up.
	d := demoInfo{url: s.publicURL, ops: defaultPublicURL(s.opsLn.Addr().String()),
		adminPW: adminPW, guestPW: guestPW, adminTok: adminTok.AccessToken, guestTok: guestTok.AccessToken}
	if presetName == "zenml" {
		printZenMLDemo(a.stdout, d)
	} else {
		printDemo(a.stdout, d)
	}
	if err := s.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// demoInfo is what the demo prints.
type demoInfo struct {
	url, ops           string // data plane and ops base URLs
	adminPW, guestPW   string
	adminTok, guestTok string
}

func printDemo(w io.Writer, d demoInfo) {
	fmt.Fprintf(w, `Gatehouse demo is running at %[1]s (metrics at %[2]s/metrics).
It protects a sample pipeline API; the store is temporary. Ctrl-C stops it.

  user   password                 role
  admin  %-24[3]s admin (read, write, me)
  guest  %-24[4]s guest (read, me)

Tokens, valid for one hour:

  export ADMIN=%[5]s
  export GUEST=%[6]s

Try it (each line says what Gatehouse answers):

  # anonymous: 401, nothing reaches the pipeline server
  curl -i %[1]s/api/v1/pipelines

  # the guest reads: 200
  curl -H "Authorization: Bearer $GUEST" %[1]s/api/v1/pipelines

  # the guest writes: 403, nothing is forwarded
  curl -i -X POST -H "Authorization: Bearer $GUEST" -d '{"name":"mine"}' %[1]s/api/v1/pipelines

  # the guest updates its own user (the me permission): 200
  curl -X PUT -H "Authorization: Bearer $GUEST" -d '{"full_name":"Gus Guest"}' %[1]s/api/v1/users/guest

  # ...but not someone else's: 403
  curl -i -X PUT -H "Authorization: Bearer $GUEST" -d '{"full_name":"x"}' %[1]s/api/v1/users/admin

  # the admin writes: 201
  curl -X POST -H "Authorization: Bearer $ADMIN" -d '{"name":"nightly"}' %[1]s/api/v1/pipelines

  # a streamed run log (server-sent events) passes through as it is written
  curl -N -H "Authorization: Bearer $GUEST" %[1]s/api/v1/runs/3/logs

  # log in with a password to get a token of your own
  curl -d username=guest -d password=%[4]s %[1]s/gatehouse/v1/login

  # make the guest an admin; the guest's existing token can write at once
  curl -X POST -H "Authorization: Bearer $ADMIN" -d '{"user":"guest","role":"admin"}' %[1]s/gatehouse/v1/role-assignments

Or use the CLI (login asks for the password above):

  gatehouse login --server %[1]s --username admin
  gatehouse whoami
  gatehouse user list

`, d.url, d.ops, d.adminPW, d.guestPW, d.adminTok, d.guestTok)
}

// printZenMLDemo prints the demo under --preset zenml: what ZenML's own
// clients do, by hand.
func printZenMLDemo(w io.Writer, d demoInfo) {
	fmt.Fprintf(w, `Gatehouse demo (preset zenml) is running at %[1]s (metrics at %[2]s/metrics).
It fronts a sample pipeline API as it would a ZenML 0.40 server; the store is
temporary. Ctrl-C stops it.

  user   password                 role
  admin  %-24[3]s admin (read, write, me)
  guest  %-24[4]s guest (read, me)

Open %[1]s/ in a browser: the sample dashboard loads without a token and logs
in at /api/v1/login, as ZenML's does. With a ZenML 0.40 client installed:

  zenml connect --url %[1]s --username guest --password %[4]s

Or by hand (each line says what Gatehouse answers):

  # log in as ZenML's clients do: Gatehouse answers, the server never sees it
  curl -d username=guest -d password=%[4]s %[1]s/api/v1/login

  export ADMIN=%[5]s
  export GUEST=%[6]s

  # the guest reads: 200
  curl -H "Authorization: Bearer $GUEST" %[1]s/api/v1/stacks

  # the guest registers a stack: 403, with the "detail" ZenML's client prints
  curl -i -X POST -H "Authorization: Bearer $GUEST" -d '{"name":"mine"}' %[1]s/api/v1/workspaces/default/stacks

  # the admin does: 201
  curl -X POST -H "Authorization: Bearer $ADMIN" -d '{"name":"nightly"}' %[1]s/api/v1/workspaces/default/stacks

  # anonymous API calls: 401, with "detail"
  curl -i %[1]s/api/v1/stacks

Or use Gatehouse's CLI (login asks for the password above):

  gatehouse login --server %[1]s --username admin
  gatehouse whoami
  gatehouse user list

`, d.url, d.ops, d.adminPW, d.guestPW, d.adminTok, d.guestTok)
}
