package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr names the client of r the way audit lines and rate limits
// name it, on both planes: its address without a port, an IPv6 address as
// its /64 (ClientKey).
//
// The client is the peer, unless the peer is one of trusted (an ingress,
// a load balancer): then it is the nearest address in X-Forwarded-For that
// is not itself a trusted proxy, read from the right, since each proxy
// appends the address it saw and only the entries that trusted proxies
// appended can be believed. Every X-Forwarded-For header counts, in order,
// as one list. When every entry is a trusted proxy, the first is the
// client; a malformed entry before an untrusted one ends the walk, and the
// peer is the client. Without trusted proxies no header is read, so a
// client cannot name another address.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return ClientKey(r.RemoteAddr)
	}
	if !isTrusted(peer, trusted) {
		return ClientKey(peer.String())
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, entry = list[:j], list[j+1:]
			} else {
				list, entry = "", list
			}
			a, ok := parseAddr(strings.TrimSpace(entry))
			if !ok {
				return ClientKey(peer.String())
			}
			client = a
			if !isTrusted(a, trusted) {
				return ClientKey(a.String())
			}
		}
	}
	return ClientKey(client.String())
}

// parseAddr reads an address, with or without a port.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
