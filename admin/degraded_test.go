package admin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// cutProxy forwards TCP to a target until cut, and again after restore.
type cutProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex // guards ln and conns
	ln    net.Listener
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{t: t, target: target}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	addr := "127.0.0.1:0"
	if p.addr != "" {
		addr = p.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut refuses new connections and breaks every open one.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDegradedWhileStoreUnreachable: decisions continue from memory,
// logins and admin writes answer ErrUnavailable, and after recovery the
// replica converges on what changed meanwhile.
func TestDegradedWhileStoreUnreachable(t *testing.T) {
	dsn := postgresOnly(t)
	ctx := context.Background()
	u, _ := url.Parse(dsn)
	proxy := newCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	q := viaProxy.Query()
	q.Set("connect_timeout", "2")
	viaProxy.RawQuery = q.Encode()

	direct := startReplicas(t, dsn, time.Minute, "direct")[0]
	r := startReplicas(t, viaProxy.String(), 300*time.Millisecond, "behind-proxy")[0]
	mustCreate(t, direct.Service, CreateUser{Username: "gus", Password: "gus-password", Roles: &[]string{"guest", "admin"}})
	mustCreate(t, direct.Service, CreateUser{Username: "rev", Password: "rev-password", Roles: &[]string{"admin"}})
	gus, _ := direct.Login(ctx, "gus", "gus-password", "c")
	rev, _ := direct.Login(ctx, "rev", "rev-password", "c")
	if err := direct.Revoke(ctx, "rev", "admin", ""); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 2*time.Second, "replica in step", func() bool {
		return r.allowed(gus.AccessToken, "POST", "/x") && !r.allowed(rev.AccessToken, "POST", "/x")
	})

	proxy.cut()
	if !r.allowed(gus.AccessToken, "POST", "/x") {
		t.Fatal("allowed did not stay allowed")
	}
	if r.allowed(rev.AccessToken, "POST", "/x") {
		t.Fatal("revoked did not stay revoked")
	}
	if _, err := r.Login(ctx, "gus", "gus-password", "c"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("login while the store is away: %v, want ErrUnavailable", err)
	}
	if _, err := r.CreateUser(ctx, CreateUser{Username: "new", Password: "new-password"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("admin write while the store is away: %v, want ErrUnavailable", err)
	}
	if err := r.Ready(ctx); err == nil {
		t.Fatal("Ready reports a reachable store")
	}
	// Meanwhile another replica changes things.
	if err := direct.Revoke(ctx, "gus", "admin", ""); err != nil {
		t.Fatal(err)
	}
	if !r.allowed(gus.AccessToken, "POST", "/x") {
		t.Fatal("the cut-off replica changed its mind without the store")
	}

	proxy.restore()
	took := testkit.WaitFor(t, 10*time.Second, "converges after recovery", func() bool { return !r.allowed(gus.AccessToken, "POST", "/x") })
	t.Logf("converged %s after the store came back", took)
	if _, err := r.Login(ctx, "gus", "gus-password", "c"); err != nil {
		t.Fatalf("login after recovery: %v", err)
	}
}
