package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// revocable is the fake authenticator with tokens that can be revoked
// and given an expiry while connections are open.
type revocable struct {
	revoked sync.Map // token → struct{}
	expires sync.Map // token → time.Time
}

func (v *revocable) Authenticate(c Credential) (Principal, error) {
	if _, ok := v.revoked.Load(c.Value); ok {
		return nil, nil
	}
	return testAuthenticator()(c)
}

func (v *revocable) Expires(c Credential) time.Time {
	if e, ok := v.expires.Load(c.Value); ok {
		return e.(time.Time)
	}
	return time.Time{}
}

// streamGatehouse is a Handler in front of a testkit.StreamHandler, served
// as serve serves it (ConnContext) and running its rechecks.
type streamGatehouse struct {
	*httptest.Server
	h     *Handler
	up    *testkit.StreamHandler
	authn *revocable
	log   *testkit.LockedBuffer
}

func newStreamGatehouse(t *testing.T, edit func(*Config)) *streamGatehouse {
	t.Helper()
	up := &testkit.StreamHandler{}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	u, _ := url.Parse(upSrv.URL)
	g := &streamGatehouse{up: up, authn: &revocable{}, log: &testkit.LockedBuffer{}}
	cfg := Config{
		Upstream: u, Authenticator: g.authn, Authorizer: testAuthorizer(&decisions{}),
		Log: slog.New(slog.NewJSONHandler(g.log, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.h = h
	g.Server = httptest.NewUnstartedServer(h)
	g.Config.ConnContext = h.ConnContext
	g.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; g.Close() })
	return g
}

func (g *streamGatehouse) addr() string { return g.Listener.Addr().String() }

// revoke makes token invalid and has the open connections decided again.
func (g *streamGatehouse) revoke(token string) {
	g.authn.revoked.Store(token, struct{}{})
	g.h.Recheck()
}

// wantAudit checks that a stream_closed line names user, kind and cause.
func (g *streamGatehouse) wantAudit(t *testing.T, user, kind, cause string) {
	t.Helper()
	want := `"audit":"stream_closed","request_id":`
	for _, line := range strings.Split(g.log.String(), "\n") {
		if strings.Contains(line, want) && strings.Contains(line, `"user":"`+user+`"`) &&
			strings.Contains(line, `"kind":"`+kind+`"`) && strings.Contains(line, `"cause":"`+cause+`"`) {
			return
		}
	}
	t.Errorf("no stream_closed audit line for %s, %s, %s in:\n%s", user, kind, cause, g.log.String())
}

func TestWebSocketClosedWhenAccessEnds(t *testing.T) {
	g := newStreamGatehouse(t, nil)
	alice := testkit.DialWebSocket(t, g.addr(), "/api/v1/ws", "Authorization: Bearer alice-token")
	bob := testkit.DialWebSocket(t, g.addr(), "/api/v1/ws", "Authorization: Bearer bob-token")
	for _, ws := range []*testkit.WebSocket{alice, bob} {
		if f, err := ws.ReadFrame(time.Second); err != nil || string(f.Payload) != "tick" {
			t.Fatalf("first frame %q, %v; want tick", f.Payload, err)
		}
	}
	testkit.WaitFor(t, time.Second, "both registered", func() bool { return g.h.streams.len() == 2 })
	if n := testutil.ToFloat64(g.h.metrics.streamsOpen[kindWebSocket]); n != 2 {
		t.Errorf("gatehouse_streams_open{kind=websocket} = %v, want 2", n)
	}
	g.revoke("alice-token")
	got, err := alice.WaitClose(time.Second)
	if err != nil {
		t.Fatalf("alice's WebSocket still open a second after the revocation: %v", err)
	}
	t.Logf("closed %v after the revocation", got.After)
	if got.Code != 1008 || got.Reason != "access revoked" || !got.EOF {
		t.Errorf("closed with %+v, want code 1008, reason \"access revoked\", then the end of the connection", got)
	}
	testkit.WaitFor(t, time.Second, "the upstream side closed", func() bool { return g.up.Open.Load() == 1 })
	time.Sleep(300 * time.Millisecond) // a round or more
	if _, err := bob.ReadFrame(time.Second); err != nil {
		t.Fatalf("bob's WebSocket was touched: %v", err)
	}
	g.wantAudit(t, "alice", kindWebSocket, causeRevoked)
	if n := testutil.ToFloat64(g.h.metrics.streamsClosed.WithLabelValues(causeRevoked)); n != 1 {
		t.Errorf("gatehouse_streams_closed_total{cause=revoked} = %v, want 1", n)
	}
}

func TestEventStreamEndedWhenAccessEnds(t *testing.T) {
	g := newStreamGatehouse(t, nil)
	alice := testkit.OpenStream(t, g.URL+"/api/v1/events", "Authorization: Bearer alice-token")
	bob := testkit.OpenStream(t, g.URL+"/api/v1/events", "Authorization: Bearer bob-token")
	if !alice.WaitLine(time.Second) || !bob.WaitLine(time.Second) {
		t.Fatal("no event within a second")
	}
	testkit.WaitFor(t, time.Second, "both registered", func() bool { return g.h.streams.len() == 2 })
	g.revoke("alice-token")
	after, ended, err := alice.WaitEnd(time.Second)
	if !ended {
		t.Fatal("alice's stream still open a second after the revocation")
	}
	t.Logf("ended %v after the revocation", after)
	if err != nil {
		t.Errorf("the stream was aborted (%v), want a clean end", err)
	}
	testkit.WaitFor(t, time.Second, "the upstream side closed", func() bool { return g.up.Open.Load() == 1 })
	time.Sleep(300 * time.Millisecond)
	if !bob.WaitLine(time.Second) {
		t.Fatal("bob's stream was touched")
	}
	if _, ended, _ := bob.WaitEnd(10 * time.Millisecond); ended {
		t.Fatal("bob's stream ended")
	}
	g.wantAudit(t, "alice", kindStream, causeRevoked)
}

// A path the policy no longer allows ends its connections, whatever the
// credential: "would deny" is the request decided again.
func TestStreamClosedWhenPolicyDenies(t *testing.T) {
	var denyEvents sync.Map
	g := newStreamGatehouse(t, func(c *Config) {
		c.Authorizer = AuthorizerFunc(func(p Principal, method, path string) (Decision, error) {
			if _, ok := denyEvents.Load(path); ok {
				return Decision{}, nil
			}
			return Decision{Allowed: true, Permission: "read"}, nil
		})
	})
	ws := testkit.DialWebSocket(t, g.addr(), "/api/v1/ws", "Authorization: Bearer alice-token")
	other := testkit.DialWebSocket(t, g.addr(), "/api/v1/other", "Authorization: Bearer alice-token")
	testkit.WaitFor(t, time.Second, "both registered", func() bool { return g.h.streams.len() == 2 })
	denyEvents.Store("/api/v1/ws", true)
	g.h.Recheck()
	got, err := ws.WaitClose(time.Second)
	if err != nil || got.Code != 1008 {
		t.Fatalf("closed with %+v, %v; want 1008", got, err)
	}
	if _, err := other.ReadFrame(time.Second); err != nil {
		t.Fatalf("the WebSocket on a path still allowed was touched: %v", err)
	}
}

func TestStreamsCloseAtExpiry(t *testing.T) {
	g := newStreamGatehouse(t, nil)
	exp := time.Now().Add(600 * time.Millisecond)
	g.authn.expires.Store("alice-token", exp)
	ws := testkit.DialWebSocket(t, g.addr(), "/api/v1/ws", "Authorization: Bearer alice-token")
	sse := testkit.OpenStream(t, g.URL+"/api/v1/events", "Authorization: Bearer alice-token")
	got, err := ws.WaitClose(3 * time.Second)
	if err != nil {
		t.Fatalf("the WebSocket outlived its token: %v", err)
	}
	late := time.Since(exp)
	t.Logf("WebSocket closed %v after the token's exp", late)
	if got.Code != 1008 || got.Reason != "token expired" {
		t.Errorf("closed with %+v, want 1008 \"token expired\"", got)
	}
	if late < 0 || late > time.Second {
		t.Errorf("closed %v after exp, want within a second after it", late)
	}
	if _, ended, err := sse.WaitEnd(time.Second); !ended || err != nil {
		t.Errorf("the event stream did not end cleanly at expiry: ended %v, %v", ended, err)
	}
	g.wantAudit(t, "alice", kindWebSocket, causeExpired)
}

func TestStreamsCapacity(t *testing.T) {
	g := newStreamGatehouse(t, func(c *Config) { c.MaxStreams = 1 })
	first := testkit.OpenStream(t, g.URL+"/api/v1/events", "Authorization: Bearer alice-token")
	if !first.WaitLine(time.Second) {
		t.Fatal("no event")
	}
	_, res, err := testkit.TryWebSocket(g.addr(), "/api/v1/ws", "Authorization: Bearer alice-token")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a WebSocket beyond --max-streams answered %d, want 503", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", g.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer bob-token")
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an event stream beyond --max-streams answered %d, want 503", res2.StatusCode)
	}
	testkit.WaitFor(t, time.Second, "one connection upstream", func() bool { return g.up.Open.Load() == 1 })
	if n := testutil.ToFloat64(g.h.metrics.streamsClosed.WithLabelValues(causeCapacity)); n != 2 {
		t.Errorf("gatehouse_streams_closed_total{cause=capacity} = %v, want 2", n)
	}
	if _, ended, _ := first.WaitEnd(100 * time.Millisecond); ended {
		t.Error("the stream within the limit ended")
	}
	g.wantAudit(t, "bob", kindStream, causeCapacity)
}

// A response that is not an event stream is registered once it has
// streamed for StreamAfter, and ends when access ends; ordinary responses
// never are.
func TestLongResponseRegisteredAfterThreshold(t *testing.T) {
	g := newStreamGatehouse(t, func(c *Config) { c.StreamAfter = 200 * time.Millisecond })
	s := testkit.OpenStream(t, g.URL+"/api/v1/logs?plain", "Authorization: Bearer alice-token")
	if !s.WaitLine(time.Second) {
		t.Fatal("nothing streamed")
	}
	if n := g.h.streams.len(); n != 0 {
		t.Fatalf("%d registered before the threshold, want 0", n)
	}
	testkit.WaitFor(t, time.Second, "registered after the threshold", func() bool { return g.h.streams.len() == 1 })
	g.revoke("alice-token")
	// Not an event stream: cut short, so that it cannot pass for a
	// complete response.
	if _, ended, err := s.WaitEnd(time.Second); !ended || err == nil {
		t.Fatalf("the response was not cut short: ended %v, %v", ended, err)
	}
	testkit.WaitFor(t, time.Second, "its place given back", func() bool { return g.h.streams.reserved() == 0 })
}

// Ordinary requests cost the streams nothing: finding a request's flight
// and looking at a short response allocate nothing, nor does a response
// of unknown length that ends before StreamAfter, once the pool is warm.
func TestOrdinaryResponsesAllocateNothing(t *testing.T) {
	up, _ := url.Parse("http://127.0.0.1:1")
	h, err := New(Config{Upstream: up, Authenticator: testAuthenticator(), Authorizer: testAuthorizer(&decisions{})})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/api/v1/pipelines", nil)
	r = r.WithContext(h.ConnContext(r.Context(), nil))
	res, _ := stubTransport{}.RoundTrip(r)
	if n := testing.AllocsPerRun(1000, func() {
		f, r2 := flightFor(r)
		*f = flight{on: true, method: "GET", path: "/api/v1/pipelines"}
		res.Request = r2
		if err := h.trackResponse(res); err != nil {
			t.Fatal(err)
		}
		*f = flight{}
	}); n != 0 {
		t.Errorf("%v allocations per ordinary response, want 0", n)
	}
	if raceEnabled {
		t.Log("the pooled path is not counted under the race detector")
		return
	}
	chunked := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, ContentLength: -1}
	body := io.NopCloser(strings.NewReader(""))
	if n := testing.AllocsPerRun(1000, func() {
		f, r2 := flightFor(r)
		*f = flight{on: true, method: "GET", path: "/api/v1/pipelines"}
		chunked.Request, chunked.Body = r2, body
		if err := h.trackResponse(chunked); err != nil {
			t.Fatal(err)
		}
		if _, ok := chunked.Body.(*streamBody); !ok {
			t.Fatal("a response of unknown length is not followed")
		}
		chunked.Body.Close()
		*f = flight{}
	}); n != 0 {
		t.Errorf("%v allocations per short response of unknown length, want 0", n)
	}
}

// A response found streaming after StreamAfter when --max-streams are
// open is ended, audited as capacity, never left unfollowed.
func TestLateStreamBeyondCapacityEnds(t *testing.T) {
	g := newStreamGatehouse(t, func(c *Config) { c.MaxStreams = 1; c.StreamAfter = 100 * time.Millisecond })
	sse := testkit.OpenStream(t, g.URL+"/api/v1/events", "Authorization: Bearer alice-token")
	plain := testkit.OpenStream(t, g.URL+"/api/v1/logs?plain", "Authorization: Bearer bob-token")
	if _, ended, err := plain.WaitEnd(time.Second); !ended || err == nil {
		t.Fatalf("the response beyond the limit: ended %v, %v; want it cut short", ended, err)
	}
	if _, ended, _ := sse.WaitEnd(100 * time.Millisecond); ended {
		t.Error("the stream within the limit ended")
	}
	g.wantAudit(t, "bob", kindStream, causeCapacity)
}

// TestStreamsConcurrent opens and ends connections from many goroutines
// while tokens are revoked and connections decided again; run with -race.
func TestStreamsConcurrent(t *testing.T) {
	g := newStreamGatehouse(t, func(c *Config) { c.RecheckEvery = 5 * time.Millisecond })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 5 {
				if i%2 == 0 {
					ws, res, err := testkit.TryWebSocket(g.addr(), "/api/v1/ws", "Authorization: Bearer bob-token")
					if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
						t.Errorf("upgrade: %v", err)
						return
					}
					_, _ = ws.ReadFrame(time.Second)
					ws.Close()
					continue
				}
				req, _ := http.NewRequest("GET", g.URL+"/api/v1/events", nil)
				req.Header.Set("Authorization", "Bearer bob-token")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				buf := make([]byte, 16)
				_, _ = res.Body.Read(buf)
				res.Body.Close()
			}
		})
	}
	stop := make(chan struct{})
	var revoker sync.WaitGroup
	revoker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			g.authn.revoked.Store("alice-token", struct{}{})
			g.h.Recheck()
			g.authn.revoked.Delete("alice-token")
			time.Sleep(time.Millisecond)
		}
	})
	alice := testkit.DialWebSocket(t, g.addr(), "/api/v1/ws", "Authorization: Bearer alice-token")
	wg.Wait()
	close(stop)
	revoker.Wait()
	g.revoke("alice-token")
	if _, err := alice.WaitClose(time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 2*time.Second, "every connection unregistered", func() bool { return g.h.streams.len() == 0 && g.h.streams.reserved() == 0 })
	for _, k := range []string{kindWebSocket, kindStream} {
		if n := testutil.ToFloat64(g.h.metrics.streamsOpen[k]); n != 0 {
			t.Errorf("gatehouse_streams_open{kind=%s} = %v after every connection ended, want 0", k, n)
		}
	}
}

// An open connection that cannot be decided again (the authenticator or
// the authorizer fails) stays open; it closes once a decision refuses it.
func TestStreamsStayOpenWhenUndecided(t *testing.T) {
	var failing, denied sync.Map
	g := newStreamGatehouse(t, func(c *Config) {
		c.RecheckEvery = 20 * time.Millisecond
		c.Authorizer = AuthorizerFunc(func(p Principal, method, path string) (Decision, error) {
			if _, ok := failing.Load("authz"); ok {
				return Decision{}, errors.New("policy unavailable")
			}
			_, deny := denied.Load("all")
			return Decision{Allowed: !deny, Permission: "read"}, nil
		})
		base := c.Authenticator
		c.RecheckAuthenticator = AuthenticatorFunc(func(c Credential) (Principal, error) {
			if _, ok := failing.Load("authn"); ok {
				return nil, errors.New("store unreachable")
			}
			return base.Authenticate(c)
		})
	})
	ws := testkit.DialWebSocket(t, g.addr(), "/api/v1/ws", "Authorization: Bearer alice-token")
	testkit.WaitFor(t, time.Second, "registered", func() bool { return g.h.streams.len() == 1 })
	for _, which := range []string{"authn", "authz"} {
		failing.Store(which, true)
		denied.Store("all", true) // would deny, if it could decide
		time.Sleep(200 * time.Millisecond)
		if _, err := ws.ReadFrame(time.Second); err != nil {
			t.Fatalf("with the %s failing the WebSocket was closed: %v", which, err)
		}
		failing.Delete(which)
		denied.Delete("all")
	}
	if !strings.Contains(g.log.String(), "could not be decided again") {
		t.Error("rounds that could not decide logged nothing")
	}
	denied.Store("all", true)
	if got, err := ws.WaitClose(time.Second); err != nil || got.Code != 1008 {
		t.Fatalf("once decided: %+v, %v; want closed with 1008", got, err)
	}
}

// An upgrade the upstream answers with something else, whose body then
// breaks off (ReverseProxy aborts the handler), gives its place back: no
// client can use up --max-streams that way.
func TestRefusedUpgradeGivesItsPlaceBack(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nshort")
		conn.Close()
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	h, err := New(Config{Upstream: u, Authenticator: testAuthenticator(), Authorizer: testAuthorizer(&decisions{}), MaxStreams: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnContext = h.ConnContext
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	for i := range 4 {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token\r\n"+
			"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		head, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if strings.Contains(head, " 503 ") {
			t.Fatalf("attempt %d refused for capacity (%q): places leaked", i+1, head)
		}
	}
	testkit.WaitFor(t, time.Second, "every place given back", func() bool { return h.streams.reserved() == 0 })
}
