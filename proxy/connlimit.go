package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// LimitConnsPerClient returns a listener that keeps at most max connections
// open per client address: a client that opens more (slowly trickling
// bodies, say) gets a 429 answer on each extra connection, which is then
// closed, and everyone else's connections go on. Addresses in exempt (the
// trusted proxies: every connection through an ingress comes from it) are
// not limited. The answer has the shape errs writes. max <= 0 returns ln
// unchanged.
func LimitConnsPerClient(ln net.Listener, max int, exempt []netip.Prefix, errs ErrorShape) net.Listener {
	if max <= 0 {
		return ln
	}
	var b errorBody
	b.Error.Code, b.Error.Message = "rate_limited", fmt.Sprintf("more than %d connections from your address", max)
	if errs.Detail {
		b.Detail = b.Error.Message
	}
	body, _ := json.Marshal(b)
	refusal := fmt.Appendf(nil, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\n"+
		"Connection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return &connLimiter{Listener: ln, max: max, exempt: exempt, refusal: refusal, open: map[netip.Addr]int{}}
}

type connLimiter struct {
	net.Listener
	max     int
	exempt  []netip.Prefix
	refusal []byte // the raw answer on a connection over the limit

	mu   sync.Mutex         // guards open
	open map[netip.Addr]int // open connections per client address
}

// Accept returns the next connection within the limit.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := clientAddr(c)
		if !ok || l.exempted(addr) {
			return c, nil
		}
		l.mu.Lock()
		n := l.open[addr]
		if n < l.max {
			l.open[addr] = n + 1
		}
		l.mu.Unlock()
		if n < l.max {
			return &limitedConn{Conn: c, l: l, addr: addr}, nil
		}
		go refuseConn(c, l.refusal)
	}
}

// refuseConn answers an over-limit connection and closes it, without
// holding up Accept.
func refuseConn(c net.Conn, refusal []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(refusal)
	_ = c.Close()
}

func (l *connLimiter) exempted(a netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *connLimiter) done(a netip.Addr) {
	l.mu.Lock()
	if l.open[a]--; l.open[a] <= 0 {
		delete(l.open, a)
	}
	l.mu.Unlock()
}

func clientAddr(c net.Conn) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return clientOf(ap.Addr()), true
}

// clientOf is the client an address counts as for limits: an IPv4 address
// is one client, an IPv6 address counts with its /64, which one host
// usually has whole (so that it cannot be many clients).
func clientOf(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// ClientKey is the key under which limits count a client address (an
// IP address as text): the address itself for IPv4, its /64 for IPv6.
// Text that is not an address is its own key.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if c := clientOf(a); c.Is6() {
		return c.String() + "/64"
	}
	return a.Unmap().String()
}

// limitedConn gives its place back once, when closed.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	addr netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.addr) })
	return err
}
