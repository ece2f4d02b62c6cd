package main

import (
	"encoding/base64"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

const streamsAdminPW = "streams-admin-password-1"

// streamsSetup is what the stream scenarios run against: where changes
// are made (the admin CLI's server), where the connections are open, and
// where short-lived tokens come from (a server with --token-ttl 2s).
type streamsSetup struct {
	admin    *testkit.CLI
	change   string // the admin CLI's server
	open     string // the server the connections are open on
	shortTTL string // a server whose tokens live 2s
}

// streamsConns is one user's WebSocket and event stream.
type streamsConns struct {
	ws  *testkit.WebSocket
	sse *testkit.EventStream
}

// openConns opens a WebSocket and an event stream on base with token and
// waits for the first frame and event of each.
func openConns(t *testing.T, base, token string) streamsConns {
	t.Helper()
	auth := "Authorization: Bearer " + token
	// Another replica learns of a new user or key through PostgreSQL.
	testkit.WaitFor(t, 3*time.Second, "the credential accepted on "+base, func() bool {
		ws, _, err := testkit.TryWebSocket(strings.TrimPrefix(base, "http://"), "/api/v1/ws", auth)
		if ws != nil {
			ws.Close()
		}
		return err == nil && ws != nil
	})
	c := streamsConns{
		ws:  testkit.DialWebSocket(t, strings.TrimPrefix(base, "http://"), "/api/v1/ws", auth),
		sse: testkit.OpenStream(t, base+"/api/v1/events", auth),
	}
	if f, err := c.ws.ReadFrame(2 * time.Second); err != nil || string(f.Payload) != "tick" {
		t.Fatalf("first WebSocket frame %q, %v; want tick", f.Payload, err)
	}
	if !c.sse.WaitLine(2 * time.Second) {
		t.Fatal("no first event")
	}
	return c
}

// wantClosed waits for both connections to end after since and asserts
// how and how fast: a close frame 1008 with reason, a clean end of the
// stream, each within a second.
func (c streamsConns) wantClosed(t *testing.T, what string, since time.Time, reason string) {
	t.Helper()
	got, err := c.ws.WaitClose(3 * time.Second)
	if err != nil {
		t.Fatalf("%s: the WebSocket is still open: %v", what, err)
	}
	wsLate := got.At.Sub(since)
	if got.Code != 1008 || got.Reason != reason || !got.EOF {
		t.Errorf("%s: the WebSocket ended with %+v, want 1008 %q and the end of the connection", what, got, reason)
	}
	at, ended, err := c.sse.WaitEndAt(3 * time.Second)
	if !ended {
		t.Fatalf("%s: the event stream is still open", what)
	}
	if err != nil {
		t.Errorf("%s: the event stream was aborted (%v), want a clean end", what, err)
	}
	sseLate := at.Sub(since)
	t.Logf("%s: WebSocket closed after %v, event stream ended after %v", what, wsLate.Round(time.Millisecond), sseLate.Round(time.Millisecond))
	if wsLate < 0 || sseLate < 0 || wsLate >= time.Second || sseLate >= time.Second {
		t.Errorf("%s: closed after %v and %v, want within a second", what, wsLate, sseLate)
	}
}

// wantOpen asserts both connections still deliver.
func (c streamsConns) wantOpen(t *testing.T, what string) {
	t.Helper()
	if _, err := c.ws.ReadFrame(time.Second); err != nil {
		t.Errorf("%s: the WebSocket was touched: %v", what, err)
	}
	if !c.sse.WaitLine(time.Second) {
		t.Errorf("%s: the event stream was touched", what)
	}
}

// runStreamScenarios ends a user's connections by deactivation, by a
// revoked role and by token expiry, a service account's by its API key's
// deactivation, and checks a bystander's stay open;
// it returns the bystander's, still open.
func runStreamScenarios(t *testing.T, s streamsSetup) streamsConns {
	const pw = "stream-user-password-1"
	for _, u := range []string{"bystander", "deact", "revoked", "expiring"} {
		s.admin.OKStdin(pw+"\n", "user", "create", u, "--role", "guest", "--password-stdin")
	}
	bystander := openConns(t, s.open, login(t, s.change, "bystander", pw))

	c := openConns(t, s.open, login(t, s.change, "deact", pw))
	since := time.Now()
	s.admin.OK("user", "update", "deact", "--active=false")
	c.wantClosed(t, "deactivation", since, "access revoked")

	c = openConns(t, s.open, login(t, s.change, "revoked", pw))
	since = time.Now()
	s.admin.OK("role", "revoke", "guest", "--user", "revoked")
	c.wantClosed(t, "role revoked", since, "access revoked")

	s.admin.OK("service-account", "create", "ci-bot", "--role", "guest")
	c = openConns(t, s.open, newKey(t, s.admin, "ci-bot", "stream"))
	since = time.Now()
	s.admin.OK("service-account", "api-key", "deactivate", "ci-bot", "stream")
	c.wantClosed(t, "API key deactivated", since, "access revoked")

	tok := login(t, s.shortTTL, "expiring", pw)
	c = openConns(t, s.open, tok)
	c.wantClosed(t, "token expiry", tokenExp(t, tok), "token expired")

	bystander.wantOpen(t, "bystander")
	return bystander
}

// auditedClosure reports whether logs hold a stream_closed audit line
// with cause.
func auditedClosure(logs, cause string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"audit":"stream_closed"`) && strings.Contains(line, `"cause":"`+cause+`"`) {
			return true
		}
	}
	return false
}

// tokenExp reads a token's exp claim.
func tokenExp(t *testing.T, tok string) time.Time {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := decodeJSON[struct {
		Exp int64 `json:"exp"`
	}](t, string(raw))
	return time.Unix(claims.Exp, 0)
}

// streamUpstream serves WebSockets and event streams (testkit.StreamHandler).
func streamUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(&testkit.StreamHandler{})
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestServeStreamsEndWhenAccessEnds: a WebSocket and an event stream open
// through `gatehouse serve` end within a second of the user's deactivation,
// of the role's revocation, and of the token's expiry; another user's
// stay open; each closure is audited.
func TestServeStreamsEndWhenAccessEnds(t *testing.T) {
	up := streamUpstream(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=" + streamsAdminPW}
	g := testkit.StartServe(t, env, "--upstream", up, "--db", db)
	admin := testkit.NewCLI(t)
	admin.Login(g.URL, "admin", streamsAdminPW)
	// Connections are opened on g; a second process on the same SQLite
	// file only issues the short-lived tokens.
	short := testkit.StartServe(t, env, "--upstream", up, "--db", db, "--token-ttl", "2s")
	bystander := runStreamScenarios(t, streamsSetup{admin: admin, change: g.URL, open: g.URL, shortTTL: short.URL})
	for _, cause := range []string{"revoked", "expired"} {
		testkit.WaitFor(t, 2*time.Second, "a stream_closed audit line with cause "+cause, func() bool {
			return auditedClosure(g.Logs(), cause)
		})
	}
	_, metrics, _ := do(t, "GET", g.Ops+"/metrics", "", "")
	for _, want := range []string{`gatehouse_streams_closed_total{cause="revoked"} 6`, `gatehouse_streams_closed_total{cause="expired"} 2`,
		`gatehouse_streams_open{kind="websocket"} 1`, `gatehouse_streams_open{kind="stream"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Stopping ends the connections still open: a WebSocket going away.
	took, err := g.Stop(10 * time.Second)
	if err != nil {
		t.Fatalf("stop: %v after %v", err, took)
	}
	t.Logf("stopped in %v", took)
	if got, err := bystander.ws.WaitClose(time.Second); err != nil || got.Code != 1001 {
		t.Errorf("at shutdown the WebSocket ended with %+v, %v; want 1001", got, err)
	}
	if _, ended, err := bystander.sse.WaitEnd(time.Second); !ended || err != nil {
		t.Errorf("at shutdown the event stream did not end cleanly: ended %v, %v", ended, err)
	}
}

// TestServeStreamsEndAcrossReplicas: the same, with the connections open
// on one replica and the changes made through another, on PostgreSQL.
func TestServeStreamsEndAcrossReplicas(t *testing.T) {
	pg, ok := storetest.Postgres(t)
	if !ok {
		t.Skipf("needs PostgreSQL: set %s", storetest.PostgresEnv)
	}
	up := streamUpstream(t)
	env := []string{"GATEHOUSE_ADMIN_PASSWORD=" + streamsAdminPW}
	a := testkit.StartServe(t, env, "--upstream", up, "--db", pg.DSN)
	b := testkit.StartServe(t, env, "--upstream", up, "--db", pg.DSN)
	short := testkit.StartServe(t, env, "--upstream", up, "--db", pg.DSN, "--token-ttl", "2s")
	admin := testkit.NewCLI(t)
	admin.Login(a.URL, "admin", streamsAdminPW)
	runStreamScenarios(t, streamsSetup{admin: admin, change: a.URL, open: b.URL, shortTTL: short.URL})
	testkit.WaitFor(t, 2*time.Second, "a stream_closed audit line on the replica the connections were open on", func() bool {
		return auditedClosure(b.Logs(), "revoked")
	})
}
